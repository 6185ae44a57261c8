/// <reference types="node" />
import { hash } from 'node:crypto';
import type { VerifyResult } from '../client.js';
import { errorFrom, TookenUnavailableError } from '../errors.js';
import { Lru } from './lru.js';
import { isTokenSecret, SECRET_LENGTH } from './secret.js';
import { readEvents, type ServerEvent } from './sse.js';
import { createUsageReporter } from './usage.js';

export interface VerifierOptions {
  /** Where Tooken is, e.g. `https://tooken.internal`. */
  baseUrl: string;
  /** An API key of the workspace (`tok_live_…`), or a token with `tokens:verify`. */
  apiKey: string;
  /** Name the workspace in the paths (`/v1/workspaces/{slug}/…`); the key's own workspace otherwise. */
  workspace?: string | undefined;
  /** How many answers the cache keeps (least recently used go first). Default 100,000. */
  maxEntries?: number | undefined;
  /**
   * How long after the change stream was lost cached answers may still be served while the server
   * cannot be reached (never longer). Default 0: fail closed at once.
   */
  staleIfErrorMs?: number | undefined;
  fetch?: typeof fetch | undefined;
  /** The longest a cached answer is served, as a backstop to the stream. Default 5 minutes. */
  maxAgeMs?: number | undefined;
  /** A stream silent this long (the server sends a comment every 15 s) is taken as lost. Default 45 s. */
  idleTimeoutMs?: number | undefined;
  /** How often uses served from the cache are reported (`POST /v1/tokens/usage`). Default 5 s. */
  reportEveryMs?: number | undefined;
  /** The clock `valid_until` is compared with; tests share one with the server. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Told of stream and report failures (the verifier keeps going: reconnects, retries). */
  onError?: ((error: unknown) => void) | undefined;
}

export interface VerifyOptions {
  /** Scopes the token must all hold: else `INSUFFICIENT_SCOPE`. */
  scopes?: readonly string[] | undefined;
}

export interface VerifierStats {
  /** Whether the change stream is connected (cached answers are served only then). */
  connected: boolean;
  entries: number;
  hits: number;
  misses: number;
  /** `invalidate` and `reset` events received. */
  events: number;
  /** Times the stream was (re)established. */
  connections: number;
}

export interface CachedVerifier {
  /**
   * The answer of `POST /v1/tokens/verify` for `secret`, from the cache when it may be served, else
   * from the server. Throws `TookenUnavailableError` when the server cannot answer and nothing may
   * be served, and `TookenError` when the server refuses the verifier's own credential.
   * Answers are shared and frozen: do not modify them.
   */
  verify(secret: string, options?: VerifyOptions): Promise<VerifyResult>;
  /**
   * `verify`'s answer when it needs no server, given at once: a cached answer that may be served
   * now (counted as a hit, and as a use when VALID), or NOT_FOUND for a string that is not a
   * well-formed secret. `undefined` when the server must be asked (call `verify`): not cached, the
   * stream not connected, the answer past its `valid_until`, or the verifier closed.
   */
  verifyLocally(secret: string, options?: VerifyOptions): VerifyResult | undefined;
  /** Resolves once the change stream is connected (at once when it is). */
  ready(): Promise<void>;
  stats(): VerifierStats;
  /** Reports the uses not reported yet, closes the stream and stops every timer. */
  close(): Promise<void>;
}

interface Entry {
  result: VerifyResult;
  tokenId: string;
  /** valid_until of a VALID answer (Infinity when none); Infinity for REVOKED and EXPIRED. */
  until: number;
  storedAt: number;
  /** `result`, already resolved: a hit returns it and allocates no promise. */
  answer: Promise<VerifyResult>;
  /** The INSUFFICIENT_SCOPE answer for this token, made on first need, and its resolved promise. */
  refused: { result: VerifyResult; answer: Promise<VerifyResult> } | null;
}

