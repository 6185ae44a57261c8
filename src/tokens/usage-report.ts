import type { WorkspaceContext } from '../auth/context.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import { badField } from '../errors.js';
import type { UsageBuffer } from '../usage/buffer.js';

export interface ReportedUse {
  token_id: string;
  count: number;
  last_used_at: string;
}

/** In-process verifiers report the answers they served from their cache (docs/edge-verification.md#usage-reports). */
export interface UsageReports {
  /** Notes each use in the usage buffer, like a verify; returns how many tokens of this workspace it named. */
  report(ctx: WorkspaceContext, uses: readonly ReportedUse[]): Promise<number>;
}

const CHUNK = 500;

export function createUsageReports({
  db,
  clock,
  usage,
}: {
  db: Db;
  clock: Clock;
  usage: UsageBuffer;
}): UsageReports {
  return {
    async report(ctx, uses) {
      const now = clock();
      // The latest use per token, never later than now: a verifier's clock may run ahead.
      const latest = new Map<string, number>();
      uses.forEach((use, i) => {
        const at = Date.parse(use.last_used_at);
        if (!Number.isFinite(at)) {
          throw badField(`uses/${i}/last_used_at`, 'Must be an ISO 8601 date-time', 'unprocessable_entity');
        }
        const seen = latest.get(use.token_id);
        const when = Math.min(at, now);
        if (seen === undefined || seen < when) latest.set(use.token_id, when);
      });
      // Other workspaces' ids and unknown ones are ignored without a word: nothing to learn from.
      const ids = [...latest.keys()];
      let known = 0;
      for (let i = 0; i < ids.length; i += CHUNK) {
        const rows = await db
          .selectFrom('tokens')
          .select('id')
          .where('workspace_id', '=', ctx.workspace.id)
          .where('id', 'in', ids.slice(i, i + CHUNK))
          .execute();
        for (const { id } of rows) {
          usage.tokenUsed(id, latest.get(id) ?? now);
          known += 1;
        }
      }
      return known;
    },
  };
}
