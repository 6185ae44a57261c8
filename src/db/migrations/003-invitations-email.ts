import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // The link secret sealed under the server key, so Owners can copy it while it is pending
  // (cleared once the invitation is no longer pending); the digest is what accepting checks.
  await db.schema.alterTable('invitations').addColumn('secret_sealed', 'text').execute();
  await db.schema.alterTable('invitations').addColumn('invited_by_id', 'text').execute();
  await db.schema.alterTable('invitations').addColumn('ended_at', 'bigint').execute();
  await db.schema
    .createIndex('invitations_workspace')
    .on('invitations')
    .columns(['workspace_id', 'status'])
    .execute();

  // The email outbox: one row per message, written in the transaction that causes it. The body
  // is rendered at send time, so no link secret is ever stored in clear.
  await db.schema
    .createTable('emails')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('ref_id', 'text', (c) => c.notNull())
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .execute();
}
