import nodemailer from 'nodemailer';

export interface Message {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(message: Message): Promise<void>;
  close(): void;
}

/**
 * How long one delivery attempt may wait on the SMTP server. nodemailer's defaults (2 min to
 * connect, 10 min of socket silence) outlast the job runner's 60 s lease, after which another
 * runner would claim the same email and send it twice; a stalled attempt fails and is retried.
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/** SMTP through nodemailer when `TOOKEN_SMTP_URL` is set; null means email is not configured. */
export function createMailer(smtpUrl: string | null, from: string): Mailer | null {
  if (smtpUrl === null) return null;
  const transport = nodemailer.createTransport({ ...SMTP_TIMEOUTS, url: smtpUrl }, { from });
  return {
    async send(message) {
      await transport.sendMail({ from, ...message });
    },
    close: () => transport.close(),
  };
}
