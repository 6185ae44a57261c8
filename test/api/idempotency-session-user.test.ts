import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  createWorkspace,
  dialects,
  json,
  PASSWORD,
  sessionFrom,
  signup,
  type TestApp,
} from '../helpers.js';

describe.each(dialects())('%s: Idempotency-Key with dashboard sessions', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('is scoped to the session user: another session of the same user replays, another user does not', async () => {
    const first = await signup(t.app);
    const ws = await createWorkspace(t.app, first, 'Replays');
    const login = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: first.user.email, password: PASSWORD },
    });
    const second = sessionFrom(login);
    expect(second.cookie).not.toBe(first.cookie);

    const create = (headers: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/api-keys`,
        headers: { ...headers, 'idempotency-key': 'create-ci-key' },
        payload: { name: 'ci', kind: 'team' },
      });
    const original = await create(first.headers);
    expect(original.statusCode).toBe(201);
    const replay = await create(second.headers);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(json(replay).key).toBe(json(original).key);

    const other = await signup(t.app);
    const otherWs = await createWorkspace(t.app, other, 'Other replays');
    const theirs = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${otherWs.slug}/api-keys`,
      headers: { ...other.headers, 'idempotency-key': 'create-ci-key' },
      payload: { name: 'ci', kind: 'team' },
    });
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(json(theirs).key).not.toBe(json(original).key);
  });
});
