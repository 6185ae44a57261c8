import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
} from '../helpers.js';

/*
 * Every operation of /openapi.json, walked with every kind of credential. The table below is the
 * product's permission table written out by hand (never imported from the code, so the code cannot
 * agree with itself by construction), and every documented route must have a row: a new route
 * cannot ship without someone deciding who may call it.
 *
 * Who is refused is decided before the body is validated or anything is read, so most calls send
 * `{}` and made-up ids: an allowed caller then gets a 400 or a 404, a refused one a 403.
 */

type Role = 'owner' | 'admin' | 'viewer';

const SCOPES = [
  'tokens:read',
  'tokens:write',
  'tokens:revoke',
  'tokens:rotate',
  'tokens:verify',
  'audit:read',
  'webhooks:read',
  'webhooks:write',
] as const;
type Scope = (typeof SCOPES)[number];

const ALL: readonly Role[] = ['owner', 'admin', 'viewer'];
const OWNER_ADMIN: readonly Role[] = ['owner', 'admin'];
const OWNER: readonly Role[] = ['owner'];

/** Where a dashboard session names its workspace; bearer credentials may also drop this part. */
const W = '/v1/workspaces/{slug}';

interface Rule {
  /** `METHOD path` exactly as /openapi.json lists the operation. */
  op: string;
  /** What this row sends, when one operation needs rows for different bodies. */
  sending?: string;
  /** The roles allowed, through a dashboard session or an API key acting with that role. */
  roles: readonly Role[];
  /** The scope that lets a token do it; null when no token may. */
  scope: Scope | null;
  /**
   * Which API keys may act with their role: all of them (the default), only personal keys (a team
   * key has no member to act for), or none (a dashboard session only).
   */
  keys?: 'all' | 'personal' | 'none';
  /**
   * The body, given a string unique to the call; unsafe methods send `{}` otherwise. Operations on
   * one object send a valid body, so that another workspace's id reaches the lookup.
   */
  body?: (unique: string) => Json;
}

