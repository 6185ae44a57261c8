import { type AuditService, type RequestMeta, SYSTEM_META } from '../audit/service.js';
import type { WorkspaceContext } from '../auth/context.js';
import { digest, randomSecret } from '../auth/credentials.js';
import { type Actor, actorOf, creatorOf } from '../auth/principal.js';
import { seal, unseal } from '../auth/sealing.js';
import type { SessionPrincipal } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/database.js';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { Db, InvitationsTable, Role, Tx } from '../db/schema.js';
import { queueInvitationEmail } from '../email/outbox.js';
import { AppError, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { lockWorkspace } from '../workspaces/lock.js';
import { inviterMayGrant, pendingSentBy } from './inviter.js';
import { type InvitationView, invitationView } from './view.js';

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface InvitationService {
  list(ctx: WorkspaceContext, page: PageRequest): Promise<PageOf<InvitationView>>;
  create(
    ctx: WorkspaceContext,
    input: { email: string; role: Role },
    meta: RequestMeta,
  ): Promise<InvitationView>;
  revoke(ctx: WorkspaceContext, id: string, meta: RequestMeta): Promise<void>;
  accept(
    session: SessionPrincipal,
    secret: string,
    meta: RequestMeta,
  ): Promise<{ id: string; name: string; slug: string; role: Role }>;
  /**
   * Inside a member's removal or role change, once made: revokes each pending invitation the member
   * sent that they may no longer grant, audited, so no link outlives its inviter's standing.
   */
  revokeStaleSentBy(
    tx: Tx,
    ctx: WorkspaceContext,
    member: { userId: string; email: string },
    meta: RequestMeta,
  ): Promise<void>;
  /** The link of a pending invitation, for the email sender. */
  acceptUrl(invitation: Pick<InvitationsTable, 'secret_sealed'>): string | null;
}

export function createInvitationService({
  db,
  clock,
  audit,
  serverKey,
  publicUrl,
}: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  serverKey: Buffer;
  publicUrl: string;
}): InvitationService {
  const acceptUrl = (row: Pick<InvitationsTable, 'secret_sealed'>): string | null =>
    row.secret_sealed === null
      ? null
      : `${publicUrl}/invitations/accept?token=${encodeURIComponent(unseal(row.secret_sealed, serverKey))}`;

  /** Only Owners see a pending invitation's link (they may pass it on when no email is sent). */
  const view = (row: InvitationsTable, owner: boolean): InvitationView =>
    invitationView(row, owner ? acceptUrl(row) : null);

  /** Ends one invitation if it is still pending, with its audit entry; false when it had ended already. */
  const revokePending = async (
    tx: Tx,
    invitation: Pick<InvitationsTable, 'id' | 'email' | 'workspace_id'>,
    by: { actor: Actor; meta: RequestMeta; now: number },
  ): Promise<boolean> => {
    const ended = await tx
      .updateTable('invitations')
      .set({ status: 'revoked', ended_at: by.now, secret_sealed: null })
      .where('id', '=', invitation.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(ended.numUpdatedRows) === 0) return false;
    await audit.record(tx, {
      workspaceId: invitation.workspace_id,
      event: 'invitation.revoked',
      actor: by.actor,
      target: { type: 'invitation', id: invitation.id, name: invitation.email },
      meta: by.meta,
    });
    return true;
  };

  const pending = (workspaceId: string) =>
    db
      .selectFrom('invitations')
      .where('workspace_id', '=', workspaceId)
      .where('status', '=', 'pending')
      .where('expires_at', '>', clock());

  return {
    acceptUrl,

    async list(ctx, page) {
      const found = await paginate(
        pending(ctx.workspace.id),
        (q) => q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
        page,
      );
      return { rows: found.rows.map((row) => view(row, ctx.role === 'owner')), total: found.total };
    },

    async create(ctx, input, meta) {
      const email = input.email.trim().toLowerCase();
      const now = clock();
      const secret = randomSecret();
      const inviter = creatorOf(ctx.principal);
      const row: InvitationsTable = {
        id: newId('inv'),
        workspace_id: ctx.workspace.id,
        email,
        role: input.role,
        digest: digest(secret),
        status: 'pending',
        expires_at: now + INVITATION_TTL_MS,
        invited_by: inviter.name,
        invited_by_id: inviter.id,
        created_at: now,
        secret_sealed: seal(secret, serverKey),
        ended_at: null,
      };
      await db.transaction().execute(async (tx) => {
        // Serialised with other invitations and with joins of this workspace: concurrent invitations
        // of one address cannot leave two pending links, nor one for someone joining right now.
        await lockWorkspace(tx, ctx.workspace.id);
        const member = await tx
          .selectFrom('members')
          .innerJoin('users', 'users.id', 'members.user_id')
          .select('users.id')
          .where('members.workspace_id', '=', ctx.workspace.id)
          .where('users.email', '=', email)
          .executeTakeFirst();
        if (member !== undefined) {
          throw new AppError('conflict', `${email} is already a member of this workspace`);
        }
        // Inviting an address again replaces its pending invitation: the old link dies, and unless
        // it had expired anyway that is audited as its revocation (docs/audit.md#events).
        const replaced = await tx
          .updateTable('invitations')
          .set({ status: 'replaced', ended_at: now, secret_sealed: null })
          .where('workspace_id', '=', ctx.workspace.id)
          .where('email', '=', email)
          .where('status', '=', 'pending')
          .returning(['id', 'expires_at'])
          .execute();
        await tx.insertInto('invitations').values(row).execute();
        for (const old of replaced.filter((invitation) => Number(invitation.expires_at) > now)) {
          await audit.record(tx, {
            workspaceId: ctx.workspace.id,
            event: 'invitation.revoked',
            actor: actorOf(ctx.principal),
            target: { type: 'invitation', id: old.id, name: email },
            changes: { replaced_by: { from: null, to: row.id } },
            meta,
          });
        }
        await audit.record(tx, {
          workspaceId: ctx.workspace.id,
          event: 'member.invited',
          actor: actorOf(ctx.principal),
          target: { type: 'invitation', id: row.id, name: email },
          changes: { role: { from: null, to: input.role } },
          meta,
        });
        await queueInvitationEmail(tx, {
          workspaceId: ctx.workspace.id,
          invitationId: row.id,
          to: email,
          now,
        });
      });
      return view(row, true);
    },

    async revoke(ctx, id, meta) {
      const row = await pending(ctx.workspace.id).selectAll().where('id', '=', id).executeTakeFirst();
      if (row === undefined) throw notFound('Pending invitation');
      const now = clock();
      await db.transaction().execute(async (tx) => {
        // Only while still pending: an accept (or a re-invite) that committed in between wins, and
        // the invitation must not be marked revoked after its member joined.
        const claimed = await tx
          .updateTable('invitations')
          .set({ status: 'revoked', ended_at: now, secret_sealed: null })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) === 0) throw notFound('Pending invitation');
        await audit.record(tx, {
          workspaceId: ctx.workspace.id,
          event: 'invitation.revoked',
          actor: actorOf(ctx.principal),
          target: { type: 'invitation', id: row.id, name: row.email },
          meta,
        });
      });
    },

    async revokeStaleSentBy(tx, ctx, member, meta) {
      const now = clock();
      const actor = actorOf(ctx.principal);
      for (const sent of await pendingSentBy(tx, ctx.workspace.id, member, now)) {
        if (!(await inviterMayGrant(tx, sent))) await revokePending(tx, sent, { actor, meta, now });
      }
    },

    async accept(session, secret, meta) {
      const row = await db
        .selectFrom('invitations')
        .innerJoin('workspaces', 'workspaces.id', 'invitations.workspace_id')
        .selectAll('invitations')
        .select(['workspaces.name as workspace_name', 'workspaces.slug as workspace_slug'])
        .where('invitations.digest', '=', digest(secret))
        .executeTakeFirst();
      const now = clock();
      if (row === undefined) throw new AppError('not_found', 'This invitation link is not valid');
      if (row.status === 'accepted') throw new AppError('not_found', 'This invitation has already been used');
      if (row.status !== 'pending') throw new AppError('not_found', 'This invitation was revoked');
      if (row.expires_at <= now) throw new AppError('not_found', 'This invitation has expired');
      if (row.email !== session.user.email) {
        throw forbidden('This invitation was sent to another email address; sign in with that address');
      }
      let joined: boolean;
      try {
        joined = await db.transaction().execute(async (tx) => {
          await lockWorkspace(tx, row.workspace_id);
          // Under the lock that member changes take, so a removal or demotion of the inviter
          // cannot slip between this check and the join.
          // (When it has ended meanwhile, the claim below says how.)
          if (!(await inviterMayGrant(tx, row))) {
            const actor: Actor = { type: 'system', id: null, name: 'tooken' };
            if (await revokePending(tx, row, { actor, meta: SYSTEM_META, now })) return false;
          }
          const claimed = await tx
            .updateTable('invitations')
            .set({ status: 'accepted', ended_at: now, secret_sealed: null })
            .where('id', '=', row.id)
            .where('status', '=', 'pending')
            .executeTakeFirst();
          if (Number(claimed.numUpdatedRows) === 0)
            throw new AppError('not_found', 'This invitation has already been used');
          await tx
            .insertInto('members')
            .values({
              workspace_id: row.workspace_id,
              user_id: session.user.id,
              role: row.role,
              joined_at: now,
            })
            .execute();
          await audit.record(tx, {
            workspaceId: row.workspace_id,
            event: 'member.joined',
            actor: { type: 'user', id: session.user.id, name: session.user.email },
            target: { type: 'member', id: session.user.id, name: session.user.email },
            changes: { role: { from: null, to: row.role } },
            meta,
          });
          return true;
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw new AppError('conflict', 'You are already a member of this workspace');
        throw error;
      }
      if (!joined) {
        throw new AppError(
          'not_found',
          'This invitation was revoked: whoever sent it may no longer invite people to this workspace',
        );
      }
      return { id: row.workspace_id, name: row.workspace_name, slug: row.workspace_slug, role: row.role };
    },
  };
}
