import { escapeHtml } from './invitation-email.js';
import type { Message } from './mailer.js';

export function passwordResetEmail(input: { to: string; resetUrl: string; expiresAt: Date }): Message {
  const expires = input.expiresAt.toUTCString();
  const text = [
    `Someone asked to reset the password of the Tooken account ${input.to}.`,
    '',
    `Choose a new password: ${input.resetUrl}`,
    '',
    `The link works once and expires on ${expires}. Every session of the account is signed out when it is used.`,
    'If you did not ask for this, ignore this email: your password stays as it is.',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>Someone asked to reset the password of the Tooken account ${escapeHtml(input.to)}.</p>
<p><a href="${escapeHtml(input.resetUrl)}">Choose a new password</a></p>
<p>The link works once and expires on ${escapeHtml(expires)}. Every session of the account is signed out when it is used.</p>
<p style="color:#666">If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>`;
  return { to: input.to, subject: 'Reset your Tooken password', text, html };
}
