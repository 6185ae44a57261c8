/** How the CLI writes: tables for people, the API's JSON for scripts, errors on stderr. */

export interface Output {
  json: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

type Row = Record<string, unknown>;

const cell = (value: unknown): string => {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

/** A plain-text table of `columns` (header, then one line per row), padded to the widest cell. */
export function table(rows: readonly Row[], columns: readonly string[]): string {
  const lines = [columns.map((c) => c.toUpperCase()), ...rows.map((row) => columns.map((c) => cell(row[c])))];
  const widths = columns.map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines
    .map((line) =>
      line
        .map((text, i) => (i === line.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One object as `key  value` lines. */
export function details(row: Row, fields: readonly string[]): string {
  const width = Math.max(...fields.map((f) => f.length));
  return fields.map((f) => `${f.padEnd(width)}  ${cell(row[f])}`).join('\n');
}

/** Prints the API's JSON for scripts, or what `human` makes of it for people. */
export function print(output: Output, value: unknown, human: () => string): void {
  output.out(output.json ? JSON.stringify(value, null, 2) : human());
}

/** A list: a table and its page, or the JSON document. */
export function printList(
  output: Output,
  list: { data: readonly Row[]; meta: { page: number; per_page: number; total: number } },
  columns: readonly string[],
): void {
  print(output, list, () => {
    if (list.data.length === 0) return 'Nothing here yet.';
    const { page, per_page, total } = list.meta;
    const pages = Math.max(1, Math.ceil(total / per_page));
    return `${table(list.data, columns)}\n\n${total} in all; page ${page} of ${pages}.`;
  });
}
