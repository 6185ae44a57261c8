import type { Command } from 'commander';
import { EXIT, list, run, UsageError } from '../context.js';
import { details, print } from '../output.js';

/** `--metadata`: a JSON object, or a usage error (exit 2). */
export function parseMetadata(text: unknown): Record<string, never> | undefined {
  if (typeof text !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError('--metadata must be a JSON object');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError('--metadata must be a JSON object');
  }
  return value as Record<string, never>;
}

/** `--expires-at`: an ISO instant, or "never" for null. */
export const expiryOption = (value: unknown): string | null | undefined =>
  value === 'never' ? null : (value as string | undefined);

/** `tokens update` and the bulk `tokens revoke` (docs/cli.md). */
export function tokenUpdateCommands(tokens: Command, fields: string[]): void {
  tokens
    .command('update <id>')
    .description('change a token: only the options given change')
    .option('--name <name>', 'a new name, unique among the workspace’s live tokens')
    .option('--scopes <scopes>', 'comma-separated scopes replacing the current ones', list)
    .option('--expires-at <when>', 'an ISO 8601 instant in the future, or "never"')
    .option('--metadata <json>', 'a JSON object replacing the current metadata')
    .option('--external-id <id>', 'the customer or service in your own system ("" clears it)')
    .addHelpText(
      'after',
      '\nExample:\n  tooken tokens update tok_2x8k4m1q9z7v3c5b6n0p1r2s --scopes orders:read --expires-at never',
    )
    .action(
      run(async ({ client, output, args: [id = ''], options }) => {
        const metadata = parseMetadata(options.metadata);
        const expires = expiryOption(options.expiresAt);
        const external = options.externalId as string | undefined;
        const body = {
          ...(options.name !== undefined ? { name: String(options.name) } : {}),
          ...(options.scopes !== undefined ? { scopes: options.scopes as string[] } : {}),
          ...(expires !== undefined ? { expires_at: expires } : {}),
          ...(metadata !== undefined ? { metadata } : {}),
          ...(external !== undefined ? { external_id: external === '' ? null : external } : {}),
        };
        if (Object.keys(body).length === 0) {
          throw new UsageError(
            'Nothing to change: give --name, --scopes, --expires-at, --metadata or --external-id',
          );
        }
        const token = await (await client()).tokens.update(id, body);
        print(output, token, () => details(token, fields));
        return EXIT.ok;
      }),
    );

  tokens
    .command('revoke [ids...]')
    .description(
      'revoke tokens (by id, or every token of an external id): every node refuses them from now on',
    )
    .option('--external-id <id>', 'revoke every token of this external id')
    .addHelpText(
      'after',
      '\nExamples:\n  tooken tokens revoke tok_2x8k4m1q9z7v3c5b6n0p1r2s\n  tooken tokens revoke tok_a… tok_b…\n  tooken tokens revoke --external-id cus_123',
    )
    .action(
      run(async ({ client, output, args: ids, options }) => {
        const external = options.externalId as string | undefined;
        if ((external === undefined) === (ids.length === 0)) {
          throw new UsageError('Give one or more token ids, or --external-id (not both)');
        }
        const api = await client();
        if (external === undefined && ids.length === 1) {
          const [id = ''] = ids;
          await api.tokens.revoke(id);
          print(output, { revoked: id }, () => `Revoked ${id}.`);
          return EXIT.ok;
        }
        const result = await api.tokens.revokeMany(
          external === undefined ? { ids } : { external_id: external },
        );
        print(output, result, () => `Revoked ${result.revoked} token${result.revoked === 1 ? '' : 's'}.`);
        return EXIT.ok;
      }),
    );
}
