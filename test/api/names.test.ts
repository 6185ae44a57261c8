import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

/** The bidirectional embedding, override and isolate controls: they make a name read as another. */
const BIDI_CONTROLS = [
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
];

describe.each(dialects())('%s: display names', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' });
  });
  afterAll(() => t.close());

  /** Every request that accepts a display name, as a function of the name; the field it names. */
  async function nameFields(): Promise<
    { label: string; field: string; request: (name: string) => InjectOptions }[]
  > {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const hook = json(
      await t.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(key.key),
        payload: { url: 'http://127.0.0.1:9/hook', events: ['token.created'] },
      }),
    );
    const post =
      (url: string, headers: Record<string, string>, payload: (name: string) => Json) => (name: string) =>
        ({ method: 'POST', url, headers, payload: payload(name) }) as InjectOptions;
    return [
      {
        label: 'token name',
        field: 'name',
        request: post('/v1/tokens', bearer(key.key), (name) => ({ name, scopes: ['tokens:read'] })),
      },
      {
        label: 'API key name',
        field: 'name',
        request: post(`/v1/workspaces/${ws.slug}/api-keys`, session.headers, (name) => ({
          name,
          kind: 'team',
        })),
      },
      {
        label: 'workspace name on create',
        field: 'name',
        request: post('/v1/workspaces', session.headers, (name) => ({ name })),
      },
      {
        label: 'workspace name in settings',
        field: 'name',
        request: (name) => ({
          method: 'PATCH',
          url: `/v1/workspaces/${ws.slug}/settings`,
          headers: session.headers,
          payload: { name },
        }),
      },
      {
        label: 'webhook description on create',
        field: 'description',
        request: post('/v1/webhooks', bearer(key.key), (description) => ({
          url: 'http://127.0.0.1:9/other',
          events: ['token.created'],
          description,
        })),
      },
      {
        label: 'webhook description on update',
        field: 'description',
        request: (description) => ({
          method: 'PATCH',
          url: `/v1/webhooks/${hook.id}`,
          headers: bearer(key.key),
          payload: { description },
        }),
      },
      {
        label: 'member name at sign-up',
        field: 'name',
        request: post('/v1/auth/signup', {}, (name) => ({
          email: uniqueEmail('bidi'),
          password: 'correct horse battery',
          name,
        })),
      },
    ];
  }

  it('refuses a bidirectional override or isolate character anywhere in a name with 400 naming the field', async () => {
    const fields = await nameFields();
    const wrong: string[] = [];
    for (const { label, field, request } of fields) {
      for (const control of BIDI_CONTROLS) {
        for (const name of [`${control}evil`, `invoice${control}fdp.exe`, `tail${control}`]) {
          const res = await t.app.inject(request(name));
          if (res.statusCode !== 400) {
            wrong.push(`${label} with U+${control.charCodeAt(0).toString(16)}: ${res.statusCode}`);
            continue;
          }
          const body = expectError(res, 400, 'bad_request', field);
          expect(body.message).toMatch(/bidirectional/);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('still accepts names in any script, with emoji and with the ordinary direction marks', async () => {
    const fields = await nameFields();
    let n = 0;
    for (const { label, request } of fields) {
      for (const name of ['שירות תשלומים', 'خدمة الدفع', 'Zahlungsdienst 💳', 'a\u200fb\u200ec']) {
        n += 1;
        const res = await t.app.inject(request(`${name} ${n}`));
        expect(res.statusCode, `${label} "${name}": ${res.body}`).toBeLessThan(300);
      }
    }
  });
});
