import type { Server } from 'node:http';
import { serve as listen } from '@hono/node-server';
import { type TookenVariables, tookenHono } from '@tooken/client';
import { Hono } from 'hono';
import { type Serve, served } from './fixture.js';
import { middlewareScenarios } from './scenarios.js';

/**
 * A Hono app on @hono/node-server answering `c.get('tooken')`: `/orders` with the middleware in
 * the route, the other routes with `app.use(path, …)`.
 */
const serve: Serve = async (routes) => {
  const app = new Hono<{ Variables: TookenVariables }>();
  for (const [path, options] of Object.entries(routes)) {
    if (path === '/orders') {
      app.get(path, tookenHono(options), (c) => c.json({ token: c.get('tooken') }));
    } else {
      app.use(path, tookenHono(options));
      app.get(path, (c) => c.json({ token: c.get('tooken') }));
    }
  }
  // Hono's own error handler would print the error; the status is what the test reads.
  app.onError((_error, c) => c.json({ error: 'internal_error' }, 500));
  const server = await new Promise<Server>((resolve) => {
    const started = listen({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(started as Server),
    );
  });
  return served(server);
};

middlewareScenarios('Hono', serve);
