import type { Tx } from '../db/schema.js';

/**
 * Takes the workspace row's lock for the rest of the transaction (PostgreSQL; SQLite has one
 * writer anyway), so membership and invitation changes of one workspace happen one at a time:
 * no two pending links for one address, no workspace left without an Owner, no invitation
 * issued to someone who is joining at that moment.
 */
export async function lockWorkspace(tx: Tx, workspaceId: string): Promise<void> {
  await tx
    .updateTable('workspaces')
    .set((eb) => ({ id: eb.ref('id') }))
    .where('id', '=', workspaceId)
    .execute();
}
