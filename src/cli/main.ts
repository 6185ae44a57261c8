#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command, type CommanderError, Option } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { apiKeyCommands } from './commands/api-keys.js';
import { auditCommands } from './commands/audit.js';
import { peopleCommands } from './commands/people.js';
import { tokenCommands } from './commands/tokens.js';
import { usersCommands } from './commands/users.js';
import { webhookCommands } from './commands/webhooks.js';
import { workspaceCommands } from './commands/workspace.js';
import { connection, EXIT } from './context.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Usage errors exit 2, so scripts can tell them from refusals (1); help and version exit 0. */
function exitOnUsageError(error: CommanderError): never {
  const done = error.code === 'commander.helpDisplayed' || error.code === 'commander.version';
  process.exit(done || error.exitCode === 0 ? EXIT.ok : EXIT.usage);
}

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

const program = new Command('tooken')
  .description('Issue, verify, revoke and audit bearer credentials')
  .version(version, '-v, --version', 'print the version')
  .addOption(new Option('--url <url>', 'the Tooken server (default: TOOKEN_URL or http://127.0.0.1:8080)'))
  .addOption(new Option('--api-key <key>', 'an API key or token (default: TOOKEN_API_KEY)'))
  .addOption(new Option('--workspace <slug>', 'name the workspace in paths (/v1/workspaces/SLUG/…)'))
  .addOption(new Option('--json', 'print the API’s JSON instead of tables'))
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText(
    'after',
    `
Examples:
  tooken serve
  export TOOKEN_API_KEY=tok_live_…
  tooken tokens create --name orders-service --scopes orders:read
  tooken tokens verify "$SECRET" --scopes orders:read

Exit codes: 0 done; 1 the API refused (its message on stderr); 2 usage error;
3 server unreachable; 4 tokens verify answered anything but VALID.`,
  )
  .exitOverride(exitOnUsageError);

program
  .command('serve')
  .description('run the server and its background jobs')
  .action(async () => {
    const config = configOrExit();
    // The server's modules load only for the commands that run one: management commands stay quick.
    const [{ createLogger }, { startServer }] = await Promise.all([
      import('../logger.js'),
      import('../server.js'),
    ]);
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
    const { migrateToLatest, openDatabase } = await import('../db/database.js');
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

tokenCommands(program);
apiKeyCommands(program);
peopleCommands(program);
webhookCommands(program);
auditCommands(program);
workspaceCommands(program);
// Every management command takes the connection options after its name too, and exits 2 on a
// usage error. Options before the command name are the program's own (`tooken --url … webhooks
// create --url …`: the second is the webhook's).
program.enablePositionalOptions();
for (const group of program.commands) {
  group.exitOverride(exitOnUsageError).showHelpAfterError('(run with --help for usage)');
  for (const leaf of group.commands) {
    leaf.exitOverride(exitOnUsageError).showHelpAfterError('(run with --help for usage)');
    connection(leaf, { url: !leaf.options.some((option) => option.long === '--url') });
  }
}

// Operator commands on the database: after the loop above, as they take no connection options.
const users = usersCommands(program, configOrExit).exitOverride(exitOnUsageError);
for (const leaf of users.commands) leaf.exitOverride(exitOnUsageError);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`tooken: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
