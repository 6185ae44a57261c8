import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { errors } from './schemas.js';

export interface HealthOptions {
  /** Set once migrations have run. */
  ready: { migrated: boolean };
  /** One round trip to the database. */
  ping(): Promise<void>;
}

const Health = Type.Object({ status: Type.String() }, { title: 'Health' });

/** `/healthz`: the process answers. `/readyz`: migrated and the database reachable (load balancers). */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { ready, ping }) => {
  const tags = ['operations'];
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'health.live',
        summary: 'Whether the process answers',
        tags,
        security: [],
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'health.ready',
        summary: 'Whether this node can serve: migrated, and the database reachable',
        tags,
        security: [],
        response: { 200: Health, ...errors(500, 503) },
      },
    },
    async () => {
      if (!ready.migrated) throw new AppError('internal_error', 'Migrations have not run yet');
      try {
        await ping();
      } catch (error) {
        throw new AppError('internal_error', 'The database is not reachable', { cause: error });
      }
      return { status: 'ready' };
    },
  );
};
