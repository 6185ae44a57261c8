import type { DeliveryAttempt } from './schema.js';

/**
 * Typed decoders for the JSON text columns. A row is trusted as far as its shape is cheap to check
 * (arrays of strings, plain objects, the fields of a delivery attempt), so corrupt data fails here
 * with the column's name instead of surfacing later as a wrong type. The token decoders run on the
 * verify path (cache misses), hence checks in plain loops and no schema library.
 */

/** Thrown when stored JSON text is not JSON of its expected shape. */
export class CorruptJsonError extends Error {
  constructor(what: string, problem: string, options?: ErrorOptions) {
    super(`corrupt ${what}: ${problem}`, options);
    this.name = 'CorruptJsonError';
  }
}

/** A JSON object (never an array or null), as JSON.parse produces it. */
export type JsonObject = Record<string, unknown>;

/** An audit entry's `{field: {from, to}}` (a value left undefined was dropped by JSON). */
export type AuditChanges = Record<string, { from: unknown; to: unknown }>;

/** Parses JSON text; `what` names it in the error, should it not be JSON. */
export function decodeJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CorruptJsonError(what, 'not JSON', { cause });
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

const isStringOrNull = (value: unknown) => value === null || typeof value === 'string';

function isDeliveryAttempt(value: unknown): value is DeliveryAttempt {
  return (
    isJsonObject(value) &&
    typeof value.at === 'string' &&
    (value.status_code === null || typeof value.status_code === 'number') &&
    typeof value.latency_ms === 'number' &&
    isStringOrNull(value.error) &&
    isStringOrNull(value.response_excerpt)
  );
}

function isAuditChanges(value: unknown): value is AuditChanges {
  return isJsonObject(value) && Object.values(value).every(isJsonObject);
}

function decodeStringArray(text: string, what: string): string[] {
  const value = decodeJson(text, what);
  if (!isStringArray(value)) throw new CorruptJsonError(what, 'not an array of strings');
  return value;
}

function decodeObject(text: string, what: string): JsonObject {
  const value = decodeJson(text, what);
  if (!isJsonObject(value)) throw new CorruptJsonError(what, 'not a JSON object');
  return value;
}

/** `tokens.scopes`. */
export const decodeScopes = (text: string): string[] => decodeStringArray(text, 'token scopes');

/** `tokens.metadata`. */
export const decodeMetadata = (text: string): JsonObject => decodeObject(text, 'token metadata');

/** `workspaces.custom_scopes`. */
export const decodeCustomScopes = (text: string): string[] =>
  decodeStringArray(text, 'workspace custom scopes');

/** `webhooks.events`. */
export const decodeWebhookEvents = (text: string): string[] => decodeStringArray(text, 'webhook events');

/** `webhook_deliveries.attempts`. */
export function decodeDeliveryAttempts(text: string): DeliveryAttempt[] {
  const value = decodeJson(text, 'delivery attempts');
  if (!Array.isArray(value) || !value.every(isDeliveryAttempt)) {
    throw new CorruptJsonError('delivery attempts', 'not an array of attempts');
  }
  return value;
}

/** `audit_log.changes` (null when the entry records no field changes). */
export function decodeAuditChanges(text: string | null): AuditChanges | null {
  if (text === null) return null;
  const value = decodeJson(text, 'audit changes');
  if (!isAuditChanges(value)) throw new CorruptJsonError('audit changes', 'not an object of {from, to}');
  return value;
}
