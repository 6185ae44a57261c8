import { type TookenToken, tookenFastify } from '@tooken/client';
import Fastify from 'fastify';
import type { Serve } from './fixture.js';
import { middlewareScenarios } from './scenarios.js';

declare module 'fastify' {
  interface FastifyRequest {
    tooken: TookenToken | null;
  }
}

/**
 * A Fastify 5 app answering `request.tooken`: `/orders` guarded by a `preHandler` in the route's
 * options, the other routes by `addHook('preHandler', …)` in a plugin of their own.
 */
const serve: Serve = async (routes) => {
  const app = Fastify();
  app.decorateRequest('tooken', null);
  const handler = async (request: { tooken: TookenToken | null }) => ({ token: request.tooken });
  for (const [path, options] of Object.entries(routes)) {
    if (path === '/orders') {
      app.get(path, { preHandler: tookenFastify(options) }, handler);
      continue;
    }
    await app.register(async (scope) => {
      scope.addHook('preHandler', tookenFastify(options));
      scope.get(path, handler);
    });
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
};

middlewareScenarios('Fastify', serve);
