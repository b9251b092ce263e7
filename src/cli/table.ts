// Plain-text tables for listings: aligned columns, one row a line, nothing but spaces between them
// (so `grep` and `awk` work on them), cells kept on one line.
//
// Everything printed here is user data (keys, values, names, comments, ...), so no control
// character reaches the terminal raw: an escape sequence in a secret's comment must not clear the
// screen, set the window title or plant a hyperlink. Newlines and tabs are shown as ⏎ and →; every
// other C0 control, DEL and every C1 control is shown as \xHH (ESC as \x1b, CR as \x0d, BEL as \x07).
// Machine outputs (--json, `secrets get`, `secrets export`) are byte-exact and never pass through here.

export const MASK = '********';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** User data for a line of terminal output: control characters shown visibly (see above). */
export function visible(text: string): string {
  return text
    .replace(/\r?\n/g, '⏎')
    .replace(/\t/g, '→')
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Text for the terminal (messages): newlines and tabs kept, every other control character as \xHH. */
export function noControls(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line per cell: control characters made visible, long cells cut with …. */
export function cell(text: string, max = 60): string {
  const flat = visible(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function renderTable(headers: string[], rows: string[][]): string {
  const safe = rows.map((r) => r.map((c) => visible(c ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...safe.map(line)].join('\n');
}

export function printTable(headers: string[], rows: string[][]): void {
  process.stdout.write(`${renderTable(headers, rows)}\n`);
}
