import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { apiAs, type E2E } from './harness.js';

type Api = Awaited<ReturnType<typeof apiAs>>;

/**
 * A second person in a workspace with the given role, signed in in a browser context of their own:
 * the Owner invites them through the API, they sign up with the invitation's token and accept it.
 */
export async function memberWithRole(
  e2e: E2E,
  owner: Api,
  slug: string,
  person: { email: string; name: string; role: 'owner' | 'admin' | 'viewer' },
) {
  const invited = await owner.call('POST', `/v1/workspaces/${slug}/invitations`, {
    email: person.email,
    role: person.role,
  });
  expect(invited.status).toBe(201);
  const token = new URL(String(invited.body.accept_url)).searchParams.get('token');
  const { context, page, problems } = await e2e.newPage();
  const signup = await context.request.post('/v1/auth/signup', {
    data: {
      email: person.email,
      password: 'correct horse battery',
      name: person.name,
      invitation_token: token,
    },
  });
  expect(signup.status()).toBe(201);
  const api = await apiAs(page);
  const accepted = await api.call('POST', '/v1/invitations/accept', { token });
  expect(accepted.status).toBe(200);
  return { page, problems, api };
}

/** The messages shown for a field: what its control's `aria-describedby` points at that is an error. */
export async function fieldErrorOf(page: Page, label: string): Promise<string> {
  const control = page.getByLabel(label, { exact: true });
  await control.and(page.locator('[aria-invalid="true"]')).waitFor();
  const ids = ((await control.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
  const messages: string[] = [];
  for (const id of ids) {
    const node = page.locator(`[id="${id}"].field-error`);
    if ((await node.count()) > 0) messages.push((await node.textContent()) ?? '');
  }
  return messages.join(' ');
}
