import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { CLI } from '../cli/build.js';

const HOST = '127.0.0.1';

/** A port free right now on loopback: the OS picks it, so parallel test files do not collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** One `tooken serve` process: the built server, as an operator runs it. */
export interface ServerProcess {
  base: string;
  child: ChildProcess;
  /** Resolves once the process has ended, however it ended. */
  exited: Promise<void>;
  /** The last 8 kB of its stdout and stderr, to show when something goes wrong. */
  output(): string;
}

/**
 * Starts and kills server processes, and remembers the live ones so that `killAll` (run in
 * `afterAll`, and on the test process's exit as a last resort) leaves none behind.
 */
export function serverProcesses() {
  const live = new Set<ServerProcess>();
  const onExit = () => {
    for (const server of live) server.child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  return {
    /**
     * `env` holds the whole configuration (database, secret key, …) on top of a minimal base. The
     * port is picked free just before; should another process take it first, this tries another.
     */
    async start(cwd: string, env: Record<string, string>): Promise<ServerProcess> {
      for (let attempt = 1; ; attempt++) {
        const server = launch(cwd, env, await freePort());
        live.add(server);
        void server.exited.then(() => live.delete(server));
        try {
          await waitReady(server);
          return server;
        } catch (error) {
          if (attempt === 3 || !server.output().includes('EADDRINUSE')) throw error;
        }
      }
    },

    /**
     * SIGKILL: no shutdown code runs, as when the process is OOM-killed or its host crashes. A
     * server that already ended by itself is a failure of its own, not to be hidden by a restart.
     */
    async kill(server: ServerProcess): Promise<void> {
      if (!live.has(server)) throw new Error(`the server had ended by itself:\n${server.output()}`);
      server.child.kill('SIGKILL');
      await server.exited;
    },

    async killAll(): Promise<void> {
      for (const server of live) server.child.kill('SIGKILL');
      await Promise.all([...live].map((server) => server.exited));
      process.removeListener('exit', onExit);
    },
  };
}

function launch(cwd: string, env: Record<string, string>, port: number): ServerProcess {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      TOOKEN_HOST: HOST,
      TOOKEN_PORT: String(port),
      TOOKEN_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    base: `http://${HOST}:${port}`,
    child,
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
    output: () => output,
  };
}

/** Polls /readyz until 200; fails at once, with the server's output, if the process ends. */
async function waitReady(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let ended = false;
  void server.exited.then(() => {
    ended = true;
  });
  while (Date.now() < until) {
    if (ended) throw new Error(`the server exited while starting:\n${server.output()}`);
    try {
      const res = await fetch(`${server.base}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the server was not ready within ${timeoutMs / 1000} s:\n${server.output()}`);
}
