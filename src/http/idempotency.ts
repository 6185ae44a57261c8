import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { canonicalJson } from '../canonical-json.js';
import { badField } from '../errors.js';
import type { IdempotencyStore } from '../idempotency/store.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * A replayed error keeps its status, code, message and details, but its `request_id` names the
 * request being answered, as on every error (docs/api.md#request-ids: it equals the X-Request-Id header).
 */
function withRequestId(body: string, requestId: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || !('request_id' in parsed)) return body;
    return JSON.stringify({ ...parsed, request_id: requestId });
  } catch {
    return body;
  }
}

/**
 * `Idempotency-Key` on authenticated POSTs (docs/api.md#idempotency-keys): the first response (below 500) is kept for
 * 24 h and replayed to the same caller; the same key with another path or body is 409.
 */
export function registerIdempotency(app: FastifyInstance, store: IdempotencyStore): void {
  // Synchronous when there is nothing to do (most requests): no promise per request.
  app.addHook('preHandler', (request, reply, done) => {
    const header = request.headers['idempotency-key'];
    if (request.method !== 'POST' || header === undefined || request.principal === null) return done();
    begin(request, reply, header).then(() => done(), done);
  });

  const begin = async (request: FastifyRequest, reply: FastifyReply, header: string | string[]) => {
    if (request.principal === null) return;
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw badField('Idempotency-Key', 'must be 1–255 printable ASCII characters');
    }
    // Scoped to the calling credential — an API key, a token or one session — by the digest of its
    // secret, and sealed under a key derived from that secret itself (docs/api.md#idempotency-keys).
    const { digest: scope, sealKey } = request.principal;
    let canonicalBody: string;
    try {
      canonicalBody = canonicalJson(request.body ?? null);
    } catch {
      // JSON.stringify recurses: a body nested deep enough overflows the stack (a 500, not a 400).
      throw badField('body', 'is nested too deeply');
    }
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.url}\n${canonicalBody}`)
      .digest('hex');
    const begun = await store.begin(scope, header, fingerprint, sealKey);
    if (begun.kind === 'replay') {
      return reply
        .code(begun.status)
        .header('idempotent-replayed', 'true')
        .type('application/json; charset=utf-8')
        .send(begun.status >= 400 ? withRequestId(begun.body, request.id) : begun.body);
    }
    request.idempotency = { scope, key: header, sealKey };
  };

  app.addHook('onSend', (request, reply, payload, done) => {
    const pending = request.idempotency;
    if (pending === null) return done(null, payload);
    request.idempotency = null;
    const settled =
      reply.statusCode >= 500 || typeof payload !== 'string'
        ? store.abandon(pending.scope, pending.key)
        : store.complete(pending.scope, pending.key, reply.statusCode, payload, pending.sealKey);
    settled.then(() => done(null, payload), done);
  });
}
