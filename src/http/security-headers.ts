import { createHash } from 'node:crypto';
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

/** `policy` as a Content-Security-Policy header value. */
const policyHeader = (policy: Readonly<Record<string, readonly string[]>>) =>
  Object.entries(policy)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join(';');

/**
 * What helmet 8 sends with these options: its defaults, our policy, `no-referrer` and `DENY`; no
 * HSTS (decided per request below: over plain http the header would be ignored, and a deployment
 * reached both ways must not pin browsers to https by accident). Fixed, so they are computed
 * once, not by helmet on every request (about a tenth of a verify's time); a test keeps them
 * equal to what `@fastify/helmet` sends with the same options.
 */
export const HELMET_OPTIONS = {
  contentSecurityPolicy: { useDefaults: false, directives: API_POLICY },
  referrerPolicy: { policy: 'no-referrer' },
  xFrameOptions: { action: 'deny' },
  strictTransportSecurity: false,
} as const;

const API_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': policyHeader(API_POLICY),
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
});

/** The API's headers as a flat [name, value, …] list, for an answer written without a reply object. */
export const API_HEADER_LIST: readonly string[] = Object.freeze(Object.entries(API_HEADERS).flat());

/** HSTS as a flat [name, value] list, for answers that went over https. */
export const HSTS_HEADER_LIST: readonly string[] = Object.freeze(['strict-transport-security', HSTS]);

/** Added to every answer that has gone through routing; a route may replace the policy (`/docs`). */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(API_HEADERS);
    addHsts(request, reply);
    done();
  });
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
  reply.header('content-security-policy', policyHeader(API_POLICY));
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  addHsts(request, reply);
}
