import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Security headers (docs/operations.md#security-headers). The API answers JSON, which a browser
 * should never render, run or frame: its policy lets nothing load. The HTML the server serves
 * (`/docs` and the dashboard) each set a policy of their own.
 */
const API_POLICY = Object.freeze({
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
});

/** The one style element Swagger UI writes itself (its top bar logo's colours), allowed by hash. */
const DOCS_LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/**
 * Swagger UI at `/docs` loads its own scripts, stylesheets and images and fetches the OpenAPI
 * document, all from this server; the logo is a `data:` image. Nothing inline runs.
 */
export const DOCS_POLICY = Object.freeze({
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': [
    "'self'",
    `'sha256-${createHash('sha256').update(DOCS_LOGO_STYLE, 'utf8').digest('base64')}'`,
  ],
});

/**
 * The dashboard (docs/dashboard.md) loads its scripts, stylesheet and images from this server and
 * talks only to this server's API. Nothing inline runs or styles, and no other site may frame it.
 */
export const DASHBOARD_POLICY = Object.freeze({
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'object-src': ["'none'"],
});

/** A year, subdomains included: sent only on answers that went over https. */
const HSTS = 'max-age=31536000; includeSubDomains';

/** Added to every answer that has gone through routing. */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: API_POLICY },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    // Decided per request below: over plain http the header would be ignored, and a deployment
    // reached both ways must not pin browsers to https by accident.
    strictTransportSecurity: false,
  });
  app.addHook('onRequest', async (request, reply) => addHsts(request, reply));
}

function addHsts(request: FastifyRequest, reply: FastifyReply): void {
  // `protocol` is https for a TLS socket, or as told by a proxy trusted with TOOKEN_TRUST_PROXY.
  if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
}

/**
 * For answers given before routing (a malformed URL), which no hook sees: the headers that matter
 * for a JSON error, with the same policy.
 */
export function addFallbackSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const policy = Object.entries(API_POLICY).map(([name, sources]) => `${name} ${sources.join(' ')}`);
  reply.header('content-security-policy', policy.join(';'));
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  addHsts(request, reply);
}
