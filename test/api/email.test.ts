import { type AddressInfo, createServer, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import { SMTP_TIMEOUTS } from '../../src/email/mailer.js';
import { EMAIL_MAX_ATTEMPTS } from '../../src/email/outbox.js';
import {
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

const PUBLIC_URL = 'https://tooken.example.com';
const FROM = 'Tooken <noreply@tooken.example.com>';
const LINK = /https:\/\/tooken\.example\.com\/invitations\/accept\?token=[A-Za-z0-9_%-]+/;
const HOUR = 60 * 60 * 1000;

// ---- a tiny MIME reader: enough for what nodemailer writes (multipart, quoted-printable, base64) ----

interface Leaf {
  type: string;
  content: string;
}

function splitPart(raw: string): { headers: Record<string, string>; body: string } {
  const end = raw.search(/\r?\n\r?\n/);
  const head = (end === -1 ? raw : raw.slice(0, end)).replace(/\r?\n(?=[ \t])/g, '');
  const body = end === -1 ? '' : raw.slice(end).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeQuotedPrintable(text: string): string {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function leaves(raw: string): Leaf[] {
  const { headers, body } = splitPart(raw);
  const contentType = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (contentType.toLowerCase().startsWith('multipart/') && boundary !== undefined) {
    return body
      .split(`--${boundary}`)
      .slice(1)
      .filter((piece) => !piece.startsWith('--'))
      .flatMap((piece) => leaves(piece.replace(/^\r?\n/, '')));
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const content =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(body)
        : body;
  return [{ type: (contentType.split(';')[0] ?? '').trim().toLowerCase(), content }];
}

interface Received {
  envelopeFrom: string;
  envelopeTo: string[];
  headers: Record<string, string>;
  text: string;
  html: string;
}

function parseMessage(raw: string, envelopeFrom: string, envelopeTo: string[]): Received {
  const parts = leaves(raw);
  return {
    envelopeFrom,
    envelopeTo,
    headers: splitPart(raw).headers,
    text: parts.find((p) => p.type === 'text/plain')?.content ?? '',
    html: parts.find((p) => p.type === 'text/html')?.content ?? '',
  };
}

// ---- a real SMTP server in this process ----

interface TestSmtp {
  port: number;
  messages: Received[];
  /** When set, every recipient is refused with this reply. */
  reject: { code: number; message: string } | null;
  close(): Promise<void>;
}

async function startSmtp(): Promise<TestSmtp> {
  const state: TestSmtp = { port: 0, messages: [], reject: null, close: async () => {} };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (state.reject === null) return callback();
      const error = new Error(state.reject.message) as Error & { responseCode: number };
      error.responseCode = state.reject.code;
      return callback(error);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        state.messages.push(
          parseMessage(
            Buffer.concat(chunks).toString('utf8'),
            from,
            session.envelope.rcptTo.map((r) => r.address),
          ),
        );
        callback();
      });
    },
  });
  const listening = await new Promise<AddressInfo>((resolve) => {
    const net = server.listen(0, '127.0.0.1', () => resolve(net.address() as AddressInfo));
  });
  state.port = listening.port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

/** A logger for the job runner that keeps every line, errors included, as text. */
function captureLogger() {
  const lines: string[] = [];
  const keep =
    (level: string) =>
    (...args: unknown[]) => {
      lines.push(
        JSON.stringify([level, ...args], (_key, value) =>
          value instanceof Error ? { message: value.message, stack: value.stack } : value,
        ),
      );
    };
  return {
    lines,
    logger: { info: keep('info'), warn: keep('warn'), error: keep('error'), debug: keep('debug') },
  };
}

const tokenOf = (url: string): string => new URL(url).searchParams.get('token') ?? '';

describe.each(dialects())('%s: invitation email over SMTP', (dialect) => {
  let smtp: TestSmtp;
  let t: TestApp;
  beforeAll(async () => {
    smtp = await startSmtp();
    t = await createTestApp(dialect, {
      TOOKEN_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      TOOKEN_PUBLIC_URL: PUBLIC_URL,
      TOOKEN_EMAIL_FROM: FROM,
    });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  beforeEach(() => {
    smtp.messages.length = 0;
    smtp.reject = null;
  });

  const emailOf = (invitationId: string) =>
    t.services.db
      .selectFrom('emails')
      .selectAll()
      .where('ref_id', '=', invitationId)
      .executeTakeFirstOrThrow();

  const jobOf = async (emailId: string) => {
    const jobs = await t.services.db
      .selectFrom('jobs')
      .selectAll()
      .where('kind', '=', 'email.send')
      .execute();
    const job = jobs.find((j) => JSON.parse(j.payload).emailId === emailId);
    if (job === undefined) throw new Error(`no job for ${emailId}`);
    return job;
  };

  async function invite(owner: Session, slug: string, email: string, role: 'owner' | 'admin' | 'viewer') {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${slug}/invitations`,
      headers: owner.headers,
      payload: { email, role },
    });
    expect(res.statusCode).toBe(201);
    return json(res);
  }

  const pendingList = async (owner: Session, slug: string): Promise<Json[]> =>
    json(
      await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${slug}/invitations`,
        headers: owner.headers,
      }),
    ).data;

  it('delivers the invitation with recipient, subject, inviter, role and a working link', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Acme Robotics' });
    const to = uniqueEmail('bob');
    const invitation = await invite(owner, ws.slug, to, 'admin');
    expect(smtp.messages).toHaveLength(0); // sent by the job runner, not in the request

    const { lines, logger } = captureLogger();
    const runner = createJobRunner(t.services, logger);
    expect(await runner.runDue()).toBe(1);

    expect(smtp.messages).toHaveLength(1);
    const message = smtp.messages[0] as Received;
    expect(message.envelopeTo).toEqual([to]);
    expect(message.envelopeFrom).toBe('noreply@tooken.example.com');
    expect(message.headers.to).toContain(to);
    expect(message.headers.from).toContain('noreply@tooken.example.com');
    expect(message.headers.subject).toContain('Acme Robotics');
    expect(message.headers.subject).toContain(owner.user.email);

    for (const body of [message.text, message.html.replaceAll('&amp;', '&')]) {
      expect(body).toContain('Acme Robotics');
      expect(body).toContain(owner.user.email);
      expect(body).toContain('Admin');
      expect(body).toContain(invitation.accept_url);
    }
    expect(message.html).toMatch(/<a href="https:\/\/tooken\.example\.com\/invitations\/accept\?token=/);
    const link = LINK.exec(message.text)?.[0] ?? '';
    expect(link).toBe(invitation.accept_url);

    const email = await emailOf(invitation.id);
    expect(email).toMatchObject({
      status: 'sent',
      attempts: 1,
      last_error: null,
      sent_at: t.clock.now(),
      to_address: to,
    });
    expect((await jobOf(email.id)).status).toBe('done');
    expect(await runner.runDue()).toBe(0);
    expect(smtp.messages).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(tokenOf(link));

    // The link from the email accepts the invitation.
    const bob = await signup(t.app, to);
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: bob.headers,
      payload: { token: tokenOf(link) },
    });
    expect(accepted.statusCode).toBe(200);
    expect(json(accepted).workspace).toEqual({
      id: ws.id,
      name: 'Acme Robotics',
      slug: ws.slug,
      role: 'admin',
    });
  });

  it('retries a refused delivery without losing the invitation', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Retry Works' });
    const to = uniqueEmail('dave');
    const invitation = await invite(owner, ws.slug, to, 'viewer');
    const { lines, logger } = captureLogger();
    const runner = createJobRunner(t.services, logger);

    smtp.reject = { code: 451, message: 'Mailbox temporarily unavailable' };
    expect(await runner.runDue()).toBe(1);
    expect(smtp.messages).toHaveLength(0);
    let email = await emailOf(invitation.id);
    expect(email.status).toBe('pending');
    expect(email.attempts).toBe(1);
    expect(email.last_error).toMatch(/451|temporarily unavailable/i);
    let job = await jobOf(email.id);
    expect(job).toMatchObject({ status: 'pending', attempts: 1 });
    expect(job.run_at).toBeGreaterThan(t.clock.now());
    expect(job.last_error).toMatch(/SMTP/);

    // The invitation is untouched: still pending, still listed with its link.
    expect((await pendingList(owner, ws.slug)).map((i) => [i.id, i.accept_url])).toEqual([
      [invitation.id, invitation.accept_url],
    ]);
    // Not due yet: nothing runs.
    expect(await runner.runDue()).toBe(0);

    // Still refused on the second attempt, at its time.
    t.clock.set(job.run_at);
    expect(await runner.runDue()).toBe(1);
    email = await emailOf(invitation.id);
    expect(email).toMatchObject({ status: 'pending', attempts: 2 });
    job = await jobOf(email.id);
    expect(job).toMatchObject({ status: 'pending', attempts: 2 });

    // The server recovers; once the retry is due the message goes out.
    smtp.reject = null;
    t.clock.set(job.run_at + 1);
    expect(await runner.runDue()).toBe(1);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.envelopeTo).toEqual([to]);
    const link = LINK.exec(smtp.messages[0]?.text ?? '')?.[0] ?? '';
    expect(link).toBe(invitation.accept_url);
    email = await emailOf(invitation.id);
    expect(email).toMatchObject({ status: 'sent', attempts: 3, last_error: null });
    expect((await jobOf(email.id)).status).toBe('done');

    // Failures were logged, never with the link.
    const log = lines.join('\n');
    expect(log).toMatch(/job failed/);
    expect(log).not.toContain(tokenOf(link));

    const dave = await signup(t.app, to);
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: dave.headers,
      payload: { token: tokenOf(link) },
    });
    expect(accepted.statusCode).toBe(200);
  });

  it('gives up after its last attempt, and the invitation stays valid with its link', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Gives Up' });
    const invitation = await invite(owner, ws.slug, uniqueEmail('frank'), 'viewer');
    const runner = createJobRunner(t.services, captureLogger().logger);
    smtp.reject = { code: 550, message: 'No such user here' };
    for (let attempt = 1; attempt <= EMAIL_MAX_ATTEMPTS; attempt++) {
      expect(await runner.runDue()).toBe(1);
      t.clock.advance(HOUR + 1);
    }
    expect(await runner.runDue()).toBe(0);
    const email = await emailOf(invitation.id);
    expect(email).toMatchObject({ status: 'failed', attempts: EMAIL_MAX_ATTEMPTS });
    expect(email.last_error).toMatch(/550|No such user/);
    expect((await jobOf(email.id)).status).toBe('dead');
    expect(smtp.messages).toHaveLength(0);
    // The Owner can still hand the link over.
    expect((await pendingList(owner, ws.slug)).map((i) => i.accept_url)).toEqual([invitation.accept_url]);
  });

  it('escapes what people typed in the HTML body', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'R&D <script>x</script>' });
    const invitation = await invite(owner, ws.slug, uniqueEmail('reader'), 'viewer');
    expect(await createJobRunner(t.services, captureLogger().logger).runDue()).toBe(1);
    const message = smtp.messages[0] as Received;
    expect(message.headers.subject).toContain('R&D <script>x</script>');
    expect(message.text).toContain('R&D <script>x</script>');
    expect(message.html).toContain('R&amp;D &lt;script&gt;x&lt;/script&gt;');
    expect(message.html).not.toContain('<script>');
    expect(message.text).toContain('Viewer');
    expect(message.text).toContain(invitation.accept_url);
  });

  it('does not send the email of a replaced or revoked invitation', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Moot Mail' });
    const to = uniqueEmail('hank');
    const first = await invite(owner, ws.slug, to, 'viewer');
    const second = await invite(owner, ws.slug, to, 'admin');
    const revoked = await invite(owner, ws.slug, uniqueEmail('ivy'), 'viewer');
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/invitations/${revoked.id}`,
      headers: owner.headers,
    });
    expect(del.statusCode).toBe(204);

    const runner = createJobRunner(t.services, captureLogger().logger);
    expect(await runner.runDue()).toBe(3);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.envelopeTo).toEqual([to]);
    expect(smtp.messages[0]?.text).toContain(second.accept_url);
    expect(smtp.messages[0]?.text).toContain('Admin');
    expect(smtp.messages[0]?.text).not.toContain(tokenOf(first.accept_url));
    expect((await emailOf(first.id)).status).toBe('cancelled');
    expect((await emailOf(revoked.id)).status).toBe('cancelled');
    expect((await emailOf(second.id)).status).toBe('sent');
  });
});

describe.each(dialects())('%s: invitation email without SMTP', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: PUBLIC_URL });
  });
  afterAll(() => t.close());

  it('marks the email not sent, logs that without the link, and shows the link to Owners', async () => {
    expect(t.services.mailer).toBeNull();
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Local Install' });
    const to = uniqueEmail('friend');
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: owner.headers,
      payload: { email: to, role: 'viewer' },
    });
    expect(res.statusCode).toBe(201);
    const invitation = json(res);
    const secret = tokenOf(invitation.accept_url);

    const { lines, logger } = captureLogger();
    expect(await createJobRunner(t.services, logger).runDue()).toBe(1);
    const email = await t.services.db
      .selectFrom('emails')
      .selectAll()
      .where('ref_id', '=', invitation.id)
      .executeTakeFirstOrThrow();
    expect(email.status).toBe('not_sent');
    const notice = lines.find((line) => /not sent/i.test(line));
    expect(notice).toBeDefined();
    expect(notice).toContain(invitation.id);
    const everything = `${lines.join('\n')}\n${t.logs.join('')}`;
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('/invitations/accept?token=');

    // Nothing is lost: the Owner copies the link from the list, and it works.
    const list = json(
      await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${ws.slug}/invitations`,
        headers: owner.headers,
      }),
    );
    expect(list.data.map((i: Json) => i.accept_url)).toEqual([invitation.accept_url]);
    const friend = await signup(t.app, to);
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: friend.headers,
      payload: { token: secret },
    });
    expect(accepted.statusCode).toBe(200);
  });
});

