import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { EXIT, run } from '../context.js';
import { print, printList } from '../output.js';

/** Counts rows on their way to the file and shows the count on a terminal's stderr. */
function progress(): TransformStream<Uint8Array, Uint8Array> {
  let rows = 0;
  const shown = process.stderr.isTTY;
  return new TransformStream({
    transform(chunk, controller) {
      for (const byte of chunk) if (byte === 10) rows++;
      if (shown) process.stderr.write(`\rExported ${Math.max(0, rows - 1)} entries…`);
      controller.enqueue(chunk);
    },
    flush() {
      if (shown) process.stderr.write(`\rExported ${Math.max(0, rows - 1)} entries.\n`);
    },
  });
}

export function auditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('the tamper-evident audit log')
    .addHelpText(
      'after',
      '\nExample:\n  tooken audit export --from 2026-01-01 --to 2026-02-01 --output jan.csv',
    );

  audit
    .command('list')
    .description('read audit entries, newest first')
    .option('--from <when>', 'entries at or after this date or ISO 8601 instant')
    .option('--to <when>', 'entries before this date or instant')
    .option('--event <event>', 'only this event, e.g. token.revoked')
    .addHelpText('after', '\nExample:\n  tooken audit list --from 2026-01-01 --event token.revoked')
    .action(
      run(async ({ client, output, options }) => {
        const entries = await (await client()).audit.list({
          ...(options.from !== undefined ? { from: String(options.from) } : {}),
          ...(options.to !== undefined ? { to: String(options.to) } : {}),
          ...(options.event !== undefined ? { event: [String(options.event)] } : {}),
        });
        const { page, per_page, total } = entries.meta;
        if (page !== undefined && per_page !== undefined && total !== undefined) {
          const rows = entries.data.map((e) => ({
            ...e,
            actor: e.actor.name ?? e.actor.id,
            target: e.target?.name ?? null,
          }));
          printList(output, { data: output.json ? entries.data : rows, meta: { page, per_page, total } }, [
            'created_at_local',
            'event',
            'actor',
            'target',
            'ip',
          ]);
        } else {
          print(output, entries, () => JSON.stringify(entries, null, 2));
        }
        return EXIT.ok;
      }),
    );

  audit
    .command('export')
    .description('export entries as CSV, oldest first (to stdout, or a file)')
    .requiredOption('--from <when>', 'entries at or after this date or ISO 8601 instant')
    .requiredOption('--to <when>', 'entries before this date or instant')
    .option('--output <file>', 'write the CSV here instead of stdout')
    .addHelpText(
      'after',
      '\nExample:\n  tooken audit export --from 2026-01-01 --to 2026-02-01 --output january.csv',
    )
    .action(
      run(async ({ client, options }) => {
        const csv = await (await client()).audit.export({
          from: String(options.from),
          to: String(options.to),
        });
        const target =
          typeof options.output === 'string'
            ? Writable.toWeb(createWriteStream(options.output))
            : Writable.toWeb(process.stdout);
        await csv.pipeThrough(progress()).pipeTo(target);
        return EXIT.ok;
      }),
    );
}
