import { digest, sealKeyFor } from '../auth/credentials.js';
import type { TokenPrincipal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { AppError, unauthorizedKey } from '../errors.js';
import { tokenStatus } from './status.js';
import type { Verifier } from './verify.js';

const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/**
 * A token used as an API credential: looked up like a verification (same cache), refused with 401
 * when unknown, expired or revoked. Its use is counted by the access check, once allowed.
 */
export function createTokenCredentials({
  verifier,
  clock,
}: {
  verifier: Pick<Verifier, 'find'>;
  clock: Clock;
}) {
  return async function resolveToken(secret: string): Promise<TokenPrincipal> {
    const token = await verifier.find(secret);
    if (token === null) throw unauthorizedKey();
    const status = tokenStatus(token, clock());
    if (status === 'expired') throw new AppError('unauthorized', 'Token has expired');
    if (status === 'revoked') throw new AppError('unauthorized', 'Token has been revoked');
    return {
      type: 'token',
      id: token.id,
      name: token.name,
      workspaceId: token.workspaceId,
      scopes: token.scopes,
      validUntil: earliest(token.expiresAt, token.retiresAt),
      digest: digest(secret),
      sealKey: sealKeyFor(secret),
    };
  };
}
