import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db, InvitationsTable } from '../db/schema.js';
import { type JobContext, LeaseLostError } from '../jobs/runner.js';
import { invitationEmail } from './invitation-email.js';
import type { Mailer } from './mailer.js';
import { EMAIL_MAX_ATTEMPTS } from './outbox.js';

/**
 * The `email.send` job: renders the message from its invitation at send time and delivers it.
 * A failure throws, so the job runner retries with backoff; the email row keeps the count.
 * Without SMTP the message is marked `not_sent` and the log says so (never with the link):
 * Owners copy the link from `GET /v1/invitations` instead.
 */
export interface EmailSenderDeps {
  db: Db;
  clock: Clock;
  mailer: Mailer | null;
  /** The link of a pending invitation (the invitations feature unseals it). */
  acceptUrl: (invitation: Pick<InvitationsTable, 'secret_sealed'>) => string | null;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export function createEmailSender(deps: EmailSenderDeps) {
  const { db, clock, mailer, acceptUrl, logger } = deps;
  const mark = (
    id: string,
    set: Partial<{
      status: 'sent' | 'failed' | 'not_sent' | 'cancelled';
      attempts: number;
      last_error: string | null;
      sent_at: number;
    }>,
  ) => db.updateTable('emails').set(set).where('id', '=', id).execute();

  return async function sendEmail(
    payload: unknown,
    job: Pick<JobContext, 'attempt' | 'holdsLease'>,
  ): Promise<void> {
    const emailId = (payload as { emailId?: unknown } | null)?.emailId;
    if (typeof emailId !== 'string') return;
    const email = await db.selectFrom('emails').selectAll().where('id', '=', emailId).executeTakeFirst();
    if (email === undefined || email.status === 'sent' || email.status === 'cancelled') return;
    const invitation = await db
      .selectFrom('invitations')
      .innerJoin('workspaces', 'workspaces.id', 'invitations.workspace_id')
      .selectAll('invitations')
      .select('workspaces.name as workspace_name')
      .where('invitations.id', '=', email.ref_id)
      .executeTakeFirst();
    const url = invitation && invitation.status === 'pending' ? acceptUrl(invitation) : null;
    if (invitation === undefined || url === null || invitation.expires_at <= clock()) {
      await mark(email.id, { status: 'cancelled' });
      return;
    }
    if (mailer === null) {
      await mark(email.id, { status: 'not_sent' });
      logger.warn(
        { email_id: email.id, invitation_id: invitation.id },
        'invitation email not sent: TOOKEN_SMTP_URL is not set; Owners can copy the link from the pending invitations',
      );
      return;
    }
    const attempts = email.attempts + 1;
    // Another node took the job over after its lease lapsed: that node sends, not this one.
    if (!(await job.holdsLease())) throw new LeaseLostError();
    try {
      await mailer.send(
        invitationEmail({
          to: email.to_address,
          workspaceName: invitation.workspace_name,
          inviter: invitation.invited_by,
          role: invitation.role,
          acceptUrl: url,
          expiresAt: new Date(invitation.expires_at),
        }),
      );
    } catch (error) {
      // Never the message itself: it holds the link.
      const reason = error instanceof Error ? error.message.slice(0, 500) : 'send failed';
      const last = job.attempt >= EMAIL_MAX_ATTEMPTS;
      await mark(email.id, { attempts, last_error: reason, ...(last ? { status: 'failed' as const } : {}) });
      throw new Error(`SMTP delivery failed: ${reason}`);
    }
    await mark(email.id, { status: 'sent', attempts, last_error: null, sent_at: clock() });
    logger.info({ email_id: email.id, invitation_id: invitation.id }, 'invitation email sent');
  };
}
