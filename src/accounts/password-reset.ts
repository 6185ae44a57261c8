import { digest, randomSecret } from '../auth/credentials.js';
import { seal, unseal } from '../auth/sealing.js';
import type { Executor, PasswordResetsTable } from '../db/schema.js';
import { newId } from '../ids.js';

/** A reset link works once, for 30 minutes. */
export const RESET_TTL_MS = 30 * 60 * 1000;

/** `<public url>/reset-password?token=…`: the page the dashboard serves to choose a new password. */
export function resetLinkFor(publicUrl: string, secret: string): string {
  return `${publicUrl}/reset-password?token=${encodeURIComponent(secret)}`;
}

/**
 * Creates a reset for `userId`, replacing any earlier one still unused (the newest link is the
 * one that works). Stored as the digest of its secret; a sealed copy only when an email is to be
 * rendered from it later (`sealWith`), dropped once that email is sent.
 */
export async function createPasswordReset(
  db: Executor,
  input: { userId: string; now: number; sealWith: Buffer | null },
): Promise<{ id: string; secret: string; expiresAt: number }> {
  const secret = randomSecret();
  const row: PasswordResetsTable = {
    id: newId('pwr'),
    user_id: input.userId,
    digest: digest(secret),
    secret_sealed: input.sealWith === null ? null : seal(secret, input.sealWith),
    expires_at: input.now + RESET_TTL_MS,
    used_at: null,
    created_at: input.now,
  };
  await db
    .deleteFrom('password_resets')
    .where((eb) =>
      eb.or([
        eb.and([eb('user_id', '=', input.userId), eb('used_at', 'is', null)]),
        eb('expires_at', '<=', input.now),
      ]),
    )
    .execute();
  await db.insertInto('password_resets').values(row).execute();
  return { id: row.id, secret, expiresAt: row.expires_at };
}

/** The link of a reset whose email is still to be sent, or null once nothing readable is kept. */
export function sealedResetLink(
  publicUrl: string,
  serverKey: Buffer,
  reset: Pick<PasswordResetsTable, 'secret_sealed'>,
): string | null {
  if (reset.secret_sealed === null) return null;
  try {
    return resetLinkFor(publicUrl, unseal(reset.secret_sealed, serverKey));
  } catch {
    return null;
  }
}
