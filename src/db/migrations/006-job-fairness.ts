import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Whose job it is: a runner takes a bounded share of one workspace's jobs at a time.
  await db.schema.alterTable('jobs').addColumn('workspace_id', 'text').execute();
  // Jobs of one lane (a webhook endpoint's deliveries) run one at a time, oldest first.
  await db.schema.alterTable('jobs').addColumn('lane', 'text').execute();
  // New at every claim: a run finishes or renews the job only under the lease it was given.
  await db.schema.alterTable('jobs').addColumn('lease_token', 'text').execute();
  // Whether a lane has a job running or due ahead of another is a range read per (lane, status).
  await db.schema.createIndex('jobs_lane').on('jobs').columns(['lane', 'status', 'run_at']).execute();

  // Set once an event has been expanded into its webhook deliveries (after its transaction).
  await db.schema.alterTable('outbox_events').addColumn('dispatched_at', 'bigint').execute();
  // Events written before this version got their deliveries in their own transaction.
  await sql`UPDATE outbox_events SET dispatched_at = created_at`.execute(db);
}
