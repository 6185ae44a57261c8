import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { databaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './error-handler.js';
import { errors } from './schemas.js';

export interface HealthOptions {
  /** Set once migrations have run. */
  ready: { migrated: boolean };
  /** One round trip to the database. */
  ping(): Promise<void>;
}

const Health = Type.Object({ status: Type.String() }, { title: 'Health' });

/**
 * `/healthz`: the process answers. `/readyz`: migrated and the database reachable (load balancers);
 * 503 otherwise.
 */
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
        response: { 200: Health, ...errors(503) },
      },
    },
    async () => {
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
    },
  );
};
