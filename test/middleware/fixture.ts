import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createClient,
  createVerifier,
  remoteVerifier,
  type TokenVerifier,
  type TookenMiddlewareOptions,
} from '@tooken/client';
import type { DialectName } from '../../src/db/database.js';
import { createTestApp, ownerWorkspace, type TestApp } from '../helpers.js';

/** The scopes each protected route of the test apps requires. */
export const SCOPES = {
  '/orders': ['orders:read'],
  '/admin': ['orders:write', 'orders:admin'],
} as const;

/** Each protected path with the middleware options it is guarded by. */
export type Routes = Record<string, TookenMiddlewareOptions>;

/** A framework's app, protected by the middleware, listening on 127.0.0.1. */
export interface ProtectedApp {
  url: string;
  close(): Promise<void>;
}

/** Starts an app whose routes each answer `{token}`, what the middleware attached. */
export type Serve = (routes: Routes) => Promise<ProtectedApp>;

/** A verifier under test, closed after its scenarios when it holds resources (a stream, a cache). */
export type ClosableVerifier = TokenVerifier & { close?(): Promise<void> };

/**
 * The verifiers the scenarios run with: each made from the server's URL and an API key: the remote
 * one (a request per verification) and the in-process one (a cache kept exact by the change stream).
 */
export const VERIFIERS: Record<string, (options: { baseUrl: string; apiKey: string }) => ClosableVerifier> = {
  remote: (options) => remoteVerifier(options),
  cached: (options) => createVerifier(options),
};

/** A real Tooken server over HTTP with one token of each kind the scenarios present. */
export interface TookenFixture {
  t: TestApp;
  baseUrl: string;
  apiKey: string;
  /** The slug of the workspace the tokens and the API key belong to. */
  workspace: string;
  secrets: { valid: string; revoked: string; expired: string; unseen: string };
  /** The valid token as its creation answered. */
  valid: {
    id: string;
    name: string;
    scopes: string[];
    metadata: Record<string, unknown>;
    expires_at: string | null;
  };
  /** Stops the Tooken server (connections refused from then on). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function tookenFixture(
  dialect: DialectName,
  env: Record<string, string> = {},
): Promise<TookenFixture> {
  const t = await createTestApp(dialect, env);
  const baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { key, ws, session } = await ownerWorkspace(t.app, { key: 'team' });
  // Only the Owner may define the workspace's custom scopes.
  const settings = await t.app.inject({
    method: 'PATCH',
    url: `/v1/workspaces/${ws.slug}/settings`,
    headers: session.headers,
    payload: { custom_scopes: Object.values(SCOPES).flat() },
  });
  if (settings.statusCode !== 200) throw new Error(`settings failed: ${settings.body}`);
  const admin = createClient({ baseUrl, apiKey: key.key });
  const create = (name: string, expires_at?: string) =>
    admin.tokens.create({ name, scopes: ['orders:read'], ...(expires_at ? { expires_at } : {}) });
  const valid = await admin.tokens.create({
    name: 'orders-service',
    scopes: ['orders:read'],
    metadata: { team: 'orders', tier: 2 },
  });
  const unseen = await create('never-presented-before-tooken-stops');
  const revoked = await create('revoked');
  await admin.tokens.revoke(revoked.id);
  const expired = await create('expired', new Date(t.clock.now() + 3_600_000).toISOString());
  t.clock.advance(2 * 3_600_000);
  return {
    t,
    baseUrl,
    apiKey: key.key,
    workspace: ws.slug,
    secrets: { valid: valid.token, revoked: revoked.token, expired: expired.token, unseen: unseen.token },
    valid: {
      id: valid.id,
      name: valid.name,
      scopes: valid.scopes,
      metadata: valid.metadata,
      expires_at: valid.expires_at,
    },
    // Closing a Fastify app twice is harmless, so `close()` still works after `stop()`.
    stop: () => t.app.close(),
    close: () => t.close(),
  };
}

/** The URL of a node server listening on 127.0.0.1, and a close that ends its connections too. */
export function served(server: Server): ProtectedApp {
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
