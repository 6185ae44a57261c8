import type { ExpressionBuilder, Updateable } from 'kysely';
import type { DialectAdapter } from '../db/adapter.js';
import type { Database, Db, Executor, JobsTable } from '../db/schema.js';
import { newId } from '../ids.js';

/** The `jobs` table as a queue: adding jobs, claiming them under leases, renewing and settling them. */

export interface EnqueueOptions {
  kind: string;
  payload?: unknown;
  runAt?: number;
  uniqueKey?: string;
  maxAttempts?: number;
  /** The workspace the job works for: a runner runs only a bounded share of one workspace's jobs at once. */
  workspaceId?: string | null;
  /** Jobs of one lane run one at a time, in the order they fall due (a webhook endpoint's deliveries). */
  lane?: string | null;
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
      lease_token: null,
      workspace_id: options.workspaceId ?? null,
      lane: options.lane ?? null,
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

type Jobs = ExpressionBuilder<Database, 'jobs'>;

/**
 * Claimable at `now`: due (pending and past its time, or running under a lease that lapsed), and
 * the head of its lane: no other job of the lane runs under a live lease or fell due before it.
 */
function claimable(eb: Jobs, now: number) {
  const due = eb.or([
    eb.and([eb('jobs.status', '=', 'pending'), eb('jobs.run_at', '<=', now)]),
    eb.and([eb('jobs.status', '=', 'running'), eb('jobs.locked_until', '<', now)]),
  ]);
  const ahead = eb
    .selectFrom('jobs as e')
    .select('e.id')
    .whereRef('e.lane', '=', 'jobs.lane')
    .whereRef('e.id', '<>', 'jobs.id')
    .where((w) =>
      w.or([
        w.and([w('e.status', '=', 'running'), w('e.locked_until', '>=', now)]),
        w.and([
          w.or([
            w.and([w('e.status', '=', 'pending'), w('e.run_at', '<=', now)]),
            w.and([w('e.status', '=', 'running'), w('e.locked_until', '<', now)]),
          ]),
          w.or([
            w('e.run_at', '<', w.ref('jobs.run_at')),
            w.and([
              w('e.run_at', '=', w.ref('jobs.run_at')),
              w('e.created_at', '<', w.ref('jobs.created_at')),
            ]),
            w.and([
              w('e.run_at', '=', w.ref('jobs.run_at')),
              w('e.created_at', '=', w.ref('jobs.created_at')),
              w('e.id', '<', w.ref('jobs.id')),
            ]),
          ]),
        ]),
      ]),
    );
  return eb.and([due, eb.or([eb('jobs.lane', 'is', null), eb.not(eb.exists(ahead))])]);
}

/**
 * The workspaces (null: installation-wide jobs) that have claimable jobs of these kinds, the one
 * waiting longest first, leaving out those in `exclude` (already running their share here).
 */
export async function claimableGroups(
  db: Db,
  request: { now: number; kinds: string[]; exclude: Array<string | null>; limit: number },
): Promise<Array<string | null>> {
  const excluded = request.exclude.filter((group): group is string => group !== null);
  let query = db
    .selectFrom('jobs')
    .select((eb) => ['jobs.workspace_id', eb.fn.min('jobs.run_at').as('first_due')])
    .where((eb) => claimable(eb, request.now))
    .where('jobs.kind', 'in', request.kinds);
  if (excluded.length > 0) {
    query = query.where((eb) =>
      eb.or([eb('jobs.workspace_id', 'is', null), eb('jobs.workspace_id', 'not in', excluded)]),
    );
  }
  if (request.exclude.includes(null)) query = query.where('jobs.workspace_id', 'is not', null);
  const rows = await query.groupBy('jobs.workspace_id').orderBy('first_due').limit(request.limit).execute();
  return rows.map((row) => row.workspace_id);
}

/** Identifies one claim of one job: its id and the token that claim set. */
export interface Lease {
  id: string;
  token: string;
}

/**
 * Claims up to `limit` claimable jobs of one workspace for `nodeId` until `now + leaseMs`, oldest
 * due first. Rows another node is claiming at the same moment are skipped, not waited for.
 */
export async function claimJobs(
  db: Db,
  adapter: Pick<DialectAdapter, 'lockForClaim'>,
  request: {
    group: string | null;
    now: number;
    kinds: string[];
    limit: number;
    nodeId: string;
    leaseMs: number;
    token: string;
  },
): Promise<JobsTable[]> {
  const { group, now } = request;
  return db.transaction().execute(async (tx) => {
    const picked = await adapter
      .lockForClaim(
        tx
          .selectFrom('jobs')
          .select('jobs.id')
          .where((eb) => claimable(eb, now))
          .where('jobs.kind', 'in', request.kinds)
          .where('jobs.workspace_id', group === null ? 'is' : '=', group)
          .orderBy('jobs.run_at')
          .orderBy('jobs.created_at')
          .orderBy('jobs.id')
          .limit(request.limit),
      )
      .execute();
    if (picked.length === 0) return [];
    return tx
      .updateTable('jobs')
      .set((eb) => ({
        status: 'running',
        locked_by: request.nodeId,
        locked_until: now + request.leaseMs,
        lease_token: request.token,
        attempts: eb('attempts', '+', 1),
        updated_at: now,
      }))
      .where(
        'id',
        'in',
        picked.map((row) => row.id),
      )
      .returningAll()
      .execute();
  });
}

/** Extends a lease to `until`; false when the job is no longer held under it (taken over or settled). */
export async function renewLease(db: Executor, lease: Lease, until: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ locked_until: until, updated_at: now })
    .where('id', '=', lease.id)
    .where('lease_token', '=', lease.token)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Records a run's outcome and releases the job, only under the lease it ran with; false otherwise. */
export async function settleJob(
  db: Executor,
  lease: Lease,
  changes: Updateable<JobsTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ ...changes, locked_by: null, locked_until: null, lease_token: null })
    .where('id', '=', lease.id)
    .where('lease_token', '=', lease.token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
