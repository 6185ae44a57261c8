import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import pg from 'pg';
import type { Services } from '../src/services.js';

/** Everything the process would die of, collected instead while a test runs. */
export function watchProcessErrors(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (error: unknown) => void errors.push(error);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

/**
 * Resolves once this node has heard back every cluster notice published so far. A node also hears
 * its own notices, a moment after its change, and drops what they name from its caches: a test
 * that needs an entry to stay cached fills the cache only after this.
 */
export async function settleNotices(services: Pick<Services, 'db' | 'notifier'>): Promise<void> {
  const heard = new Set<string>();
  services.notifier.subscribe((notice) => {
    if (notice.type === 'workspace.changed') for (const id of notice.ids) heard.add(id);
  });
  // PostgreSQL delivers notices in commit order, so hearing a sentinel means hearing all before it.
  // One sent while the node's LISTEN connection is being re-established is lost: send another.
  for (;;) {
    const sentinel = `settle-${randomBytes(6).toString('hex')}`;
    await services.db
      .transaction()
      .execute((tx) => services.notifier.publish(tx, { type: 'workspace.changed', ids: [sentinel] }));
    for (let wait = 0; wait < 20; wait += 1) {
      if (heard.has(sentinel)) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

async function asAdmin<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: process.env.TOOKEN_TEST_DATABASE_URL });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Ends every session on one database, as an operator's pg_terminate_backend, a restart or a
 * failover does; returns the ended backends' process ids.
 */
export function terminateBackends(database: string): Promise<number[]> {
  return asAdmin(async (admin) => {
    const { rows } = await admin.query<{ pid: number; ended: boolean }>(
      'SELECT pid, pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return rows.filter((row) => row.ended).map((row) => row.pid);
  });
}

/**
 * Resolves once the given backends have exited and this process has read what they sent before
 * exiting: a pooled connection they held is then known to be dead, not picked for the next query.
 */
export async function backendsGone(pids: readonly number[]): Promise<void> {
  if (pids.length === 0) return;
  for (;;) {
    const alive = await asAdmin(async (admin) => {
      const { rows } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
      return rows.length;
    });
    // Whatever the ended backends sent arrived before the answer above: let the socket events run.
    await new Promise((resolve) => setImmediate(resolve));
    if (alive === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A TCP relay between the app and PostgreSQL that a test can cut and restore, so the database can
 * become unreachable for one app (as in a restart or a network cut) without disturbing the
 * PostgreSQL server other test files share.
 */
export interface TcpProxy {
  readonly port: number;
  /** Stops accepting and drops every relayed connection: new connections are refused. */
  cut(): Promise<void>;
  /**
   * Drops every relayed connection and accepts new ones without ever answering, as a host that
   * vanished behind a firewall that drops packets.
   */
  hang(): void;
  /** Relays connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let hanging = false;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A dropped peer resets the other side; the relay only closes both.
    socket.on('error', () => socket.destroy());
  };
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const server = net.createServer((client) => {
    track(client);
    if (hanging) return;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      hanging = false;
      if (!server.listening) return resolve();
      server.close(() => resolve());
      dropAll();
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  return {
    port,
    cut,
    hang() {
      hanging = true;
      dropAll();
    },
    async restore() {
      dropAll();
      hanging = false;
      if (!server.listening) await listen(port);
    },
    close: cut,
  };
}
