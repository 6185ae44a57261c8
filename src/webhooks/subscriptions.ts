import type { WorkspaceContext } from '../auth/context.js';
import { isAllowed, PERMISSIONS } from '../auth/permissions.js';
import { badField } from '../errors.js';
import { type EventReadPermission, readPermissionOf } from '../events/catalog.js';

/**
 * Who may make an endpoint carry which events (docs/webhooks.md#who-may-subscribe-to-what). An
 * endpoint hands the content of its events to whoever controls its URL, so choosing its URL or its
 * events is reading them: the caller needs the right to read each one, as people (by role) and
 * tokens (by scope) are checked everywhere else.
 */

const CONTENT: Record<EventReadPermission, string> = {
  'tokens.read': 'tokens, which only callers who may view tokens may receive',
  'audit.read': 'audit log entries, which only callers who may view the audit log may receive',
};

function refusal(ctx: WorkspaceContext, event: string, field: string) {
  const permission = readPermissionOf(event);
  const scope = PERMISSIONS[permission].scope;
  const hint = ctx.via === 'token' ? ` (a token needs the scope "${scope}")` : '';
  return badField(field, `"${event}" carries ${CONTENT[permission]}${hint}`, 'forbidden');
}

/** An endpoint may be created with these events (each checked; 403 on the first the caller may not read). */
export function assertMayCarry(ctx: WorkspaceContext, events: readonly string[]): void {
  events.forEach((event, i) => {
    if (!isAllowed(ctx, readPermissionOf(event))) throw refusal(ctx, event, `events[${i}]`);
  });
}

/**
 * A change of URL or events. With the URL unchanged, the caller needs the right over the events
 * it asks for; moving the URL also hands over the events carried until now, since their queued
 * deliveries and any retry go to the endpoint's current URL. Anything else (description, enabled)
 * sends nothing anywhere new and needs no more than writing webhooks.
 */
export function assertMayRedirect(
  ctx: WorkspaceContext,
  current: { url: string; events: readonly string[] },
  patch: { url?: string | undefined; events?: readonly string[] | undefined },
): void {
  const { events } = patch;
  if (events !== undefined && JSON.stringify([...new Set(events)]) !== JSON.stringify(current.events)) {
    assertMayCarry(ctx, events);
  }
  if (patch.url === undefined || patch.url === current.url) return;
  const carried = current.events.find((event) => !isAllowed(ctx, readPermissionOf(event)));
  if (carried !== undefined) throw refusal(ctx, carried, 'url');
}
