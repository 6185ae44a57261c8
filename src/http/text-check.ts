import { AppError, badField } from '../errors.js';

/**
 * Text the databases cannot store as given is refused at the boundary (docs/api.md#text), so what
 * is stored, shown, hashed into the audit chain and sent to webhooks is always the same text:
 * PostgreSQL refuses U+0000 outright, and both databases store a lone UTF-16 surrogate as U+FFFD.
 */
function badText(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL characters';
  if (!text.isWellFormed()) return 'must be well-formed Unicode text (no lone UTF-16 surrogates)';
  return null;
}

const MAX_PATH = 200;

/** `a.b[1]`; cut short with `…` past a few hundred characters (bodies may nest 100,000 deep). */
function childPath(parent: string, key: string | number): string {
  if (parent.length >= MAX_PATH) return parent.endsWith('…') ? parent : `${parent}…`;
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/**
 * The first string or object key of a parsed body, query or set of path parameters that is not
 * storable text, as `{field, message}` (`field` names the offending value, or the object holding
 * an offending key). Iterative: bodies may nest deeply.
 */
export function findBadText(value: unknown, root: string): { field: string; message: string } | null {
  const pending: [unknown, string][] = [[value, '']];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [current, path] = item;
    if (typeof current === 'string') {
      const message = badText(current);
      if (message !== null) return { field: path === '' ? root : path, message };
    } else if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) pending.push([current[i], childPath(path, i)]);
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        const message = badText(key);
        if (message !== null) return { field: path === '' ? root : path, message };
        pending.push([child, childPath(path, key)]);
      }
    }
  }
  return null;
}

/** Throws 400 naming the field when `value` holds text that cannot be stored as given. */
export function assertStorableText(value: unknown, root: string): void {
  const bad = findBadText(value, root);
  if (bad !== null) throw badField(bad.field, bad.message);
}

/**
 * The raw query string must be valid percent-encoded UTF-8, as the path must be: the parser would
 * otherwise keep a malformed escape (such as the bytes of a lone surrogate, `%ED%A0%80`) as
 * literal text. A NUL escape is refused here too, before authentication reads the URL.
 */
export function assertWellFormedUrl(url: string): void {
  if (url.includes('%00')) throw new AppError('bad_request', 'The URL must not contain NUL characters');
  const start = url.indexOf('?');
  if (start === -1) return;
  for (const part of url.slice(start + 1).split('&')) {
    try {
      decodeURIComponent(part);
    } catch {
      throw new AppError('bad_request', 'The query string is not valid percent-encoded UTF-8');
    }
  }
}
