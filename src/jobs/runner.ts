import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DialectAdapter } from '../db/adapter.js';
import { decodeJson } from '../db/json.js';
import type { Db, Executor, JobsTable } from '../db/schema.js';
import { newId } from '../ids.js';

export type JobHandler = (payload: unknown, job: { id: string; attempt: number }) => Promise<void>;

/**
 * One kind of job, as a feature defines it: its handler and, for a periodic job, how often it runs.
 * Features export these; the composition root hands them all to the runner, which knows none.
 */
export interface JobDefinition {
  run: JobHandler;
  /** Periodic: one row per installation that reschedules itself this long after each run. */
  everyMs?: number;
}

export interface EnqueueOptions {
  kind: string;
  payload?: unknown;
  runAt?: number;
  uniqueKey?: string;
  maxAttempts?: number;
}

const DEFAULT_MAX_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 60 * 60 * 1000;

/** Adds a job, inside the caller's transaction when given one. */
export async function enqueueJob(db: Executor, now: number, options: EnqueueOptions): Promise<string> {
  const id = newId('job');
  await db
    .insertInto('jobs')
    .values({
      id,
      kind: options.kind,
      payload: JSON.stringify(options.payload ?? null),
      unique_key: options.uniqueKey ?? null,
      status: 'pending',
      run_at: options.runAt ?? now,
      attempts: 0,
      max_attempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('unique_key').doNothing())
    .execute();
  return id;
}

/** Exponential backoff from 1 s, capped at an hour, with ±20 % jitter. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

interface RunnerOptions {
  db: Db;
  /** Makes concurrent claims (several nodes) take disjoint rows. */
  adapter: Pick<DialectAdapter, 'lockForClaim'>;
  clock: Clock;
  logger: Pick<Logger, 'error' | 'warn' | 'debug'>;
  jobs: Readonly<Record<string, JobDefinition>>;
  nodeId?: string;
  leaseMs?: number;
  pollMs?: number;
  batchSize?: number;
}

/**
 * Runs jobs from the `jobs` table. A claim sets a lease (`locked_until`); a runner that dies leaves
 * its job to be claimed again when the lease lapses. Failures retry with backoff until
 * `max_attempts`, then the job is `dead`. Periodic jobs are single rows that reschedule themselves,
 * so each runs on one node at a time.
 */
export class JobRunner {
  readonly nodeId: string;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  /** How long a claim holds a job: a node that dies leaves its jobs to others this long after claiming them. */
  readonly leaseMs: number;
  private readonly batchSize: number;

  constructor(private readonly options: RunnerOptions) {
    this.nodeId = options.nodeId ?? newId('node');
    this.leaseMs = options.leaseMs ?? 60_000;
    this.batchSize = options.batchSize ?? 10;
  }

  /** Creates the rows of the periodic jobs (once per installation). */
  async schedulePeriodic(): Promise<void> {
    const now = this.options.clock();
    for (const [kind, job] of Object.entries(this.options.jobs)) {
      if (job.everyMs === undefined) continue;
      await enqueueJob(this.options.db, now, { kind, uniqueKey: `periodic:${kind}`, runAt: now });
    }
  }

  async start(): Promise<void> {
    await this.schedulePeriodic();
    const tick = () => {
      this.running ??= this.runDue()
        // A locked or unreachable database is not fatal: log it and try again on the next tick.
        .catch((error: unknown) => {
          this.options.logger.error({ err: error }, 'job runner could not claim jobs');
          return 0;
        })
        .finally(() => {
          this.running = null;
        });
    };
    this.timer = setInterval(tick, this.options.pollMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => 0);
  }

  /** Claims and runs what is due now; returns how many jobs ran. */
  async runDue(): Promise<number> {
    // RETURNING does not keep the subquery's order: run the claimed jobs oldest-due first, so
    // events reach an endpoint in the order they happened (docs/webhooks.md#delivery-rules, "in order where possible").
    const claimed = (await this.claim()).sort((x, y) => x.run_at - y.run_at || x.created_at - y.created_at);
    for (const job of claimed) await this.execute(job);
    return claimed.length;
  }

  private async claim(): Promise<JobsTable[]> {
    const { db, adapter, clock } = this.options;
    const now = clock();
    return db
      .updateTable('jobs')
      .set((eb) => ({
        status: 'running',
        locked_by: this.nodeId,
        locked_until: now + this.leaseMs,
        attempts: eb('attempts', '+', 1),
        updated_at: now,
      }))
      .where('id', 'in', (eb) =>
        adapter.lockForClaim(
          eb
            .selectFrom('jobs')
            .select('id')
            .where((w) =>
              w.or([
                w.and([w('status', '=', 'pending'), w('run_at', '<=', now)]),
                w.and([w('status', '=', 'running'), w('locked_until', '<', now)]),
              ]),
            )
            .orderBy('run_at')
            .limit(this.batchSize),
        ),
      )
      .returningAll()
      .execute();
  }

  private async execute(job: JobsTable): Promise<void> {
    const { db, clock, jobs, logger } = this.options;
    const definition = jobs[job.kind];
    const every = definition?.everyMs;
    let error: unknown = null;
    try {
      if (definition === undefined) throw new Error(`no handler for job kind ${job.kind}`);
      await definition.run(decodeJson(job.payload, 'job payload'), { id: job.id, attempt: job.attempts });
    } catch (e) {
      error = e;
      logger.error({ err: e, job_id: job.id, kind: job.kind, attempt: job.attempts }, 'job failed');
    }
    const now = clock();
    const mine = db.updateTable('jobs').where('id', '=', job.id).where('locked_by', '=', this.nodeId);
    const unlocked = { locked_by: null, locked_until: null, updated_at: now };
    const lastError =
      error === null ? null : String(error instanceof Error ? error.message : error).slice(0, 1000);
    if (every !== undefined) {
      await mine
        .set({ ...unlocked, status: 'pending', attempts: 0, run_at: now + every, last_error: lastError })
        .execute();
    } else if (error === null) {
      await mine.set({ ...unlocked, status: 'done' }).execute();
    } else if (job.attempts >= job.max_attempts) {
      await mine.set({ ...unlocked, status: 'dead', last_error: lastError }).execute();
    } else {
      await mine
        .set({ ...unlocked, status: 'pending', run_at: now + backoffMs(job.attempts), last_error: lastError })
        .execute();
    }
  }
}
