import type { ReadNow } from '../db/database.js';
import { decodeMetadata, decodeScopes } from '../db/json.js';
import type { Db } from '../db/schema.js';
import type { CachedToken, TokenCache } from './cache.js';

/** The one read a cache miss runs, by the secret's digest (a Kysely builder, compiled once). */
const tokenBySecretDigest = (db: Db, digest: string) =>
  db
    .selectFrom('token_secrets')
    .innerJoin('tokens', 'tokens.id', 'token_secrets.token_id')
    .select([
      'tokens.id',
      'tokens.workspace_id',
      'tokens.name',
      'tokens.scopes',
      'tokens.metadata',
      'tokens.expires_at',
      'tokens.revoked_at',
      'token_secrets.retires_at',
      'tokens.external_id',
      'tokens.uses_remaining',
      'tokens.rate_limit',
      'tokens.rate_window_seconds',
    ])
    .where('token_secrets.digest', '=', digest);

type TokenRow = Awaited<ReturnType<ReturnType<typeof tokenBySecretDigest>['executeTakeFirstOrThrow']>>;

/** A row as the cache keeps it, with its part of every verify answer built once. */
function cachedTokenOf(row: TokenRow): CachedToken {
  const scopes = decodeScopes(row.scopes);
  const metadata = decodeMetadata(row.metadata);
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    scopes,
    metadata,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    retiresAt: row.retires_at,
    externalId: row.external_id,
    usesLimited: row.uses_remaining !== null,
    rate:
      row.rate_limit === null || row.rate_window_seconds === null
        ? null
        : { limit: Number(row.rate_limit), windowSeconds: Number(row.rate_window_seconds) },
    view: Object.freeze({
      id: row.id,
      name: row.name,
      scopes,
      expires_at: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
      metadata,
      external_id: row.external_id,
    }),
  };
}

/**
 * Reads the token behind a secret's digest from the database and caches the answer (see
 * `createTokenLookup`); the caller has looked in the cache first. Synchronous where the database
 * could answer at once.
 */
export type TokenLookup = (digest: string) => CachedToken | null | Promise<CachedToken | null>;

/**
 * Reads the token behind a secret's digest that the in-process cache lacks: one indexed read,
 * whose result, hit or miss, is cached (misses apart, so forged secrets cannot evict real
 * tokens). Never writes. The verifier looks in the cache first (verify.ts `locate`), so a lookup
 * is counted once in the cache metrics.
 *
 * The read is built and compiled by Kysely once, here, and run with the digest as its only
 * parameter: building and compiling the same query on every miss cost as much as running it
 * (BENCHMARKS.md). The SQLite connection keeps the statement SQLite prepared for it, and runs it
 * at once when it is free (`readNow`); otherwise, and on PostgreSQL, it goes through Kysely.
 */
export function createTokenLookup(db: Db, cache: TokenCache, readNow: ReadNow | null = null): TokenLookup {
  const compiled = tokenBySecretDigest(db, '').compile();
  if (compiled.parameters.length !== 1)
    throw new Error('the token lookup must take the digest as its only parameter');
  const remember = (digest: string, generation: number, row: TokenRow | undefined) => {
    const token = row === undefined ? null : cachedTokenOf(row);
    cache.set(digest, token, generation);
    return token;
  };
  return (digest) => {
    const generation = cache.generation();
    const withDigest: typeof compiled = { ...compiled, parameters: [digest] };
    const atOnce = readNow?.(withDigest) as readonly TokenRow[] | undefined;
    if (atOnce !== undefined) return remember(digest, generation, atOnce[0]);
    return db.executeQuery(withDigest).then(({ rows }) => remember(digest, generation, rows[0]));
  };
}

/**
 * The live token a secret's digest opens, read from the database (a leak report must not trust a
 * cache): neither revoked nor expired, and the secret not retired by rotation.
 */
export async function findLiveToken(
  db: Db,
  digest: string,
  now: number,
): Promise<{ id: string; workspaceId: string } | null> {
  const row = await db
    .selectFrom('token_secrets')
    .innerJoin('tokens', 'tokens.id', 'token_secrets.token_id')
    .select(['tokens.id', 'tokens.workspace_id'])
    .where('token_secrets.digest', '=', digest)
    .where((eb) =>
      eb.or([eb('token_secrets.retires_at', 'is', null), eb('token_secrets.retires_at', '>', now)]),
    )
    .where('tokens.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)]))
    .executeTakeFirst();
  return row === undefined ? null : { id: row.id, workspaceId: row.workspace_id };
}