// Dialect-independent (the mailer's own timeouts), so it runs once, on SQLite.
describe('a stalled SMTP server', () => {
  it('fails the attempt well within the job lease instead of hanging, and retries later', async () => {
    // Accepts connections and never says a word.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)),
    );
    const t = await createTestApp('sqlite', {
      TOOKEN_SMTP_URL: `smtp://127.0.0.1:${port}`,
      TOOKEN_PUBLIC_URL: PUBLIC_URL,
    });
    try {
      expect(SMTP_TIMEOUTS.connectionTimeout + SMTP_TIMEOUTS.greetingTimeout).toBeLessThan(60_000);
      const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Stalled' });
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/invitations`,
        headers: owner.headers,
        payload: { email: uniqueEmail('waiting'), role: 'viewer' },
      });
      const invitation = json(res);
      const started = Date.now();
      expect(await createJobRunner(t.services, captureLogger().logger).runDue()).toBe(1);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(SMTP_TIMEOUTS.greetingTimeout + 5_000);
      const email = await t.services.db
        .selectFrom('emails')
        .selectAll()
        .where('ref_id', '=', invitation.id)
        .executeTakeFirstOrThrow();
      expect(email).toMatchObject({ status: 'pending', attempts: 1 });
      expect(email.last_error).toMatch(/greeting|timeout/i);
      const job = (
        await t.services.db.selectFrom('jobs').selectAll().where('kind', '=', 'email.send').execute()
      )[0];
      expect(job).toMatchObject({ status: 'pending', attempts: 1 });
    } finally {
      await t.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 30_000);
});
