import { TookenError, TookenUnreachableError } from '@tooken/client';

/** A failed call's message for people: the server's own words when it answered. */
export function messageOf(error: unknown): string {
  if (error instanceof TookenError) return error.message;
  if (error instanceof TookenUnreachableError)
    return 'The server cannot be reached. Check your connection and retry.';
  return 'Something went wrong. Retry, and reload the page if it persists.';
}

export interface FormErrors {
  /** Messages by field name, shown next to their fields. */
  fields: Record<string, string>;
  /** What belongs to no field. */
  form: string | null;
}

/**
 * Places the server's validation messages next to their fields: its `details` name them; a
 * message without details goes to the field it names (409 "name already used", 422 "expires_at …"),
 * or to the form when it names none.
 */
export function formErrors(error: unknown, fields: readonly string[]): FormErrors {
  if (error === null || error === undefined) return { fields: {}, form: null };
  const found: Record<string, string> = {};
  if (error instanceof TookenError) {
    for (const detail of error.details) {
      const name = detail.field.replace(/^\/|^body[./]/, '').split(/[./[]/)[0] ?? '';
      if (!fields.includes(name) || found[name] !== undefined) continue;
      // Schema messages are fragments ("is required"); the server's own rules are sentences.
      const sentence = /^[A-Z]/.test(detail.message);
      found[name] = sentence ? detail.message : capitalise(`${name.replaceAll('_', ' ')} ${detail.message}`);
    }
    if (Object.keys(found).length > 0) return { fields: found, form: null };
    const named = fields.find((field) => new RegExp(`\\b${field}\\b`, 'i').test(error.message));
    if (named !== undefined) return { fields: { [named]: error.message }, form: null };
  }
  return { fields: {}, form: messageOf(error) };
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
