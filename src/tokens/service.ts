import { sql } from 'kysely';
import type { AuditService, Changes, RequestMeta } from '../audit/service.js';
import { digest, generateSecret, hint, newId } from '../auth/credentials.js';
import { type Grant, isBuiltInScope } from '../auth/permissions.js';
import { actorOf, creatorOf, type Principal } from '../auth/principal.js';
import { type Clock, isoOrNull } from '../clock.js';
import type { Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { decodeScopes } from '../db/json.js';
import { countRows } from '../db/paginate.js';
import type { Db, TokensTable, Tx } from '../db/schema.js';
import { AppError, badField, forbidden, notFound } from '../errors.js';
import { emitEvent } from '../events/outbox.js';
import type { Workspace } from '../workspaces/service.js';
import { settingsOf } from '../workspaces/service.js';
import { type TokenStatus, tokenStatus } from './status.js';
import { type TokenView, tokenView } from './view.js';

export const MAX_METADATA_BYTES = 4096;
export const MAX_GRACE_SECONDS = 86_400;
const DAY_MS = 86_400_000;
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The caller inside a workspace, as the token rules need it (a WorkspaceContext fits). */
export interface TokenCaller {
  principal: Principal;
  workspace: Workspace;
  grant: Grant;
}

export interface CreateTokenInput {
  name: string;
  scopes: string[];
  /** Absent: the workspace default; null: never expires. */
  expires_at?: string | null | undefined;
  metadata?: object | undefined;
}

export interface ListFilter {
  page: number;
  perPage: number;
  status?: TokenStatus | undefined;
  name?: string | undefined;
}

export interface TokenService {
  create(
    caller: TokenCaller,
    input: CreateTokenInput,
    meta: RequestMeta,
  ): Promise<{ token: TokenView; secret: string }>;
  list(caller: TokenCaller, filter: ListFilter): Promise<{ rows: TokenView[]; total: number }>;
  get(caller: TokenCaller, id: string): Promise<TokenView>;
  revoke(caller: TokenCaller, id: string, meta: RequestMeta): Promise<void>;
  rotate(
    caller: TokenCaller,
    id: string,
    graceSeconds: number,
    meta: RequestMeta,
  ): Promise<{ token: TokenView; secret: string }>;
}

/** `Date.parse` rolls impossible dates over (Feb 30 → Mar 2, 24:00 → next day): refuse those. */
function isCalendarDateTime(match: RegExpExecArray): boolean {
  const [year, month, day, hour] = match.slice(1, 5).map(Number) as [number, number, number, number];
  return hour <= 23 && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
}

function parseExpiry(value: string, now: number): number {
  const match = ISO_INSTANT.exec(value);
  const ms = match !== null && isCalendarDateTime(match) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw badField(
      'expires_at',
      'must be an ISO 8601 date-time such as 2027-01-15T09:00:00Z',
      'unprocessable_entity',
    );
  if (ms <= now) throw badField('expires_at', 'must be in the future', 'unprocessable_entity');
  return ms;
}

/**
 * Each level of nesting costs at least two serialised characters, so anything deeper than half the
 * size limit cannot fit; checked without recursion because `JSON.stringify` of a body nested a
 * hundred thousand levels deep overflows the stack (a 500 instead of a 400).
 */
function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item.node === null || typeof item.node !== 'object') continue;
    if (item.depth > maxDepth) return true;
    for (const child of Object.values(item.node)) pending.push({ node: child, depth: item.depth + 1 });
  }
  return false;
}

/** `token.expiring` fires 7 and 1 days ahead; windows already entered at creation are skipped. */
function expiringMarkers(expiresAt: number | null, now: number) {
  if (expiresAt === null) return { expiring_7d_at: null, expiring_1d_at: null };
  return {
    expiring_7d_at: expiresAt - 7 * DAY_MS < now ? now : null,
    expiring_1d_at: expiresAt - DAY_MS < now ? now : null,
  };
}

