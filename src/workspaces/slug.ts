export const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$';

/** A slug derived from a workspace name: lowercase ASCII words joined by dashes, ≤ 48 chars. */
export function slugFromName(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  return base === '' ? 'workspace' : base;
}

/** The slug with a numeric suffix, still within 48 characters. */
export function slugWithSuffix(slug: string, n: number): string {
  const suffix = `-${n}`;
  return `${slug.slice(0, 48 - suffix.length).replace(/-+$/, '')}${suffix}`;
}
