import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { WorkspaceContext } from '../auth/context.js';
import { AppError } from '../errors.js';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { errors, operation, paramsFor, type WorkspacePrefix } from '../http/schemas.js';
import { ChangeStreamResponse, UsageReportBody, UsageReportReceived } from './edge-schemas.js';
import type { ChangeEvent, OpenChangeStream, StreamCredential } from './stream.js';
import type { UsageReports } from './usage-report.js';

export interface EdgeRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  openChangeStream: OpenChangeStream;
  usageReports: UsageReports;
  /** How often an idle stream gets a `: keep-alive` comment line. */
  keepAliveMs: number;
}

/** A stream whose reader fell this far behind is ended: its verifier reconnects and starts afresh. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const frame = (event: ChangeEvent): string => {
  switch (event.type) {
    case 'reset':
      return 'event: reset\ndata: {}\n\n';
    case 'invalidate':
      return `event: invalidate\ndata: ${JSON.stringify({ token_ids: event.tokenIds })}\n\n`;
    case 'end':
      return `event: end\ndata: ${JSON.stringify({ reason: event.reason })}\n\n`;
  }
};

/** What a stream is watched for: it ends when the credential that opened it does. */
const credentialOf = (ctx: WorkspaceContext): StreamCredential => {
  switch (ctx.via) {
    case 'api_key':
      return { kind: 'api_key', digest: ctx.principal.digest };
    case 'token':
      return { kind: 'token', id: ctx.principal.id, validUntil: ctx.principal.validUntil };
    case 'session':
      return { kind: 'session' };
  }
};

/**
 * What in-process verifiers (`@tooken/client`'s `createVerifier`) use: the change stream of a
 * workspace and the usage reports of the answers they served from their cache
 * (docs/edge-verification.md).
 */
export const edgeRoutes: FastifyPluginAsyncTypebox<EdgeRouteOptions> = async (app, opts) => {
  const { access, openChangeStream, usageReports, keepAliveMs } = opts;
  const params = paramsFor(opts.prefix, {});
  const tags = ['tokens'];
  /** The streams this app serves, ended when it closes (else `close` would wait for them forever). */
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    '/tokens/stream',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.stream', 'Stream token changes to in-process verifiers'),
        tags,
        params,
        response: { 200: ChangeStreamResponse, ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('tokens.verify'),
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      if (!String(request.headers.accept ?? '').includes('text/event-stream')) {
        throw new AppError(
          'bad_request',
          'This endpoint streams server-sent events: send Accept: text/event-stream',
        );
      }
      const body = new PassThrough();
      const send = (text: string) => {
        if (body.writableLength > MAX_BUFFERED_BYTES) return end();
        body.write(text);
      };
      const subscription = openChangeStream(ctx.workspace.id, credentialOf(ctx), (event) => {
        send(frame(event));
        if (event.type === 'end') end();
      });
      if (subscription === null) {
        throw new AppError('rate_limited', 'Too many change streams are open; close one or retry later', {
          headers: { 'retry-after': '5' },
        });
      }
      const timer = setInterval(() => send(': keep-alive\n\n'), keepAliveMs);
      timer.unref();
      function end() {
        if (!open.delete(end)) return;
        clearInterval(timer);
        subscription?.close();
        body.end();
      }
      open.add(end);
      // A stream's socket is never reused: one left open would hold up the app's close for its
      // keep-alive time (and one the client left is half open).
      const release = () => request.raw.socket?.destroy();
      reply.raw.once('finish', release);
      reply.raw.once('close', () => {
        end();
        release();
      });
      body.on('close', end);
      // Each event goes out as written: no Nagle wait behind an unacknowledged earlier event (Node's
      // server default too; said here so a server built otherwise cannot delay revocations).
      request.raw.socket?.setNoDelay(true);
      // Subscribed before the headers go out: a verifier that sees them misses no later change.
      body.write(': connected\n\n');
      // `connection: close` is said to the client too: one that saw the stream end cleanly would
      // otherwise send its next request on this socket as it is being destroyed ("other side closed").
      // The body is a stream, not the documented string the serialiser would expect.
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        .header('connection', 'close')
        .send(body as never);
    },
  );

  app.post(
    '/tokens/usage',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.reportUsage', 'Report uses served by an in-process verifier'),
        tags,
        params,
        body: UsageReportBody,
        response: { 202: UsageReportReceived, ...errors(400, 401, 403, 404, 413, 422, 429) },
      },
      onRequest: access.workspace('tokens.verify'),
    },
    async (request, reply) => {
      await usageReports.report(contextOf(request), request.body.uses);
      return reply.code(202).send({ received: true });
    },
  );
};
