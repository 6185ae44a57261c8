import type { Command } from 'commander';
import { EXIT, run, UsageError } from '../context.js';
import { details, print, printList } from '../output.js';

const SETTINGS_FIELDS = [
  'id',
  'name',
  'slug',
  'timezone',
  'default_token_expiration_days',
  'audit_log_retention_days',
  'custom_scopes',
  'leak_policy',
  'created_at',
];

/** `KEY=VALUE` as a settings patch: numbers, `null`, lists (custom_scopes) and text. */
function patchOf(pairs: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`"${pair}" is not KEY=VALUE`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    if (key === 'custom_scopes') patch[key] = raw === '' ? [] : raw.split(',').map((s) => s.trim());
    else if (raw === 'null' || raw === 'never') patch[key] = null;
    else if (/^\d+$/.test(raw)) patch[key] = Number(raw);
    else patch[key] = raw;
  }
  return patch;
}

/** `settings …` and `workspaces …`. */
export function workspaceCommands(program: Command): void {
  const settings = program
    .command('settings')
    .description('the workspace’s settings')
    .addHelpText('after', '\nExample:\n  tooken settings set timezone=Europe/Berlin');

  settings
    .command('get')
    .description('show the settings')
    .addHelpText('after', '\nExample:\n  tooken settings get --json')
    .action(
      run(async ({ client, output }) => {
        const current = await (await client()).settings.get();
        print(output, current, () => details(current, SETTINGS_FIELDS));
        return EXIT.ok;
      }),
    );

  settings
    .command('set <pairs...>')
    .description('change settings (Owners): KEY=VALUE pairs; null or never clears an expiry')
    .addHelpText(
      'after',
      '\nExample:\n  tooken settings set timezone=Europe/Berlin default_token_expiration_days=30 custom_scopes=orders:read,orders:write',
    )
    .action(
      run(async ({ client, output, args }) => {
        const updated = await (await client()).settings.update(patchOf(args) as never);
        print(output, updated, () => details(updated, SETTINGS_FIELDS));
        return EXIT.ok;
      }),
    );

  const workspaces = program
    .command('workspaces')
    .description('your workspaces (needs a person: TOOKEN_EMAIL and TOOKEN_PASSWORD)')
    .addHelpText('after', '\nExample:\n  tooken workspaces list');

  workspaces
    .command('list')
    .description('list the workspaces you belong to')
    .addHelpText(
      'after',
      '\nExample:\n  TOOKEN_EMAIL=alice@example.com TOOKEN_PASSWORD=… tooken workspaces list',
    )
    .action(
      run(async ({ client, output }) => {
        printList(output, await (await client()).workspaces.list(), ['slug', 'name', 'role', 'created_at']);
        return EXIT.ok;
      }),
    );

  workspaces
    .command('create')
    .description('create a workspace; you become its Owner')
    .requiredOption('--name <name>', 'its name (the slug is derived from it)')
    .option('--slug <slug>', 'choose the slug instead')
    .addHelpText('after', '\nExample:\n  tooken workspaces create --name "Acme Production"')
    .action(
      run(async ({ client, output, options }) => {
        const workspace = await (await client()).workspaces.create({
          name: String(options.name),
          ...(options.slug !== undefined ? { slug: String(options.slug) } : {}),
        });
        print(output, workspace, () => details(workspace, ['id', 'name', 'slug', 'role', 'created_at']));
        return EXIT.ok;
      }),
    );
}
