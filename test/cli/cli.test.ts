import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestApp,
  dialects,
  type Json,
  ownerWorkspace,
  PASSWORD,
  signup,
  type TestApp,
} from '../helpers.js';
import { CLI, ensureBuilt } from './build.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `tooken` binary as a person or script would. */
function tooken(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => ensureBuilt(), 180_000);

describe('the tooken CLI without a server', () => {
  it('prints its version and help, and exits 2 on a usage error', async () => {
    const version = await tooken(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    const help = await tooken(['tokens', 'create', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Example:');
    const wrong = await tooken(['tokens', 'list', '--no-such-option']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown option '--no-such-option'");
    const missing = await tooken(['tokens', 'list']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('TOOKEN_API_KEY');
  });

  it('says clearly that the server is unreachable, with exit code 3', async () => {
    const ran = await tooken(['tokens', 'list'], {
      TOOKEN_URL: 'http://127.0.0.1:9',
      TOOKEN_API_KEY: 'tok_live_x',
    });
    expect(ran.code).toBe(3);
    expect(ran.stderr).toContain('not reachable at http://127.0.0.1:9');
    expect(ran.stdout).toBe('');
  });
});

// Each step runs a fresh process: generous time for a loaded machine, no assertion on speed.
describe.each(dialects())('%s: the tooken CLI against a server', { timeout: 180_000 }, (dialect) => {
  let t: TestApp;
  let env: Record<string, string>;
  let owner: Awaited<ReturnType<typeof ownerWorkspace>> & { key: Json };

  beforeAll(async () => {
    const resolve = async () => [{ address: '93.184.216.34', family: 4 }];
    t = await createTestApp(dialect, {}, { resolve });
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    owner = await ownerWorkspace(t.app, { key: { name: 'owner-cli', kind: 'personal' } });
    env = { TOOKEN_URL: url, TOOKEN_API_KEY: owner.key.key };
  });
  afterAll(() => t.close());

  const json = async (args: string[]) => {
    const ran = await tooken([...args, '--json'], env);
    expect(ran.code, ran.stderr).toBe(0);
    return JSON.parse(ran.stdout);
  };

  it('creates a token (secret once, on stdout), lists, gets, verifies, rotates and revokes it', async () => {
    const human = await tooken(
      ['tokens', 'create', '--name', 'orders-service', '--scopes', 'tokens:verify,tokens:read'],
      env,
    );
    expect(human.code, human.stderr).toBe(0);
    const secret = /tkn_[0-9A-Za-z]{40}/.exec(human.stdout)?.[0] ?? '';
    expect(human.stdout).toContain('shown once');
    expect(human.stderr).not.toContain(secret);
    const created = await json([
      'tokens',
      'create',
      '--name',
      'billing',
      '--scopes',
      'tokens:read',
      '--metadata',
      '{"team":"billing"}',
      '--expires-at',
      'never',
    ]);
    expect(created).toMatchObject({ name: 'billing', expires_at: null, metadata: { team: 'billing' } });

    const listed = await json(['tokens', 'list', '--name', 'orders']);
    expect(listed.data.map((x: Json) => x.name)).toEqual(['orders-service']);
    const table = await tooken(['tokens', 'list'], env);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+SCOPES/);
    const id = listed.data[0].id as string;
    expect((await json(['tokens', 'get', id])).id).toBe(id);

    const valid = await tooken(['tokens', 'verify', secret, '--scopes', 'tokens:verify'], env);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/^VALID/);
    const rotated = await json(['tokens', 'rotate', id, '--grace', '60']);
    expect(rotated.token).toMatch(/^tkn_/);
    expect((await tooken(['tokens', 'revoke', id], env)).code).toBe(0);
    const refused = await tooken(['tokens', 'verify', rotated.token], env);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toMatch(/^REVOKED/);
  });

  it('creates with an external id, filters, updates and revokes tokens in bulk', async () => {
    const create = (name: string, external: string) =>
      json(['tokens', 'create', '--name', name, '--scopes', 'tokens:read', '--external-id', external]);
    const a = await create('platform-a', 'cus_cli');
    const b = await create('platform-b', 'cus_cli');
    const c = await create('platform-c', 'cus_other');
    const d = await create('platform-d', 'cus_other');
    expect(a.external_id).toBe('cus_cli');
    const byExternal = await json(['tokens', 'list', '--external-id', 'cus_cli']);
    expect(byExternal.data.map((x: Json) => x.name).sort()).toEqual(['platform-a', 'platform-b']);
    expect((await json(['tokens', 'list', '--scope', 'tokens:read'])).meta.total).toBeGreaterThanOrEqual(4);

    const updated = await json([
      'tokens',
      'update',
      a.id,
      '--name',
      'platform-a2',
      '--scopes',
      'tokens:read,tokens:verify',
      '--expires-at',
      'never',
      '--metadata',
      '{"plan":"pro"}',
      '--external-id',
      'cus_new',
    ]);
    expect(updated).toMatchObject({
      name: 'platform-a2',
      scopes: ['tokens:read', 'tokens:verify'],
      expires_at: null,
      metadata: { plan: 'pro' },
      external_id: 'cus_new',
    });
    const nothing = await tooken(['tokens', 'update', a.id], env);
    expect(nothing.code).toBe(2);
    const badJson = await tooken(['tokens', 'update', a.id, '--metadata', '[1]'], env);
    expect(badJson.code).toBe(2);

    expect(await json(['tokens', 'revoke', '--external-id', 'cus_cli'])).toEqual({ revoked: 1 });
    expect(await json(['tokens', 'revoke', c.id, d.id])).toEqual({ revoked: 2 });
    const both = await tooken(['tokens', 'revoke', a.id, '--external-id', 'x'], env);
    expect(both.code).toBe(2);
    expect((await json(['tokens', 'get', b.id])).status).toBe('revoked');
    expect((await json(['tokens', 'get', a.id])).status).toBe('active');
  });

  it('manages API keys, members, invitations and webhooks', async () => {
    const key = await json(['api-keys', 'create', '--name', 'deploy', '--kind', 'team', '--role', 'viewer']);
    expect(key.key).toMatch(/^tok_live_/);
    expect((await json(['api-keys', 'regenerate', key.id])).key).not.toBe(key.key);
    expect((await json(['api-keys', 'list'])).data.map((k: Json) => k.id)).toContain(key.id);
    expect((await tooken(['api-keys', 'delete', key.id], env)).code).toBe(0);

    const teammate = await signup(t.app);
    await addMember(t.services, owner.ws.id, teammate.user.id, 'viewer');
    expect((await json(['members', 'set-role', teammate.user.id, 'admin'])).role).toBe('admin');
    expect((await json(['members', 'list'])).meta.total).toBe(2);
    expect((await tooken(['members', 'remove', teammate.user.id], env)).code).toBe(0);
    const invitation = await json(['members', 'invite', 'dana@example.com', '--role', 'viewer']);
    expect((await json(['invitations', 'list'])).data.map((i: Json) => i.id)).toEqual([invitation.id]);
    expect((await tooken(['invitations', 'revoke', invitation.id], env)).code).toBe(0);

    const hook = await json([
      'webhooks',
      'create',
      '--url',
      'https://hooks.example.com/in',
      '--events',
      'token.revoked',
    ]);
    expect(hook.secret).toMatch(/^whsec_/);
    expect((await json(['webhooks', 'list'])).meta.total).toBe(1);
    expect((await json(['webhooks', 'deliveries', hook.id])).data).toEqual([]);
    expect((await tooken(['webhooks', 'delete', hook.id], env)).code).toBe(0);
    const gone = await tooken(['webhooks', 'retry', hook.id, 'dlv_doesnotexist'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('not found');
  });

  it('reads and changes settings, lists the audit log and exports it as CSV', async () => {
    const settings = await json([
      'settings',
      'set',
      'timezone=Europe/Berlin',
      'default_token_expiration_days=30',
    ]);
    expect(settings).toMatchObject({ timezone: 'Europe/Berlin', default_token_expiration_days: 30 });
    expect((await json(['settings', 'get'])).slug).toBe(owner.ws.slug);
    const entries = await json(['audit', 'list', '--event', 'workspace.settings_changed']);
    expect(entries.data[0].event).toBe('workspace.settings_changed');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tooken-cli-')), 'audit.csv');
    const exported = await tooken(
      ['audit', 'export', '--from', '2000-01-01', '--to', '2100-01-01', '--output', file],
      env,
    );
    expect(exported.code, exported.stderr).toBe(0);
    const csv = readFileSync(file, 'utf8').split('\r\n');
    expect(csv[0]).toMatch(/^id,created_at,created_at_local,event,/);
    expect(csv.some((line) => line.includes('workspace.settings_changed'))).toBe(true);
  });

  it('lists and creates workspaces as a signed-in person, and refuses a bad key with the server’s message', async () => {
    const person = {
      TOOKEN_URL: env.TOOKEN_URL ?? '',
      TOOKEN_EMAIL: owner.session.user.email,
      TOOKEN_PASSWORD: PASSWORD,
    };
    const created = await tooken(['workspaces', 'create', '--name', 'From the CLI', '--json'], person);
    expect(created.code, created.stderr).toBe(0);
    const slug = JSON.parse(created.stdout).slug as string;
    const listed = await tooken(['workspaces', 'list'], person);
    expect(listed.stdout).toContain(slug);
    const viaSlug = await tooken(['settings', 'get', '--workspace', slug, '--json'], person);
    expect(JSON.parse(viaSlug.stdout).slug).toBe(slug);

    const bad = await tooken(['tokens', 'list'], { ...env, TOOKEN_API_KEY: 'tok_live_00000000000000000000' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Invalid or missing API key');
  });
});
