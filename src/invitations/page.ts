import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';

const STYLE = 'body{font-family:sans-serif;max-width:46rem;margin:3rem auto}';

/**
 * The page loads nothing and runs nothing; its one style element is allowed by its hash, so no
 * injected markup could style or script it, and no other site may frame it.
 */
const POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join(';');

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/**
 * The page an invitation link opens. Until the dashboard exists it tells the invitee exactly how to
 * accept with the API. The link's secret stays out of logs (we log paths without queries), out of
 * caches (`no-store`) and out of Referer headers (`no-referrer`).
 */
export function registerInvitationPage(app: FastifyInstance, config: Pick<Config, 'publicUrl'>): void {
  app.get('/invitations/accept', { schema: { hide: true } }, async (request, reply) => {
    const raw = (request.query as { token?: unknown }).token;
    const token = typeof raw === 'string' && /^[A-Za-z0-9_-]{20,200}$/.test(raw) ? raw : null;
    const base = escapeHtml(config.publicUrl);
    const body =
      token === null
        ? '<p>This invitation link is incomplete. Open the link from your invitation email again.</p>'
        : `<p>You have been invited to a Tooken workspace. Sign up with the email address the invitation was
sent to and this link's token (or sign in, if you already have an account with that address), then
accept the invitation:</p>
<pre># New to Tooken: sign up with the invited address and the link's token
curl -c jar -H 'content-type: application/json' \\
  -d '{"email":"you@example.com","password":"…","invitation_token":"${escapeHtml(token)}"}' ${base}/v1/auth/signup
# Already have an account with that address: sign in instead
curl -c jar -H 'content-type: application/json' \\
  -d '{"email":"you@example.com","password":"…"}' ${base}/v1/auth/login
# Then accept the invitation
CSRF=$(curl -s -b jar ${base}/v1/me | node -pe 'JSON.parse(require("fs").readFileSync(0)).csrf_token')
curl -b jar -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \\
  -d '{"token":"${escapeHtml(token)}"}' ${base}/v1/invitations/accept</pre>
<p>The link works once and expires 7 days after it was sent.</p>`;
    return reply
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', POLICY)
      .type('text/html; charset=utf-8')
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tooken invitation</title>
<style>${STYLE}</style></head>
<body>
<h1>Join a workspace on Tooken</h1>
${body}
</body></html>`);
  });
}
