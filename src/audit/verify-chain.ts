import type { Db } from '../db/schema.js';
import { chainHash, GENESIS_HASH } from './chain.js';
import { walkAscending } from './query.js';
import { chainedFields } from './service.js';

export interface ChainReport {
  ok: boolean;
  checked: number;
  /** Absent when nothing is left to name: the entries the head vouches for are all gone. */
  first_broken_id?: string;
}

interface Link {
  seq: number;
  hash: string;
}

/** The chain's head (its newest entry) and its anchor (where retention last cut it). */
interface Head extends Link {
  anchor: Link;
}

/** A workspace that never wrote an entry vouches for none. */
const NO_HEAD: Head = { seq: 0, hash: GENESIS_HASH, anchor: { seq: 0, hash: GENESIS_HASH } };

async function readHead(db: Db, workspaceId: string): Promise<Head> {
  const row = await db
    .selectFrom('audit_heads')
    .select(['seq', 'hash', 'anchor_seq', 'anchor_hash'])
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (row === undefined) return NO_HEAD;
  return {
    seq: Number(row.seq),
    hash: row.hash,
    anchor: { seq: Number(row.anchor_seq), hash: row.anchor_hash },
  };
}

const follows = (row: { seq: number; prev_hash: string }, link: Link) =>
  row.seq === link.seq + 1 && row.prev_hash === link.hash;

/** Whether any entry at or before `seq` is still stored: after retention cut through `seq`, none may be. */
async function anyEntryThrough(db: Db, workspaceId: string, seq: number): Promise<boolean> {
  const row = await db
    .selectFrom('audit_log')
    .select('seq')
    .where('workspace_id', '=', workspaceId)
    .where('seq', '<=', seq)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Walks a workspace's retained chain oldest first (docs/audit.md#hash-chain). The oldest retained
 * entry must follow the anchor that retention recorded when it last cut the chain (the genesis
 * hash if it never did); from there each entry must hash to its stored `hash` and follow the
 * previous one. The head (`audit_heads`, written with every entry) vouches for the newest
 * entries: every entry up to it must be there, the one at its position must carry its hash, and
 * none may lie beyond it. So deleting entries at the start, in the middle or at the end, wiping
 * the chain, or moving its head are all breaks; only retention's recorded cut is not.
 */
export async function verifyChain(db: Db, workspaceId: string): Promise<ChainReport> {
  // Everything up to this head was committed before the walk begins, so the walk must meet it.
  const start = await readHead(db, workspaceId);
  let head = start;
  let checked = 0;
  let previous: { id: string; seq: number; hash: string } | null = null;
  // Where retention cut the chain while the walk ran, past entries the walk had already read.
  let cutThrough = 0;
  for await (const entry of walkAscending(db, workspaceId, {})) {
    const row = { seq: Number(entry.seq), prev_hash: entry.prev_hash };
    if (row.seq <= cutThrough) continue;
    // Appended while walking: vouched for by the head as it is now.
    if (row.seq > head.seq) head = await readHead(db, workspaceId);
    let linked = follows(row, previous ?? head.anchor);
    if (!linked) {
      // Retention may have cut the chain while walking, ahead of the walk: then this entry follows
      // its new anchor; or the cut passed this entry after the walk read it, and it is gone by now
      // with everything before it (an entry left behind the cut was not removed by retention).
      head = await readHead(db, workspaceId);
      if (row.seq <= head.anchor.seq && !(await anyEntryThrough(db, workspaceId, head.anchor.seq))) {
        cutThrough = head.anchor.seq;
        continue;
      }
      linked = follows(row, head.anchor);
    }
    const vouched = row.seq < head.seq || (row.seq === head.seq && entry.hash === head.hash);
    if (!linked || !vouched || chainHash(entry.prev_hash, chainedFields(entry)) !== entry.hash) {
      return { ok: false, checked, first_broken_id: entry.id };
    }
    checked += 1;
    previous = { id: entry.id, seq: row.seq, hash: entry.hash };
  }
  // Entries up to the starting head are missing, unless retention has since cut that far.
  if ((previous?.seq ?? start.anchor.seq) < start.seq) {
    const { anchor } = await readHead(db, workspaceId);
    const cutPastStart = anchor.seq > start.seq || (anchor.seq === start.seq && anchor.hash === start.hash);
    if (!cutPastStart) {
      return previous === null
        ? { ok: false, checked }
        : { ok: false, checked: checked - 1, first_broken_id: previous.id };
    }
  }
  return { ok: true, checked };
}
