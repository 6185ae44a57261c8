import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { DatabaseStats } from '../db/database.js';
import type { JobQueueStats } from '../jobs/queue-stats.js';

/** The in-process caches, as `/metrics` names them. */
export type CacheName = 'token' | 'credential' | 'workspace';

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
}

/** What exists anyway and is read when metrics are scraped, never counted on a request path. */
export interface StateSources {
  clock: Clock;
  caches: Readonly<Record<CacheName, { stats(): CacheStats }>>;
  database: { stats(): DatabaseStats };
  /** The job queue by kind: one grouped read, which also tells whether the database answers. */
  jobQueue(): Promise<readonly JobQueueStats[]>;
}

/** A scrape must answer even when the database does not: past this the database counts as down. */
const PROBE_TIMEOUT_MS = 2_000;

const JOB_STATES = ['due', 'scheduled', 'running', 'dead'] as const;

export function registerStateCollectors(registry: Registry, sources: StateSources): void {
  const registers = [registry];
  const caches = Object.entries(sources.caches);

  new Counter({
    name: 'tooken_cache_requests_total',
    help: 'Lookups in the in-process caches, by cache and result (hit or miss); remembered misses count as hits.',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.reset();
      for (const [cache, source] of caches) {
        const { hits, misses } = source.stats();
        this.inc({ cache, result: 'hit' }, hits);
        this.inc({ cache, result: 'miss' }, misses);
      }
    },
  });
  new Gauge({
    name: 'tooken_cache_entries',
    help: 'Entries held in each in-process cache.',
    labelNames: ['cache'],
    registers,
    collect() {
      for (const [cache, source] of caches) this.set({ cache }, source.stats().size);
    },
  });

  new Counter({
    name: 'tooken_database_errors_total',
    help: 'Database errors: connections the server ended (kind="connection") and failed statements other than unique-key conflicts (kind="statement").',
    labelNames: ['kind'],
    registers,
    collect() {
      const { connectionErrors, statementErrors } = sources.database.stats();
      this.reset();
      this.inc({ kind: 'connection' }, connectionErrors);
      this.inc({ kind: 'statement' }, statementErrors);
    },
  });
  // SQLite has one connection and no pool: only PostgreSQL has these.
  if (sources.database.stats().pool !== null) {
    new Gauge({
      name: 'tooken_database_pool_connections',
      help: 'Connections in the database pool, by state (idle or busy).',
      labelNames: ['state'],
      registers,
      collect() {
        const pool = sources.database.stats().pool;
        if (pool === null) return;
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'busy' }, pool.total - pool.idle);
      },
    });
    new Gauge({
      name: 'tooken_database_pool_waiting',
      help: 'Queries waiting for a free connection: above 0, the pool is exhausted.',
      registers,
      collect() {
        this.set(sources.database.stats().pool?.waiting ?? 0);
      },
    });
    new Gauge({
      name: 'tooken_database_pool_max_connections',
      help: 'The most connections the pool opens.',
      registers,
      collect() {
        this.set(sources.database.stats().pool?.max ?? 0);
      },
    });
  }

  const up = new Gauge({
    name: 'tooken_database_up',
    help: 'Whether the database answered the job-queue read of this scrape within 2 s (1) or not (0).',
    registers,
    collect: () => refresh(),
  });
  const jobs = new Gauge({
    name: 'tooken_jobs',
    help: 'Background jobs by kind and state: due (waiting for a runner), scheduled (a later run), running, dead (out of attempts).',
    labelNames: ['kind', 'state'],
    registers,
    collect: () => refresh(),
  });
  const oldestDue = new Gauge({
    name: 'tooken_jobs_oldest_due_age_seconds',
    help: 'How long the oldest due job of each kind has been waiting for a runner (0 when none is due).',
    labelNames: ['kind'],
    registers,
    collect: () => refresh(),
  });

  // The three gauges above are collected together from one read: the first collect starts it, the
  // others (called in the same scrape, before it settles) wait for the same one.
  let reading: Promise<void> | null = null;
  const refresh = (): Promise<void> => {
    reading ??= readQueue().finally(() => {
      reading = null;
    });
    return reading;
  };
  const readQueue = async () => {
    jobs.reset();
    oldestDue.reset();
    let queue: readonly JobQueueStats[];
    try {
      queue = await withTimeout(sources.jobQueue(), PROBE_TIMEOUT_MS);
    } catch {
      up.set(0);
      return;
    }
    up.set(1);
    const now = sources.clock();
    for (const stats of queue) {
      for (const state of JOB_STATES) jobs.set({ kind: stats.kind, state }, stats[state]);
      const age = stats.oldestDueAt === null ? 0 : Math.max(0, now - stats.oldestDueAt) / 1000;
      oldestDue.set({ kind: stats.kind }, age);
    }
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
