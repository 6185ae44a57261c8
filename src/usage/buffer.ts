import type { Db, Tx } from '../db/schema.js';

/** Runs inside the flush transaction with the tokens used since the last flush (for `token.used`). */
export type TokensUsedHook = (tx: Tx, used: ReadonlyMap<string, number>) => Promise<unknown>;

/**
 * Last-use times collected in memory and written in batches, so that authenticating or verifying
 * never writes to the database synchronously (SPEC §5.6, §5.7). Flushed every few seconds by the
 * server and on shutdown.
 */
export interface UsageBuffer {
  apiKeyUsed(id: string, at: number): void;
  tokenUsed(id: string, at: number): void;
  sessionSeen(digest: string, at: number): void;
  /** Writes everything collected so far; returns how many rows it touched. */
  flush(): Promise<number>;
  pending(): number;
}

export function createUsageBuffer(db: Db, onTokensUsed: TokensUsedHook = async () => {}): UsageBuffer {
  let apiKeys = new Map<string, number>();
  let tokens = new Map<string, number>();
  let sessions = new Map<string, number>();
  const latest = (map: Map<string, number>, id: string, at: number) => {
    const seen = map.get(id);
    if (seen === undefined || seen < at) map.set(id, at);
  };
  return {
    apiKeyUsed: (id, at) => latest(apiKeys, id, at),
    tokenUsed: (id, at) => latest(tokens, id, at),
    sessionSeen: (digest, at) => latest(sessions, digest, at),
    pending: () => apiKeys.size + tokens.size + sessions.size,
    async flush() {
      const keys = apiKeys;
      const used = tokens;
      const seen = sessions;
      apiKeys = new Map();
      tokens = new Map();
      sessions = new Map();
      if (keys.size + used.size + seen.size === 0) return 0;
      await db.transaction().execute(async (tx) => {
        for (const [id, at] of keys) {
          await tx
            .updateTable('api_keys')
            .set({ last_used_at: at })
            .where('id', '=', id)
            .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
            .execute();
        }
        for (const [id, at] of used) {
          await tx
            .updateTable('tokens')
            .set({ last_used_at: at })
            .where('id', '=', id)
            .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
            .execute();
        }
        await onTokensUsed(tx, used);
        for (const [digest, at] of seen) {
          await tx
            .updateTable('sessions')
            .set({ last_seen_at: at })
            .where('id_digest', '=', digest)
            .where('last_seen_at', '<', at)
            .execute();
        }
      });
      return keys.size + used.size + seen.size;
    },
  };
}
