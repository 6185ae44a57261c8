/**
 * The canonical spelling of an IANA zone name (`europe/berlin` → `Europe/Berlin`), or null if
 * the zone is unknown.
 *
 * ICU answers with its own (CLDR) identifier, which for renamed zones is the old name
 * (`Europe/Kyiv` → `Europe/Kiev`, `Asia/Kolkata` → `Asia/Calcutta`). A name that ICU knows under
 * another identifier is therefore kept as the caller wrote it; only its case cannot be checked
 * here (ICU matches case-insensitively), so an all-lowercase alias falls back to ICU's name.
 */
export function canonicalTimezone(zone: string): string | null {
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
  if (resolved.toLowerCase() === zone.toLowerCase()) return resolved;
  return zone === zone.toLowerCase() ? resolved : zone;
}
