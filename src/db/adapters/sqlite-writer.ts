import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { LastUseTarget, LastUseWriter } from '../adapter.js';

/** Rows per write transaction in the worker: short, so the write lock is held only briefly. */
const TRANSACTION_ROWS = 500;

/**
 * The worker, as plain CommonJS (run with `eval`, so it needs no build step of its own): its own
 * connection to the same file, one prepared statement per target, one transaction per batch.
 * `synchronous = NORMAL` on this connection only: a last-use time is buffered in memory for
 * seconds anyway, and losing the last ones to a power cut is acceptable; every other commit keeps
 * FULL, and SQLite syncs the log up to a FULL commit whatever wrote before it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
db.pragma('synchronous = NORMAL');
const statements = new Map();
parentPort.on('message', ({ seq, sql, ids, times }) => {
  try {
    const list = ids.split('\\n');
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    const write = db.transaction((from, to) => {
      for (let i = from; i < to; i++) statement.run(times[i], list[i], times[i]);
    });
    for (let i = 0; i < list.length; i += workerData.transactionRows) {
      write.immediate(i, Math.min(list.length, i + workerData.transactionRows));
    }
    parentPort.postMessage({ seq, ok: true });
  } catch (error) {
    parentPort.postMessage({ seq, ok: false, message: String(error && error.message), code: error && error.code });
  }
});
`;

/** The one statement per target, each row's time moving only forward. */
const STATEMENTS: Record<LastUseTarget, string> = {
  'api_keys.id.last_used_at': statementFor('api_keys', 'id', 'last_used_at'),
  'tokens.id.last_used_at': statementFor('tokens', 'id', 'last_used_at'),
  'sessions.id_digest.last_seen_at': statementFor('sessions', 'id_digest', 'last_seen_at'),
};

function statementFor(table: string, id: string, column: string): string {
  return `update "${table}" set "${column}" = ? where "${id}" = ? and ("${column}" is null or "${column}" < ?)`;
}

interface Reply {
  seq: number;
  ok: boolean;
  message?: string;
  code?: string;
}

/**
 * Writes last-use times to an SQLite file from a worker thread. better-sqlite3 runs statements
 * synchronously, so on the main thread a flush of thousands of rows (and each commit's sync to
 * disk) held the event loop: requests waited for it. In WAL mode the main connection keeps
 * reading while the worker writes. The worker starts on first use and keeps the process alive only
 * while a write is under way.
 */
export function createSqliteLastUseWriter(
  file: string,
  busyTimeoutMs: number,
  onQuery: (sql: string) => void,
): LastUseWriter {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let worker: Worker | null = null;
  let seq = 0;
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  const start = (): Worker => {
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file, busyTimeoutMs, transactionRows: TRANSACTION_ROWS },
    });
    started.on('message', (reply: Reply) => {
      const waiter = pending.get(reply.seq);
      if (waiter === undefined) return;
      pending.delete(reply.seq);
      if (pending.size === 0) started.unref();
      if (reply.ok) return waiter.resolve();
      const error = Object.assign(new Error(reply.message ?? 'last-use write failed'), { code: reply.code });
      waiter.reject(error);
    });
    // A worker that dies (it cannot open the file, say) fails what it held; the next write starts another.
    started.on('error', (error) => {
      if (worker === started) worker = null;
      failAll(error);
    });
    started.on('exit', () => {
      if (worker === started) worker = null;
      failAll(new Error('the last-use writer stopped'));
    });
    return started;
  };

  return {
    moveForward(target: LastUseTarget, values) {
      if (values.size === 0) return Promise.resolve();
      // Ids joined into one string and times in a transferred array: structured-cloning tens of
      // thousands of [id, time] pairs took the main thread 100+ ms.
      const ids = new Array<string>(values.size);
      const times = new Float64Array(values.size);
      let i = 0;
      for (const [id, at] of values) {
        ids[i] = id;
        times[i] = at;
        i += 1;
      }
      worker ??= start();
      const id = ++seq;
      const sent = worker;
      const sql = STATEMENTS[target];
      // Kept alive while a write is under way only.
      sent.ref();
      onQuery(sql);
      return new Promise<void>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        sent.postMessage({ seq: id, sql, ids: ids.join('\n'), times }, [times.buffer]);
      });
    },
    async close() {
      const running = worker;
      worker = null;
      if (running !== null) await running.terminate();
    },
  };
}
