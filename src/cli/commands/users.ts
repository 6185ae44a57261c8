import type { Command } from 'commander';
import { systemClock } from '../../clock.js';
import type { Config } from '../../config.js';
import { EXIT } from '../context.js';

/**
 * `users …`: operator commands that run against the database directly, like `tooken migrate`
 * (no server and no API key needed): for whoever runs the installation.
 */
export function usersCommands(program: Command, configOrExit: () => Config): Command {
  const users = program
    .command('users')
    .description('operator commands on accounts (run against the database)');
  users
    .command('reset-password <email>')
    .description('print a single-use password-reset link for an account (valid 30 minutes)')
    .addHelpText(
      'after',
      '\nExample:\n  tooken users reset-password dana@example.com\n\nFor installations without SMTP: hand the link to its owner over a channel you trust.',
    )
    .action(async (email: string) => {
      const config = configOrExit();
      const [{ openDatabase }, { createPasswordReset, resetLinkFor }, { normaliseEmail }] = await Promise.all(
        [
          import('../../db/database.js'),
          import('../../accounts/password-reset.js'),
          import('../../accounts/service.js'),
        ],
      );
      const database = openDatabase(config.databaseUrl, {
        onTightened: (file, previousMode) =>
          process.stderr.write(`tooken: ${file} was mode ${previousMode}; tightened to owner only\n`),
      });
      try {
        const user = await database.db
          .selectFrom('users')
          .select('id')
          .where('email', '=', normaliseEmail(email))
          .executeTakeFirst();
        if (user === undefined) {
          process.stderr.write(`tooken: no account has the email ${normaliseEmail(email)}\n`);
          process.exitCode = EXIT.refused;
          return;
        }
        const reset = await createPasswordReset(database.db, {
          userId: user.id,
          now: systemClock(),
          sealWith: null,
        });
        process.stdout.write(`${resetLinkFor(config.publicUrl, reset.secret)}\n`);
        process.stderr.write(
          `tooken: the link works once, until ${new Date(reset.expiresAt).toISOString()}; it replaces any earlier unused link\n`,
        );
      } finally {
        await database.close();
      }
    });
  return users;
}
