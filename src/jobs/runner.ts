import { randomBytes } from 'node:crypto';
import type { Updateable } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DialectAdapter } from '../db/adapter.js';
import { decodeJson } from '../db/json.js';
import type { Db, Executor, JobsTable } from '../db/schema.js';
import { newId } from '../ids.js';
import {
  backoffMs,
  claimableGroups,
  claimJobs,
  enqueueJob,
  type Lease,
  renewLease,
  settleJob,
} from './queue.js';

/** What a running job knows about its own run. */
export interface JobContext {
  readonly id: string;
  readonly attempt: number;
  /** Aborted when the run passes its time limit or loses its lease: stop, and change nothing more. */
  readonly signal: AbortSignal;
  /**
   * Renews the lease and tells whether this run still holds it. Ask before an effect that must
   * happen once (a POST); ask inside a transaction to make its writes commit only under the lease.
   */
  holdsLease(db?: Executor): Promise<boolean>;
}

export type JobHandler = (payload: unknown, job: JobContext) => Promise<void>;

/**
 * One kind of job, as a feature defines it: its handler and, for a periodic job, how often it runs.
 * Features export these; the composition root hands them all to the runner, which knows none.
 */
export interface JobDefinition {
  run: JobHandler;
  /** Periodic: one row per installation that reschedules itself this long after each run. */
  everyMs?: number;
  /** How long one run may take before it is cut off and counted as failed (the runner's default otherwise). */
  timeoutMs?: number;
}

/** A run found that another run holds its job now (its lease lapsed and the job was claimed again). */
export class LeaseLostError extends Error {
  constructor() {
    super('the job was claimed again after its lease lapsed');
  }
}

class TimeLimitError extends Error {}

export interface RunnerOptions {
  db: Db;
  /** Makes concurrent claims (several nodes) take disjoint rows. */
  adapter: Pick<DialectAdapter, 'lockForClaim'>;
  clock: Clock;
  logger: Pick<Logger, 'error' | 'warn' | 'debug'>;
  jobs: Readonly<Record<string, JobDefinition>>;
  nodeId?: string;
  /** How long a claim holds a job unless renewed (60 s). */
  leaseMs?: number;
  /** How often a running job renews its lease (a third of the lease). */
  heartbeatMs?: number;
  pollMs?: number;
  /** Jobs running at once on this node (16). */
  concurrency?: number;
  /** Jobs of one workspace running at once on this node (4), so no tenant takes every slot. */
  perWorkspace?: number;
  /** Time limit of a run whose definition sets none (5 min). */
  timeoutMs?: number;
}

const NO_WORKSPACE = '';

/**
 * Runs jobs from the `jobs` table, several at once. Each claim gives a job a lease of its own,
 * renewed while it runs; a runner that dies leaves its jobs to be claimed again when their leases
 * lapse, and a run that lost its lease can neither renew nor finish its job. A node runs at most
 * `concurrency` jobs, of which at most `perWorkspace` for one workspace, and jobs of one lane one
 * at a time. Failures retry with backoff until `max_attempts`, then the job is `dead`. Periodic
 * jobs are single rows that reschedule themselves, so each runs on one node at a time.
 */
