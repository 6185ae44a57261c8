/** The canonical IANA name of a zone (`europe/berlin` → `Europe/Berlin`), or null if unknown. */
export function canonicalTimezone(zone: string): string | null {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}