export function createTokenService({
  db,
  clock,
  audit,
  notifier,
}: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  notifier: Notifier;
}): TokenService {
  const find = async (workspaceId: string, id: string): Promise<TokensTable> => {
    const row = await db
      .selectFrom('tokens')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw notFound('Token');
    return row;
  };

  const record = (
    tx: Tx,
    caller: TokenCaller,
    event: string,
    row: TokensTable,
    meta: RequestMeta,
    at: number,
    extra: Record<string, string> = {},
    changes: Changes | null = null,
  ) =>
    Promise.all([
      audit.record(tx, {
        workspaceId: caller.workspace.id,
        event,
        actor: actorOf(caller.principal),
        target: { type: 'token', id: row.id, name: row.name },
        changes,
        meta,
      }),
      emitEvent(tx, {
        workspaceId: caller.workspace.id,
        event,
        data: { ...tokenView(row, at), ...extra },
        at,
      }),
    ]);

  /** Tells every node's verify cache that these secrets changed, then applies it here. */
  const invalidate = async (tx: Tx, digests: string[]) => {
    await notifier.publish(tx, { type: 'token.changed', digests });
    return () => notifier.applyLocally({ type: 'token.changed', digests });
  };

  return {
    async create(caller, input, meta) {
      const now = clock();
      const scopes = [...new Set(input.scopes)];
      const custom = settingsOf(caller.workspace).custom_scopes;
      scopes.forEach((scope, i) => {
        if (!isBuiltInScope(scope) && !custom.includes(scope)) {
          throw badField(
            `scopes[${i}]`,
            `"${scope}" is neither a built-in scope nor a custom scope of this workspace`,
          );
        }
      });
      // A token can never mint a token with more built-in power than it holds itself.
      if (caller.grant.via === 'token') {
        const held = caller.grant.scopes;
        const escalation = scopes.find((scope) => isBuiltInScope(scope) && !held.includes(scope));
        if (escalation)
          throw forbidden(`A token cannot grant the scope "${escalation}" which it does not hold`);
      }
      const metadata = input.metadata ?? {};
      if (
        nestedDeeperThan(metadata, MAX_METADATA_BYTES / 2) ||
        Buffer.byteLength(JSON.stringify(metadata), 'utf8') > MAX_METADATA_BYTES
      ) {
        throw badField('metadata', 'must be at most 4 KiB when serialised');
      }
      let expiresAt: number | null;
      if (input.expires_at === undefined) {
        const days = caller.workspace.default_token_expiration_days;
        expiresAt = days === null ? null : now + days * DAY_MS;
      } else {
        expiresAt = input.expires_at === null ? null : parseExpiry(input.expires_at, now);
      }
      const secret = generateSecret('token');
      const creator = creatorOf(caller.principal);
      const row: TokensTable = {
        id: newId('tok'),
        workspace_id: caller.workspace.id,
        name: input.name,
        name_lower: input.name.toLowerCase(),
        scopes: JSON.stringify(scopes),
        metadata: JSON.stringify(metadata),
        hint: hint(secret),
        created_at: now,
        created_by: creator.name,
        created_by_id: creator.id,
        expires_at: expiresAt,
        revoked_at: null,
        rotated_at: null,
        last_used_at: null,
        expired_recorded_at: null,
        ...expiringMarkers(expiresAt, now),
      };
      const secretDigest = digest(secret);
      let applyLocally = () => {};
      try {
        await db.transaction().execute(async (tx) => {
          await tx.insertInto('tokens').values(row).execute();
          await tx
            .insertInto('token_secrets')
            .values({ digest: secretDigest, token_id: row.id, retires_at: null })
            .execute();
          await record(tx, caller, 'token.created', row, meta, now);
          // A cached miss for this digest (someone tried it before it existed) must go.
          applyLocally = await invalidate(tx, [secretDigest]);
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw badField('name', 'A token with this name already exists', 'conflict');
        throw error;
      }
      applyLocally();
      return { token: tokenView(row, now), secret };
    },

    async list(caller, { page, perPage, status, name }) {
      const now = clock();
      let query = db.selectFrom('tokens').where('workspace_id', '=', caller.workspace.id);
      if (name !== undefined && name !== '') {
        const pattern = `%${name.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        query = query.where(sql<boolean>`name_lower like ${pattern} escape '\\'`);
      }
      if (status === 'revoked') query = query.where('revoked_at', 'is not', null);
      if (status === 'expired') query = query.where('revoked_at', 'is', null).where('expires_at', '<=', now);
      if (status === 'active') {
        query = query
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
      }
      const [rows, count] = await Promise.all([
        query
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute(),
        countRows(query),
      ]);
      return { rows: rows.map((row) => tokenView(row, now)), total: count };
    },

    async get(caller, id) {
      return tokenView(await find(caller.workspace.id, id), clock());
    },

    async revoke(caller, id, meta) {
      const row = await find(caller.workspace.id, id);
      if (row.revoked_at !== null) return; // idempotent: no second entry or event
      const now = clock();
      let applyLocally = () => {};
      await db.transaction().execute(async (tx) => {
        const updated = await tx
          .updateTable('tokens')
          .set({ revoked_at: now })
          .where('id', '=', row.id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return; // revoked concurrently
        const secrets = await tx
          .selectFrom('token_secrets')
          .select('digest')
          .where('token_id', '=', row.id)
          .execute();
        const revokedAt = new Date(now).toISOString();
        await record(
          tx,
          caller,
          'token.revoked',
          { ...row, revoked_at: now },
          meta,
          now,
          { revoked_at: revokedAt },
          {
            status: { from: 'active', to: 'revoked' },
            revoked_at: { from: null, to: revokedAt },
          },
        );
        applyLocally = await invalidate(
          tx,
          secrets.map((s) => s.digest),
        );
      });
      applyLocally();
    },

    async rotate(caller, id, graceSeconds, meta) {
      const row = await find(caller.workspace.id, id);
      // Rotating hands over a working secret: like creating, a token may not obtain more power.
      if (caller.grant.via === 'token') {
        const held = caller.grant.scopes;
        const scopes = decodeScopes(row.scopes);
        const escalation = scopes.find((scope) => isBuiltInScope(scope) && !held.includes(scope));
        if (escalation)
          throw forbidden(
            `A token cannot rotate a token with the scope "${escalation}" which it does not hold`,
          );
      }
      const now = clock();
      const status = tokenStatus({ revokedAt: row.revoked_at, expiresAt: row.expires_at }, now);
      if (status !== 'active') throw new AppError('conflict', `A ${status} token cannot be rotated`);
      const secret = generateSecret('token');
      const secretDigest = digest(secret);
      const rotated: TokensTable = { ...row, hint: hint(secret), rotated_at: now };
      let applyLocally = () => {};
      await db.transaction().execute(async (tx) => {
        // Updating the row first takes its lock, so concurrent rotations and revocations are
        // serialised: the loser sees the winner's secrets (and retires them) or its revocation.
        const locked = await tx
          .updateTable('tokens')
          .set({ hint: rotated.hint, rotated_at: now })
          .where('id', '=', row.id)
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .executeTakeFirst();
        if (Number(locked.numUpdatedRows) === 0) {
          throw new AppError('conflict', 'The token was revoked or has expired, so it cannot be rotated');
        }
        const old = await tx
          .selectFrom('token_secrets')
          .select('digest')
          .where('token_id', '=', row.id)
          .execute();
        if (graceSeconds === 0) {
          await tx.deleteFrom('token_secrets').where('token_id', '=', row.id).execute();
        } else {
          // The current secret retires after the grace period; secrets already retiring keep their end.
          await tx
            .updateTable('token_secrets')
            .set({ retires_at: now + graceSeconds * 1000 })
            .where('token_id', '=', row.id)
            .where('retires_at', 'is', null)
            .execute();
        }
        await tx
          .insertInto('token_secrets')
          .values({ digest: secretDigest, token_id: row.id, retires_at: null })
          .execute();
        const rotatedAt = new Date(now).toISOString();
        await record(
          tx,
          caller,
          'token.rotated',
          rotated,
          meta,
          now,
          { rotated_at: rotatedAt },
          {
            rotated_at: { from: isoOrNull(row.rotated_at), to: rotatedAt },
            ...(graceSeconds > 0 ? { grace_period_seconds: { from: null, to: graceSeconds } } : {}),
          },
        );
        applyLocally = await invalidate(tx, [...old.map((s) => s.digest), secretDigest]);
      });
      applyLocally();
      return { token: tokenView(rotated, now), secret };
    },
  };
}
