import { createHmac } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it: the raw body is kept byte for byte, for signature checks. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the receiver answers one request. `delayMs` holds the answer back (a slow receiver). */
export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Send the status line and the body so far, then never finish the answer. */
  stall?: boolean;
  /** Hold the answer back until this settles (a receiver that hangs until the test lets it go). */
  until?: Promise<unknown>;
}

export type Responder = (request: Received, n: number) => Reply;

/** Answers with the replies in order, repeating the last one. */
export const sequence =
  (...replies: Reply[]): Responder =>
  (_request, n) =>
    replies[Math.min(n, replies.length - 1)] ?? { status: 200 };

export interface Receiver {
  port: number;
  url(path: string, host?: string): string;
  /** Every request so far, in arrival order. */
  requests: Received[];
  /** Requests to one path (query ignored). */
  at(path: string): Received[];
  /** Sets how one path answers (default: 200 "ok"). */
  respond(path: string, responder: Responder): void;
  /** TCP connections accepted so far, whether or not a request followed. */
  connections(): number;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1 with an ephemeral port, whose answers a test controls. */
export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const responders = new Map<string, Responder>();
  const counts = new Map<string, number>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const received: Received = {
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      const n = counts.get(path) ?? 0;
      counts.set(path, n + 1);
      const reply = (responders.get(path) ?? sequence({ status: 200, body: 'ok' }))(received, n);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        if (reply.stall) res.write(reply.body ?? '');
        else res.end(reply.body ?? '');
      };
      const held = reply.until ?? Promise.resolve();
      void held.then(() => {
        if (reply.delayMs) setTimeout(answer, reply.delayMs);
        else answer();
      });
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path, host = '127.0.0.1') => `http://${host}:${port}${path}`,
    requests,
    at: (path) => requests.filter((r) => r.path === path),
    respond: (path, responder) => void responders.set(path, responder),
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A header's single value. */
export function header(request: Received, name: string): string {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/** `X-Tooken-Signature` as a receiver recomputes it: hex HMAC-SHA256 of the raw body, keyed with "whsec_…". */
export function expectedTookenSignature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** One Standard Webhooks signature as a receiver recomputes it, from the spec's definition. */
export function expectedStandardSignature(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
