import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../errors.js';

export interface HealthOptions {
  /** Set once migrations have run. */
  ready: { migrated: boolean };
  /** One round trip to the database. */
  ping(): Promise<void>;
}

/** `/healthz`: the process answers. `/readyz`: migrated and the database reachable (load balancers). */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { ready, ping }) => {
  app.get('/healthz', { schema: { tags: ['operations'], hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['operations'], hide: true } }, async () => {
    if (!ready.migrated) throw new AppError('internal_error', 'Migrations have not run yet');
    try {
      await ping();
    } catch (error) {
      throw new AppError('internal_error', 'The database is not reachable', { cause: error });
    }
    return { status: 'ready' };
  });
};
