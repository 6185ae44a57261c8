import { createServer, type Server } from 'node:http';
import { authenticate } from '@tooken/client';
import { type Serve, served } from './fixture.js';
import { middlewareScenarios } from './scenarios.js';

/**
 * A fetch-style handler (`(Request) => Response`, as on Workers, Deno or Bun) calling
 * `authenticate`, served by a small node:http bridge that builds a real `Request`.
 */
const serve: Serve = async (routes) => {
  const handler = async (request: Request): Promise<Response> => {
    const options = routes[new URL(request.url).pathname];
    if (options === undefined) return new Response('not found', { status: 404 });
    const auth = await authenticate(request, options);
    if (!auth.ok) return auth.response;
    return Response.json({ token: auth.token });
  };
  const server = createServer(async (req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    let response: Response;
    try {
      response = await handler(new Request(`http://${req.headers.host}${req.url}`, { headers }));
    } catch {
      response = Response.json({ error: 'internal_error' }, { status: 500 });
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return served(server as Server);
};

middlewareScenarios('fetch-style authenticate', serve);
