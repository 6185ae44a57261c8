import type { FastifyInstance } from 'fastify';
import { ping } from '../db/database.js';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';

export function registerHealthRoutes(app: FastifyInstance, services: Services): void {
  app.get('/healthz', { schema: { tags: ['operations'], hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['operations'], hide: true } }, async () => {
    if (!services.ready.migrated) throw new AppError('internal_error', 'Migrations have not run yet');
    try {
      await ping(services.db);
    } catch (error) {
      throw new AppError('internal_error', 'The database is not reachable', { cause: error });
    }
    return { status: 'ready' };
  });
}