const TABLE: readonly Rule[] = [
  // Settings: every member reads them, only the Owner changes them; no token does either.
  { op: `GET ${W}/settings`, roles: ALL, scope: null },
  { op: `PATCH ${W}/settings`, roles: OWNER, scope: null },
  // The workspace itself: only its Owner deletes it, and only through a dashboard session.
  { op: `DELETE ${W}`, roles: OWNER, scope: null, keys: 'none' },
  // API keys: every member manages their own personal keys, only the Owner team keys; tokens never.
  { op: `GET ${W}/api-keys`, roles: ALL, scope: null },
  {
    op: `POST ${W}/api-keys`,
    sending: 'a personal key',
    roles: ALL,
    scope: null,
    keys: 'personal',
    body: (unique) => ({ name: `personal ${unique}`, kind: 'personal' }),
  },
  {
    op: `POST ${W}/api-keys`,
    sending: 'a team key',
    roles: OWNER,
    scope: null,
    body: (unique) => ({ name: `team ${unique}`, kind: 'team', role: 'viewer' }),
  },
  { op: `POST ${W}/api-keys/{id}/regenerate`, roles: ALL, scope: null },
  { op: `DELETE ${W}/api-keys/{id}`, roles: ALL, scope: null },
  // Tokens: everyone views and verifies, Owners and Admins change; a token needs the one scope.
  { op: `GET ${W}/tokens`, roles: ALL, scope: 'tokens:read' },
  { op: `GET ${W}/tokens/{id}`, roles: ALL, scope: 'tokens:read' },
  { op: `POST ${W}/tokens`, roles: OWNER_ADMIN, scope: 'tokens:write' },
  { op: `DELETE ${W}/tokens/{id}`, roles: OWNER_ADMIN, scope: 'tokens:revoke' },
  { op: `POST ${W}/tokens/{id}/rotate`, roles: OWNER_ADMIN, scope: 'tokens:rotate' },
  { op: `PATCH ${W}/tokens/{id}`, roles: OWNER_ADMIN, scope: 'tokens:write' },
  { op: `POST ${W}/tokens/revoke`, roles: OWNER_ADMIN, scope: 'tokens:revoke' },
  { op: `POST ${W}/tokens/verify`, roles: ALL, scope: 'tokens:verify' },
  // In-process verifiers: the change stream and usage reports, for whoever may verify.
  { op: `GET ${W}/tokens/stream`, roles: ALL, scope: 'tokens:verify' },
  { op: `POST ${W}/tokens/usage`, roles: ALL, scope: 'tokens:verify' },
  // Members and invitations: everyone views, only the Owner invites, changes roles and removes
  // others (a member may remove themself, which a made-up id never is); tokens never.
  { op: `GET ${W}/members`, roles: ALL, scope: null },
  { op: `PATCH ${W}/members/{user_id}`, roles: OWNER, scope: null, body: () => ({ role: 'admin' }) },
  { op: `DELETE ${W}/members/{user_id}`, sending: 'someone else', roles: OWNER, scope: null },
  { op: `GET ${W}/invitations`, roles: ALL, scope: null },
  { op: `POST ${W}/invitations`, roles: OWNER, scope: null },
  { op: `DELETE ${W}/invitations/{id}`, roles: OWNER, scope: null },
  // Audit log: Owners and Admins read and export it, tokens with audit:read; only the Owner
  // verifies the chain.
  { op: `GET ${W}/audit-logs`, roles: OWNER_ADMIN, scope: 'audit:read' },
  { op: `GET ${W}/audit-logs/export`, roles: OWNER_ADMIN, scope: 'audit:read' },
  { op: `GET ${W}/audit-logs/verify`, roles: OWNER, scope: null },
  // Webhooks: everyone views endpoints and deliveries, Owners and Admins change them.
  { op: `GET ${W}/webhooks`, roles: ALL, scope: 'webhooks:read' },
  { op: `POST ${W}/webhooks`, roles: OWNER_ADMIN, scope: 'webhooks:write' },
  { op: `GET ${W}/webhooks/{id}`, roles: ALL, scope: 'webhooks:read' },
  {
    op: `PATCH ${W}/webhooks/{id}`,
    roles: OWNER_ADMIN,
    scope: 'webhooks:write',
    body: () => ({ description: 'route security' }),
  },
  { op: `DELETE ${W}/webhooks/{id}`, roles: OWNER_ADMIN, scope: 'webhooks:write' },
  { op: `POST ${W}/webhooks/{id}/rotate-secret`, roles: OWNER_ADMIN, scope: 'webhooks:write' },
  { op: `POST ${W}/webhooks/{id}/test`, roles: OWNER_ADMIN, scope: 'webhooks:write' },
  { op: `GET ${W}/webhooks/{id}/deliveries`, roles: ALL, scope: 'webhooks:read' },
  { op: `POST ${W}/webhooks/{id}/deliveries/{dlv_id}/retry`, roles: OWNER_ADMIN, scope: 'webhooks:write' },
];

/** The documented routes outside any workspace, and who may call them. */
const OUTSIDE: Readonly<Record<string, 'anyone' | 'session'>> = {
  'POST /v1/auth/signup': 'anyone',
  'POST /v1/auth/login': 'anyone',
  'GET /healthz': 'anyone',
  'GET /readyz': 'anyone',
  'POST /v1/auth/login/two-factor': 'anyone',
  'POST /v1/auth/password-reset': 'anyone',
  'POST /v1/auth/password-reset/confirm': 'anyone',
  'POST /v1/auth/logout': 'session',
  'GET /v1/me': 'session',
  // A person's own account: password, two-factor, sessions (never an API key or a token).
  'POST /v1/me/password': 'session',
  'POST /v1/me/two-factor': 'session',
  'DELETE /v1/me/two-factor': 'session',
  'POST /v1/me/two-factor/confirm': 'session',
  'GET /v1/me/sessions': 'session',
  'DELETE /v1/me/sessions/{id}': 'session',
  'POST /v1/me/sessions/revoke-others': 'session',
  'GET /v1/workspaces': 'session',
  'POST /v1/workspaces': 'session',
  'POST /v1/invitations/accept': 'session',
  // Whoever finds a leaked secret reports it: no credential of any kind is needed.
  'POST /v1/tokens/leaked': 'anyone',
};

/** The collections whose objects a path names, by the segment before the id. */
type Collection = 'api-keys' | 'tokens' | 'members' | 'invitations' | 'webhooks' | 'deliveries';
type Ids = Readonly<Record<Collection, string>>;

/** A made-up id for each collection. */
const MADE_UP: Ids = {
  'api-keys': 'key_doesnotexist',
  tokens: 'tok_doesnotexist',
  members: 'usr_doesnotexist',
  invitations: 'inv_doesnotexist',
  webhooks: 'whk_doesnotexist',
  deliveries: 'dlv_doesnotexist',
};

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function split(op: string): { method: string; path: string } {
  const [method = '', path = ''] = op.split(' ');
  return { method, path };
}

