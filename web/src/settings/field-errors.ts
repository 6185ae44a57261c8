import { TookenError } from '@tooken/client';
import { type FormErrors, formErrors } from '../api/errors';

/**
 * `formErrors`, keeping the server's own sentences whole: a detail the server wrote as a sentence
 * ("This slug is already taken", "Unknown IANA timezone …") is shown as it is, not prefixed with
 * its field's name the way a schema fragment ("must be <= 365") is.
 */
export function settingsFormErrors(error: unknown, fields: readonly string[]): FormErrors {
  const result = formErrors(error, fields);
  if (!(error instanceof TookenError)) return result;
  for (const detail of error.details) {
    const name = detail.field.replace(/^\/|^body[./]/, '').split(/[./[]/)[0] ?? '';
    if (fields.includes(name) && /^[^a-z]/.test(detail.message)) result.fields[name] = detail.message;
  }
  return result;
}
