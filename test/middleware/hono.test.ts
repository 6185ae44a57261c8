import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve as listen } from '@hono/node-server';
import { type TookenVariables, tookenHono } from '@tooken/client';
import { Hono } from 'hono';
import { ROUTES, type Serve, served } from './fixture.js';
import { middlewareScenarios } from './scenarios.js';

/** A Hono app on @hono/node-server: each route behind `tookenHono`, answering `c.get('tooken')`. */
const serve: Serve = async (options) => {
  const app = new Hono<{ Variables: TookenVariables }>();
  for (const [path, scopes] of Object.entries(ROUTES)) {
    app.get(path, tookenHono(options(scopes)), (c) => c.json({ token: c.get('tooken') }));
  }
  const server = await new Promise<Server>((resolve) => {
    const started = listen({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (_info: AddressInfo) =>
      resolve(started as Server),
    );
  });
  return served(server);
};

middlewareScenarios('Hono', serve);
