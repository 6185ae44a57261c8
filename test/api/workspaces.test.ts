import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  createWorkspace,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
} from '../helpers.js';

const BUILT_IN = [
  'tokens:read',
  'tokens:write',
  'tokens:revoke',
  'tokens:rotate',
  'tokens:verify',
  'audit:read',
  'webhooks:read',
  'webhooks:write',
];

/** A name (and so a derived slug) no other test uses. */
function uniqueName(prefix = 'Team'): string {
  return `${prefix} ${randomBytes(4).toString('hex')}`;
}

describe.each(dialects())('%s: creating workspaces in bulk', (dialect) => {
  let t: TestApp;
  const statements: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect, {}, { onQuery: (sql) => statements.push(sql) });
  });
  afterAll(() => t.close());

  const create = (session: Session, payload: Json) =>
    t.app.inject({ method: 'POST', url: '/v1/workspaces', headers: session.headers, payload });

  it('finds a slug in a bounded number of queries however many workspaces share its base', async () => {
    // Names without Latin letters all derive the slug `workspace`: take it and 40 numbered ones.
    const now = t.clock.now();
    await t.services.db
      .insertInto('workspaces')
      .values(
        ['workspace', ...Array.from({ length: 40 }, (_, i) => `workspace-${i + 2}`)].map((slug) => ({
          id: `ws_${randomBytes(12).toString('hex')}`,
          name: 'Taken',
          slug,
          timezone: 'UTC',
          default_token_expiration_days: 90,
          audit_log_retention_days: 90,
          custom_scopes: '[]',
          leak_policy: 'revoke' as const,
          created_at: now,
        })),
      )
      .execute();
    const session = await signup(t.app);
    statements.length = 0;
    const res = await create(session, { name: 'Рабочее пространство' });
    expect(res.statusCode, res.body).toBe(201);
    expect(json(res).slug).toMatch(/^workspace-[a-z0-9]{6}$/);
    const slugQueries = statements.filter((sql) => /"workspaces"/.test(sql) && /"slug"/.test(sql));
    expect(slugQueries.length).toBeLessThanOrEqual(3);
  });

  it('lets one user create 10 workspaces a minute, then answers 429 until the next minute', async () => {
    // Start at the beginning of a minute, so the 10 creations share one window.
    t.clock.advance(60_000 - (t.clock.now() % 60_000));
    const session = await signup(t.app);
    for (let i = 0; i < 10; i++) {
      expect((await create(session, { name: `Burst ${i}` })).statusCode).toBe(201);
    }
    const limited = await create(session, { name: 'One too many' });
    expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another user is not affected, and the limit lifts with the next minute.
    expect((await create(await signup(t.app), { name: 'Someone else' })).statusCode).toBe(201);
    t.clock.advance(60_000);
    expect((await create(session, { name: 'Next minute' })).statusCode).toBe(201);
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/workspaces?per_page=100',
      headers: session.headers,
    });
    expect(json(list).meta.total).toBe(11);
  });
});

