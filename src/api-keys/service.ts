import type { AuditService, RequestMeta } from '../audit/service.js';
import { digest, generateSecret, hint, newId } from '../auth/credentials.js';
import { isAllowed } from '../auth/permissions.js';
import { actorOf, creatorOf, type Principal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { isUniqueViolation } from '../db/database.js';
import { countRows } from '../db/paginate.js';
import type { ApiKeysTable, Db, Role, Tx } from '../db/schema.js';
import { badField, forbidden, notFound } from '../errors.js';

export interface ApiKeyView
  extends Omit<ApiKeysTable, 'digest' | 'name_lower' | 'role' | 'workspace_id' | 'created_by_id'> {
  role: Role;
}

/** The caller inside a workspace, as the API key rules need it. */
export interface KeyCaller {
  principal: Principal;
  workspaceId: string;
  role: Role;
  /** The user behind the caller (session or personal key); null for a team key. */
  userId: string | null;
}

export interface ApiKeyService {
  list(caller: KeyCaller, page: number, perPage: number): Promise<{ rows: ApiKeyView[]; total: number }>;
  create(
    caller: KeyCaller,
    input: { name: string; kind: 'personal' | 'team'; role?: 'admin' | 'viewer' | undefined },
    meta: RequestMeta,
  ): Promise<{ key: ApiKeyView; secret: string }>;
  regenerate(caller: KeyCaller, id: string, meta: RequestMeta): Promise<{ key: ApiKeyView; secret: string }>;
  remove(caller: KeyCaller, id: string, meta: RequestMeta): Promise<void>;
}

const isOwner = (caller: KeyCaller) => isAllowed({ via: 'api_key', role: caller.role }, 'api_keys.team');

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

  const toView = (row: ApiKeysTable & { member_role: Role | null }): ApiKeyView => ({
    id: row.id,
    name: row.name,
    kind: row.kind,
    role: (row.kind === 'team' ? row.role : row.member_role) ?? 'viewer',
    user_id: row.user_id,
    hint: row.hint,
    created_at: row.created_at,
    created_by: row.created_by,
    last_used_at: row.last_used_at,
  });

  /** A key the caller may see: all team keys, their own personal keys, and (Owner) everyone's. */
  const findVisible = async (caller: KeyCaller, id: string) => {
    const row = await rows(caller.workspaceId)
      .selectAll('api_keys')
      .select('members.role as member_role')
      .where('api_keys.id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw notFound('API key');
    if (row.kind === 'personal' && row.user_id !== caller.userId && !isOwner(caller))
      throw notFound('API key');
    return row;
  };

  const record = (
    tx: Tx,
    caller: KeyCaller,
    event: string,
    key: { id: string; name: string },
    meta: RequestMeta,
  ) =>
    audit.record(tx, {
      workspaceId: caller.workspaceId,
      event,
      actor: actorOf(caller.principal),
      target: { type: 'api_key', id: key.id, name: key.name },
      meta,
    });

  return {
    async list(caller, page, perPage) {
      let query = rows(caller.workspaceId);
      if (!isOwner(caller)) {
        query = query.where((eb) =>
          eb.or([eb('api_keys.kind', '=', 'team'), eb('api_keys.user_id', '=', caller.userId ?? '')]),
        );
      }
      const [found, count] = await Promise.all([
        query
          .selectAll('api_keys')
          .select('members.role as member_role')
          .orderBy('api_keys.created_at', 'desc')
          .orderBy('api_keys.id', 'desc')
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute(),
        countRows(query),
      ]);
      return { rows: found.map(toView), total: count };
    },

    async create(caller, input, meta) {
      if (input.kind === 'team' && !isOwner(caller))
        throw forbidden('Only an Owner can create team API keys');
      if (input.kind === 'personal') {
        if (input.role !== undefined) {
          throw badField('role', 'A personal key acts with its member’s role; role is only for team keys');
        }
        if (caller.userId === null) throw forbidden('A team API key cannot create personal keys');
      }
      const secret = generateSecret('api_key');
      const creator = creatorOf(caller.principal);
      const row: ApiKeysTable = {
        id: newId('key'),
        workspace_id: caller.workspaceId,
        name: input.name,
        name_lower: input.name.toLowerCase(),
        kind: input.kind,
        role: input.kind === 'team' ? (input.role ?? 'admin') : null,
        user_id: input.kind === 'personal' ? caller.userId : null,
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
          await record(tx, caller, 'api_key.created', row, meta);
          return { result: undefined, notices: [{ type: 'credentials.changed', digests: [row.digest] }] };
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw badField('name', 'An API key with this name already exists', 'conflict');
        throw error;
      }
      return { key: toView({ ...row, member_role: caller.role }), secret };
    },

    async regenerate(caller, id, meta) {
      const row = await findVisible(caller, id);
      if (row.kind === 'team' && !isOwner(caller))
        throw forbidden('Only an Owner can regenerate team API keys');
      if (row.kind === 'personal' && row.user_id !== caller.userId) {
        throw forbidden('Only its owner can regenerate a personal API key');
      }
      const secret = generateSecret('api_key');
      const next = { digest: digest(secret), hint: hint(secret), last_used_at: null };
      // The old secret answers 401 from this commit on, on every node.
      await commitAndNotify(db, notifier, async (tx) => {
        await tx.updateTable('api_keys').set(next).where('id', '=', row.id).execute();
        await record(tx, caller, 'api_key.regenerated', row, meta);
        return {
          result: undefined,
          notices: [{ type: 'credentials.changed', digests: [row.digest, next.digest] }],
        };
      });
      return { key: toView({ ...row, ...next }), secret };
    },

    async remove(caller, id, meta) {
      const row = await findVisible(caller, id);
      if (row.kind === 'team' && !isOwner(caller)) throw forbidden('Only an Owner can delete team API keys');
      await commitAndNotify(db, notifier, async (tx) => {
        await tx.deleteFrom('api_keys').where('id', '=', row.id).execute();
        await record(tx, caller, 'api_key.deleted', row, meta);
        return { result: undefined, notices: [{ type: 'credentials.changed', digests: [row.digest] }] };
      });
    },
  };
}
