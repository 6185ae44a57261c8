import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { registerAccountRoutes } from './accounts/routes.js';
import { registerApiKeyRoutes } from './api-keys/routes.js';
import { registerAuditRoutes } from './audit/routes.js';
import { AppError, badField } from './errors.js';
import { createAccess } from './http/access.js';
import { registerErrorHandling, sendError, toAppError } from './http/error-handler.js';
import { registerHealthRoutes } from './http/health.js';
import { registerIdempotency } from './http/idempotency.js';
import { logRequest } from './http/request-log.js';
import { createValidatorCompiler } from './http/validation.js';
import { newId } from './ids.js';
import { registerInvitationPage } from './invitations/page.js';
import { registerMemberRoutes } from './members/routes.js';
import type { Services } from './services.js';
import { registerTokenRoutes } from './tokens/routes.js';
import { registerWebhookRoutes } from './webhooks/routes.js';
import { registerWorkspaceRoutes } from './workspaces/routes.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Whether any string or key in a parsed JSON body holds U+0000 (iterative: bodies may nest deeply). */
function containsNul(body: unknown): boolean {
  const pending: unknown[] = [body];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return true;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key.includes('\u0000')) return true;
        pending.push(child);
      }
    }
  }
  return false;
}

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the HTTP application around a node's services. Never listens: `main.ts` does. */
export async function buildApp(services: Services, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: services.config.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && INCOMING_REQUEST_ID.test(incoming) ? incoming : newId('req');
    },
    // A bad URL is answered before routing, so no hooks run: send and log it here.
    frameworkErrors: (error, request, reply) => {
      sendError(request, reply, toAppError(error));
      logRequest(request, reply);
    },
    routerOptions: { maxParamLength: 200 },
  });
  app.setValidatorCompiler(createValidatorCompiler());
  app.decorateRequest('principal', null);
  app.decorateRequest('workspaceContext', null);
  app.decorateRequest('idempotency', null);

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => logRequest(request, reply));
  // PostgreSQL text cannot hold U+0000: refuse it up front (400) rather than fail in a query (500),
  // the same on both databases. The URL is checked before authentication reads a slug from it.
  app.addHook('onRequest', async (request) => {
    if (request.url.includes('%00'))
      throw new AppError('bad_request', 'The URL must not contain NUL characters');
  });
  // Verify compares strings in memory only and promises 200 for any string (SPEC §5.6): exempt.
  app.addHook('preValidation', async (request) => {
    if (!request.routeOptions.config.acceptsNul && containsNul(request.body))
      throw badField('body', 'must not contain NUL characters');
  });

  registerErrorHandling(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tooken API',
        version: '1',
        description: 'Issue, verify, revoke and audit bearer credentials.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (tok_live_…) or a token (tkn_…)',
          },
          session: { type: 'apiKey', in: 'cookie', name: 'tooken_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const access = createAccess(services);
  registerIdempotency(app, services.idempotency);
  registerHealthRoutes(app, services);
  registerAccountRoutes(app, services, access);
  registerWorkspaceRoutes(app, services, access);
  registerApiKeyRoutes(app, services, access);
  registerTokenRoutes(app, services, access);
  registerMemberRoutes(app, services, access);
  registerInvitationPage(app, services.config);
  registerAuditRoutes(app, services, access);
  registerWebhookRoutes(app, services, access);
  return app;
}