describe.each(dialects())('%s: workspaces and settings', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  /** An owner with a fresh workspace, plus an admin and a viewer of it. */
  async function team(): Promise<{ owner: Session; admin: Session; viewer: Session; ws: Json }> {
    const { session: owner, ws } = await ownerWorkspace(t.app);
    const admin = await signup(t.app);
    const viewer = await signup(t.app);
    await addMember(t.services, ws.id, admin.user.id, 'admin');
    await addMember(t.services, ws.id, viewer.user.id, 'viewer');
    return { owner, admin, viewer, ws };
  }

  const patch = (url: string, headers: Record<string, string>, payload: unknown) =>
    t.app.inject({ method: 'PATCH', url, headers, payload: payload as Json });
  const get = (url: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url, headers });
  const settingsUrl = (slug: string) => `/v1/workspaces/${slug}/settings`;

  const settingsAudit = (workspaceId: string) =>
    t.services.db
      .selectFrom('audit_log')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('event', '=', 'workspace.settings_changed')
      .orderBy('seq', 'asc')
      .execute();

  describe('POST /v1/workspaces', () => {
    it('creates a workspace with the caller as owner and answers 201', async () => {
      const session = await signup(t.app);
      const name = uniqueName('Acme');
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: session.headers,
        payload: { name },
      });
      expect(res.statusCode).toBe(201);
      const body = json(res);
      expect(body).toEqual({
        id: expect.stringMatching(/^ws_[a-z0-9]{24}$/),
        name,
        slug: name.toLowerCase().replace(' ', '-'),
        role: 'owner',
        created_at: new Date(t.clock.now()).toISOString(),
      });
      const member = await t.services.db
        .selectFrom('members')
        .selectAll()
        .where('workspace_id', '=', body.id)
        .execute();
      expect(member).toEqual([expect.objectContaining({ user_id: session.user.id, role: 'owner' })]);
      const settings = await get(settingsUrl(body.slug), session.headers);
      expect(json(settings)).toEqual({
        id: body.id,
        name,
        slug: body.slug,
        timezone: 'UTC',
        default_token_expiration_days: 90,
        audit_log_retention_days: 90,
        custom_scopes: [],
        leak_policy: 'revoke',
        require_two_factor: false,
        created_at: body.created_at,
      });
    });

    it('derives the slug from the name and de-duplicates it', async () => {
      const session = await signup(t.app);
      const other = await signup(t.app);
      const suffix = randomBytes(3).toString('hex');
      const name = `Café Über ${suffix}!`;
      const first = await createWorkspace(t.app, session, name);
      const second = await createWorkspace(t.app, other, name);
      const third = await createWorkspace(t.app, session, name);
      expect(first.slug).toBe(`cafe-uber-${suffix}`);
      // A taken slug gets a random suffix, not the next number: finding it costs no search.
      expect(second.slug).toMatch(new RegExp(`^cafe-uber-${suffix}-[a-z0-9]{6}$`));
      expect(third.slug).toMatch(new RegExp(`^cafe-uber-${suffix}-[a-z0-9]{6}$`));
      expect(new Set([first.slug, second.slug, third.slug]).size).toBe(3);
      expect(new Set([first.id, second.id, third.id]).size).toBe(3);
    });

    it('gives each of several concurrent creations with one name its own slug', async () => {
      const session = await signup(t.app);
      const name = uniqueName('Rush');
      const base = name.toLowerCase().replace(' ', '-');
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          t.app.inject({
            method: 'POST',
            url: '/v1/workspaces',
            headers: session.headers,
            payload: { name },
          }),
        ),
      );
      expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201]);
      const slugs = results.map((r) => json(r).slug);
      expect(new Set(slugs).size).toBe(5);
      expect(slugs.filter((slug) => slug === base)).toHaveLength(1);
      for (const slug of slugs.filter((slug) => slug !== base)) {
        expect(slug).toMatch(new RegExp(`^${base}-[a-z0-9]{6}$`));
      }
    });

    it('uses an explicit slug as given', async () => {
      const session = await signup(t.app);
      const slug = `explicit-${randomBytes(3).toString('hex')}`;
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: session.headers,
        payload: { name: 'Anything At All', slug },
      });
      expect(res.statusCode).toBe(201);
      expect(json(res).slug).toBe(slug);
    });

    it('answers 409 when the slug is taken', async () => {
      const { ws } = await ownerWorkspace(t.app);
      const other = await signup(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: other.headers,
        payload: { name: 'Copycat', slug: ws.slug },
      });
      expectError(res, 409, 'conflict', 'slug');
      const list = await get('/v1/workspaces', other.headers);
      expect(json(list).meta.total).toBe(0);
    });

    it('answers 400 when the slug does not match the pattern', async () => {
      const session = await signup(t.app);
      for (const slug of ['Upper', '-lead', 'trail-', 'under_score', 'sp ace', '', 'a'.repeat(49), 'ünï']) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/workspaces',
          headers: session.headers,
          payload: { name: 'Bad Slug', slug },
        });
        expectError(res, 400, 'bad_request', 'slug');
      }
    });

    it('answers 400 when the name is missing, empty, too long, or a field is unknown', async () => {
      const session = await signup(t.app);
      const cases: [Json, string][] = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 'n'.repeat(101) }, 'name'],
        [{ name: 42 }, 'name'],
        [{ name: 'Fine', colour: 'blue' }, 'colour'],
      ];
      for (const [payload, field] of cases) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/workspaces',
          headers: session.headers,
          payload,
        });
        expectError(res, 400, 'bad_request', field);
      }
      expect(json(await get('/v1/workspaces', session.headers)).meta.total).toBe(0);
    });

    it('answers 403 to an API key and 401 without a credential', async () => {
      const { owner, ws } = await team();
      const key = await createApiKey(t.app, owner, ws.slug);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: bearer(key.key),
        payload: { name: 'By Key' },
      });
      expectError(res, 403, 'forbidden');
      const anonymous = await t.app.inject({ method: 'POST', url: '/v1/workspaces', payload: { name: 'X' } });
      expectError(anonymous, 401, 'unauthorized');
    });

    it('records a workspace.created audit entry', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const rows = await t.services.db
        .selectFrom('audit_log')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        event: 'workspace.created',
        actor_type: 'user',
        actor_id: session.user.id,
        target_id: ws.id,
      });
    });
  });

  describe('GET /v1/workspaces', () => {
    it('lists only the caller’s workspaces with their role, newest first', async () => {
      const session = await signup(t.app);
      const stranger = await signup(t.app);
      const a = await createWorkspace(t.app, session, uniqueName('A'));
      t.clock.advance(1000);
      const b = await createWorkspace(t.app, session, uniqueName('B'));
      t.clock.advance(1000);
      const theirs = await createWorkspace(t.app, stranger, uniqueName('Theirs'));
      await createWorkspace(t.app, stranger, uniqueName('Private'));
      await addMember(t.services, theirs.id, session.user.id, 'admin');

      const res = await get('/v1/workspaces', session.headers);
      expect(res.statusCode).toBe(200);
      const body = json(res);
      expect(body.meta).toEqual({ page: 1, per_page: 25, total: 3 });
      expect(body.data.map((w: Json) => [w.id, w.role])).toEqual([
        [theirs.id, 'admin'],
        [b.id, 'owner'],
        [a.id, 'owner'],
      ]);
      expect(body.data[1]).toEqual({
        id: b.id,
        name: b.name,
        slug: b.slug,
        role: 'owner',
        created_at: b.created_at,
      });

      const page2 = json(await get('/v1/workspaces?page=2&per_page=2', session.headers));
      expect(page2.meta).toEqual({ page: 2, per_page: 2, total: 3 });
      expect(page2.data.map((w: Json) => w.id)).toEqual([a.id]);
      const past = json(await get('/v1/workspaces?page=9', session.headers));
      expect(past.data).toEqual([]);
      expect(past.meta.total).toBe(3);
    });

    it('answers 400 to a page or per_page out of range', async () => {
      const session = await signup(t.app);
      for (const query of ['page=0', 'per_page=0', 'per_page=101', 'page=x']) {
        expectError(await get(`/v1/workspaces?${query}`, session.headers), 400, 'bad_request');
      }
    });

    it('answers 403 to an API key', async () => {
      const { owner, ws } = await team();
      const key = await createApiKey(t.app, owner, ws.slug);
      expectError(await get('/v1/workspaces', bearer(key.key)), 403, 'forbidden');
    });
  });

  describe('GET settings', () => {
    it('answers on /v1/settings with an API key and on the slug path with a key or a session', async () => {
      const { owner, admin, viewer, ws } = await team();
      const key = await createApiKey(t.app, owner, ws.slug);
      const expected = {
        id: ws.id,
        name: ws.name,
        slug: ws.slug,
        timezone: 'UTC',
        default_token_expiration_days: 90,
        audit_log_retention_days: 90,
        custom_scopes: [],
        leak_policy: 'revoke',
        require_two_factor: false,
        created_at: ws.created_at,
      };
      for (const [url, headers] of [
        ['/v1/settings', bearer(key.key)],
        [settingsUrl(ws.slug), bearer(key.key)],
        [settingsUrl(ws.slug), owner.headers],
        [settingsUrl(ws.slug), admin.headers],
        [settingsUrl(ws.slug), viewer.headers],
      ] as const) {
        const res = await get(url, headers);
        expect(res.statusCode).toBe(200);
        expect(json(res)).toEqual(expected);
      }
    });

    it('answers 400 to a session on /v1/settings without a slug', async () => {
      const { owner } = await team();
      expectError(await get('/v1/settings', owner.headers), 400, 'bad_request');
    });

    it('answers 404 to a session of a non-member and to an unknown slug', async () => {
      const { ws } = await team();
      const { session: outsider } = await ownerWorkspace(t.app);
      expectError(await get(settingsUrl(ws.slug), outsider.headers), 404, 'not_found');
      expectError(await get(settingsUrl('no-such-workspace-here'), outsider.headers), 404, 'not_found');
    });

    it('answers 404, never 403, to an API key of another workspace', async () => {
      const a = await team();
      const b = await team();
      const keyA = await createApiKey(t.app, a.owner, a.ws.slug);
      const res = await get(settingsUrl(b.ws.slug), bearer(keyA.key));
      expectError(res, 404, 'not_found');
      expect(res.body).not.toContain(b.ws.id);
      expectError(await get(settingsUrl('no-such-workspace-here'), bearer(keyA.key)), 404, 'not_found');
    });

    it('answers 401 without a credential', async () => {
      const { ws } = await team();
      expectError(await get('/v1/settings'), 401, 'unauthorized');
      expectError(await get(settingsUrl(ws.slug)), 401, 'unauthorized');
    });
  });

  describe('PATCH settings: fields', () => {
    it('changes every field at once and returns the new settings', async () => {
      const { owner, ws } = await team();
      const slug = `renamed-${randomBytes(3).toString('hex')}`;
      const res = await patch(settingsUrl(ws.slug), owner.headers, {
        name: 'Renamed',
        slug,
        timezone: 'Europe/Berlin',
        default_token_expiration_days: 30,
        audit_log_retention_days: 365,
        custom_scopes: ['billing:read', 'billing:write'],
        leak_policy: 'notify',
      });
      expect(res.statusCode).toBe(200);
      const expected = {
        id: ws.id,
        name: 'Renamed',
        slug,
        timezone: 'Europe/Berlin',
        default_token_expiration_days: 30,
        audit_log_retention_days: 365,
        custom_scopes: ['billing:read', 'billing:write'],
        leak_policy: 'notify',
        require_two_factor: false,
        created_at: ws.created_at,
      };
      expect(json(res)).toEqual(expected);
      expect(json(await get(settingsUrl(slug), owner.headers))).toEqual(expected);
    });

    it('keeps both of two concurrent PATCHes of different fields', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      const [a, b] = await Promise.all([
        patch(url, owner.headers, { name: 'Concurrent Name' }),
        patch(url, owner.headers, { timezone: 'Europe/Berlin' }),
      ]);
      expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
      expect(json(await get(url, owner.headers))).toMatchObject({
        name: 'Concurrent Name',
        timezone: 'Europe/Berlin',
      });
      expect(await settingsAudit(ws.id)).toHaveLength(2);
    });

    it('accepts the owner’s personal key on both paths', async () => {
      const { owner, ws } = await team();
      const key = await createApiKey(t.app, owner, ws.slug, { name: 'mine', kind: 'personal' });
      const viaShort = await patch('/v1/settings', bearer(key.key), { name: 'Via Short Path' });
      expect(viaShort.statusCode).toBe(200);
      expect(json(viaShort).name).toBe('Via Short Path');
      const viaSlug = await patch(settingsUrl(ws.slug), bearer(key.key), { leak_policy: 'notify' });
      expect(viaSlug.statusCode).toBe(200);
      expect(json(viaSlug)).toMatchObject({ name: 'Via Short Path', leak_policy: 'notify' });
    });

    it('keeps name within 1–100 characters', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      expectError(await patch(url, owner.headers, { name: '' }), 400, 'bad_request', 'name');
      expectError(await patch(url, owner.headers, { name: 'n'.repeat(101) }), 400, 'bad_request', 'name');
      expectError(await patch(url, owner.headers, { name: null }), 400, 'bad_request', 'name');
      for (const name of ['x', 'm'.repeat(100)]) {
        const res = await patch(url, owner.headers, { name });
        expect(res.statusCode).toBe(200);
        expect(json(res).name).toBe(name);
      }
    });

    it('answers 400 when the slug does not match the pattern', async () => {
      const { owner, ws } = await team();
      for (const slug of ['Upper', '-lead', 'trail-', 'dot.ted', '', 'a'.repeat(49), 7]) {
        expectError(await patch(settingsUrl(ws.slug), owner.headers, { slug }), 400, 'bad_request', 'slug');
      }
      expect(json(await get(settingsUrl(ws.slug), owner.headers)).slug).toBe(ws.slug);
    });

    it('accepts slugs at the edges of the pattern', async () => {
      const { owner, ws } = await team();
      let current = ws.slug;
      const hex = randomBytes(4).toString('hex');
      for (const slug of [`${hex}-${'b'.repeat(48 - hex.length - 1)}`, `${hex}`, `x-${hex}--y`]) {
        const res = await patch(settingsUrl(current), owner.headers, { slug });
        expect(res.statusCode).toBe(200);
        expect(json(res).slug).toBe(slug);
        current = slug;
      }
    });

    it('answers 409 when the slug is taken', async () => {
      const { owner, ws } = await team();
      const other = await team();
      const res = await patch(settingsUrl(ws.slug), owner.headers, { slug: other.ws.slug, name: 'Also' });
      expectError(res, 409, 'conflict', 'slug');
      // Nothing of the rejected PATCH was applied.
      expect(json(await get(settingsUrl(ws.slug), owner.headers))).toMatchObject({
        slug: ws.slug,
        name: ws.name,
      });
      expect(await settingsAudit(ws.id)).toHaveLength(0);
    });

    it('answers 422 to an unknown timezone and stores known ones under their canonical name', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      for (const timezone of ['Mars/Olympus_Mons', 'Europe/Atlantis', '+01:00', 'GMT+1', 'nowhere']) {
        expectError(await patch(url, owner.headers, { timezone }), 422, 'unprocessable_entity', 'timezone');
      }
      expectError(await patch(url, owner.headers, { timezone: 42 }), 400, 'bad_request', 'timezone');
      expectError(await patch(url, owner.headers, { timezone: '' }), 400, 'bad_request', 'timezone');
      const res = await patch(url, owner.headers, { timezone: 'europe/berlin' });
      expect(res.statusCode).toBe(200);
      expect(json(res).timezone).toBe('Europe/Berlin');
      expect(json(await patch(url, owner.headers, { timezone: 'America/New_York' })).timezone).toBe(
        'America/New_York',
      );
      expect(json(await patch(url, owner.headers, { timezone: 'utc' })).timezone).toBe('UTC');
    });

    it('keeps the IANA name chosen for a zone that has older aliases', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      for (const [given, stored] of [
        ['Europe/Kyiv', 'Europe/Kyiv'],
        ['Asia/Kolkata', 'Asia/Kolkata'],
        ['America/Argentina/Buenos_Aires', 'America/Argentina/Buenos_Aires'],
        ['america/port-au-prince', 'America/Port-au-Prince'],
        ['Asia/Calcutta', 'Asia/Calcutta'],
      ]) {
        const res = await patch(url, owner.headers, { timezone: given });
        expect(res.statusCode).toBe(200);
        expect(json(res).timezone).toBe(stored);
      }
    });

    it('keeps default_token_expiration_days an integer from 1 to 365, or null for never', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      for (const value of [0, 366, -1, 1.5, '30', true, []]) {
        expectError(
          await patch(url, owner.headers, { default_token_expiration_days: value }),
          400,
          'bad_request',
          'default_token_expiration_days',
        );
      }
      for (const value of [1, 365, null, 90]) {
        const res = await patch(url, owner.headers, { default_token_expiration_days: value });
        expect(res.statusCode).toBe(200);
        expect(json(res).default_token_expiration_days).toBe(value);
        expect(json(await get(url, owner.headers)).default_token_expiration_days).toBe(value);
      }
    });

    it('keeps audit_log_retention_days an integer from 1 to 365', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      for (const value of [0, 366, null, 2.5, '30']) {
        expectError(
          await patch(url, owner.headers, { audit_log_retention_days: value }),
          400,
          'bad_request',
          'audit_log_retention_days',
        );
      }
      for (const value of [1, 365]) {
        const res = await patch(url, owner.headers, { audit_log_retention_days: value });
        expect(res.statusCode).toBe(200);
        expect(json(res).audit_log_retention_days).toBe(value);
      }
    });

    it('accepts custom scopes that match the pattern, drops duplicates and clears with []', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      const scopes = ['billing:read', 'billing:read', 'svc_a-b:x:y', 'reports:*', 'a:0'];
      const res = await patch(url, owner.headers, { custom_scopes: scopes });
      expect(res.statusCode).toBe(200);
      expect(json(res).custom_scopes).toEqual(['billing:read', 'svc_a-b:x:y', 'reports:*', 'a:0']);
      expect(json(await get(url, owner.headers)).custom_scopes).toEqual(json(res).custom_scopes);
      const cleared = await patch(url, owner.headers, { custom_scopes: [] });
      expect(json(cleared).custom_scopes).toEqual([]);
    });

    it('answers 400 naming the item when a custom scope does not match the pattern', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      for (const bad of [
        'billing',
        'Billing:read',
        '1billing:read',
        'billing:',
        'billing:Read',
        ':read',
        'a b:c',
      ]) {
        const res = await patch(url, owner.headers, { custom_scopes: ['ok:fine', bad] });
        expectError(res, 400, 'bad_request', 'custom_scopes[1]');
      }
      expectError(await patch(url, owner.headers, { custom_scopes: 'billing:read' }), 400, 'bad_request');
      expectError(await patch(url, owner.headers, { custom_scopes: null }), 400, 'bad_request');
      expectError(await patch(url, owner.headers, { custom_scopes: [1] }), 400, 'bad_request');
      expect(json(await get(url, owner.headers)).custom_scopes).toEqual([]);
    });

    it('answers 400 to a built-in scope among the custom scopes', async () => {
      const { owner, ws } = await team();
      for (const scope of BUILT_IN) {
        const res = await patch(settingsUrl(ws.slug), owner.headers, { custom_scopes: ['mine:x', scope] });
        expectError(res, 400, 'bad_request', 'custom_scopes[1]');
        expect(json(res).message).toContain(scope);
      }
    });

    it('accepts 200 custom scopes and refuses 201', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      const scopes = Array.from({ length: 201 }, (_, i) => `svc:scope-${i}`);
      expectError(
        await patch(url, owner.headers, { custom_scopes: scopes }),
        400,
        'bad_request',
        'custom_scopes',
      );
      const res = await patch(url, owner.headers, { custom_scopes: scopes.slice(0, 200) });
      expect(res.statusCode).toBe(200);
      expect(json(res).custom_scopes).toHaveLength(200);
    });

    it('accepts only revoke or notify as leak_policy', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      for (const value of ['ignore', 'REVOKE', null, 1]) {
        expectError(
          await patch(url, owner.headers, { leak_policy: value }),
          400,
          'bad_request',
          'leak_policy',
        );
      }
      expect(json(await patch(url, owner.headers, { leak_policy: 'notify' })).leak_policy).toBe('notify');
      expect(json(await patch(url, owner.headers, { leak_policy: 'revoke' })).leak_policy).toBe('revoke');
    });

    it('answers 400 to an unknown field, a read-only field or a body that is not an object', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      expectError(await patch(url, owner.headers, { colour: 'blue' }), 400, 'bad_request', 'colour');
      expectError(await patch(url, owner.headers, { name: 'Ok', id: 'ws_x' }), 400, 'bad_request', 'id');
      expectError(await patch(url, owner.headers, { created_at: 0 }), 400, 'bad_request', 'created_at');
      expectError(await patch(url, owner.headers, ['name']), 400, 'bad_request');
      const notJson = await t.app.inject({
        method: 'PATCH',
        url,
        headers: { ...owner.headers, 'content-type': 'application/json' },
        payload: '{"name": ',
      });
      expectError(notJson, 400, 'bad_request');
      expect(json(await get(url, owner.headers)).name).toBe(ws.name);
    });
  });

  describe('PATCH settings: who may', () => {
    it('answers 403 to an admin and a viewer session, and changes nothing', async () => {
      const { admin, viewer, owner, ws } = await team();
      for (const session of [admin, viewer]) {
        const res = await patch(settingsUrl(ws.slug), session.headers, { name: 'Not Allowed' });
        expectError(res, 403, 'forbidden');
      }
      // Authorization comes before validation: an invalid body from a viewer is still 403.
      expectError(await patch(settingsUrl(ws.slug), viewer.headers, { name: '' }), 403, 'forbidden');
      expect(json(await get(settingsUrl(ws.slug), owner.headers)).name).toBe(ws.name);
      expect(await settingsAudit(ws.id)).toHaveLength(0);
    });

    it('answers 403 to team keys (admin or viewer) and to an admin’s personal key', async () => {
      const { owner, admin, ws } = await team();
      const teamAdmin = await createApiKey(t.app, owner, ws.slug, { name: 'ci', kind: 'team' });
      expect(teamAdmin.role).toBe('admin');
      const teamViewer = await createApiKey(t.app, owner, ws.slug, {
        name: 'ro',
        kind: 'team',
        role: 'viewer',
      });
      const adminPersonal = await createApiKey(t.app, admin, ws.slug, { name: 'adm', kind: 'personal' });
      for (const key of [teamAdmin, teamViewer, adminPersonal]) {
        expectError(await patch('/v1/settings', bearer(key.key), { name: 'Nope' }), 403, 'forbidden');
        expectError(await patch(settingsUrl(ws.slug), bearer(key.key), { name: 'Nope' }), 403, 'forbidden');
      }
      expect(json(await get(settingsUrl(ws.slug), owner.headers)).name).toBe(ws.name);
    });

    it('answers 404, never 403, to a non-member session and to another workspace’s key', async () => {
      const { ws, owner } = await team();
      const other = await team();
      const outsider = await signup(t.app);
      const foreignKey = await createApiKey(t.app, other.owner, other.ws.slug, {
        name: 'p',
        kind: 'personal',
      });
      expectError(await patch(settingsUrl(ws.slug), outsider.headers, { name: 'X' }), 404, 'not_found');
      expectError(await patch(settingsUrl(ws.slug), other.owner.headers, { name: 'X' }), 404, 'not_found');
      expectError(await patch(settingsUrl(ws.slug), bearer(foreignKey.key), { name: 'X' }), 404, 'not_found');
      expect(json(await get(settingsUrl(ws.slug), owner.headers)).name).toBe(ws.name);
    });

    it('answers 400 to a session on /v1/settings without a slug', async () => {
      const { owner } = await team();
      expectError(await patch('/v1/settings', owner.headers, { name: 'Where' }), 400, 'bad_request');
    });
  });

  describe('tokens', () => {
    it('answers 403 to a token, whatever its scopes, on settings, workspaces and deletion', async () => {
      const { owner, ws } = await team();
      const created = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/tokens`,
        headers: owner.headers,
        payload: { name: 'all-scopes', scopes: BUILT_IN },
      });
      expect(created.statusCode).toBe(201);
      const token = bearer(json(created).token);
      expectError(await get('/v1/settings', token), 403, 'forbidden');
      expectError(await get(settingsUrl(ws.slug), token), 403, 'forbidden');
      expectError(await patch('/v1/settings', token, { name: 'By Token' }), 403, 'forbidden');
      expectError(await patch(settingsUrl(ws.slug), token, { name: 'By Token' }), 403, 'forbidden');
      expectError(await get('/v1/workspaces', token), 403, 'forbidden');
      const create = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: token,
        payload: { name: 'By Token' },
      });
      expectError(create, 403, 'forbidden');
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/v1/workspaces/${ws.slug}`,
        headers: token,
        payload: { confirm: ws.slug },
      });
      expectError(del, 403, 'forbidden');
      // Another workspace's slug is still 404 for a token.
      const other = await team();
      expectError(await get(settingsUrl(other.ws.slug), token), 404, 'not_found');
      expect(json(await get(settingsUrl(ws.slug), owner.headers)).name).toBe(ws.name);
    });
  });

  describe('PATCH settings: audit', () => {
    it('writes one workspace.settings_changed entry listing each changed field with old and new value', async () => {
      const { owner, ws } = await team();
      const res = await patch(settingsUrl(ws.slug), owner.headers, {
        name: 'Audited',
        timezone: 'asia/tokyo',
        default_token_expiration_days: null,
        audit_log_retention_days: 90, // unchanged: not listed
        custom_scopes: ['billing:read'],
        leak_policy: 'revoke', // unchanged: not listed
      });
      expect(res.statusCode).toBe(200);
      const rows = await settingsAudit(ws.id);
      expect(rows).toHaveLength(1);
      const [row] = rows;
      expect(row).toMatchObject({
        actor_type: 'user',
        actor_id: owner.user.id,
        target_type: 'workspace',
        target_id: ws.id,
        request_id: res.headers['x-request-id'],
      });
      expect(JSON.parse(row?.changes ?? 'null')).toEqual({
        name: { from: ws.name, to: 'Audited' },
        timezone: { from: 'UTC', to: 'Asia/Tokyo' },
        default_token_expiration_days: { from: 90, to: null },
        custom_scopes: { from: [], to: ['billing:read'] },
      });
    });

    it('records slug changes and the personal key as the actor', async () => {
      const { owner, ws } = await team();
      const key = await createApiKey(t.app, owner, ws.slug, { name: 'owner-key', kind: 'personal' });
      const slug = `moved-${randomBytes(3).toString('hex')}`;
      const res = await patch('/v1/settings', bearer(key.key), { slug, audit_log_retention_days: 30 });
      expect(res.statusCode).toBe(200);
      const rows = await settingsAudit(ws.id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        actor_type: 'api_key',
        actor_id: key.id,
        actor_user_id: owner.user.id,
      });
      expect(JSON.parse(rows[0]?.changes ?? 'null')).toEqual({
        slug: { from: ws.slug, to: slug },
        audit_log_retention_days: { from: 90, to: 30 },
      });
    });

    it('writes no entry for an empty or a no-op PATCH', async () => {
      const { owner, ws } = await team();
      const url = settingsUrl(ws.slug);
      const empty = await patch(url, owner.headers, {});
      expect(empty.statusCode).toBe(200);
      expect(json(empty).name).toBe(ws.name);
      const same = await patch(url, owner.headers, {
        name: ws.name,
        slug: ws.slug,
        timezone: 'utc',
        default_token_expiration_days: 90,
        audit_log_retention_days: 90,
        custom_scopes: [],
        leak_policy: 'revoke',
      });
      expect(same.statusCode).toBe(200);
      // No body at all is not an object: the schema refuses it.
      const none = await t.app.inject({ method: 'PATCH', url, headers: owner.headers });
      expectError(none, 400, 'bad_request');
      expect(await settingsAudit(ws.id)).toHaveLength(0);
      // And a real change after them is recorded once.
      await patch(url, owner.headers, { name: 'Changed' });
      await patch(url, owner.headers, { name: 'Changed' });
      expect(await settingsAudit(ws.id)).toHaveLength(1);
    });

    it('writes no entry when the PATCH is refused', async () => {
      const { owner, admin, ws } = await team();
      const url = settingsUrl(ws.slug);
      await patch(url, owner.headers, { timezone: 'Nowhere/Land' });
      await patch(url, owner.headers, { custom_scopes: ['tokens:read'] });
      await patch(url, admin.headers, { name: 'Admin Was Here' });
      await patch(url, owner.headers, { name: 'Ok', bogus: 1 });
      expect(await settingsAudit(ws.id)).toHaveLength(0);
    });
  });

  describe('PATCH settings: slug change', () => {
    it('moves the workspace at once: the old slug answers 404 and the new one works', async () => {
      const { owner, viewer, ws } = await team();
      const key = await createApiKey(t.app, owner, ws.slug);
      const slug = `new-home-${randomBytes(3).toString('hex')}`;
      const res = await patch(settingsUrl(ws.slug), owner.headers, { slug });
      expect(res.statusCode).toBe(200);
      expect(json(res).slug).toBe(slug);
      for (const headers of [owner.headers, viewer.headers, bearer(key.key)]) {
        expectError(await get(settingsUrl(ws.slug), headers), 404, 'not_found');
        const moved = await get(settingsUrl(slug), headers);
        expect(moved.statusCode).toBe(200);
        expect(json(moved)).toMatchObject({ id: ws.id, slug });
      }
      expectError(await patch(settingsUrl(ws.slug), owner.headers, { name: 'Old Path' }), 404, 'not_found');
      // The key itself keeps working on the path without a slug.
      expect(json(await get('/v1/settings', bearer(key.key))).slug).toBe(slug);
      const list = json(await get('/v1/workspaces', owner.headers));
      expect(list.data[0]).toMatchObject({ id: ws.id, slug });
    });

    it('frees the old slug for another workspace', async () => {
      const { owner, ws } = await team();
      await patch(settingsUrl(ws.slug), owner.headers, { slug: `freed-${randomBytes(3).toString('hex')}` });
      const other = await signup(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: other.headers,
        payload: { name: 'Taker', slug: ws.slug },
      });
      expect(res.statusCode).toBe(201);
      expect(json(res).slug).toBe(ws.slug);
      // The old owner does not reach the new workspace through the reused slug.
      expectError(await get(settingsUrl(ws.slug), owner.headers), 404, 'not_found');
    });
  });

  describe('DELETE /v1/workspaces/{slug}', () => {
    const remove = (slug: string, headers: Record<string, string>, payload: unknown = { confirm: slug }) =>
      t.app.inject({ method: 'DELETE', url: `/v1/workspaces/${slug}`, headers, payload: payload as Json });

    const exists = async (workspaceId: string) =>
      (await t.services.db
        .selectFrom('workspaces')
        .select('id')
        .where('id', '=', workspaceId)
        .executeTakeFirst()) !== undefined;

    it('deletes the workspace with its members and keys when the owner confirms with the slug', async () => {
      const { owner, admin, ws } = await team();
      const teamKey = await createApiKey(t.app, owner, ws.slug);
      const personal = await createApiKey(t.app, admin, ws.slug, { name: 'mine', kind: 'personal' });
      const kept = await team();
      const keptKey = await createApiKey(t.app, kept.owner, kept.ws.slug);
      await patch(settingsUrl(ws.slug), owner.headers, { name: 'About To Go' });

      const res = await remove(ws.slug, owner.headers);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');

      expect(await exists(ws.id)).toBe(false);
      const db = t.services.db;
      expect(
        await db.selectFrom('members').select('user_id').where('workspace_id', '=', ws.id).execute(),
      ).toEqual([]);
      expect(
        await db.selectFrom('api_keys').select('id').where('workspace_id', '=', ws.id).execute(),
      ).toEqual([]);
      expect(
        await db.selectFrom('audit_log').select('id').where('workspace_id', '=', ws.id).execute(),
      ).toEqual([]);
      for (const key of [teamKey, personal]) {
        expectError(await get('/v1/settings', bearer(key.key)), 401, 'unauthorized');
      }
      expectError(await get(settingsUrl(ws.slug), owner.headers), 404, 'not_found');
      expect(json(await get('/v1/workspaces', owner.headers)).meta.total).toBe(0);
      expect(json(await get('/v1/me', { cookie: admin.cookie })).workspaces).toEqual([]);
      // The users themselves and other workspaces are untouched.
      expect((await get('/v1/me', { cookie: owner.cookie })).statusCode).toBe(200);
      expect((await get('/v1/settings', bearer(keptKey.key))).statusCode).toBe(200);
      expect(await exists(kept.ws.id)).toBe(true);
    });

    it('answers 400 when confirm is wrong or missing and keeps the workspace', async () => {
      const { owner, ws } = await team();
      const res = await remove(ws.slug, owner.headers, { confirm: `${ws.slug}-nope` });
      expectError(res, 400, 'bad_request', 'confirm');
      expectError(
        await remove(ws.slug, owner.headers, { confirm: ws.slug.toUpperCase() }),
        400,
        'bad_request',
      );
      expectError(await remove(ws.slug, owner.headers, { confirm: ws.name }), 400, 'bad_request');
      expectError(await remove(ws.slug, owner.headers, {}), 400, 'bad_request', 'confirm');
      const noBody = await t.app.inject({
        method: 'DELETE',
        url: `/v1/workspaces/${ws.slug}`,
        headers: owner.headers,
      });
      expectError(noBody, 400, 'bad_request');
      expectError(
        await remove(ws.slug, owner.headers, { confirm: ws.slug, force: true }),
        400,
        'bad_request',
        'force',
      );
      expect(await exists(ws.id)).toBe(true);
    });

    it('answers 403 to an admin or viewer session', async () => {
      const { admin, viewer, ws } = await team();
      for (const session of [admin, viewer])
        expectError(await remove(ws.slug, session.headers), 403, 'forbidden');
      expect(await exists(ws.id)).toBe(true);
    });

    it('answers 403 to any API key, even the owner’s personal key', async () => {
      const { owner, ws } = await team();
      const personal = await createApiKey(t.app, owner, ws.slug, { name: 'own', kind: 'personal' });
      const teamKey = await createApiKey(t.app, owner, ws.slug);
      for (const key of [personal, teamKey]) {
        expectError(await remove(ws.slug, bearer(key.key)), 403, 'forbidden');
      }
      expect(await exists(ws.id)).toBe(true);
    });

    it('answers 403 without the CSRF header', async () => {
      const { owner, ws } = await team();
      expectError(await remove(ws.slug, { cookie: owner.cookie }), 403, 'forbidden');
      expectError(await remove(ws.slug, { cookie: owner.cookie, 'x-csrf-token': 'nope' }), 403, 'forbidden');
      expect(await exists(ws.id)).toBe(true);
    });

    it('answers 404 for another workspace or an unknown slug', async () => {
      const { ws } = await team();
      const other = await team();
      const otherKey = await createApiKey(t.app, other.owner, other.ws.slug, { name: 'p', kind: 'personal' });
      expectError(await remove(ws.slug, other.owner.headers), 404, 'not_found');
      expectError(await remove(ws.slug, bearer(otherKey.key)), 404, 'not_found');
      expectError(await remove('no-such-workspace-here', other.owner.headers), 404, 'not_found');
      expect(await exists(ws.id)).toBe(true);
    });

    it('answers 401 without a credential', async () => {
      const { ws } = await team();
      expectError(await remove(ws.slug, {}), 401, 'unauthorized');
      expect(await exists(ws.id)).toBe(true);
    });
  });
});
