import { type AuditService, SYSTEM_META } from '../audit/service.js';
import type { Clock } from '../clock.js';
import type { Notice, Notifier } from '../cluster/notifier.js';
import type { Db, TokensTable, Tx } from '../db/schema.js';
import type { EventOutbox } from '../events/outbox.js';
import { tokenChanged } from './changes.js';
import { tokenView } from './view.js';

const DAY_MS = 86_400_000;
const BATCH = 500;

type Marker = 'expired_recorded_at' | 'expiring_7d_at' | 'expiring_1d_at';

export interface SweepResult {
  expired: number;
  expiring: number;
  retiredSecrets: number;
}

/**
 * The periodic sweep behind `token.expired` and `token.expiring` (docs/tokens.md#use-and-expiry). Each event is
 * claimed by a conditional update of its marker column inside the event's own transaction, so it
 * is written exactly once however many nodes sweep at the same moment. Status itself never waits
 * for this: it is computed from the clock at every check.
 */
export function createExpirySweep({
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
  /** Tells change streams that an expired token's answer changed (caches compute expiry anyway). */
  notifier: Notifier;
}) {
  /** Publishes inside `tx`; applied on this node once `tx` committed (by the caller). */
  const changed = async (tx: Tx, workspaceId: string, tokenIds: string[]): Promise<Notice> => {
    const notice = tokenChanged(workspaceId, tokenIds, []);
    await notifier.publish(tx, notice);
    return notice;
  };
  const claimEach = async (
    marker: Marker,
    due: TokensTable[],
    write: (tx: Tx, row: TokensTable, now: number) => Promise<unknown>,
  ): Promise<number> => {
    let written = 0;
    for (const row of due) {
      const now = clock();
      const notice = await db.transaction().execute(async (tx) => {
        const claimed = await tx
          .updateTable('tokens')
          .set({ [marker]: now })
          .where('id', '=', row.id)
          .where(marker, 'is', null)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) === 0) return null; // another node got there first
        await write(tx, row, now);
        written += 1;
        return marker === 'expired_recorded_at' ? changed(tx, row.workspace_id, [row.id]) : null;
      });
      if (notice !== null) notifier.applyLocally(notice);
    }
    return written;
  };

  const live = (marker: Marker, until: number) =>
    db
      .selectFrom('tokens')
      .selectAll()
      .where(marker, 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '<=', until)
      .orderBy('expires_at')
      .limit(BATCH);

  return async function sweep(): Promise<SweepResult> {
    const now = clock();
    const expired = await claimEach(
      'expired_recorded_at',
      await live('expired_recorded_at', now).execute(),
      // One statement at a time: a statement still running after a failed transaction's rollback
      // would commit on its own.
      async (tx, row, at) => {
        await audit.record(tx, {
          workspaceId: row.workspace_id,
          event: 'token.expired',
          actor: { type: 'system', id: null, name: 'tooken' },
          target: { type: 'token', id: row.id, name: row.name },
          meta: SYSTEM_META,
        });
        await outbox.emit(tx, {
          workspaceId: row.workspace_id,
          event: 'token.expired',
          data: { ...tokenView(row, at), expired_at: new Date(row.expires_at ?? at).toISOString() },
          at,
        });
      },
    );
    let expiring = 0;
    for (const [marker, days] of [
      ['expiring_7d_at', 7],
      ['expiring_1d_at', 1],
    ] as const) {
      // Filtered in the query, not after the LIMIT: tokens that expired unannounced (downtime) would
      // otherwise fill every batch and starve the notices still due.
      const due = await live(marker, now + days * DAY_MS)
        .where('expires_at', '>', now)
        .execute();
      expiring += await claimEach(marker, due, (tx, row, at) =>
        outbox.emit(tx, {
          workspaceId: row.workspace_id,
          event: 'token.expiring',
          data: { ...tokenView(row, at), expires_in_days: days },
          at,
        }),
      );
    }
    // Secrets whose rotation grace has ended are already refused by the clock (and by verifiers,
    // through valid_until); drop their rows, and tell the change streams as a backstop.
    const { deleted, notices } = await db.transaction().execute(async (tx) => {
      const ending = await tx
        .selectFrom('token_secrets')
        .innerJoin('tokens', 'tokens.id', 'token_secrets.token_id')
        .select(['tokens.id', 'tokens.workspace_id'])
        .where('token_secrets.retires_at', '<=', now)
        .execute();
      if (ending.length === 0) return { deleted: 0, notices: [] };
      const retired = await tx.deleteFrom('token_secrets').where('retires_at', '<=', now).executeTakeFirst();
      const byWorkspace = new Map<string, Set<string>>();
      for (const row of ending) {
        const ids = byWorkspace.get(row.workspace_id) ?? new Set<string>();
        byWorkspace.set(row.workspace_id, ids.add(row.id));
      }
      const published: Notice[] = [];
      for (const [workspaceId, ids] of byWorkspace) published.push(await changed(tx, workspaceId, [...ids]));
      return { deleted: Number(retired.numDeletedRows), notices: published };
    });
    for (const notice of notices) notifier.applyLocally(notice);
    return { expired, expiring, retiredSecrets: deleted };
  };
}
