import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

export const SEND_TIMEOUT_MS = 10_000;
/** Within the send timeout, how long the TCP connection may take to open. */
export const CONNECT_TIMEOUT_MS = 5_000;
const EXCERPT_BYTES = 1024;

export interface SendOptions {
  /** The whole exchange, from connecting to the end of the answer. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Cancels the request (the job running it lost its lease or passed its time limit). */
  signal?: AbortSignal;
}

export interface SendResult {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  excerpt: string | null;
}

/**
 * One POST to an address already checked by the URL guard: the connection goes to exactly that
 * address (the hostname still names the TLS certificate), redirects are not followed, and the
 * exchange is cut when connecting takes too long, at the overall timeout, or when cancelled. Only
 * the first 1 KiB of the answer is kept.
 */
export function sendOnce(
  target: { url: URL; address: string; family: 4 | 6 },
  headers: Record<string, string>,
  body: string,
  options: SendOptions = {},
): Promise<SendResult> {
  const { timeoutMs = SEND_TIMEOUT_MS, connectTimeoutMs = CONNECT_TIMEOUT_MS, signal } = options;
  const started = performance.now();
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else {
      callback(null, target.address, target.family);
    }
  };
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', cancel);
      resolve({ ...result, latencyMs: Math.round(performance.now() - started) });
    };
    const request = client.request(
      target.url,
      {
        method: 'POST',
        lookup: pinned,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
        },
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < EXCERPT_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        const done = () =>
          finish({
            statusCode: response.statusCode ?? null,
            error: null,
            // A character cut at the 1 KiB mark is dropped, not turned into a 3-byte U+FFFD.
            excerpt: new StringDecoder('utf8').write(Buffer.concat(chunks).subarray(0, EXCERPT_BYTES)),
          });
        response.on('end', done);
        response.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const connectTimer = setTimeout(() => {
      request.destroy(new Error(`could not connect within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    request.on('socket', (socket) => {
      if (socket.connecting) socket.once('connect', () => clearTimeout(connectTimer));
      else clearTimeout(connectTimer);
    });
    const cancel = () => request.destroy(new Error('cancelled'));
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    request.on('error', (error) =>
      finish({ statusCode: null, error: error.message.slice(0, 500), excerpt: null }),
    );
    request.end(body);
  });
}
