import { seal, unseal } from '../auth/sealing.js';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/database.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export type Begin = { kind: 'new' } | { kind: 'replay'; status: number; body: string };

/**
 * Idempotency keys (docs/api.md#idempotency-keys). Keys are scoped to the caller's credential (an
 * API key, a token or one session); the stored response may hold a secret, so it is sealed with
 * AES-256-GCM under a key derived from that caller's own secret, which is never stored: only the
 * same caller can ever read it back, and nothing at rest (database, server key) can.
 */
export interface IdempotencyStore {
  begin(scope: string, key: string, fingerprint: string, sealKey: Buffer): Promise<Begin>;
  complete(scope: string, key: string, status: number, body: string, sealKey: Buffer): Promise<void>;
  abandon(scope: string, key: string): Promise<void>;
  purgeExpired(): Promise<number>;
}

/**
 * The scope is the digest of the very secret the seal key comes from, so a replay always opens for
 * its caller; one that does not was altered at rest. Running the request again could act twice,
 * so it is refused.
 */
function openReplay(sealed: string, sealKey: Buffer): string {
  try {
    return unseal(sealed, sealKey);
  } catch {
    throw new AppError(
      'conflict',
      'The first response to this Idempotency-Key cannot be replayed; send the request with a new key',
    );
  }
}

export function createIdempotencyStore({ db, clock }: { db: Db; clock: Clock }): IdempotencyStore {
  const store: IdempotencyStore = {
    async begin(scope, key, fingerprint, sealKey) {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await db
            .insertInto('idempotency_keys')
            .values({
              scope,
              key,
              fingerprint,
              state: 'pending',
              status_code: null,
              response: null,
              created_at: clock(),
            })
            .execute();
          return { kind: 'new' };
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        const row = await db
          .selectFrom('idempotency_keys')
          .selectAll()
          .where('scope', '=', scope)
          .where('key', '=', key)
          .executeTakeFirst();
        if (row === undefined) continue;
        if (clock() - row.created_at >= IDEMPOTENCY_TTL_MS) {
          await store.abandon(scope, key);
          continue;
        }
        if (row.fingerprint !== fingerprint) {
          throw new AppError('conflict', 'This Idempotency-Key was already used with a different request');
        }
        if (row.state === 'pending' || row.response === null || row.status_code === null) {
          throw new AppError('conflict', 'A request with this Idempotency-Key is still in progress');
        }
        return { kind: 'replay', status: row.status_code, body: openReplay(row.response, sealKey) };
      }
      throw new AppError('conflict', 'A request with this Idempotency-Key is still in progress');
    },
    async complete(scope, key, status, body, sealKey) {
      await db
        .updateTable('idempotency_keys')
        .set({ state: 'done', status_code: status, response: seal(body, sealKey) })
        .where('scope', '=', scope)
        .where('key', '=', key)
        .execute();
    },
    async abandon(scope, key) {
      await db.deleteFrom('idempotency_keys').where('scope', '=', scope).where('key', '=', key).execute();
    },
    async purgeExpired() {
      const result = await db
        .deleteFrom('idempotency_keys')
        .where('created_at', '<', clock() - IDEMPOTENCY_TTL_MS)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
  return store;
}
