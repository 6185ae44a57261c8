import type { Command } from 'commander';
import { EXIT, integer, list, run } from '../context.js';
import { details, print, printList } from '../output.js';
import { expiryOption, parseMetadata, tokenUpdateCommands } from './tokens-update.js';

const TOKEN_FIELDS = [
  'id',
  'name',
  'scopes',
  'status',
  'created_at',
  'expires_at',
  'last_used_at',
  'metadata',
  'external_id',
  'limits',
];

export function tokenCommands(program: Command): void {
  const tokens = program
    .command('tokens')
    .description('tokens issued to services and integrations')
    .addHelpText('after', '\nExample:\n  tooken tokens list --status active');

  tokens
    .command('create')
    .description('create a token; its secret is printed once')
    .requiredOption('--name <name>', 'a name unique in the workspace')
    .requiredOption('--scopes <scopes>', 'comma-separated scopes, built-in or custom', list)
    .option('--expires-at <when>', 'an ISO 8601 instant, or "never" (default: the workspace default)')
    .option('--metadata <json>', 'a JSON object stored with the token and returned by verify')
    .option('--external-id <id>', 'the customer or service in your own system')
    .addHelpText(
      'after',
      '\nExample:\n  tooken tokens create --name orders-service --scopes orders:read,tokens:verify',
    )
    .action(
      run(async ({ client, output, options }) => {
        const metadata = parseMetadata(options.metadata);
        const expires = expiryOption(options.expiresAt);
        const token = await (await client()).tokens.create({
          name: String(options.name),
          scopes: options.scopes as string[],
          ...(expires !== undefined ? { expires_at: expires } : {}),
          ...(metadata !== undefined ? { metadata } : {}),
          ...(options.externalId !== undefined ? { external_id: String(options.externalId) } : {}),
        });
        print(
          output,
          token,
          () => `${details(token, TOKEN_FIELDS)}\n\nSecret (shown once, keep it safe):\n${token.token}`,
        );
        return EXIT.ok;
      }),
    );

  tokens
    .command('list')
    .description('list tokens, newest first')
    .option('--status <status>', 'active, expired or revoked')
    .option('--name <text>', 'names containing this text')
    .option('--scope <scope>', 'tokens holding this scope')
    .option('--external-id <id>', 'tokens of exactly this external id')
    .option('--page <n>', 'page number', integer)
    .option('--per-page <n>', 'rows per page (1–100)', integer)
    .addHelpText('after', '\nExample:\n  tooken tokens list --status active --json')
    .action(
      run(async ({ client, output, options }) => {
        const query = {
          ...(options.status !== undefined
            ? { status: options.status as 'active' | 'expired' | 'revoked' }
            : {}),
          ...(options.name !== undefined ? { name: String(options.name) } : {}),
          ...(options.scope !== undefined ? { scope: String(options.scope) } : {}),
          ...(options.externalId !== undefined ? { external_id: String(options.externalId) } : {}),
          ...(options.page !== undefined ? { page: Number(options.page) } : {}),
          ...(options.perPage !== undefined ? { per_page: Number(options.perPage) } : {}),
        };
        printList(output, await (await client()).tokens.list(query), [
          'id',
          'name',
          'scopes',
          'status',
          'expires_at',
          'last_used_at',
        ]);
        return EXIT.ok;
      }),
    );

  tokens
    .command('get <id>')
    .description('show one token')
    .addHelpText('after', '\nExample:\n  tooken tokens get tok_2x8k4m1q9z7v3c5b6n0p1r2s')
    .action(
      run(async ({ client, output, args: [id = ''] }) => {
        const token = await (await client()).tokens.get(id);
        print(output, token, () => details(token, TOKEN_FIELDS));
        return EXIT.ok;
      }),
    );

  tokenUpdateCommands(tokens, TOKEN_FIELDS);

  tokens
    .command('rotate <id>')
    .description('give a token a new secret; the old one works for the grace period')
    .option('--grace <seconds>', 'how long the old secret keeps working (0–86400, default 0)', integer)
    .addHelpText('after', '\nExample:\n  tooken tokens rotate tok_2x8k4m1q9z7v3c5b6n0p1r2s --grace 3600')
    .action(
      run(async ({ client, output, args: [id = ''], options }) => {
        const grace = options.grace === undefined ? 0 : Number(options.grace);
        const token = await (await client()).tokens.rotate(id, { grace_period_seconds: grace });
        print(
          output,
          token,
          () => `${details(token, TOKEN_FIELDS)}\n\nNew secret (shown once, keep it safe):\n${token.token}`,
        );
        return EXIT.ok;
      }),
    );

  tokens
    .command('verify <secret>')
    .description('verify a token secret; exits 0 only when it is VALID (4 otherwise)')
    .option('--scopes <scopes>', 'comma-separated scopes the token must hold', list)
    .addHelpText('after', '\nExample:\n  tooken tokens verify "$SECRET" --scopes orders:read || echo refused')
    .action(
      run(async ({ client, output, args: [secret = ''], options }) => {
        const scopes = (options.scopes as string[] | undefined) ?? [];
        const result = await (await client()).tokens.verify(secret, { scopes });
        print(output, result, () =>
          result.token === undefined
            ? result.code
            : `${result.code}\n\n${details(result.token, ['id', 'name', 'scopes', 'expires_at', 'metadata'])}`,
        );
        return result.code === 'VALID' ? EXIT.ok : EXIT.notValid;
      }),
    );
}
