import type { Role } from '../db/schema.js';
import type { Message } from './mailer.js';

const ROLE_NAMES: Record<Role, string> = { owner: 'Owner', admin: 'Admin', viewer: 'Viewer' };

export const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function invitationEmail(input: {
  to: string;
  workspaceName: string;
  inviter: string;
  role: Role;
  acceptUrl: string;
  expiresAt: Date;
}): Message {
  const role = ROLE_NAMES[input.role];
  const expires = input.expiresAt.toUTCString();
  const text = [
    `${input.inviter} invited you to join the workspace "${input.workspaceName}" on Tooken as ${role}.`,
    '',
    `Accept the invitation: ${input.acceptUrl}`,
    '',
    `The link works once and expires on ${expires}. Sign in (or sign up) with ${input.to} to accept it.`,
    'If you did not expect this, you can ignore this email.',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>${escapeHtml(input.inviter)} invited you to join the workspace <strong>${escapeHtml(input.workspaceName)}</strong> on Tooken as <strong>${role}</strong>.</p>
<p><a href="${escapeHtml(input.acceptUrl)}">Accept the invitation</a></p>
<p>The link works once and expires on ${escapeHtml(expires)}. Sign in (or sign up) with ${escapeHtml(input.to)} to accept it.</p>
<p style="color:#666">If you did not expect this, you can ignore this email.</p>
</body></html>`;
  return {
    to: input.to,
    subject: `${input.inviter} invited you to ${input.workspaceName} on Tooken`,
    text,
    html,
  };
}