/** Shared by every verifier: a frozen answer, and a resolved promise of it, itself frozen. */
const NOT_FOUND_RESULT: VerifyResult = Object.freeze({ valid: false, code: 'NOT_FOUND', valid_until: null });
const NOT_FOUND: Promise<VerifyResult> = Object.freeze(Promise.resolve(NOT_FOUND_RESULT));
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/**
 * Only answers that hold until a change the stream announces: VALID, REVOKED and EXPIRED, of
 * tokens without limits (an answer carrying `remaining` or `ratelimit` is the server's alone).
 * NOT_FOUND is never cached: a forged secret could otherwise fill the cache.
 */
function cacheable(result: VerifyResult): boolean {
  if ('remaining' in result || 'ratelimit' in result || result.token === undefined) return false;
  return result.code === 'VALID' || result.code === 'REVOKED' || result.code === 'EXPIRED';
}

function freeze(result: VerifyResult): VerifyResult {
  if (result.token !== undefined) {
    Object.freeze(result.token.scopes);
    Object.freeze(result.token.metadata);
    Object.freeze(result.token);
  }
  return Object.freeze(result);
}

/**
 * An in-process verifier (docs/edge-verification.md): answers from a bounded cache kept exact by
 * the workspace's change stream, served only while that stream is connected; everything else is
 * asked from the server, and fails closed.
 */
