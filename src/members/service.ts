import type { AuditService, RequestMeta } from '../audit/service.js';
import type { WorkspaceContext } from '../auth/context.js';
import { actorOf } from '../auth/principal.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { Db, Executor, Role, Tx } from '../db/schema.js';
import { AppError, forbidden, notFound } from '../errors.js';
import type { InvitationService } from '../invitations/service.js';
import { lockWorkspace } from '../workspaces/lock.js';
import { type MemberView, memberView } from './view.js';

export interface MemberService {
  list(ctx: WorkspaceContext, page: PageRequest): Promise<PageOf<MemberView>>;
  changeRole(ctx: WorkspaceContext, userId: string, role: Role, meta: RequestMeta): Promise<MemberView>;
  remove(ctx: WorkspaceContext, userId: string, meta: RequestMeta): Promise<void>;
}

/** A member row as read, before it is shown. */
type MemberRow = Omit<MemberView, 'joined_at'> & { joined_at: number };

const personalKeyDigests = async (tx: Tx, workspaceId: string, userId: string) =>
  (
    await tx
      .selectFrom('api_keys')
      .select('digest')
      .where('workspace_id', '=', workspaceId)
      .where('user_id', '=', userId)
      .execute()
  ).map((row) => row.digest);

export function createMemberService({
  db,
  audit,
  notifier,
  invitations,
}: {
  db: Db;
  audit: AuditService;
  notifier: Notifier;
  invitations: Pick<InvitationService, 'revokeStaleSentBy'>;
}): MemberService {
  const members = (workspaceId: string, executor: Executor = db) =>
    executor
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .where('members.workspace_id', '=', workspaceId);
  const columns = [
    'members.user_id',
    'users.email',
    'users.name',
    'members.role',
    'members.joined_at',
  ] as const;

  const find = async (workspaceId: string, userId: string, executor: Executor = db): Promise<MemberRow> => {
    const row = await members(workspaceId, executor)
      .select(columns)
      .where('members.user_id', '=', userId)
      .executeTakeFirst();
    if (row === undefined) throw notFound('Member');
    return row;
  };

  /**
   * The first step of every member change: touching the workspace row serialises concurrent member
   * changes of one workspace, and the member is read again under that lock, so two Owners cannot
   * demote each other at the same moment and the audited old role is the one really replaced.
   */
  const lockAndFind = async (tx: Tx, workspaceId: string, userId: string): Promise<MemberRow> => {
    await lockWorkspace(tx, workspaceId);
    return find(workspaceId, userId, tx);
  };

  /** Inside the change's locked transaction: refuses to leave the workspace without an Owner (docs/workspaces.md#members). */
  const assertAnotherOwner = async (tx: Tx, workspaceId: string, userId: string) => {
    const owners = await tx
      .selectFrom('members')
      .select('user_id')
      .where('workspace_id', '=', workspaceId)
      .where('role', '=', 'owner')
      .where('user_id', '!=', userId)
      .limit(1)
      .execute();
    if (owners.length === 0) throw new AppError('conflict', 'A workspace must keep at least one Owner');
  };

  return {
    async list(ctx, page) {
      const found = await paginate(
        members(ctx.workspace.id),
        (q) => q.select(columns).orderBy('members.joined_at', 'desc').orderBy('members.user_id', 'desc'),
        page,
      );
      return { rows: found.rows.map(memberView), total: found.total };
    },

    async changeRole(ctx, userId, role, meta) {
      return commitAndNotify(db, notifier, async (tx) => {
        const member = await lockAndFind(tx, ctx.workspace.id, userId);
        if (member.role === role) return { result: memberView(member), notices: [] };
        if (member.role === 'owner') await assertAnotherOwner(tx, ctx.workspace.id, userId);
        await tx
          .updateTable('members')
          .set({ role })
          .where('workspace_id', '=', ctx.workspace.id)
          .where('user_id', '=', userId)
          .execute();
        await audit.record(tx, {
          workspaceId: ctx.workspace.id,
          event: 'member.role_changed',
          actor: actorOf(ctx.principal),
          target: { type: 'member', id: userId, name: member.email },
          changes: { role: { from: member.role, to: role } },
          meta,
        });
        await invitations.revokeStaleSentBy(tx, ctx, { userId, email: member.email }, meta);
        // Their personal keys act with the new role from this commit on, on every node.
        const keys = await personalKeyDigests(tx, ctx.workspace.id, userId);
        return {
          result: memberView({ ...member, role }),
          notices: [{ type: 'credentials.changed', digests: keys }],
        };
      });
    },

    async remove(ctx, userId, meta) {
      const leaving = ctx.userId === userId;
      if (!leaving && ctx.role !== 'owner') throw forbidden('Only an Owner can remove other members');
      await commitAndNotify(db, notifier, async (tx) => {
        const member = await lockAndFind(tx, ctx.workspace.id, userId);
        if (member.role === 'owner') await assertAnotherOwner(tx, ctx.workspace.id, userId);
        const keys = await tx
          .selectFrom('api_keys')
          .select(['id', 'name', 'digest'])
          .where('workspace_id', '=', ctx.workspace.id)
          .where('user_id', '=', userId)
          .orderBy('created_at')
          .orderBy('id')
          .execute();
        await tx
          .deleteFrom('members')
          .where('workspace_id', '=', ctx.workspace.id)
          .where('user_id', '=', userId)
          .execute();
        // Personal keys follow their member: from this commit on they answer 401 (docs/permissions.md#api-keys).
        await tx
          .deleteFrom('api_keys')
          .where('workspace_id', '=', ctx.workspace.id)
          .where('user_id', '=', userId)
          .execute();
        await audit.record(tx, {
          workspaceId: ctx.workspace.id,
          event: 'member.removed',
          actor: actorOf(ctx.principal),
          target: { type: 'member', id: userId, name: member.email },
          changes: { role: { from: member.role, to: null } },
          meta,
        });
        // Each key deleted with its member is audited as if deleted on its own (docs/audit.md#events).
        for (const key of keys) {
          await audit.record(tx, {
            workspaceId: ctx.workspace.id,
            event: 'api_key.deleted',
            actor: actorOf(ctx.principal),
            target: { type: 'api_key', id: key.id, name: key.name },
            meta,
          });
        }
        await invitations.revokeStaleSentBy(tx, ctx, { userId, email: member.email }, meta);
        const digests = keys.map((key) => key.digest);
        return { result: undefined, notices: [{ type: 'credentials.changed', digests }] };
      });
    },
  };
}
