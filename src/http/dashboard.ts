import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DASHBOARD_POLICY } from './security-headers.js';

/** Where `npm run build` writes the dashboard: `web/dist` (the same from `src/http` and `dist/http`). */
export const DASHBOARD_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Paths that belong to the API and its tools: an unknown one is a JSON 404, never the dashboard. */
const API_PATHS = /^\/(v1|openapi\.json|docs|healthz|readyz|metrics)(\/|$)/;

/** Files named by content hash (Vite's `assets/`): they never change, so browsers keep them. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const MISSING_BUILD =
  'The dashboard has not been built. Run `npm run build` (npm install does it), then restart the server.\n';

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`],
  );
}

function policyHeader(): string {
  return Object.entries(DASHBOARD_POLICY)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join(';');
}

const wantsHtml = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/html');

/**
 * Serves the dashboard (docs/dashboard.md): its built files as they are, and `index.html` for every
 * other GET of a page (a deep link such as `/w/acme/tokens`), so the app's router takes over.
 * API paths never fall back: an unknown one keeps its JSON 404. The file list is read once here, so
 * a request can only ever name a file the build wrote.
 */
export async function registerDashboard(
  app: FastifyInstance,
  options: { root?: string } = {},
): Promise<void> {
  const root = options.root ?? DASHBOARD_ROOT;
  const built = existsSync(path.join(root, 'index.html'));
  const files = new Set(built ? filesUnder(root) : []);
  const policy = policyHeader();

  const sendPage = (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('content-security-policy', policy);
    if (!built) return reply.code(200).type('text/plain; charset=utf-8').send(MISSING_BUILD);
    // A link that carries a secret (an invitation, a password reset) must stay out of caches.
    const secretInUrl = /[?&]token=/.test(request.url);
    return reply
      .header('cache-control', secretInUrl ? 'no-store' : 'no-cache')
      .sendFile('index.html', { cacheControl: false });
  };

  await app.register(async (scope) => {
    if (built) await scope.register(fastifyStatic, { root, serve: false });
    scope.get('/*', { schema: { hide: true } }, async (request, reply) => {
      const pathname = request.url.split('?')[0] ?? '/';
      if (API_PATHS.test(pathname)) return reply.callNotFound();
      const file = pathname.replace(/^\/+/, '');
      if (file !== 'index.html' && files.has(file)) {
        reply.header('content-security-policy', policy);
        reply.header('cache-control', file.startsWith('assets/') ? IMMUTABLE : 'no-cache');
        return reply.sendFile(file, { cacheControl: false });
      }
      // A missing build file (an old page asking for assets of an earlier build) is a 404, not the app.
      if (pathname === '/' || (wantsHtml(request) && !pathname.startsWith('/assets/'))) {
        return sendPage(request, reply);
      }
      return reply.callNotFound();
    });
  });
}
