#!/usr/bin/env node
import { Command } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { migrateToLatest, openDatabase } from '../db/database.js';
import { createLogger } from '../logger.js';
import { startServer } from '../server.js';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`tooken: ${problem}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const program = new Command('tooken').description('Issue, verify, revoke and audit bearer credentials');

program
  .command('serve')
  .description('run the server and its background jobs')
  .action(async () => {
    const config = configOrExit();
    const logger = createLogger(config.logLevel);
    const server = await startServer(config, logger);
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down: draining requests');
      server.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const config = configOrExit();
    const database = openDatabase(config.databaseUrl, {
      onTightened: (file, previousMode) =>
        process.stderr.write(`tooken: ${file} was mode ${previousMode}; tightened to owner only\n`),
    });
    try {
      const applied = await migrateToLatest(database.db);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await database.close();
    }
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`tooken: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
