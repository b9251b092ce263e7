// Plain-text tables for listings: aligned columns, one row a line, nothing but spaces between them
// (so `grep` and `awk` work on them), cells kept on one line.

export const MASK = '********';

/** One line per cell: newlines and tabs shown as ⏎ and →, long cells cut with …. */
export function cell(text: string, max = 60): string {
  const flat = text.replace(/\r?\n/g, '⏎').replace(/\t/g, '→');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function printTable(headers: string[], rows: string[][]): void {
  process.stdout.write(`${renderTable(headers, rows)}\n`);
}
