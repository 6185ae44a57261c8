import type { TookenToken } from '@tooken/client';
import { tookenFastify } from '@tooken/client';
import Fastify from 'fastify';
import { ROUTES, type Serve } from './fixture.js';
import { middlewareScenarios } from './scenarios.js';

declare module 'fastify' {
  interface FastifyRequest {
    tooken?: TookenToken | null;
  }
}

/** A Fastify 5 app: each route with `tookenFastify` as its preHandler, answering `request.tooken`. */
const serve: Serve = async (options) => {
  const app = Fastify();
  app.decorateRequest('tooken', null);
  for (const [path, scopes] of Object.entries(ROUTES)) {
    app.get(path, { preHandler: tookenFastify(options(scopes)) }, async (request) => ({
      token: request.tooken,
    }));
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
};

middlewareScenarios('Fastify', serve);
