import type { Command } from 'commander';
import { EXIT, list, run } from '../context.js';
import { details, print, printList } from '../output.js';

const HOOK_FIELDS = ['id', 'url', 'description', 'events', 'enabled', 'failing_since', 'created_at'];

export function webhookCommands(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('webhook endpoints and their deliveries')
    .addHelpText('after', '\nExample:\n  tooken webhooks deliveries whk_…');

  webhooks
    .command('list')
    .description('list webhook endpoints')
    .addHelpText('after', '\nExample:\n  tooken webhooks list')
    .action(
      run(async ({ client, output }) => {
        printList(output, await (await client()).webhooks.list(), [
          'id',
          'url',
          'events',
          'enabled',
          'failing_since',
        ]);
        return EXIT.ok;
      }),
    );

  webhooks
    .command('create')
    .description('create an endpoint; its signing secret is printed once')
    .requiredOption(
      '--url <url>',
      'the endpoint’s https:// URL (the server’s: TOOKEN_URL, or --url before the command)',
    )
    .requiredOption('--events <events>', 'comma-separated events, e.g. token.revoked,token.rotated', list)
    .option('--description <text>', 'what the endpoint is for')
    .addHelpText(
      'after',
      '\nExample:\n  tooken webhooks create --url https://hooks.example.com/tooken --events token.revoked',
    )
    .action(
      run(
        async ({ client, output, options }) => {
          const hook = await (await client()).webhooks.create({
            url: String(options.url),
            events: options.events as never,
            ...(options.description !== undefined ? { description: String(options.description) } : {}),
          });
          print(
            output,
            hook,
            () =>
              `${details(hook, HOOK_FIELDS)}\n\nSigning secret (shown once, keep it safe):\n${hook.secret}`,
          );
          return EXIT.ok;
        },
        { ownUrl: true },
      ),
    );

  webhooks
    .command('delete <id>')
    .description('delete an endpoint')
    .addHelpText('after', '\nExample:\n  tooken webhooks delete whk_0a1b2c3d4e5f6g7h8i9j0k1l')
    .action(
      run(async ({ client, output, args: [id = ''] }) => {
        await (await client()).webhooks.delete(id);
        print(output, { deleted: id }, () => `Deleted ${id}.`);
        return EXIT.ok;
      }),
    );

  webhooks
    .command('deliveries <id>')
    .description('list an endpoint’s deliveries, newest first')
    .addHelpText('after', '\nExample:\n  tooken webhooks deliveries whk_0a1b2c3d4e5f6g7h8i9j0k1l')
    .action(
      run(async ({ client, output, args: [id = ''] }) => {
        const deliveries = await (await client()).webhooks.deliveries(id);
        const rows = deliveries.data.map((d) => ({
          ...d,
          attempts: d.attempts.length,
          last_status: d.attempts.at(-1)?.status_code ?? null,
        }));
        printList(output, { ...deliveries, data: output.json ? deliveries.data : rows }, [
          'id',
          'event',
          'status',
          'attempts',
          'last_status',
          'next_attempt_at',
        ]);
        return EXIT.ok;
      }),
    );

  webhooks
    .command('retry <id> <delivery_id>')
    .description('send a delivery again now')
    .addHelpText(
      'after',
      '\nExample:\n  tooken webhooks retry whk_0a1b2c3d4e5f6g7h8i9j0k1l dlv_0a1b2c3d4e5f6g7h8i9j0k1l',
    )
    .action(
      run(async ({ client, output, args: [id = '', deliveryId = ''] }) => {
        const delivery = await (await client()).webhooks.retry(id, deliveryId);
        print(output, delivery, () => details(delivery, ['id', 'event', 'status', 'next_attempt_at']));
        return EXIT.ok;
      }),
    );
}
