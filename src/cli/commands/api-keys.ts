import type { Command } from 'commander';
import { EXIT, run, UsageError } from '../context.js';
import { details, print, printList } from '../output.js';

const KEY_FIELDS = ['id', 'name', 'kind', 'role', 'user_id', 'hint', 'created_at', 'last_used_at'];

export function apiKeyCommands(program: Command): void {
  const keys = program
    .command('api-keys')
    .description('personal and team API keys')
    .addHelpText('after', '\nExample:\n  tooken api-keys create --name ci --kind team');

  keys
    .command('list')
    .description('list the API keys you may see')
    .addHelpText('after', '\nExample:\n  tooken api-keys list')
    .action(
      run(async ({ client, output }) => {
        printList(output, await (await client()).apiKeys.list(), [
          'id',
          'name',
          'kind',
          'role',
          'created_at',
          'last_used_at',
        ]);
        return EXIT.ok;
      }),
    );

  keys
    .command('create')
    .description('create an API key; its secret is printed once')
    .requiredOption('--name <name>', 'a name unique in the workspace')
    .requiredOption('--kind <kind>', 'personal or team')
    .option('--role <role>', 'a team key’s role: admin or viewer (default admin)')
    .addHelpText('after', '\nExample:\n  tooken api-keys create --name ci --kind team --role admin')
    .action(
      run(async ({ client, output, options }) => {
        const kind = options.kind;
        if (kind !== 'personal' && kind !== 'team') throw new UsageError('--kind must be personal or team');
        const role = options.role;
        if (role !== undefined && role !== 'admin' && role !== 'viewer') {
          throw new UsageError('--role must be admin or viewer');
        }
        const key = await (await client()).apiKeys.create({
          name: String(options.name),
          kind,
          ...(role !== undefined ? { role } : {}),
        });
        print(
          output,
          key,
          () => `${details(key, KEY_FIELDS)}\n\nSecret (shown once, keep it safe):\n${key.key}`,
        );
        return EXIT.ok;
      }),
    );

  keys
    .command('regenerate <id>')
    .description('give an API key a new secret; the old one stops working at once')
    .addHelpText('after', '\nExample:\n  tooken api-keys regenerate key_0a1b2c3d4e5f6g7h8i9j0k1l')
    .action(
      run(async ({ client, output, args: [id = ''] }) => {
        const key = await (await client()).apiKeys.regenerate(id);
        print(
          output,
          key,
          () => `${details(key, KEY_FIELDS)}\n\nNew secret (shown once, keep it safe):\n${key.key}`,
        );
        return EXIT.ok;
      }),
    );

  keys
    .command('delete <id>')
    .description('delete an API key')
    .addHelpText('after', '\nExample:\n  tooken api-keys delete key_0a1b2c3d4e5f6g7h8i9j0k1l')
    .action(
      run(async ({ client, output, args: [id = ''] }) => {
        await (await client()).apiKeys.delete(id);
        print(output, { deleted: id }, () => `Deleted ${id}.`);
        return EXIT.ok;
      }),
    );
}
