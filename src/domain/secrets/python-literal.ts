// Phase is a Python server, and some of its observable behaviour is Python's: error messages quote
// the offending value as repr() prints it (rest-api §4.3 step 2d, §5.4), and "blank" means what
// str.strip() removes. This reproduces both for values that arrive as JSON.

/** The characters str.isspace() accepts (Python 3; differs from JavaScript's trim() set). */
const PYTHON_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** One such character (each is one UTF-16 code unit). */
const WHITESPACE_CHAR = new RegExp(`^[${PYTHON_WHITESPACE}]$`);

/**
 * Python's str.strip() (JavaScript's trim() also removes U+FEFF and keeps U+001C–U+001F, U+0085).
 * Walked from each end rather than `/[...]+$/`, which tries every run of whitespace inside the text
 * (150,000 inner spaces took 20 s).
 */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && WHITESPACE_CHAR.test(text[start]!)) start++;
  while (end > start && WHITESPACE_CHAR.test(text[end - 1]!)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** `not text.strip()`: empty or whitespace only, in Python's sense. */
export function isPythonBlank(text: string): boolean {
  return pythonStrip(text) === '';
}

/**
 * Characters repr() escapes: everything str.isprintable() rejects, i.e. the Unicode categories Other
 * (Cc, Cf, Cs, Co, Cn) and Separator (Zl, Zp, Zs) except the ASCII space.
 */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

function escapeChar(ch: string, quote: string): string {
  if (ch === '\\') return '\\\\';
  if (ch === quote) return `\\${quote}`;
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  if (ch === ' ' || !NOT_PRINTABLE.test(ch)) return ch;
  const code = ch.codePointAt(0)!;
  if (code <= 0xff) return `\\x${hex(code, 2)}`;
  if (code <= 0xffff) return `\\u${hex(code, 4)}`;
  return `\\U${hex(code, 8)}`;
}

/** repr(str): single quotes unless the text has `'` and no `"`; backslash escapes as Python prints them. */
export function pythonString(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of text) out += escapeChar(ch, quote);
  return `${quote}${out}${quote}`;
}

/**
 * repr(float): the shortest round-tripping digits (as JavaScript also finds them), positional when the
 * decimal exponent is in [-4, 16), scientific otherwise with a signed exponent of at least two digits.
 */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${body}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return `${sign}${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}

/** Containers nested deeper than this are shown as `[...]` / `{...}` (a message, not a stack overflow). */
const MAX_LITERAL_DEPTH = 32;

/**
 * repr() of a JSON value as Python's json module would have decoded it. Integral numbers are ints
 * (JSON `5` is an int in Python; `5.0` cannot be told apart from `5` once parsed here).
 */
export function pythonLiteral(value: unknown, depth = 0): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pythonString(value);
  if (typeof value === 'number') {
    // Beyond 2^53 an integer literal has already lost digits; a float's repr is the better guess.
    if (Number.isSafeInteger(value)) return String(value === 0 ? 0 : value);
    return pythonFloat(value);
  }
  if (Array.isArray(value)) {
    if (depth >= MAX_LITERAL_DEPTH) return '[...]';
    return `[${value.map((item) => pythonLiteral(item, depth + 1)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    if (depth >= MAX_LITERAL_DEPTH) return '{...}';
    return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonString(k)}: ${pythonLiteral(v, depth + 1)}`).join(', ')}}`;
  }
  return String(value);
}

/** str() of a JSON value: strings as they are, everything else as repr (f-string interpolation). */
export function pythonStr(value: unknown): string {
  return typeof value === 'string' ? value : pythonLiteral(value);
}