export class JobRunner {
  readonly nodeId: string;
  private timer: NodeJS.Timeout | null = null;
  private claiming: Promise<void> | null = null;
  private pollAgain = false;
  /** Runs in progress on this node, by workspace. */
  private readonly inFlight = new Map<string, Set<Promise<void>>>();
  private readonly kinds: string[];
  /** How long a claim holds a job unless renewed: a node that dies leaves its jobs to others this long after its last renewal. */
  readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly concurrency: number;
  private readonly perWorkspace: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: RunnerOptions) {
    this.nodeId = options.nodeId ?? newId('node');
    this.kinds = Object.keys(options.jobs);
    this.leaseMs = options.leaseMs ?? 60_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    this.concurrency = options.concurrency ?? 16;
    this.perWorkspace = options.perWorkspace ?? 4;
    this.timeoutMs = options.timeoutMs ?? 5 * 60_000;
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
    this.timer = setInterval(() => this.poll(), this.options.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Stops claiming and waits for the runs in progress (each ends by its time limit at the latest). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.claiming;
    await Promise.all([...this.inFlight.values()].flatMap((runs) => [...runs]));
  }

  /** Claims what is due now, runs it and waits for it; returns how many jobs ran. */
  async runDue(): Promise<number> {
    const runs = this.launch(await this.claim());
    await Promise.all(runs);
    return runs.length;
  }

  /** Fills free slots; a poll that comes while one is claiming runs again right after it. */
  private poll(): void {
    if (this.claiming) {
      this.pollAgain = true;
      return;
    }
    this.claiming = this.claim()
      .then((jobs) => void this.launch(jobs))
      // A locked or unreachable database is not fatal: log it and try again on the next poll.
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'job runner could not claim jobs'))
      .finally(() => {
        this.claiming = null;
        if (this.pollAgain && this.timer) {
          this.pollAgain = false;
          this.poll();
        }
      });
  }

  private running(): number {
    let count = 0;
    for (const runs of this.inFlight.values()) count += runs.size;
    return count;
  }

  private async claim(): Promise<JobsTable[]> {
    const free = this.concurrency - this.running();
    if (free <= 0 || this.kinds.length === 0) return [];
    const { db, adapter, clock } = this.options;
    const now = clock();
    const share = (group: string | null) =>
      this.perWorkspace - (this.inFlight.get(group ?? NO_WORKSPACE)?.size ?? 0);
    const exclude = [...this.inFlight.keys()]
      .map((key) => (key === NO_WORKSPACE ? null : key))
      .filter((group) => share(group) <= 0);
    const groups = await claimableGroups(db, { now, kinds: this.kinds, exclude, limit: free });
    const token = randomBytes(16).toString('hex');
    const claimed: JobsTable[] = [];
    for (const group of groups) {
      const limit = Math.min(share(group), free - claimed.length);
      if (limit <= 0) continue;
      const common = { now, kinds: this.kinds, nodeId: this.nodeId, leaseMs: this.leaseMs, token };
      claimed.push(...(await claimJobs(db, adapter, { ...common, group, limit })));
      if (claimed.length >= free) break;
    }
    // RETURNING does not keep the select's order: start the oldest-due first.
    return claimed.sort((x, y) => x.run_at - y.run_at || x.created_at - y.created_at);
  }

  private launch(jobs: JobsTable[]): Promise<void>[] {
    return jobs.map((job) => {
      const key = job.workspace_id ?? NO_WORKSPACE;
      const runs = this.inFlight.get(key) ?? new Set<Promise<void>>();
      this.inFlight.set(key, runs);
      const run: Promise<void> = this.execute(job)
        .catch((error: unknown) =>
          this.options.logger.error(
            { err: error, job_id: job.id, kind: job.kind },
            'job could not be settled',
          ),
        )
        .finally(() => {
          runs.delete(run);
          if (runs.size === 0 && this.inFlight.get(key) === runs) this.inFlight.delete(key);
          if (this.timer) this.poll();
        });
      runs.add(run);
      return run;
    });
  }

  private async execute(job: JobsTable): Promise<void> {
    const { db, clock, jobs, logger } = this.options;
    const definition = jobs[job.kind];
    const lease: Lease = { id: job.id, token: job.lease_token ?? '' };
    const controller = new AbortController();
    const holdsLease = async (executor: Executor = db) => {
      const held = await renewLease(executor, lease, clock() + this.leaseMs, clock());
      if (!held && !controller.signal.aborted) controller.abort(new LeaseLostError());
      return held;
    };
    const heartbeat = setInterval(() => {
      holdsLease().catch((error: unknown) =>
        logger.warn({ err: error, job_id: job.id, kind: job.kind }, 'job lease could not be renewed'),
      );
    }, this.heartbeatMs);
    heartbeat.unref();
    const limit = definition?.timeoutMs ?? this.timeoutMs;
    const timer = setTimeout(
      () => controller.abort(new TimeLimitError(`ran past its time limit of ${limit} ms`)),
      limit,
    );
    timer.unref();

    let error: unknown = null;
    try {
      if (definition === undefined) throw new Error(`no handler for job kind ${job.kind}`);
      const context = { id: job.id, attempt: job.attempts, signal: controller.signal, holdsLease };
      const payload = decodeJson(job.payload, 'job payload');
      await untilAborted(
        Promise.resolve().then(() => definition.run(payload, context)),
        controller.signal,
      );
    } catch (e) {
      error = e;
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timer);
    }
    if (error instanceof LeaseLostError || controller.signal.reason instanceof LeaseLostError) {
      logger.warn(
        { job_id: job.id, kind: job.kind },
        'job lost its lease to another run; leaving it to that run',
      );
      return;
    }
    if (error !== null) {
      logger.error({ err: error, job_id: job.id, kind: job.kind, attempt: job.attempts }, 'job failed');
    }
    const settled = await settleJob(db, lease, this.outcome(job, definition, error));
    if (!settled) {
      logger.warn(
        { job_id: job.id, kind: job.kind },
        'job lost its lease before it finished; outcome dropped',
      );
    }
  }

  /** What a finished run leaves on its row: rescheduled, done, retried later, or dead. */
  private outcome(
    job: JobsTable,
    definition: JobDefinition | undefined,
    error: unknown,
  ): Updateable<JobsTable> {
    const now = this.options.clock();
    const lastError =
      error === null ? null : String(error instanceof Error ? error.message : error).slice(0, 1000);
    if (definition?.everyMs !== undefined) {
      return {
        status: 'pending',
        attempts: 0,
        run_at: now + definition.everyMs,
        last_error: lastError,
        updated_at: now,
      };
    }
    if (error === null) return { status: 'done', updated_at: now };
    if (job.attempts >= job.max_attempts) return { status: 'dead', last_error: lastError, updated_at: now };
    return {
      status: 'pending',
      run_at: now + backoffMs(job.attempts),
      last_error: lastError,
      updated_at: now,
    };
  }
}

/** Settles with `work`, or rejects with the signal's reason as soon as it is aborted. */
function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  // A run that was cut off may still fail later; nobody waits for it any more.
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