/** The short form of a workspace operation (`/v1/tokens` for `/v1/workspaces/{slug}/tokens`). */
function shortOp(op: string): string | null {
  const { method, path } = split(op);
  return path.startsWith(`${W}/`) ? `${method} /v1${path.slice(W.length)}` : null;
}

/** The collections of the ids in a documented path, in order. */
function collections(path: string): Collection[] {
  const parts = path.split('/');
  return parts.flatMap((part, i) => {
    if (!part.startsWith('{') || part === '{slug}') return [];
    const collection = parts[i - 1] ?? '';
    if (!(collection in MADE_UP)) throw new Error(`no id known for ${part} in ${path}`);
    return [collection as Collection];
  });
}

/** A documented path with its parameters filled in: the slug, then one id for each object. */
function fill(
  path: string,
  slug: string,
  ids: readonly string[] = collections(path).map((c) => MADE_UP[c]),
): string {
  let next = 0;
  return path
    .split('/')
    .map((part) => (part === '{slug}' ? slug : part.startsWith('{') ? (ids[next++] ?? '') : part))
    .join('/');
}

function title(rule: Rule): string {
  return rule.sending === undefined ? rule.op : `${rule.op} (${rule.sending})`;
}

/** A credential of the workspace, and whether the table lets it do what a rule describes. */
interface Principal {
  name: string;
  headers: Record<string, string>;
  /** Bearer credentials may also use the short path. */
  bearer: boolean;
  allowed: boolean;
}

