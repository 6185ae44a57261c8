import { isAllowed } from '../auth/permissions.js';
import type { InvitationsTable, Tx } from '../db/schema.js';

/**
 * An invitation is only as good as its inviter's standing (docs/workspaces.md#an-invitation-lasts-as-long-as-its-inviter): it is
 * honoured while whoever sent it is still a member allowed to invite with that role.
 */

/** Who sent an invitation: their user id, or, for invitations older than that column, their email. */
type Sender = Pick<InvitationsTable, 'workspace_id' | 'invited_by' | 'invited_by_id'>;

export async function inviterMayGrant(tx: Tx, invitation: Sender): Promise<boolean> {
  const inviter = await tx
    .selectFrom('members')
    .innerJoin('users', 'users.id', 'members.user_id')
    .select('members.role')
    .where('members.workspace_id', '=', invitation.workspace_id)
    .where(
      invitation.invited_by_id === null
        ? (eb) => eb('users.email', '=', invitation.invited_by)
        : (eb) => eb('members.user_id', '=', invitation.invited_by_id),
    )
    .executeTakeFirst();
  // Inviting is the one way to grant a role; today only Owners may, whatever the role granted.
  return inviter !== undefined && isAllowed({ via: 'session', role: inviter.role }, 'members.manage');
}

/** The still-usable invitations a member sent, matched like `inviterMayGrant` matches them. */
export function pendingSentBy(
  tx: Tx,
  workspaceId: string,
  member: { userId: string; email: string },
  now: number,
) {
  return tx
    .selectFrom('invitations')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .where((eb) =>
      eb.or([
        eb('invited_by_id', '=', member.userId),
        eb.and([eb('invited_by_id', 'is', null), eb('invited_by', '=', member.email)]),
      ]),
    )
    .execute();
}
