import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { loadServerKey } from './auth/server-key.js';
import { createJobRunner } from './background.js';
import { systemClock } from './clock.js';
import { type Config, storesDatabaseIn } from './config.js';
import { migrateToLatest, openDatabase } from './db/database.js';
import { ensurePrivateDir, warnTightened } from './private-files.js';
import { createServices, type Services } from './services.js';

const USAGE_FLUSH_MS = 5_000;
const LIMIT_SYNC_MS = 1_000;

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  url: string;
  stop(): Promise<void>;
}

/** The composition root: database → migrations → services → app → listen → background work. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const onTightened = warnTightened(logger);
  // Owner only: the embedded database and the generated key live there.
  if (config.secretKey === null || storesDatabaseIn(config, config.dataDir)) {
    ensurePrivateDir(config.dataDir, onTightened);
  }
  const database = openDatabase(config.databaseUrl, {
    onError: (error) => logger.error({ err: error }, 'database connection lost; it is replaced on next use'),
    onTightened,
  });
  const applied = await migrateToLatest(database.db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  const services = createServices({
    config,
    database,
    clock: systemClock,
    serverKey: loadServerKey(config, logger),
    onError: (error) => logger.error({ err: error }, 'cluster notification error'),
  });
  services.ready.migrated = true;
  await services.notifier.start();
  const app = await buildApp(services, logger);
  const url = await app.listen({ port: config.port, host: config.host });
  logger.info({ url, database: database.adapter.name }, 'tooken is listening');

  const flushUsage = () =>
    services.usage.flush().catch((error: unknown) => logger.error({ err: error }, 'usage flush failed'));
  const usageTimer = setInterval(flushUsage, USAGE_FLUSH_MS);
  usageTimer.unref();
  const limitTimer = setInterval(() => {
    services.verifyLimiter
      .sync()
      .catch((error: unknown) => logger.error({ err: error }, 'rate-limit sync failed'));
    services.tokenRateLimiter
      .sync()
      .catch((error: unknown) => logger.error({ err: error }, 'token rate-limit sync failed'));
  }, LIMIT_SYNC_MS);
  limitTimer.unref();
  const jobs = createJobRunner(services, logger);
  await jobs.start();

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(usageTimer);
      clearInterval(limitTimer);
      await app.close(); // stops accepting, drains in-flight requests
      await jobs.stop();
      await flushUsage();
      await services.notifier.stop();
      services.mailer?.close();
      await database.close();
    })();
    return stopping;
  };
  return { app, services, url, stop };
}
