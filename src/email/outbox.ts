import type { Tx } from '../db/schema.js';
import { newId } from '../ids.js';
import { enqueueJob } from '../jobs/queue.js';

export const EMAIL_JOB = 'email.send' as const;
export const EMAIL_MAX_ATTEMPTS = 10;

/** Writes the message and its delivery job in the caller's transaction: nothing is lost on a crash. */
export async function queueInvitationEmail(
  tx: Tx,
  input: { workspaceId: string; invitationId: string; to: string; now: number },
): Promise<string> {
  const id = newId('eml');
  await tx
    .insertInto('emails')
    .values({
      id,
      workspace_id: input.workspaceId,
      kind: 'invitation',
      ref_id: input.invitationId,
      to_address: input.to,
      status: 'pending',
      attempts: 0,
      last_error: null,
      created_at: input.now,
      sent_at: null,
    })
    .execute();
  await enqueueJob(tx, input.now, {
    kind: EMAIL_JOB,
    payload: { emailId: id },
    workspaceId: input.workspaceId,
    maxAttempts: EMAIL_MAX_ATTEMPTS,
  });
  return id;
}

/** A password-reset email, written in the transaction that creates the reset (installation-wide). */
export async function queuePasswordResetEmail(
  tx: Tx,
  input: { resetId: string; to: string; now: number },
): Promise<string> {
  const id = newId('eml');
  await tx
    .insertInto('emails')
    .values({
      id,
      workspace_id: null,
      kind: 'password_reset',
      ref_id: input.resetId,
      to_address: input.to,
      status: 'pending',
      attempts: 0,
      last_error: null,
      created_at: input.now,
      sent_at: null,
    })
    .execute();
  await enqueueJob(tx, input.now, {
    kind: EMAIL_JOB,
    payload: { emailId: id },
    maxAttempts: EMAIL_MAX_ATTEMPTS,
  });
  return id;
}
