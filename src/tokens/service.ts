import { sql } from 'kysely';
import type { AuditService, RequestMeta } from '../audit/service.js';
import { SYSTEM_ACTOR, type SystemContext, type WorkspaceContext } from '../auth/context.js';
import { digest, generateSecret, hint } from '../auth/credentials.js';
import { creatorOf } from '../auth/principal.js';
import { type Clock, isoOrNull } from '../clock.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { decodeScopes } from '../db/json.js';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { Db, TokensTable } from '../db/schema.js';
import { AppError, badField, notFound } from '../errors.js';
import type { EventOutbox } from '../events/outbox.js';
import { newId } from '../ids.js';
import { settingsOf } from '../workspaces/settings.js';
import { type BulkRevoke, createBulkRevoke } from './bulk-revoke.js';
import { createTokenChanges, tokenChanged } from './changes.js';
import {
  assertNoEscalation,
  assertNotOutlived,
  checkMetadata,
  checkScopes,
  expiringMarkers,
  expiryFor,
} from './input.js';
import { type LimitsInput, limitColumns } from './limits.js';
import { findLiveToken } from './lookup.js';
import { type TokenStatus, tokenStatus } from './status.js';
import { createTokenUpdate, type TokenUpdate } from './update.js';
import { type TokenView, tokenView } from './view.js';

export interface CreateTokenInput {
  name: string;
  scopes: string[];
  /** Absent: the workspace default; null: never expires. */
  expires_at?: string | null | undefined;
  metadata?: object | undefined;
  external_id?: string | null | undefined;
  limits?: LimitsInput | null | undefined;
}

export interface TokenFilter {
  status?: TokenStatus | undefined;
  name?: string | undefined;
  scope?: string | undefined;
  external_id?: string | undefined;
}

export interface TokenService extends TokenUpdate, BulkRevoke {
  create(ctx: WorkspaceContext, input: CreateTokenInput, meta: RequestMeta): Promise<TokenWithSecret>;
  list(ctx: WorkspaceContext, page: PageRequest, filter: TokenFilter): Promise<PageOf<TokenView>>;
  get(ctx: WorkspaceContext, id: string): Promise<TokenView>;
  revoke(ctx: WorkspaceContext, id: string, meta: RequestMeta): Promise<void>;
  rotate(
    ctx: WorkspaceContext,
    id: string,
    graceSeconds: number,
    meta: RequestMeta,
  ): Promise<TokenWithSecret>;
  /** The live token a secret opens (no cache: a report must see the database), or null. */
  findLive(secret: string): Promise<LiveCredential | null>;
  /**
   * Records that a live token's secret leaked (`token.leaked`, by the system) and, when asked,
   * revokes the token in the same transaction, as `DELETE /tokens/{id}` does (docs/tokens.md#leaked-secrets).
   * Nothing happens when the token is no longer live.
   */
  recordLeak(found: LiveCredential, revoke: boolean, meta: RequestMeta): Promise<void>;
}

/** A live credential found by its secret: enough to act on it, never the secret itself. */
export interface LiveCredential {
  id: string;
  workspaceId: string;
}