describe.each(dialects())('%s: route security', (dialect) => {
  let t: TestApp;
  let documented: string[];
  let slug: string;
  let otherSlug: string;
  let sessions: Record<Role, Session>;
  let personalKeys: Record<Role, string>;
  let teamKeys: Record<Exclude<Role, 'owner'>, string>;
  /** Per scope, a token holding only that scope and one holding every other built-in scope. */
  let onlyScope: Record<Scope, string>;
  let allBut: Record<Scope, string>;
  let everyScope: string;
  /** Real objects: in this workspace (`own`), and in another one (`foreign`). */
  let own: Ids;
  let foreign: Ids;
  let calls = 0;

  beforeAll(async () => {
    t = await createTestApp(dialect, {
      TOOKEN_RATE_LIMIT_PER_MINUTE: '1000000',
      TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    const doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
    documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );

    const owner = await ownerWorkspace(t.app, { key: { name: 'owner personal', kind: 'personal' } });
    slug = owner.ws.slug;
    const other = await ownerWorkspace(t.app, { key: 'team' });
    otherSlug = other.ws.slug;
    /** A POST as a workspace's Owner that must succeed. */
    const create = async (session: Session, wsSlug: string, path: string, payload: Json = {}) => {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${wsSlug}${path}`,
        headers: session.headers,
        payload,
      });
      if (res.statusCode >= 300) throw new Error(`POST ${path}: ${res.statusCode} ${res.body}`);
      return json(res);
    };
    const hookAndDelivery = async (session: Session, wsSlug: string) => {
      const hook = await create(session, wsSlug, '/webhooks', {
        url: 'http://127.0.0.1:9/hook',
        events: ['token.created'],
      });
      return {
        webhooks: hook.id as string,
        deliveries: (await create(session, wsSlug, `/webhooks/${hook.id}/test`)).id,
      };
    };
    const otherToken = await create(other.session, otherSlug, '/tokens', {
      name: 'theirs',
      scopes: ['tokens:read'],
    });
    const otherInvitation = await create(other.session, otherSlug, '/invitations', {
      email: 'invited@example.com',
      role: 'viewer',
    });
    foreign = {
      'api-keys': other.key.id,
      tokens: otherToken.id,
      members: other.session.user.id,
      invitations: otherInvitation.id,
      ...(await hookAndDelivery(other.session, otherSlug)),
    };
    // Only the webhook and its delivery are ever mixed with another workspace's ids in one path.
    own = { ...MADE_UP, ...(await hookAndDelivery(owner.session, slug)) };
    const member = async (role: Role) => {
      const session = await signup(t.app);
      await addMember(t.services, owner.ws.id, session.user.id, role);
      return session;
    };
    sessions = { owner: owner.session, admin: await member('admin'), viewer: await member('viewer') };
    const personal = async (role: Role) =>
      (await createApiKey(t.app, sessions[role], slug, { name: `${role} personal`, kind: 'personal' })).key;
    personalKeys = { owner: owner.key.key, admin: await personal('admin'), viewer: await personal('viewer') };
    const team = async (role: Role) =>
      (await createApiKey(t.app, owner.session, slug, { name: `${role} team`, kind: 'team', role })).key;
    teamKeys = { admin: await team('admin'), viewer: await team('viewer') };

    const token = async (name: string, scopes: readonly Scope[]) =>
      (await create(owner.session, slug, '/tokens', { name, scopes })).token as string;
    const only = {} as Record<Scope, string>;
    const rest = {} as Record<Scope, string>;
    for (const scope of SCOPES) {
      only[scope] = await token(`only ${scope}`, [scope]);
      rest[scope] = await token(
        `all but ${scope}`,
        SCOPES.filter((s) => s !== scope),
      );
    }
    onlyScope = only;
    allBut = rest;
    everyScope = await token('every scope', SCOPES);
  });
  afterAll(() => t.close());

  /** Every credential of the workspace, each with what the table says of it for `rule`. */
  function principals(rule: Rule): Principal[] {
    const keys = rule.keys ?? 'all';
    const list: Principal[] = [];
    for (const role of ALL) {
      list.push({
        name: `${role} session`,
        headers: sessions[role].headers,
        bearer: false,
        allowed: rule.roles.includes(role),
      });
      list.push({
        name: `${role}'s personal key`,
        headers: bearer(personalKeys[role]),
        bearer: true,
        allowed: keys !== 'none' && rule.roles.includes(role),
      });
    }
    for (const role of ['admin', 'viewer'] as const) {
      list.push({
        name: `${role} team key`,
        headers: bearer(teamKeys[role]),
        bearer: true,
        allowed: keys === 'all' && rule.roles.includes(role),
      });
    }
    if (rule.scope === null) {
      list.push({
        name: 'token with every scope',
        headers: bearer(everyScope),
        bearer: true,
        allowed: false,
      });
    } else {
      const without = `token with every scope but ${rule.scope}`;
      list.push({ name: without, headers: bearer(allBut[rule.scope]), bearer: true, allowed: false });
      list.push({
        name: `token with only ${rule.scope}`,
        headers: bearer(onlyScope[rule.scope]),
        bearer: true,
        allowed: true,
      });
    }
    return list;
  }

  function send(rule: Rule, url: string, headers: Record<string, string>): Promise<LightMyRequestResponse> {
    const { method } = split(rule.op);
    calls += 1;
    const body = UNSAFE.has(method) ? (rule.body?.(`${dialect} ${calls}`) ?? {}) : undefined;
    return t.app.inject({
      method: method as 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      url,
      headers,
      ...(body === undefined ? {} : { payload: body }),
    });
  }

  /** The long path with the workspace's slug, and the short one when the operation has it. */
  function paths(rule: Rule, ids?: readonly string[]): string[] {
    const short = shortOp(rule.op);
    const long = fill(split(rule.op).path, slug, ids);
    return short === null ? [long] : [long, fill(split(short).path, slug, ids)];
  }

  const seen = (res: LightMyRequestResponse) => `${res.statusCode} ${res.body.slice(0, 160)}`;

  it('has a row for every documented workspace operation, and a documented operation for every row', () => {
    const inWorkspaces = documented.filter((op) => {
      const { path } = split(op);
      return path === W || path.startsWith(`${W}/`);
    });
    const tabled = [...new Set(TABLE.map((rule) => rule.op))];
    expect(inWorkspaces.sort()).toEqual(tabled.sort());
    // Everything else is the short form of one of them, or a route outside any workspace.
    const shortForms = tabled.map(shortOp).filter((op) => op !== null);
    const rest = documented.filter((op) => !inWorkspaces.includes(op));
    expect(rest.sort()).toEqual([...shortForms, ...Object.keys(OUTSIDE)].sort());
  });

  for (const rule of TABLE) {
    const unsafe = UNSAFE.has(split(rule.op).method);

    describe(title(rule), () => {
      it(
        unsafe
          ? 'answers 401 without a credential, 404 naming another workspace, and 403 to a cookie without the CSRF header'
          : 'answers 401 without a credential and 404 naming another workspace',
        async () => {
          const wrong: string[] = [];
          for (const url of paths(rule)) {
            const res = await send(rule, url, {});
            if (res.statusCode !== 401) wrong.push(`no credential on ${url}: ${seen(res)}`);
          }
          const foreign = fill(split(rule.op).path, otherSlug);
          for (const principal of principals(rule)) {
            const res = await send(rule, foreign, principal.headers);
            if (res.statusCode !== 404) wrong.push(`${principal.name} on ${foreign}: ${seen(res)}`);
          }
          if (unsafe) {
            const url = fill(split(rule.op).path, slug);
            const res = await send(rule, url, { cookie: sessions.owner.cookie });
            if (res.statusCode !== 403)
              wrong.push(`owner session without X-CSRF-Token on ${url}: ${seen(res)}`);
          }
          expect(wrong).toEqual([]);
        },
      );

      it('lets in exactly whom the permission table allows and answers 403 to everyone else', async () => {
        const wrong: string[] = [];
        for (const principal of principals(rule)) {
          for (const url of principal.bearer ? paths(rule) : paths(rule).slice(0, 1)) {
            const res = await send(rule, url, principal.headers);
            const refused = res.statusCode === 403 && json(res).error === 'forbidden';
            const allowed = res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode < 500;
            if (principal.allowed ? !allowed : !refused) {
              wrong.push(
                `${principal.name} on ${url}: ${seen(res)}; expected ${principal.allowed ? 'allowed' : '403'}`,
              );
            }
          }
        }
        expect(wrong).toEqual([]);
      });

      const objects = collections(split(rule.op).path);
      if (objects.length > 0) {
        it("answers 404 to everyone it lets in when an id in the path is another workspace's", async () => {
          // Every mix of this workspace's objects and another's, except only this workspace's.
          const mixes: string[][] = [];
          for (let mask = 1; mask < 2 ** objects.length; mask++)
            mixes.push(objects.map((c, i) => (mask & (1 << i) ? foreign[c] : own[c])));
          const wrong: string[] = [];
          for (const principal of principals(rule).filter((p) => p.allowed)) {
            for (const ids of mixes) {
              for (const url of principal.bearer ? paths(rule, ids) : paths(rule, ids).slice(0, 1)) {
                const res = await send(rule, url, principal.headers);
                if (res.statusCode !== 404) wrong.push(`${principal.name} on ${url}: ${seen(res)}`);
              }
            }
          }
          expect(wrong).toEqual([]);
        });
      }
    });
  }

  describe('routes outside any workspace', () => {
    const outside = Object.entries(OUTSIDE).map(([op, who]) => ({ ...split(op), who }));
    const call = (method: string, url: string, headers: Record<string, string>) =>
      t.app.inject({
        method: method as 'GET' | 'POST',
        url,
        headers,
        ...(UNSAFE.has(method) ? { payload: {} } : {}),
      });

    it('answers 401 without a credential to the session routes, and lets anyone reach sign-up, login and leak reports', async () => {
      const wrong: string[] = [];
      for (const { method, path, who } of outside) {
        const res = await call(method, path, {});
        if (who === 'session' ? res.statusCode !== 401 : res.statusCode === 401 || res.statusCode === 403)
          wrong.push(`${method} ${path}: ${seen(res)}`);
      }
      expect(wrong).toEqual([]);
    });

    it('answers 403 to an API key or a token on the session routes', async () => {
      const wrong: string[] = [];
      for (const { method, path } of outside.filter((route) => route.who === 'session')) {
        for (const secret of [personalKeys.owner, teamKeys.admin, everyScope]) {
          const res = await call(method, path, bearer(secret));
          if (res.statusCode !== 403)
            wrong.push(`${method} ${path} with ${secret.slice(0, 8)}…: ${seen(res)}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    it('answers 403 to a session cookie without X-CSRF-Token on their unsafe methods', async () => {
      const session = await signup(t.app);
      const wrong: string[] = [];
      for (const { method, path } of outside.filter(
        (route) => route.who === 'session' && UNSAFE.has(route.method),
      )) {
        const res = await call(method, path, { cookie: session.cookie });
        if (res.statusCode !== 403) wrong.push(`${method} ${path}: ${seen(res)}`);
      }
      expect(wrong).toEqual([]);
      expect((await call('GET', '/v1/me', { cookie: session.cookie })).statusCode).toBe(200);
    });
  });
});
