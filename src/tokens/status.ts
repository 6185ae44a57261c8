export type TokenStatus = 'active' | 'expired' | 'revoked';

/** Computed from the clock at every check, never waiting for a job (docs/tokens.md#use-and-expiry). */
export function tokenStatus(
  token: { revokedAt: number | null; expiresAt: number | null },
  now: number,
): TokenStatus {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  return 'active';
}
