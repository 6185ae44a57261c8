import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { escapeHtml } from '../email/invitation-email.js';

const STYLE = 'body{font-family:sans-serif;max-width:46rem;margin:3rem auto}';

/** Loads and runs nothing; its one style is allowed by hash; no other site may frame it. */
const POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join(';');

/**
 * The page a password-reset link opens. Until the dashboard serves its own, it tells the person
 * how to set the new password with the API. The link's secret stays out of logs (paths are logged
 * without queries), out of caches (`no-store`) and out of Referer headers (`no-referrer`).
 */
export function registerResetPage(app: FastifyInstance, config: Pick<Config, 'publicUrl'>): void {
  app.get('/reset-password', { schema: { hide: true } }, async (request, reply) => {
    const raw = (request.query as { token?: unknown }).token;
    const token = typeof raw === 'string' && /^[A-Za-z0-9_-]{20,200}$/.test(raw) ? raw : null;
    const body =
      token === null
        ? '<p>This password-reset link is incomplete. Open the link from the email again.</p>'
        : `<p>Choose a new password (10 to 256 characters) and send it with this link's token:</p>
<pre>curl -H 'content-type: application/json' \\
  -d '{"token":"${escapeHtml(token)}","new_password":"…"}' ${escapeHtml(config.publicUrl)}/v1/auth/password-reset/confirm</pre>
<p>The link works once, for 30 minutes after it was sent. Every session of the account ends; sign in again with
the new password.</p>`;
    return reply
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', POLICY)
      .type('text/html; charset=utf-8')
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reset your Tooken password</title>
<style>${STYLE}</style></head>
<body>
<h1>Reset your Tooken password</h1>
${body}
</body></html>`);
  });
}