export function createVerifier(options: VerifierOptions): CachedVerifier {
  const send = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  const staleIfErrorMs = options.staleIfErrorMs ?? 0;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const onError = options.onError ?? (() => {});
  const base = options.baseUrl.replace(/\/+$/, '');
  const prefix =
    options.workspace === undefined ? '/v1' : `/v1/workspaces/${encodeURIComponent(options.workspace)}`;
  const verifyUrl = `${base}${prefix}/tokens/verify`;
  const streamUrl = `${base}${prefix}/tokens/stream`;
  const authorization = `Bearer ${options.apiKey}`;

  /** Cache keys (SHA-256 of the secret) by token id, so an `invalidate` finds every secret of a token. */
  const byToken = new Map<string, Set<string>>();
  const unindex = (key: string, entry: Entry) => {
    const keys = byToken.get(entry.tokenId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) byToken.delete(entry.tokenId);
  };
  const cache = new Lru<Entry>(options.maxEntries ?? 100_000, unindex);

  let closed = false;
  let connected = false;
  /**
   * An answer is stored only if nothing could have changed it while it was asked: no reset or loss
   * of the stream (`epoch`), and no invalidation of its token since (`invalidatedAt`, by the
   * `generation` of each invalidation; forgotten past a bound, which `floor` then stands for).
   */
  let epoch = 0;
  let generation = 0;
  let floor = 0;
  const invalidatedAt = new Map<string, number>();
  const mayStore = (tokenId: string, asked: { epoch: number; generation: number }) =>
    asked.epoch === epoch &&
    asked.generation >= floor &&
    (invalidatedAt.get(tokenId) ?? -1) <= asked.generation;
  let lostAt: number | null = null;
  let hits = 0;
  let misses = 0;
  let events = 0;
  let connections = 0;
  let waiting: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  const usage = createUsageReporter({
    url: `${base}${prefix}/tokens/usage`,
    authorization,
    send,
    everyMs: options.reportEveryMs ?? 5_000,
    maxTokens: options.maxEntries ?? 100_000,
    onError,
  });

  const clear = () => {
    epoch += 1;
    cache.clear();
    byToken.clear();
  };

  const store = (key: string, result: VerifyResult, at: number) => {
    const tokenId = result.token?.id;
    if (tokenId === undefined) return;
    const until =
      result.code === 'VALID' && result.valid_until !== null
        ? Date.parse(result.valid_until)
        : Number.POSITIVE_INFINITY;
    if (!(at < until)) return;
    const frozen = freeze(result);
    cache.set(key, {
      result: frozen,
      tokenId,
      until,
      storedAt: at,
      answer: Promise.resolve(frozen),
      refused: null,
    });
    const keys = byToken.get(tokenId);
    if (keys === undefined) byToken.set(tokenId, new Set([key]));
    else keys.add(key);
  };

  /**
   * The entry that may answer the secret whose digest is `key` at `at`: cached, before its
   * `valid_until` and within `maxAgeMs`; an entry past either is dropped. The caller checks that the
   * stream is connected, and counts the hit.
   */
  const servable = (key: string, at: number): Entry | undefined => {
    const entry = cache.get(key);
    if (entry === undefined) return undefined;
    if (at < entry.until && at - entry.storedAt < maxAgeMs) return entry;
    cache.delete(key);
    unindex(key, entry);
    return undefined;
  };

  /**
   * Whether an entry answers with its own answer for the scopes asked (else INSUFFICIENT_SCOPE):
   * any answer but VALID does; a VALID one when its token holds every scope asked, and it is then
   * counted as a use to report.
   */
  const admits = (entry: Entry, scopes: readonly string[] | undefined, at: number): boolean => {
    const { result } = entry;
    if (result.code !== 'VALID') return true;
    if (scopes !== undefined && result.token !== undefined) {
      const held = result.token.scopes;
      for (let i = 0; i < scopes.length; i++) {
        if (!held.includes(scopes[i] as string)) return false;
      }
    }
    usage.used(entry.tokenId, at);
    return true;
  };
  /** The INSUFFICIENT_SCOPE answer of an entry's token, made once, on first need. */
  const refusalOf = (entry: Entry) => {
    if (entry.refused === null) {
      const result: VerifyResult = Object.freeze({
        valid: false,
        code: 'INSUFFICIENT_SCOPE',
        token: entry.result.token,
        valid_until: null,
      });
      entry.refused = { result, answer: Promise.resolve(result) };
    }
    return entry.refused;
  };
  /** The answer of an entry for the scopes asked, as a shared resolved promise (no allocation). */
  const serve = (entry: Entry, scopes: readonly string[] | undefined, at: number): Promise<VerifyResult> =>
    admits(entry, scopes, at) ? entry.answer : refusalOf(entry).answer;

  /** After the server failed: a cached answer within `staleIfErrorMs` of losing the stream, or fail closed. */
  const staleOrFail = (
    key: string,
    scopes: readonly string[] | undefined,
    cause: unknown,
  ): Promise<VerifyResult> => {
    const at = now();
    if (staleIfErrorMs > 0 && !connected && lostAt !== null && at - lostAt <= staleIfErrorMs) {
      const entry = cache.get(key);
      if (entry !== undefined && at < entry.until) return serve(entry, scopes, at);
    }
    throw new TookenUnavailableError(undefined, { cause });
  };

  const ask = async (
    secret: string,
    key: string,
    scopes: readonly string[] | undefined,
  ): Promise<VerifyResult> => {
    const asked = { epoch, generation };
    const live = connected;
    let response: Response;
    try {
      response = await send(verifyUrl, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(scopes === undefined ? { token: secret } : { token: secret, scopes }),
      });
    } catch (error) {
      return staleOrFail(key, scopes, error);
    }
    if (response.status >= 500) {
      await response.body?.cancel().catch(() => {});
      return staleOrFail(key, scopes, new Error(`HTTP ${response.status}`));
    }
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) throw await errorFrom(response, body);
    const result = body as VerifyResult;
    // The server answered as the token is now; with the requested scopes or none, a VALID answer
    // names all of the token's scopes, so it serves any later scope check.
    if (live && connected && !closed && cacheable(result) && mayStore(result.token?.id ?? '', asked)) {
      store(key, result, now());
    }
    return result;
  };

  // The cheapest SHA-256 digest to make and to look up: 32 one-byte characters ('binary' is latin1).
  const digest = (secret: string) => hash('sha256', secret, 'binary');

  // verify and verifyLocally take the same steps; verify then asks the server where verifyLocally
  // gives up. A cached answer's secret passed the checksum when it was first asked (nothing else is
  // ever asked, so nothing else is ever stored): a hit needs no second check.
  const verify = (secret: string, verifyOptions?: VerifyOptions): Promise<VerifyResult> => {
    if (closed) return Promise.reject(new Error('The verifier is closed'));
    if (typeof secret !== 'string' || secret.length !== SECRET_LENGTH) return NOT_FOUND;
    const key = digest(secret);
    const scopes = verifyOptions?.scopes;
    if (connected) {
      const at = now();
      const entry = servable(key, at);
      if (entry !== undefined) {
        hits += 1;
        return serve(entry, scopes, at);
      }
    }
    if (!isTokenSecret(secret)) return NOT_FOUND;
    misses += 1;
    return ask(secret, key, scopes);
  };

  const verifyLocally = (secret: string, verifyOptions?: VerifyOptions): VerifyResult | undefined => {
    if (closed) return undefined;
    if (typeof secret !== 'string' || secret.length !== SECRET_LENGTH) return NOT_FOUND_RESULT;
    const key = digest(secret);
    if (connected) {
      const at = now();
      const entry = servable(key, at);
      if (entry !== undefined) {
        hits += 1;
        return admits(entry, verifyOptions?.scopes, at) ? entry.result : refusalOf(entry).result;
      }
    }
    // Not counted as a miss: that is for the `verify` the caller makes next, which asks.
    return isTokenSecret(secret) ? undefined : NOT_FOUND_RESULT;
  };

  const onEvent = (event: ServerEvent) => {
    if (event.event === 'reset') {
      events += 1;
      clear();
      return;
    }
    if (event.event !== 'invalidate') return;
    events += 1;
    generation += 1;
    if (invalidatedAt.size >= 10_000) {
      invalidatedAt.clear();
      floor = generation;
    }
    let ids: unknown;
    try {
      ids = (JSON.parse(event.data) as { token_ids?: unknown }).token_ids;
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids)) return clear(); // unreadable: the safe reading is "everything"
    for (const id of ids) {
      invalidatedAt.set(String(id), generation);
      const keys = byToken.get(String(id));
      if (keys === undefined) continue;
      byToken.delete(String(id));
      for (const key of keys) cache.delete(key);
    }
  };

  const lose = () => {
    if (!connected) return;
    connected = false;
    lostAt = now();
    epoch += 1;
    if (staleIfErrorMs === 0) clear();
  };

  let stream: AbortController | null = null;
  let retry: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | null = null;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        retry = null;
        resolve();
      }, ms);
      timer.unref?.();
      retry = { timer, resolve };
    });

  const listen = async () => {
    let delay = FIRST_RETRY_MS;
    while (!closed) {
      const controller = new AbortController();
      stream = controller;
      let heard = now();
      const watchdog = setInterval(
        () => {
          if (now() - heard > idleTimeoutMs) controller.abort(new Error('The change stream went silent'));
        },
        Math.min(idleTimeoutMs, 5_000),
      );
      watchdog.unref?.();
      try {
        const response = await send(streamUrl, {
          headers: { authorization, accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (response.status !== 200 || response.body === null) {
          const body: unknown = await response.json().catch(() => null);
          onError(await errorFrom(response, body));
        } else {
          // Missed events are unknowable: whatever was kept for staleIfError goes now.
          clear();
          connected = true;
          lostAt = null;
          connections += 1;
          delay = FIRST_RETRY_MS;
          for (const waiter of waiting.splice(0)) waiter.resolve();
          await readEvents(response.body, onEvent, () => {
            heard = now();
          });
        }
      } catch (error) {
        if (!closed) onError(error);
      } finally {
        clearInterval(watchdog);
        lose();
      }
      if (closed) break;
      // Full jitter up to the current step, so a fleet restarted together does not reconnect together.
      await pause(delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  };
  void listen();

  return {
    verify,
    verifyLocally,
    ready() {
      if (connected) return Promise.resolve();
      if (closed) return Promise.reject(new Error('The verifier is closed'));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    stats: () => ({ connected, entries: cache.size, hits, misses, events, connections }),
    async close() {
      if (closed) return;
      closed = true;
      stream?.abort();
      if (retry !== null) {
        clearTimeout(retry.timer);
        retry.resolve();
      }
      lose();
      clear();
      for (const waiter of waiting.splice(0)) waiter.reject(new Error('The verifier is closed'));
      waiting = [];
      await usage.close();
    },
  };
}
