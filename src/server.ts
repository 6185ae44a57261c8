import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import type { Config } from './config.js';
import { migrateToLatest, openDatabase } from './db/database.js';
import { createServices, type Services } from './services.js';

const USAGE_FLUSH_MS = 5_000;

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  url: string;
  stop(): Promise<void>;
}

/** The composition root: database → migrations → services → app → listen → background work. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const database = openDatabase(config.databaseUrl);
  const applied = await migrateToLatest(database.db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  const services = createServices({ config, database, clock: systemClock });
  services.ready.migrated = true;
  const app = await buildApp(services, logger);
  const url = await app.listen({ port: config.port, host: config.host });
  logger.info({ url, database: database.dialect }, 'tooken is listening');

  const flushUsage = () =>
    services.usage.flush().catch((error: unknown) => logger.error({ err: error }, 'usage flush failed'));
  const usageTimer = setInterval(flushUsage, USAGE_FLUSH_MS);
  usageTimer.unref();

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(usageTimer);
      await app.close(); // stops accepting, drains in-flight requests
      await flushUsage();
      await database.close();
    })();
    return stopping;
  };
  return { app, services, url, stop };
}
