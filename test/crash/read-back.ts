/** Reading a server's state back through its HTTP API, as any client would, after the crashes. */

// biome-ignore lint/suspicious/noExplicitAny: response bodies in tests are read loosely
export type Json = Record<string, any>;

/** One JSON request; anything but 2xx throws with the body, since set-up and read-back must work. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; bearer?: string; headers?: Record<string, string> } = {},
): Promise<{ res: Response; json: Json }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return { res, json: text === '' ? {} : (JSON.parse(text) as Json) };
}

/** Every token of the workspace, whatever its status, page by page. */
export async function allTokens(base: string, key: string): Promise<Json[]> {
  const tokens: Json[] = [];
  for (let page = 1; ; page++) {
    const { json } = await call(base, 'GET', `/v1/tokens?per_page=100&page=${page}`, { bearer: key });
    tokens.push(...json.data);
    if (json.data.length < 100) return tokens;
  }
}

/** Every audit entry, walked with the cursor (newest first, as the API answers). */
export async function allAuditEntries(base: string, key: string): Promise<Json[]> {
  const entries: Json[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const { json } = await call(base, 'GET', `/v1/audit-logs?limit=1000${query}`, { bearer: key });
    entries.push(...json.data);
    cursor = json.meta.next_cursor ?? null;
  } while (cursor !== null);
  return entries;
}

/** An Owner with a workspace and a personal API key, all made through the HTTP API. */
export async function ownerWithKey(
  base: string,
  workspaceName: string,
): Promise<{ slug: string; key: string }> {
  const signup = await call(base, 'POST', '/v1/auth/signup', {
    body: { email: 'crash-owner@example.com', password: 'correct horse battery staple' },
  });
  const cookie = signup.res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0] ?? '')
    .find((c) => c.startsWith('tooken_session='));
  if (cookie === undefined) throw new Error('sign-up set no session cookie');
  const session = { cookie, 'x-csrf-token': String(signup.json.csrf_token) };
  const ws = await call(base, 'POST', '/v1/workspaces', { body: { name: workspaceName }, headers: session });
  const slug = String(ws.json.slug);
  const key = await call(base, 'POST', `/v1/workspaces/${slug}/api-keys`, {
    body: { name: 'crash-load', kind: 'personal' },
    headers: session,
  });
  return { slug, key: String(key.json.key) };
}

/** How many of each kind, for messages that say what a run did. */
export function tally<T>(items: readonly T[], label: (item: T) => string): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(label(item), (counts.get(label(item)) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k}: ${n}`).join(', ');
}
