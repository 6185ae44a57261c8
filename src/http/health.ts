import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../errors.js';
import { databaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './error-handler.js';

export interface HealthOptions {
  /** Set once migrations have run. */
  ready: { migrated: boolean };
  /** One round trip to the database. */
  ping(): Promise<void>;
}

/**
 * `/healthz`: the process answers. `/readyz`: migrated and the database reachable (load balancers);
 * 503 otherwise.
 */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { ready, ping }) => {
  app.get('/healthz', { schema: { tags: ['operations'], hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['operations'], hide: true } }, async () => {
    // Either way a load balancer should send traffic elsewhere for now, and try again.
    if (!ready.migrated) {
      throw new AppError('unavailable', 'Migrations have not run yet', {
        headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      });
    }
    try {
      await ping();
    } catch (error) {
      throw databaseUnavailable(error);
    }
    return { status: 'ready' };
  });
};
