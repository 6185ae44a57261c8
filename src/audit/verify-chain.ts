import type { Db } from '../db/schema.js';
import { chainHash } from './chain.js';
import { walkAscending } from './query.js';
import { chainedFields } from './service.js';

export interface ChainReport {
  ok: boolean;
  checked: number;
  first_broken_id?: string;
}

/**
 * Walks a workspace's retained chain oldest first (docs/audit.md#hash-chain). The oldest retained entry's
 * `prev_hash` is the anchor (retention cut what came before); from there each entry must hash to
 * its stored `hash` and name the previous entry's hash as its `prev_hash`. The chain's head row
 * (`audit_heads`, written with every entry) then shows whether its newest entries were altered or
 * cut off: the entry at the head's position must exist and carry the head's hash.
 */
export async function verifyChain(db: Db, workspaceId: string): Promise<ChainReport> {
  // Read before the walk: entries appended meanwhile come after it and are walked too.
  const head = await db
    .selectFrom('audit_heads')
    .select(['seq', 'hash'])
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  const headSeq = head === undefined ? null : Number(head.seq);
  // Retention deletes a prefix of the chain, in `seq` order: if nothing older than `seq` is left,
  // a gap before it is retention's cut (perhaps made while this walk was under way), not tampering.
  const nothingBefore = async (seq: number) =>
    (await db
      .selectFrom('audit_log')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('seq', '<', seq)
      .limit(1)
      .executeTakeFirst()) === undefined;
  let checked = 0;
  let previous: { id: string; seq: number; hash: string } | null = null;
  for await (const row of walkAscending(db, workspaceId, {})) {
    const seq = Number(row.seq);
    const linked = previous === null || row.prev_hash === previous.hash || (await nothingBefore(seq));
    const atHead = seq !== headSeq || row.hash === head?.hash;
    if (!linked || !atHead || chainHash(row.prev_hash, chainedFields(row)) !== row.hash) {
      return { ok: false, checked, first_broken_id: row.id };
    }
    checked += 1;
    previous = { id: row.id, seq, hash: row.hash };
  }
  // The newest entries are missing unless retention has since removed everything up to the head.
  if (
    previous !== null &&
    headSeq !== null &&
    previous.seq < headSeq &&
    !(await nothingBefore(headSeq + 1))
  ) {
    return { ok: false, checked: checked - 1, first_broken_id: previous.id };
  }
  return { ok: true, checked };
}