/** A token as the API returns it once, with its secret. */
export type TokenWithSecret = TokenView & { token: string };

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createTokenService({
  db,
  clock,
  audit,
  outbox,
  notifier,
}: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  outbox: EventOutbox;
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

  const changes = createTokenChanges({ audit, outbox });
  const { record, secretsOf, markRevoked, recordRevoked } = changes;

  return {
    ...createTokenUpdate({ db, clock, notifier, find, changes }),
    ...createBulkRevoke({ db, clock, notifier, changes }),
    async create(ctx, input, meta) {
      const now = clock();
      const scopes = checkScopes(input.scopes, settingsOf(ctx.workspace).custom_scopes);
      assertNoEscalation(ctx, scopes, 'grant');
      const metadata = checkMetadata(input.metadata ?? {});
      const expiresAt = expiryFor(ctx, input.expires_at, ctx.workspace.default_token_expiration_days, now);
      const secret = generateSecret('token');
      const creator = creatorOf(ctx.principal);
      const row: TokensTable = {
        id: newId('tok'),
        workspace_id: ctx.workspace.id,
        name: input.name,
        name_lower: input.name.toLowerCase(),
        scopes: JSON.stringify(scopes),
        metadata,
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
        external_id: input.external_id ?? null,
        ...limitColumns(input.limits, null, now),
      };
      const secretDigest = digest(secret);
      try {
        await commitAndNotify(db, notifier, async (tx) => {
          await tx.insertInto('tokens').values(row).execute();
          await tx
            .insertInto('token_secrets')
            .values({ digest: secretDigest, token_id: row.id, retires_at: null })
            .execute();
          await record(tx, ctx, { event: 'token.created', row, at: now, meta }, {}, null);
          // A cached miss for this digest (someone tried it before it existed) must go.
          return { result: undefined, notices: [tokenChanged(row.workspace_id, [row.id], [secretDigest])] };
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw badField('name', 'A token with this name already exists', 'conflict');
        throw error;
      }
      return { ...tokenView(row, now), token: secret };
    },

    async list(ctx, page, { status, name, scope, external_id }) {
      const now = clock();
      let query = db.selectFrom('tokens').where('workspace_id', '=', ctx.workspace.id);
      if (name !== undefined && name !== '') {
        const pattern = `%${escapeLike(name.toLowerCase())}%`;
        query = query.where(sql<boolean>`name_lower like ${pattern} escape '\\'`);
      }
      if (external_id !== undefined) query = query.where('external_id', '=', external_id);
      // Scopes are a JSON array of strings: look for the element quoted as JSON quotes it, case
      // sensitively on both databases (SQLite's LIKE is not), hence replace() rather than LIKE.
      if (scope !== undefined) {
        query = query.where(sql<boolean>`replace(scopes, ${JSON.stringify(scope)}, '') <> scopes`);
      }
      if (status === 'revoked') query = query.where('revoked_at', 'is not', null);
      if (status === 'expired') query = query.where('revoked_at', 'is', null).where('expires_at', '<=', now);
      if (status === 'active') {
        query = query
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
      }
      const found = await paginate(
        query,
        (q) => q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
        page,
      );
      return { rows: found.rows.map((row) => tokenView(row, now)), total: found.total };
    },

    async get(ctx, id) {
      return tokenView(await find(ctx.workspace.id, id), clock());
    },

    async revoke(ctx, id, meta) {
      const row = await find(ctx.workspace.id, id);
      if (row.revoked_at !== null) return; // idempotent: no second entry or event
      const now = clock();
      await commitAndNotify(db, notifier, async (tx) => {
        // Revoked concurrently: that revocation wrote the entry and told the caches.
        if (!(await markRevoked(tx, row.id, now))) return { result: undefined, notices: [] };
        return { result: undefined, notices: await recordRevoked(tx, ctx, row, now, meta) };
      });
    },

    async rotate(ctx, id, graceSeconds, meta) {
      const row = await find(ctx.workspace.id, id);
      // Rotating hands over a working secret: like creating, a token may not obtain more power.
      assertNoEscalation(ctx, decodeScopes(row.scopes), 'rotate a token with');
      assertNotOutlived(ctx, row.expires_at);
      const now = clock();
      const status = tokenStatus({ revokedAt: row.revoked_at, expiresAt: row.expires_at }, now);
      if (status !== 'active') throw new AppError('conflict', `A ${status} token cannot be rotated`);
      const secret = generateSecret('token');
      const secretDigest = digest(secret);
      const rotated: TokensTable = { ...row, hint: hint(secret), rotated_at: now };
      await commitAndNotify(db, notifier, async (tx) => {
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
        const old = await secretsOf(tx, row.id);
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
          ctx,
          { event: 'token.rotated', row: rotated, at: now, meta },
          { rotated_at: rotatedAt },
          {
            rotated_at: { from: isoOrNull(row.rotated_at), to: rotatedAt },
            ...(graceSeconds > 0 ? { grace_period_seconds: { from: null, to: graceSeconds } } : {}),
          },
        );
        return {
          result: undefined,
          notices: [tokenChanged(row.workspace_id, [row.id], [...old, secretDigest])],
        };
      });
      return { ...tokenView(rotated, now), token: secret };
    },

    async findLive(secret) {
      return findLiveToken(db, digest(secret), clock());
    },

    async recordLeak(found, revoke, meta) {
      const now = clock();
      await commitAndNotify(db, notifier, async (tx) => {
        const row = await tx
          .selectFrom('tokens')
          .selectAll()
          .where('workspace_id', '=', found.workspaceId)
          .where('id', '=', found.id)
          .executeTakeFirst();
        const live =
          row !== undefined &&
          tokenStatus({ revokedAt: row.revoked_at, expiresAt: row.expires_at }, now) === 'active';
        // Dead since it was found, or revoked by a concurrent report: a dead secret is no news.
        if (!live || (revoke && !(await markRevoked(tx, row.id, now)))) {
          return { result: undefined, notices: [] };
        }
        await audit.record(tx, {
          workspaceId: found.workspaceId,
          event: 'token.leaked',
          actor: SYSTEM_ACTOR,
          target: { type: 'token', id: row.id, name: row.name },
          meta,
        });
        if (!revoke) return { result: undefined, notices: [] };
        const by: SystemContext = { workspace: { id: found.workspaceId }, principal: null };
        return { result: undefined, notices: await recordRevoked(tx, by, row, now, meta) };
      });
    },
  };
}
