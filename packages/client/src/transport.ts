import { TookenUnreachableError } from './errors.js';

/** How the client reaches the server: credentials, workspace, retries. */
export interface TransportOptions {
  baseUrl: string;
  /** An API key (`tok_live_…`) or a token (`tkn_…`). */
  apiKey?: string | undefined;
  /** A dashboard session instead of a key: its CSRF token, and in Node its cookie. */
  session?: { csrfToken: string; cookie?: string | undefined } | undefined;
  /** Name the workspace in every path (`/v1/workspaces/{slug}/…`); sessions need it. */
  workspace?: string | undefined;
  /** How often a 429 is retried after its `Retry-After` (default 2; 0 turns it off). */
  maxRetries?: number | undefined;
  /** The longest single wait for `Retry-After`, in seconds (default 60). */
  maxRetryAfterSeconds?: number | undefined;
  fetch?: typeof fetch | undefined;
}

/** Paths that belong to no workspace: never rewritten to the `/v1/workspaces/{slug}` form. */
const OUTSIDE_WORKSPACES = /^\/v1\/(auth\/|me(\/|$)|workspaces(\/|$)|invitations\/accept$)/;

/** Creating calls get an `Idempotency-Key`, so a retry after a lost answer never creates twice. */
const CREATES = /^\/v1\/(tokens|api-keys|invitations|webhooks)$|\/rotate(-secret)?$|\/regenerate$/;

/**
 * A random idempotency key (a UUID). `crypto.randomUUID` exists only in secure contexts, and a
 * dashboard may be served over plain http on a private address: then it is made from random bytes.
 */
function randomKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The `fetch` the generated client calls through: it adds the credential, names the workspace in
 * the path when one is set, adds idempotency keys to creating calls, retries 429 after
 * `Retry-After` (bounded), and turns a network failure into `TookenUnreachableError`.
 */
export function createTransport(options: TransportOptions): typeof fetch {
  const send = options.fetch ?? globalThis.fetch;
  const maxRetries = options.maxRetries ?? 2;
  const maxWait = (options.maxRetryAfterSeconds ?? 60) * 1000;
  const base = new URL(options.baseUrl);

  /** The URL and headers to send `input` with: credential, workspace path, idempotency key. */
  const prepare = (input: Request): { url: URL; headers: Headers } => {
    const url = new URL(input.url);
    const prefix = base.pathname.replace(/\/$/, '');
    const path = url.pathname.slice(prefix.length);
    if (options.workspace !== undefined && path.startsWith('/v1/') && !OUTSIDE_WORKSPACES.test(path)) {
      url.pathname = `${prefix}/v1/workspaces/${encodeURIComponent(options.workspace)}${path.slice(3)}`;
    }
    const headers = new Headers(input.headers);
    if (options.apiKey !== undefined) headers.set('authorization', `Bearer ${options.apiKey}`);
    if (options.session !== undefined) {
      headers.set('x-csrf-token', options.session.csrfToken);
      if (options.session.cookie !== undefined) headers.set('cookie', options.session.cookie);
    }
    if (input.method === 'POST' && CREATES.test(path) && !headers.has('idempotency-key')) {
      headers.set('idempotency-key', randomKey());
    }
    return { url, headers };
  };

  return async (input, init) => {
    const original = new Request(input, init);
    const body = original.body === null ? null : await original.arrayBuffer();
    const { url, headers } = prepare(original);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await send(url, { method: original.method, headers, body, signal: original.signal });
      } catch (cause) {
        throw new TookenUnreachableError(options.baseUrl, { cause });
      }
      const wait = Number(response.headers.get('retry-after') ?? Number.NaN) * 1000;
      if (response.status !== 429 || attempt >= maxRetries || !(wait >= 0) || wait > maxWait) return response;
      await response.body?.cancel();
      await sleep(wait);
    }
  };
}
