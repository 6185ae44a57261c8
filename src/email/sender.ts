import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db, EmailsTable, InvitationsTable, PasswordResetsTable } from '../db/schema.js';
import { type JobContext, LeaseLostError } from '../jobs/runner.js';
import { invitationEmail } from './invitation-email.js';
import type { Mailer, Message } from './mailer.js';
import { EMAIL_MAX_ATTEMPTS } from './outbox.js';
import { passwordResetEmail } from './password-reset-email.js';

/**
 * The `email.send` job: renders the message from its invitation or password reset at send time
 * and delivers it. A failure throws, so the job runner retries with backoff; the email row keeps
 * the count. Without SMTP the message is marked `not_sent` and the log says so (never with the
 * link): Owners copy invitation links from `GET /v1/invitations`, operators make reset links with
 * `tooken users reset-password`.
 */
export interface EmailSenderDeps {
  db: Db;
  clock: Clock;
  mailer: Mailer | null;
  /** The link of a pending invitation (the invitations feature unseals it). */
  acceptUrl: (invitation: Pick<InvitationsTable, 'secret_sealed'>) => string | null;
  /** The link of a password reset whose email is not sent yet (the accounts feature unseals it). */
  resetUrl: (reset: Pick<PasswordResetsTable, 'secret_sealed'>) => string | null;
  logger: Pick<Logger, 'info' | 'warn'>;
}

/** What to send for one email row, or null when it became moot (used, revoked, expired). */
interface Rendered {
  message: Message;
  /** Ids for the log lines: never the link. */
  logged: Record<string, string>;
  what: string;
  /** After it was sent, or found unsendable for want of SMTP: drop what kept the link readable. */
  done?: () => Promise<unknown>;
}

export function createEmailSender(deps: EmailSenderDeps) {
  const { db, clock, mailer, acceptUrl, resetUrl, logger } = deps;
  const mark = (
    id: string,
    set: Partial<{
      status: 'sent' | 'failed' | 'not_sent' | 'cancelled';
      attempts: number;
      last_error: string | null;
      sent_at: number;
    }>,
  ) => db.updateTable('emails').set(set).where('id', '=', id).execute();

  const renderInvitation = async (email: EmailsTable): Promise<Rendered | null> => {
    const invitation = await db
      .selectFrom('invitations')
      .innerJoin('workspaces', 'workspaces.id', 'invitations.workspace_id')
      .selectAll('invitations')
      .select('workspaces.name as workspace_name')
      .where('invitations.id', '=', email.ref_id)
      .executeTakeFirst();
    const url = invitation && invitation.status === 'pending' ? acceptUrl(invitation) : null;
    if (invitation === undefined || url === null || invitation.expires_at <= clock()) return null;
    return {
      what: 'invitation email',
      logged: { email_id: email.id, invitation_id: invitation.id },
      message: invitationEmail({
        to: email.to_address,
        workspaceName: invitation.workspace_name,
        inviter: invitation.invited_by,
        role: invitation.role,
        acceptUrl: url,
        expiresAt: new Date(invitation.expires_at),
      }),
    };
  };

  const renderReset = async (email: EmailsTable): Promise<Rendered | null> => {
    const reset = await db
      .selectFrom('password_resets')
      .selectAll()
      .where('id', '=', email.ref_id)
      .executeTakeFirst();
    const url = reset && reset.used_at === null ? resetUrl(reset) : null;
    if (reset === undefined || url === null || reset.expires_at <= clock()) return null;
    return {
      what: 'password-reset email',
      logged: { email_id: email.id, reset_id: reset.id },
      message: passwordResetEmail({
        to: email.to_address,
        resetUrl: url,
        expiresAt: new Date(reset.expires_at),
      }),
      done: () =>
        db.updateTable('password_resets').set({ secret_sealed: null }).where('id', '=', reset.id).execute(),
    };
  };

  return async function sendEmail(
    payload: unknown,
    job: Pick<JobContext, 'attempt' | 'holdsLease'>,
  ): Promise<void> {
    const emailId = (payload as { emailId?: unknown } | null)?.emailId;
    if (typeof emailId !== 'string') return;
    const email = await db.selectFrom('emails').selectAll().where('id', '=', emailId).executeTakeFirst();
    if (email === undefined || email.status === 'sent' || email.status === 'cancelled') return;
    const rendered =
      email.kind === 'password_reset' ? await renderReset(email) : await renderInvitation(email);
    if (rendered === null) {
      await mark(email.id, { status: 'cancelled' });
      return;
    }
    if (mailer === null) {
      await mark(email.id, { status: 'not_sent' });
      await rendered.done?.();
      logger.warn(
        rendered.logged,
        `${rendered.what} not sent: TOOKEN_SMTP_URL is not set` +
          (email.kind === 'invitation'
            ? '; Owners can copy the link from the pending invitations'
            : '; an operator can make a link with `tooken users reset-password`'),
      );
      return;
    }
    const attempts = email.attempts + 1;
    // Another node took the job over after its lease lapsed: that node sends, not this one.
    if (!(await job.holdsLease())) throw new LeaseLostError();
    try {
      await mailer.send(rendered.message);
    } catch (error) {
      // Never the message itself: it holds the link.
      const reason = error instanceof Error ? error.message.slice(0, 500) : 'send failed';
      const last = job.attempt >= EMAIL_MAX_ATTEMPTS;
      await mark(email.id, { attempts, last_error: reason, ...(last ? { status: 'failed' as const } : {}) });
      if (last) await rendered.done?.();
      throw new Error(`SMTP delivery failed: ${reason}`);
    }
    await mark(email.id, { status: 'sent', attempts, last_error: null, sent_at: clock() });
    await rendered.done?.();
    logger.info(rendered.logged, `${rendered.what} sent`);
  };
}
