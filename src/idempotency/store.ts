import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/dialect.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export type Begin = { kind: 'new' } | { kind: 'replay'; status: number; body: string };

/**
 * Idempotency keys (SPEC §3). Keys are scoped to the caller's credential; the stored response may
 * hold a secret, so it is sealed with AES-256-GCM under a key derived from that caller's own
 * secret: only the same caller can ever read it back.
 */
export interface IdempotencyStore {
  begin(scope: string, key: string, fingerprint: string, sealKey: Buffer): Promise<Begin>;
  complete(scope: string, key: string, status: number, body: string, sealKey: Buffer): Promise<void>;
  abandon(scope: string, key: string): Promise<void>;
  purgeExpired(): Promise<number>;
}

function seal(plain: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
}

function open(sealed: string, key: Buffer): string {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
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
        return { kind: 'replay', status: row.status_code, body: open(row.response, sealKey) };
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
