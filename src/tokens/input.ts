import type { WorkspaceContext } from '../auth/context.js';
import { isBuiltInScope } from '../auth/permissions.js';
import { iso } from '../clock.js';
import { badField, forbidden } from '../errors.js';

/** Checks of what a caller asks a token to be: scopes, metadata, expiry and who may grant what. */

export const MAX_METADATA_BYTES = 4096;
export const MAX_GRACE_SECONDS = 86_400;
export const DAY_MS = 86_400_000;
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `Date.parse` rolls impossible dates over (Feb 30 → Mar 2, 24:00 → next day): refuse those. */
function isCalendarDateTime(match: RegExpExecArray): boolean {
  const [year, month, day, hour] = match.slice(1, 5).map(Number) as [number, number, number, number];
  return hour <= 23 && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
}

/** An `expires_at` the caller sent: an ISO 8601 instant in the future (422 otherwise). */
export function parseExpiry(value: string, now: number): number {
  const match = ISO_INSTANT.exec(value);
  const ms = match !== null && isCalendarDateTime(match) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw badField(
      'expires_at',
      'must be an ISO 8601 date-time such as 2027-01-15T09:00:00Z',
      'unprocessable_entity',
    );
  if (ms <= now) throw badField('expires_at', 'must be in the future', 'unprocessable_entity');
  return ms;
}

/** The expiry of a new token: the workspace default when absent, never when null. */
export function expiryOf(
  requested: string | null | undefined,
  defaultDays: number | null,
  now: number,
): number | null {
  if (requested === undefined) return defaultDays === null ? null : now + defaultDays * DAY_MS;
  return requested === null ? null : parseExpiry(requested, now);
}

/** Scopes without duplicates, each built in or one of the workspace's custom scopes (400 otherwise). */
export function checkScopes(requested: readonly string[], custom: readonly string[]): string[] {
  const scopes = [...new Set(requested)];
  scopes.forEach((scope, i) => {
    if (!isBuiltInScope(scope) && !custom.includes(scope)) {
      throw badField(
        `scopes[${i}]`,
        `"${scope}" is neither a built-in scope nor a custom scope of this workspace`,
      );
    }
  });
  return scopes;
}

/**
 * Each level of nesting costs at least two serialised characters, so anything deeper than half the
 * size limit cannot fit; checked without recursion because `JSON.stringify` of a body nested a
 * hundred thousand levels deep overflows the stack (a 500 instead of a 400).
 */
function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item.node === null || typeof item.node !== 'object') continue;
    if (item.depth > maxDepth) return true;
    for (const child of Object.values(item.node)) pending.push({ node: child, depth: item.depth + 1 });
  }
  return false;
}

/** Metadata as it will be stored: at most 4 KiB of JSON. */
export function checkMetadata(metadata: object): string {
  if (nestedDeeperThan(metadata, MAX_METADATA_BYTES / 2)) {
    throw badField('metadata', 'must be at most 4 KiB when serialised');
  }
  const json = JSON.stringify(metadata);
  if (Buffer.byteLength(json, 'utf8') > MAX_METADATA_BYTES) {
    throw badField('metadata', 'must be at most 4 KiB when serialised');
  }
  return json;
}

/**
 * A token can never obtain, through a token it creates or rotates, a scope it does not hold itself.
 * Custom scopes count too: they grant nothing inside Tooken, but the workspace's own services honour
 * them. People and API keys act with their role, which the route has checked already.
 */
export function assertNoEscalation(
  caller: WorkspaceContext,
  scopes: readonly string[],
  action: 'grant' | 'rotate a token with' | 'revoke a token with',
): void {
  if (caller.via !== 'token') return;
  const escalation = scopes.find((scope) => !caller.scopes.includes(scope));
  if (escalation !== undefined) {
    throw forbidden(`A token cannot ${action} the scope "${escalation}" which it does not hold`);
  }
}

/**
 * The expiry of a new token, bounded for a token caller by the end of its own secret: the workspace
 * default is capped there, while an explicit later instant or `null` is refused rather than quietly
 * shortened, so the caller never holds a token that dies earlier than it asked without knowing.
 */
export function expiryFor(
  caller: WorkspaceContext,
  requested: string | null | undefined,
  defaultDays: number | null,
  now: number,
): number | null {
  const expiresAt = expiryOf(requested, defaultDays, now);
  const limit = caller.via === 'token' ? caller.principal.validUntil : null;
  if (limit === null || (expiresAt !== null && expiresAt <= limit)) return expiresAt;
  if (requested === undefined) return limit;
  throw badField(
    'expires_at',
    `A token cannot create a token that outlives it: expires_at must be ${iso(limit)} or earlier`,
    'forbidden',
  );
}

/** Rotation hands over a secret for the rest of the token's life: a token may not rotate one that outlives it. */
export function assertNotOutlived(caller: WorkspaceContext, expiresAt: number | null): void {
  const limit = caller.via === 'token' ? caller.principal.validUntil : null;
  if (limit === null || (expiresAt !== null && expiresAt <= limit)) return;
  throw forbidden(
    `A token cannot rotate a token that outlives it: this one ${expiresAt === null ? 'never expires' : `expires at ${iso(expiresAt)}`}, the caller at ${iso(limit)}`,
  );
}

/** `token.expiring` fires 7 and 1 days ahead; windows already entered at creation are skipped. */
export function expiringMarkers(expiresAt: number | null, now: number) {
  if (expiresAt === null) return { expiring_7d_at: null, expiring_1d_at: null };
  return {
    expiring_7d_at: expiresAt - 7 * DAY_MS < now ? now : null,
    expiring_1d_at: expiresAt - DAY_MS < now ? now : null,
  };
}
