import type { RequestMeta } from '../audit/service.js';
import type { WorkspaceContext } from '../auth/context.js';
import type { Clock } from '../clock.js';
import { commitAndNotify, type Notifier } from '../cluster/notifier.js';
import { decodeScopes } from '../db/json.js';
import type { Db } from '../db/schema.js';
import { type createTokenChanges, tokenChanged } from './changes.js';
import { assertNoEscalation } from './input.js';

/** `POST /tokens/revoke`: the tokens named by id, or every token of one external id. */
export type BulkRevokeInput = { ids: string[] } | { external_id: string };

export interface BulkRevoke {
  /** Revokes in one transaction; answers how many were revoked now (already revoked ones are skipped). */
  revokeMany(ctx: WorkspaceContext, input: BulkRevokeInput, meta: RequestMeta): Promise<number>;
}

/**
 * Each token is revoked exactly as `DELETE /tokens/{id}` revokes it (its own `token.revoked` entry
 * and event), all in one transaction; ids of other workspaces or unknown ids are not counted.
 */
export function createBulkRevoke({
  db,
  clock,
  notifier,
  changes: { recordRevoked },
}: {
  db: Db;
  clock: Clock;
  notifier: Notifier;
  changes: ReturnType<typeof createTokenChanges>;
}): BulkRevoke {
  return {
    async revokeMany(ctx, input, meta) {
      const now = clock();
      return commitAndNotify(db, notifier, async (tx) => {
        // One conditional update takes every row's lock: a concurrent revoke of one of them either
        // came first (and is skipped here) or waits, and then finds it revoked.
        let query = tx
          .updateTable('tokens')
          .set({ revoked_at: now })
          .where('workspace_id', '=', ctx.workspace.id)
          .where('revoked_at', 'is', null);
        query =
          'ids' in input
            ? query.where('id', 'in', [...new Set(input.ids)])
            : query.where('external_id', '=', input.external_id);
        const revoked = (await query.returningAll().execute()).sort((a, b) => a.id.localeCompare(b.id));
        // A token may not mass-revoke tokens holding a scope it lacks: the first one refuses the
        // whole request, and the transaction undoes every revocation above.
        for (const row of revoked) assertNoEscalation(ctx, decodeScopes(row.scopes), 'revoke a token with');
        const digests: string[] = [];
        const tokenIds: string[] = [];
        for (const row of revoked) {
          // The entry's `from` status is computed from the row as it was: not revoked.
          const notices = await recordRevoked(tx, ctx, { ...row, revoked_at: null }, now, meta);
          for (const notice of notices) {
            if (notice.type !== 'token.changed') continue;
            digests.push(...notice.digests);
            tokenIds.push(...(notice.tokenIds ?? []));
          }
        }
        return {
          result: revoked.length,
          notices: tokenIds.length > 0 ? [tokenChanged(ctx.workspace.id, tokenIds, digests)] : [],
        };
      });
    },
  };
}
