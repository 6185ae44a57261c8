import type { AuditService, Changes, RequestMeta } from '../audit/service.js';
import type { User } from '../auth/sessions.js';
import type { Tx } from '../db/schema.js';
import type { EventName } from '../events/catalog.js';

/**
 * A change to a person's own account, recorded in every workspace they belong to (each workspace's
 * Owners and Admins see what happens to their members' sign-in), inside the change's transaction.
 */
export async function recordInEveryWorkspace(
  tx: Tx,
  audit: AuditService,
  input: { user: User; event: EventName; changes?: Changes | null; meta: RequestMeta },
): Promise<void> {
  const { user } = input;
  const memberships = await tx
    .selectFrom('members')
    .select('workspace_id')
    .where('user_id', '=', user.id)
    .orderBy('workspace_id')
    .execute();
  for (const { workspace_id: workspaceId } of memberships) {
    await audit.record(tx, {
      workspaceId,
      event: input.event,
      actor: { type: 'user', id: user.id, name: user.email },
      target: { type: 'member', id: user.id, name: user.email },
      changes: input.changes ?? null,
      meta: input.meta,
    });
  }
}
