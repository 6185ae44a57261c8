import type { AuditService, RequestMeta } from '../audit/service.js';
import { actorFor, SYSTEM_ACTOR, type SystemContext, type WorkspaceContext } from '../auth/context.js';
import { digest, generateSecret, hint } from '../auth/credentials.js';
import { isAllowed } from '../auth/permissions.js';
import { creatorOf } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { commitAndNotify, type Notice, type Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { ApiKeysTable, Db, Tx } from '../db/schema.js';
import { badField, forbidden, notFound } from '../errors.js';
import type { EventName } from '../events/catalog.js';
import { newId } from '../ids.js';
import { type ApiKeyView, apiKeyView } from './view.js';

/** A key as the API returns it once, with its secret. */
export type ApiKeyWithSecret = ApiKeyView & { key: string };

export interface ApiKeyService {
  list(ctx: WorkspaceContext, page: PageRequest): Promise<PageOf<ApiKeyView>>;
  create(
    ctx: WorkspaceContext,
    input: { name: string; kind: 'personal' | 'team'; role?: 'admin' | 'viewer' | undefined },
    meta: RequestMeta,
  ): Promise<ApiKeyWithSecret>;
  regenerate(ctx: WorkspaceContext, id: string, meta: RequestMeta): Promise<ApiKeyWithSecret>;
  remove(ctx: WorkspaceContext, id: string, meta: RequestMeta): Promise<void>;
  /** The key a secret opens (no cache: a report must see the database), or null. */
  findLive(secret: string): Promise<{ id: string; workspaceId: string } | null>;
  /**
   * Records that a key's secret leaked (`api_key.leaked`, by the system) and, when asked, deletes
   * the key in the same transaction, as `DELETE /api-keys/{id}` does (docs/tokens.md#leaked-secrets).
   */
  recordLeak(found: { id: string; workspaceId: string }, revoke: boolean, meta: RequestMeta): Promise<void>;
}

const isOwner = (ctx: WorkspaceContext) => isAllowed(ctx, 'api_keys.team');

export function createApiKeyService({
  db,
  clock,
  audit,
  notifier,
}: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  notifier: Notifier;
}): ApiKeyService {
  const rows = (workspaceId: string) =>
    db
      .selectFrom('api_keys')
      .leftJoin('members', (join) =>
        join
          .onRef('members.workspace_id', '=', 'api_keys.workspace_id')
          .onRef('members.user_id', '=', 'api_keys.user_id'),
      )
      .where('api_keys.workspace_id', '=', workspaceId);

  /** A key the ctx may see: all team keys, their own personal keys, and (Owner) everyone's. */
  const findVisible = async (ctx: WorkspaceContext, id: string) => {
    const row = await rows(ctx.workspace.id)
      .selectAll('api_keys')
      .select('members.role as member_role')
      .where('api_keys.id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw notFound('API key');
    if (row.kind === 'personal' && row.user_id !== ctx.userId && !isOwner(ctx)) throw notFound('API key');
    return row;
  };

  const record = (
    tx: Tx,
    ctx: WorkspaceContext | SystemContext,
    event: EventName,
    key: { id: string; name: string },
    meta: RequestMeta,
  ) =>
    audit.record(tx, {
      workspaceId: ctx.workspace.id,
      event,
      actor: actorFor(ctx),
      target: { type: 'api_key', id: key.id, name: key.name },
      meta,
    });

  /** Deletes a key inside `tx`; false when it was already gone. */
  const deleteIn = async (tx: Tx, keyId: string) =>
    Number((await tx.deleteFrom('api_keys').where('id', '=', keyId).executeTakeFirst()).numDeletedRows) > 0;

  /** The entry of a deletion just made, and the notice that ends the key on every node. */
  const recordDeleted = async (
    tx: Tx,
    ctx: WorkspaceContext | SystemContext,
    row: ApiKeysTable,
    meta: RequestMeta,
  ): Promise<Notice[]> => {
    await record(tx, ctx, 'api_key.deleted', row, meta);
    return [{ type: 'credentials.changed', digests: [row.digest] }];
  };

  return {
    async list(ctx, page) {
      let query = rows(ctx.workspace.id);
      if (!isOwner(ctx)) {
        query = query.where((eb) =>
          eb.or([eb('api_keys.kind', '=', 'team'), eb('api_keys.user_id', '=', ctx.userId ?? '')]),
        );
      }
      const found = await paginate(
        query,
        (q) =>
          q
            .selectAll('api_keys')
            .select('members.role as member_role')
            .orderBy('api_keys.created_at', 'desc')
            .orderBy('api_keys.id', 'desc'),
        page,
      );
      return { rows: found.rows.map(apiKeyView), total: found.total };
    },

    async create(ctx, input, meta) {
      if (input.kind === 'team' && !isOwner(ctx)) throw forbidden('Only an Owner can create team API keys');
      if (input.kind === 'personal') {
        if (input.role !== undefined) {
          throw badField('role', 'A personal key acts with its member’s role; role is only for team keys');
        }
        if (ctx.userId === null) throw forbidden('A team API key cannot create personal keys');
      }
      const secret = generateSecret('api_key');
      const creator = creatorOf(ctx.principal);
      const row: ApiKeysTable = {
        id: newId('key'),
        workspace_id: ctx.workspace.id,
        name: input.name,
        name_lower: input.name.toLowerCase(),
        kind: input.kind,
        role: input.kind === 'team' ? (input.role ?? 'admin') : null,
        user_id: input.kind === 'personal' ? ctx.userId : null,
        digest: digest(secret),
        hint: hint(secret),
        created_at: clock(),
        created_by: creator.name,
        created_by_id: creator.id,
        last_used_at: null,
      };
      try {
        // A remembered miss for the new digest (tried before it existed) must go.
        await commitAndNotify(db, notifier, async (tx) => {
          await tx.insertInto('api_keys').values(row).execute();
          await record(tx, ctx, 'api_key.created', row, meta);
          return { result: undefined, notices: [{ type: 'credentials.changed', digests: [row.digest] }] };
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw badField('name', 'An API key with this name already exists', 'conflict');
        throw error;
      }
      return { ...apiKeyView({ ...row, member_role: ctx.role }), key: secret };
    },

    async regenerate(ctx, id, meta) {
      const row = await findVisible(ctx, id);
      if (row.kind === 'team' && !isOwner(ctx)) throw forbidden('Only an Owner can regenerate team API keys');
      if (row.kind === 'personal' && row.user_id !== ctx.userId) {
        throw forbidden('Only its owner can regenerate a personal API key');
      }
      const secret = generateSecret('api_key');
      const next = { digest: digest(secret), hint: hint(secret), last_used_at: null };
      // The old secret answers 401 from this commit on, on every node.
      await commitAndNotify(db, notifier, async (tx) => {
        await tx.updateTable('api_keys').set(next).where('id', '=', row.id).execute();
        await record(tx, ctx, 'api_key.regenerated', row, meta);
        return {
          result: undefined,
          notices: [{ type: 'credentials.changed', digests: [row.digest, next.digest] }],
        };
      });
      return { ...apiKeyView({ ...row, ...next }), key: secret };
    },

    async remove(ctx, id, meta) {
      const row = await findVisible(ctx, id);
      if (row.kind === 'team' && !isOwner(ctx)) throw forbidden('Only an Owner can delete team API keys');
      await commitAndNotify(db, notifier, async (tx) => {
        await deleteIn(tx, row.id);
        return { result: undefined, notices: await recordDeleted(tx, ctx, row, meta) };
      });
    },

    async findLive(secret) {
      const row = await db
        .selectFrom('api_keys')
        .select(['id', 'workspace_id'])
        .where('digest', '=', digest(secret))
        .executeTakeFirst();
      return row === undefined ? null : { id: row.id, workspaceId: row.workspace_id };
    },

    async recordLeak(found, revoke, meta) {
      await commitAndNotify(db, notifier, async (tx) => {
        const row = await tx
          .selectFrom('api_keys')
          .selectAll()
          .where('workspace_id', '=', found.workspaceId)
          .where('id', '=', found.id)
          .executeTakeFirst();
        // Deleted since it was found, or by a concurrent report: a dead secret is no news.
        if (row === undefined || (revoke && !(await deleteIn(tx, row.id)))) {
          return { result: undefined, notices: [] };
        }
        const by: SystemContext = { workspace: { id: found.workspaceId }, principal: null };
        await audit.record(tx, {
          workspaceId: found.workspaceId,
          event: 'api_key.leaked',
          actor: SYSTEM_ACTOR,
          target: { type: 'api_key', id: row.id, name: row.name },
          meta,
        });
        return { result: undefined, notices: revoke ? await recordDeleted(tx, by, row, meta) : [] };
      });
    },
  };
}
