import type { IncomingMessage } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { accountRoutes } from './accounts/routes.js';
import { apiKeyRoutes } from './api-keys/routes.js';
import { auditRoutes } from './audit/routes.js';
import { resolveApiKey } from './auth/principal.js';
import { ping } from './db/database.js';
import { createAccess } from './http/access.js';
import { registerDashboard } from './http/dashboard.js';
import { errorBody, logFailure, registerErrorHandling, sendError, toAppError } from './http/error-handler.js';
import { healthRoutes } from './http/health.js';
import { registerIdempotency } from './http/idempotency.js';
import { openapiOptions } from './http/openapi.js';
import { type LoggedReply, type LoggedRequest, logRequest } from './http/request-log.js';
import { WORKSPACE_PREFIXES } from './http/schemas.js';
import {
  API_HEADER_LIST,
  addFallbackSecurityHeaders,
  DOCS_POLICY,
  HSTS_HEADER_LIST,
  registerSecurityHeaders,
} from './http/security-headers.js';
import { createHttpServer, jsonParserOf } from './http/server-factory.js';
import { assertStorableText, assertWellFormedUrl } from './http/text-check.js';
import { httpsOf, trustProxyOption } from './http/trust-proxy.js';
import { createValidatorCompiler } from './http/validation.js';
import { createIdSource } from './ids.js';
import { acceptInvitationRoutes, invitationRoutes } from './invitations/routes.js';
import { leakRoutes } from './leaks/routes.js';
import { createRequestLineWriter } from './logger.js';
import { memberRoutes } from './members/routes.js';
import { metricsRoutes } from './metrics/routes.js';
import type { Services } from './services.js';
import { createTokenCredentials } from './tokens/credential.js';
import { edgeRoutes } from './tokens/edge-routes.js';
import { tokenRoutes } from './tokens/routes.js';
import { VerifyBody } from './tokens/schemas.js';
import { tokenUpdateRoutes } from './tokens/update-routes.js';
import { createVerifyCall, type VerifyRequestBody } from './tokens/verify-call.js';
import { createVerifyLane, type VerifyLane } from './tokens/verify-lane.js';
import { webhookRoutes } from './webhooks/routes.js';
import { settingsRoutes, workspaceRoutes } from './workspaces/routes.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the HTTP application around a node's services. Never listens: `main.ts` does. */
export async function buildApp(services: Services, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const requestLines = createRequestLineWriter(logger);
  const newRequestId = createIdSource('req');
  const requestIdFor = (req: IncomingMessage) => {
    const incoming = req.headers['x-request-id'];
    return typeof incoming === 'string' && INCOMING_REQUEST_ID.test(incoming) ? incoming : newRequestId();
  };
  const answered = (request: LoggedRequest, reply: LoggedReply) => {
    logRequest(requestLines, request, reply);
    services.metrics.observeRequest(request, reply);
  };
  const trustProxy = trustProxyOption(services.config.trustProxy);
  // Set once the routes exist (below); until then, and when switched off, Fastify answers everything.
  let verifyLane: VerifyLane | null = null;
  let closing = false;
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy,
    requestIdHeader: false,
    genReqId: requestIdFor,
    serverFactory: (handler, options) =>
      createHttpServer(options, (req, res) =>
        verifyLane === null ? handler(req, res) : verifyLane.handle(req, res, handler),
      ),
    // A bad URL is answered before routing, so no hooks run: send and log it here.
    frameworkErrors: (error, request, reply) => {
      addFallbackSecurityHeaders(request, reply);
      sendError(request, reply, toAppError(error));
      answered(request, reply);
    },
    routerOptions: { maxParamLength: 200 },
  });
  app.setValidatorCompiler(createValidatorCompiler());
  app.decorateRequest('principal', null);
  app.decorateRequest('workspaceContext', null);
  app.decorateRequest('idempotency', null);
  // First, so that an answer refused by any later hook carries the headers too.
  await registerSecurityHeaders(app);

  // The hooks every request runs are synchronous (callback style): an async one costs a promise
  // and a trip through the microtask queue each, on every request (BENCHMARKS.md).
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    answered(request, reply);
    done();
  });
  // Text the databases would refuse (U+0000) or alter (lone surrogates) is refused up front (400)
  // rather than failing in a query (500) or being stored other than it was hashed and shown
  // (docs/api.md#text). The URL is checked before authentication reads a slug from it.
  // A check that throws fails the request as a rejected async hook would.
  app.addHook('onRequest', (request, _reply, done) => {
    assertWellFormedUrl(request.url);
    done();
  });
  // Verify compares strings in memory only and promises 200 for any string (docs/tokens.md#verify): exempt.
  app.addHook('preValidation', (request, _reply, done) => {
    assertStorableText(request.params, 'path');
    assertStorableText(request.query, 'query');
    if (!request.routeOptions.config.acceptsNul) assertStorableText(request.body, 'body');
    done();
  });

  registerErrorHandling(app);
  await app.register(swagger, openapiOptions(services.config.publicUrl));
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_POLICY });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const access = createAccess({
    clock: services.clock,
    sessions: services.sessions,
    resolveApiKey: (secret) => resolveApiKey(services.db, secret, services.credentialCache),
    cachedApiKey: (keyDigest) => services.credentialCache.get(keyDigest),
    resolveToken: createTokenCredentials({ verifier: services.verifier, clock: services.clock }),
    workspaces: services.workspaces,
    rateLimiter: services.rateLimiter,
    rateLimitPerMinute: services.config.rateLimitPerMinute,
    usage: services.usage,
  });
  const verify = createVerifyCall({
    verifier: services.verifier,
    verifyLimiter: services.verifyLimiter,
    verifyLimitPerMinute: services.config.verifyRateLimitPerMinute,
  });
  registerIdempotency(app, services.idempotency);
  await app.register(healthRoutes, { ready: services.ready, ping: () => ping(services.db) });
  await app.register(metricsRoutes, { metrics: services.metrics, token: services.config.metricsToken });
  const { accounts, sessions, workspaces, apiKeys, tokens, members, invitations, webhooks } = services;
  await app.register(accountRoutes, { prefix: '/v1', access, accounts, sessions });
  await app.register(workspaceRoutes, { prefix: '/v1', access, workspaces });
  await app.register(acceptInvitationRoutes, { prefix: '/v1', access, invitations });
  await app.register(leakRoutes, { prefix: '/v1', leaks: services.leaks, rateLimiter: services.rateLimiter });
  // Each workspace feature once per path style: `/v1/x` and `/v1/workspaces/{slug}/x`.
  for (const prefix of WORKSPACE_PREFIXES) {
    await app.register(settingsRoutes, { prefix, access, workspaces });
    await app.register(apiKeyRoutes, { prefix, access, apiKeys });
    await app.register(tokenRoutes, { prefix, access, tokens, verify });
    await app.register(tokenUpdateRoutes, { prefix, access, tokens });
    await app.register(edgeRoutes, {
      prefix,
      access,
      openChangeStream: services.changeStreams.open,
      usageReports: services.usageReports,
      keepAliveMs: services.config.streamKeepAliveMs,
    });
    await app.register(memberRoutes, { prefix, access, members });
    await app.register(invitationRoutes, { prefix, access, invitations });
    await app.register(auditRoutes, { prefix, access, auditLog: services.auditLog });
    await app.register(webhookRoutes, { prefix, access, webhooks });
  }
  // Last: the dashboard answers page requests no API route took (deep links, /invitations/accept,
  // /reset-password).
  await registerDashboard(app);
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  if (services.config.verifyFastLane) {
    const lane = createVerifyLane({
      cachedContext: access.cachedApiKeyContext,
      parseJson: jsonParserOf(app),
      validateBody: createValidatorCompiler()({
        schema: VerifyBody,
        method: 'POST',
        url: '/v1/tokens/verify',
        httpPart: 'body',
      }) as (body: unknown) => body is VerifyRequestBody,
      verify,
      requestIdFor,
      securityHeaders: API_HEADER_LIST,
      hstsHeader: HSTS_HEADER_LIST,
      overHttps: httpsOf(trustProxy),
      failure: (error, requestId) => {
        const appError = toAppError(error as Error);
        logFailure(logger.child({ reqId: requestId }), appError, error, requestId);
        return {
          status: appError.status,
          headers: Object.entries(appError.headers ?? {}).flat(),
          body: JSON.stringify(errorBody(appError, requestId)),
        };
      },
      answered,
      closing: () => closing,
      counted: services.metrics.verifyLane,
    });
    app.decorate('verifyLane', lane);
    verifyLane = lane;
  }
  return app;
}
