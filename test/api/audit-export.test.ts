import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_HEADER, getAs, listAudit, parseCsv, type Reader, seedChain } from '../audit-support.js';
import {
  bearer,
  createTestApp,
  createWorkspace,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  type TestApp,
} from '../helpers.js';

const TRICKY = 'a,"b"\nc';

/** docs/audit.md#csv-export: GET /v1/audit-logs/export. */
describe.each(dialects())('%s: audit export', (dialect) => {
  let t: TestApp;
  let owner: Session;
  let ws: Json;
  let reader: Reader;
  const secrets: string[] = [];
  /** The workspace's entries, oldest first, as the list API shows them. */
  let entries: Json[];

  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
    const created = await ownerWorkspace(t.app, { name: 'Export Co', key: { name: '+key', kind: 'team' } });
    owner = created.session;
    ws = created.ws;
    const { key } = created;
    secrets.push(key.key);
    reader = { secret: key.key };
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: owner.headers,
      payload: { timezone: 'Asia/Kolkata' },
    });
    expect(patch.statusCode).toBe(200);
    for (const [name, ua] of [
      [TRICKY, 'curl/8.0'],
      ['=SUM(1)', '@evil-agent'],
      ['-minus', 'tab\tagent'],
      ['\tplain', '"quoted" agent, with comma'],
      ['\rcr', 'ua'],
    ] as const) {
      t.clock.advance(60_000);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: { ...bearer(key.key), 'user-agent': ua },
        payload: { name, scopes: ['tokens:read'] },
      });
      expect(res.statusCode).toBe(201);
      secrets.push(json(res).token);
    }
    entries = (await listAudit(t, reader, 'per_page=100')).data.reverse();
    expect(entries).toHaveLength(8);
  });
  afterAll(() => t.close());

  const exportCsv = (query = '', as: Reader = reader) =>
    getAs(t, as, `/audit-logs/export${query ? `?${query}` : ''}`);

  const expectedRow = (e: Json) => [
    e.id,
    e.created_at,
    e.created_at_local,
    e.event,
    e.actor.type,
    e.actor.id ?? '',
    e.actor.name ?? '',
    e.target?.type ?? '',
    e.target?.id ?? '',
    e.target?.name ?? '',
    e.changes === null ? '' : JSON.stringify(e.changes),
    e.ip ?? '',
    e.user_agent ?? '',
  ];

  /** What a spreadsheet-safe cell looks like once parsed: formula starters get a leading '. */
  const guarded = (cells: string[]) => cells.map((c) => (/^[=+\-@\t\r]/.test(c) ? `'${c}` : c));

  it('streams every entry oldest first as RFC 4180 CSV with the exact header and the attachment name', async () => {
    const res = await exportCsv();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv\b/);
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="tooken-audit-${ws.slug}-all-all.csv"`,
    );
    expect(res.body.startsWith(`${CSV_HEADER}\r\n`)).toBe(true);
    expect(res.body.endsWith('\r\n')).toBe(true);
    const records = parseCsv(res.body);
    expect(records[0]).toEqual(CSV_HEADER.split(','));
    const rows = records.slice(1);
    expect(rows.map((r) => r[0])).toEqual(entries.map((e) => e.id));
    rows.forEach((row, i) => {
      expect(row).toEqual(guarded(expectedRow(entries[i] as Json)));
    });
  });

  it('quotes commas, quotes and newlines, and prefixes formula starters with a quote', async () => {
    const { body } = await exportCsv();
    // The token named a,"b"<LF>c: one quoted cell, inner quotes doubled, the bare LF kept inside.
    expect(body).toContain(',token,');
    expect(body).toContain(`,"a,""b""\nc",`);
    // A line break only ever ends a record as CRLF; the one LF in the body is inside that cell.
    expect(body.split('\n')).toHaveLength(body.split('\r\n').length + 1);
    expect(body).toContain(",'=SUM(1),");
    expect(body).toContain(",'-minus,");
    expect(body).toContain(",'@evil-agent\r\n");
    expect(body).toContain(',tab\tagent\r\n'); // a tab inside needs neither quotes nor a prefix
    expect(body).toContain(",'\tplain,");
    expect(body).toContain(`,"'\rcr",`);
    expect(body).toContain(',"""quoted"" agent, with comma"\r\n');
    expect(body).toContain(",'+key,"); // the team key's name, as actor
    // changes are JSON in one quoted cell.
    expect(body).toContain(',"{""timezone"":{""from"":""UTC"",""to"":""Asia/Kolkata""}}",');
    // UTC and the workspace timezone side by side.
    const patch = entries.find((e) => e.event === 'workspace.settings_changed') as Json;
    expect(patch.created_at).toBe('2026-01-15T09:00:00.000Z');
    expect(body).toContain(
      `${patch.id},2026-01-15T09:00:00.000Z,2026-01-15T14:30:00.000+05:30,workspace.settings_changed,`,
    );
    for (const secret of secrets) expect(body).not.toContain(secret);
  });

  it('from (inclusive) and to (exclusive) bound the export exactly, and name the file by date', async () => {
    const at = (entries[4] as Json).created_at as string; // the "=SUM(1)" token, alone at its minute
    const from = await exportCsv(`from=${encodeURIComponent(at)}`);
    expect(
      parseCsv(from.body)
        .slice(1)
        .map((r) => r[0]),
    ).toEqual(entries.slice(4).map((e) => e.id));
    expect(from.headers['content-disposition']).toBe(
      `attachment; filename="tooken-audit-${ws.slug}-2026-01-15-all.csv"`,
    );
    const to = await exportCsv(`to=${encodeURIComponent(at)}`);
    expect(
      parseCsv(to.body)
        .slice(1)
        .map((r) => r[0]),
    ).toEqual(entries.slice(0, 4).map((e) => e.id));
    expect(to.headers['content-disposition']).toBe(
      `attachment; filename="tooken-audit-${ws.slug}-all-2026-01-15.csv"`,
    );
    const next = (entries[5] as Json).created_at as string;
    const one = await exportCsv(`from=${encodeURIComponent(at)}&to=${encodeURIComponent(next)}`);
    expect(
      parseCsv(one.body)
        .slice(1)
        .map((r) => r[0]),
    ).toEqual([entries[4]?.id]);

    const days = await exportCsv('from=2026-01-15&to=2026-01-16');
    expect(days.headers['content-disposition']).toBe(
      `attachment; filename="tooken-audit-${ws.slug}-2026-01-15-2026-01-16.csv"`,
    );
    expect(parseCsv(days.body)).toHaveLength(entries.length + 1);
    const none = await exportCsv('from=2026-01-16');
    expect(none.statusCode).toBe(200);
    expect(none.body).toBe(`${CSV_HEADER}\r\n`);
  });

  it('rejects an unparseable range with 422 and unknown parameters with 400, as JSON', async () => {
    for (const query of ['from=soon', 'to=2026-02-30', 'from=2026-01-15T09:00']) {
      const res = await exportCsv(query);
      expect(res.statusCode, query).toBe(422);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(json(res).error).toBe('unprocessable_entity');
    }
    expect((await exportCsv('event=token.created')).statusCode).toBe(400);
  });

  it('exports a log larger than one read batch completely, in order, without duplicates', async () => {
    const big = await createWorkspace(t.app, owner, 'Big Export');
    const count = 5_432;
    await seedChain(t, big.id, count);
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${big.slug}/audit-logs/export`,
      headers: owner.headers,
    });
    expect(res.statusCode).toBe(200);
    const rows = parseCsv(res.body).slice(1);
    expect(rows).toHaveLength(count + 1);
    const stored = await t.services.db
      .selectFrom('audit_log')
      .select('id')
      .where('workspace_id', '=', big.id)
      .orderBy('seq', 'asc')
      .execute();
    expect(rows.map((r) => r[0])).toEqual(stored.map((r) => r.id));
    expect(rows.slice(1).map((r) => r[9])).toEqual(Array.from({ length: count }, (_, i) => `t${i}`));
  });
});
