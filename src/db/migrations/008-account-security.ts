import { type Kysely, sql } from 'kysely';
import { newId } from '../../ids.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Sessions get a public id (what `GET /v1/me/sessions` shows and `DELETE` names: never the
  // secret or its digest) and where they were signed in from.
  await db.schema.alterTable('sessions').addColumn('public_id', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('user_agent', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('ip', 'text').execute();
  const existing = await sql<{ id_digest: string }>`select id_digest from sessions`.execute(db);
  for (const row of existing.rows) {
    await sql`update sessions set public_id = ${newId('ses')} where id_digest = ${row.id_digest}`.execute(db);
  }
  await db.schema.createIndex('sessions_public_id').on('sessions').column('public_id').unique().execute();

  // Two-factor: one row per user; the TOTP secret sealed under the server key. `confirmed_at`
  // null while enrolment is pending; `last_step` is the last accepted TOTP time-step (no replay).
  await db.schema
    .createTable('two_factor')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('confirmed_at', 'bigint')
    .addColumn('last_step', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('recovery_codes')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('recovery_codes_user').on('recovery_codes').column('user_id').execute();

  // The second step of a sign-in with two-factor on: single use, short-lived, stored as a digest.
  await db.schema
    .createTable('login_challenges')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  // Password-reset links: the digest is what confirming checks; the sealed copy exists only until
  // the email is sent (the email is rendered at send time, like invitations).
  await db.schema
    .createTable('password_resets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('digest', 'text', (c) => c.notNull().unique())
    .addColumn('secret_sealed', 'text')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('password_resets_user').on('password_resets').column('user_id').execute();

  await db.schema
    .alterTable('workspaces')
    .addColumn('require_two_factor', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
