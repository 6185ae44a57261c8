import * as OTPAuth from 'otpauth';
import type { Page } from 'playwright-core';
import { createJobRunner } from '../../src/background.js';
import type { E2E } from './harness.js';

/**
 * The code an authenticator app would show for `secret` (base32) at `at`. The server accepts each
 * time-step once and allows one step of drift either way, so a second code right after the first
 * is taken from the next step (`at` = now + 30 s).
 */
export function totp(secret: string, at = Date.now()): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: at });
}

export const nextStep = () => Date.now() + 30_000;

/** A 6-digit code that no step the server would accept now (this one, the one before or after) has. */
export function wrongCode(secret: string): string {
  const near = new Set([-30_000, 0, 30_000, 60_000].map((shift) => totp(secret, Date.now() + shift)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

/** Turns two-factor on through the API for the page's signed-in person; answers the secret. */
export async function enrolByApi(
  call: (
    method: 'POST',
    url: string,
    body?: unknown,
  ) => Promise<{ status: number; body: Record<string, unknown> }>,
) {
  const begun = await call('POST', '/v1/me/two-factor');
  const secret = String(begun.body.secret);
  const confirmed = await call('POST', '/v1/me/two-factor/confirm', { code: totp(secret) });
  if (confirmed.status !== 200) throw new Error(`enrolment answered ${confirmed.status}`);
  return { secret, recoveryCodes: confirmed.body.recovery_codes as string[] };
}

/** Signs in through the sign-in page's first step (email and password). */
export async function signInFirstStep(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };

/** Runs the server's due background jobs (the email job among them), as a node does after commit. */
export const runJobs = (e2e: E2E) => createJobRunner(e2e.t.services, silent).runDue();
