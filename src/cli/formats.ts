// Secrets as files: dotenv, JSON, YAML, CSV and TOML, both ways (`coffer secrets export` writes
// them, `coffer secrets import` reads them). Every writer is checked against its own reader, so an
// exported file reads back to exactly the same names and values, or the export fails naming the
// secret that cannot be written in that format.
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import dotenv from 'dotenv';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import YAML from 'yaml';
import { UserError } from './errors.js';

export type Format = 'dotenv' | 'json' | 'yaml' | 'csv' | 'toml';
export const FORMATS: readonly Format[] = ['dotenv', 'json', 'yaml', 'csv', 'toml'];

export interface Entry {
  key: string;
  value: string;
}

export function checkFormat(text: string): Format {
  const lower = text.toLowerCase();
  const format = lower === 'env' ? 'dotenv' : lower === 'yml' ? 'yaml' : lower;
  if (!(FORMATS as readonly string[]).includes(format)) throw new UserError(`'${text}' is not a format`, `use one of: ${FORMATS.join(', ')}`);
  return format as Format;
}

/** From a file name: .json, .yaml/.yml, .csv, .toml; anything else (.env, .env.local, …) is dotenv. */
export function formatOfFile(file: string): Format {
  const match = /\.(json|ya?ml|csv|toml)$/i.exec(file);
  return match ? checkFormat(match[1]!) : 'dotenv';
}

export function stringifyEntries(format: Format, entries: readonly Entry[]): string {
  const text = WRITERS[format](entries);
  // The writer's promise, checked: the text reads back to the same entries.
  const back = new Map(parseEntries(format, text).map((e) => [e.key, e.value]));
  const broken = entries.filter((e) => back.get(e.key) !== e.value);
  if (broken.length > 0 || back.size !== entries.length) {
    throw new UserError(`cannot write ${broken.map((e) => e.key).join(', ') || 'these secrets'} as ${format} so that it reads back unchanged`, 'use --format json or yaml');
  }
  return text;
}

/**
 * Names and values all double-quoted: plain, `yes`, `on`, `2024-01-01`, `12:30:00` or `1_000` are a
 * boolean, a date, a time and a number to YAML 1.1 readers (PyYAML, many tools), and a secret is
 * text. U+2028 and U+2029 are written as the escapes `\L` and `\P`: those readers take them raw
 * for line breaks and refuse the file.
 */
function yamlMapping(entries: readonly Entry[]): string {
  const text = YAML.stringify(Object.fromEntries(entries.map((e) => [e.key, e.value])), { lineWidth: 0, defaultStringType: 'QUOTE_DOUBLE' });
  return text.replace(/\u2028/g, '\\L').replace(/\u2029/g, '\\P');
}

/** A leading byte order mark (editors on Windows write one) is not part of any format's text. */
export function parseEntries(format: Format, text: string): Entry[] {
  return READERS[format](text.replace(/^\uFEFF/, ''));
}

const WRITERS: Record<Format, (entries: readonly Entry[]) => string> = {
  dotenv: (entries) => entries.map((e) => `${dotenvKey(e.key)}=${dotenvValue(e.key, e.value)}\n`).join(''),
  json: (entries) => `${JSON.stringify(Object.fromEntries(entries.map((e) => [e.key, e.value])), null, 2)}\n`,
  yaml: (entries) => (entries.length === 0 ? '{}\n' : yamlMapping(entries)),
  csv: (entries) => stringifyCsv(entries.map((e) => ({ key: e.key, value: e.value })), { header: true, columns: ['key', 'value'] }),
  toml: (entries) => withNewline(stringifyToml(Object.fromEntries(entries.map((e) => [e.key, e.value])))),
};

const READERS: Record<Format, (text: string) => Entry[]> = {
  // dotenv: comments, quotes ('…', "…" with \n and \r escapes, `…`), multi-line quoted values, `export`.
  dotenv: (text) => dotenvEntries(text),
  json: (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new UserError(`not valid JSON: ${(error as Error).message}`, 'the file must be one object of names and values');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UserError('not a JSON object of names and values');
    return jsonEntries(text);
  },
  // YAML: every scalar that is not a string (numbers, booleans, timestamps) is taken as the text
  // written in the file, so `01234`, `1.10`, `0x1F` or `1e3` are not rewritten; null is ''.
  yaml: (text) => {
    // All documents, so that a second one is refused rather than dropped: parseDocument reports
    // "more than one document" only when it may log, and this reader logs nothing.
    const docs = YAML.parseAllDocuments(text, { logLevel: 'silent' });
    if (docs.length > 1) throw new UserError(`the YAML file holds ${docs.length} documents`, 'import one mapping of names to values (split the file at its `---` lines)');
    const doc = docs[0];
    if (!doc) return [];
    const error = doc.errors[0];
    if (error) throw new UserError(`not valid YAML: ${error.message.split('\n')[0]}`, 'the file must be one mapping of names to values');
    const unknownTag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
    if (unknownTag) throw new UserError(`unknown YAML tag: ${unknownTag.message.split('\n')[0]}`, 'remove the tag (quote the value if it must stay text)');
    const root = doc.contents;
    if (root === null || (YAML.isScalar(root) && root.value === null)) return [];
    if (!YAML.isMap(root)) throw new UserError('not a YAML mapping of names and values');
    return root.items.map((pair) => {
      const key = yamlText(doc, text, pair.key, 'a name');
      return { key, value: yamlText(doc, text, pair.value, key) };
    });
  },
  csv: (text) => {
    let rows: Array<Record<string, string>>;
    try {
      rows = parseCsv(text, { columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), skip_empty_lines: true, bom: true }) as Array<Record<string, string>>;
    } catch (error) {
      throw new UserError(`not valid CSV: ${(error as Error).message}`, 'the file needs a header line `key,value`');
    }
    if (rows.length > 0 && (!('key' in rows[0]!) || !('value' in rows[0]!))) throw new UserError('no `key` and `value` columns', 'start the file with the header line `key,value`');
    return rows.map((r) => ({ key: r.key!, value: r.value ?? '' }));
  },
  toml: (text) => {
    let value: unknown;
    try {
      value = parseToml(text);
    } catch (error) {
      throw new UserError(`not valid TOML: ${(error as Error).message.split('\n')[0]}`, 'the file must hold `KEY = "value"` lines');
    }
    return flat(value, 'a TOML table', (key, v) => tomlText(text, key, v));
  },
};

/**
 * dotenv's own grammar (the line pattern and value rules of `dotenv.parse`, dotenv 18), but every
 * line kept: `dotenv.parse` returns an object, in which a name given twice keeps only its last value
 * and `__proto__` is dropped. Checked against `dotenv.parse` on every read, so the two cannot drift.
 */
const DOTENV_LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

function dotenvEntries(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const match of text.replace(/\r\n?/gm, '\n').matchAll(DOTENV_LINE)) {
    let value = (match[2] ?? '').trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
    if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    entries.push({ key: match[1]!, value });
  }
  const theirs = Object.entries(dotenv.parse(text));
  const ours = new Map(entries.filter((e) => e.key !== '__proto__').map((e) => [e.key, e.value]));
  if (theirs.length !== ours.size || theirs.some(([key, value]) => ours.get(key) !== value)) throw new Error('internal error: the .env reader disagrees with the dotenv package');
  return entries;
}

/**
 * The entries of a JSON object, in file order, a name given twice kept twice (so that the import
 * refuses it) and numbers as written (`1.10`, `1e3`, `12345678901234567890` stay that text);
 * true and false become their text, null the empty string. `text` is valid JSON (JSON.parse
 * accepted it) whose top level is an object.
 */
function jsonEntries(text: string): Entry[] {
  let i = 0;
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i;
    for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const literal = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const entries: Entry[] = [];
  space();
  i++; // {
  space();
  if (text[i] === '}') return entries;
  for (;;) {
    space();
    const key = string();
    space();
    i++; // :
    space();
    if (text[i] === '"') entries.push({ key, value: string() });
    else if (text[i] === '{' || text[i] === '[') throw new UserError(`${key} holds a nested value, not text`, 'only flat files of names and values can be imported');
    else {
      literal.lastIndex = i;
      const token = literal.exec(text)![0];
      i += token.length;
      entries.push({ key, value: token === 'null' ? '' : token });
    }
    space();
    if (text[i] !== ',') return entries;
    i++;
  }
}

/** A YAML name or value: strings as they are, null '', other scalars the text written in the file. */
function yamlText(doc: YAML.Document, text: string, node: unknown, key: string): string {
  const resolved = YAML.isAlias(node) ? node.resolve(doc) : node;
  if (resolved === null || resolved === undefined) return '';
  if (!YAML.isScalar(resolved)) throw new UserError(`${key} holds a nested value, not text`, 'only flat files of names and values can be imported');
  if (resolved.value === null || resolved.value === undefined) return '';
  if (typeof resolved.value === 'string') return resolved.value;
  const [start, end] = resolved.range!;
  return text.slice(start, end);
}

/**
 * A TOML number or date as written in the file. smol-toml keeps no source text, so the `KEY = …` line
 * is looked up; its text is used when exactly one line assigns KEY and that text parses to the same
 * value. Otherwise the value is refused rather than rewritten (`1.10` would become `1.1`).
 */
function tomlText(text: string, key: string, value: unknown): string {
  const kind = value instanceof Date ? 'date' : 'number';
  const written: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=\s*([^#]*?)\s*(?:#.*)?$/.exec(line);
    if (!match) continue;
    const name = match[1]!;
    let lineKey = name;
    try {
      lineKey = name.startsWith('"') ? (JSON.parse(name) as string) : name.startsWith("'") ? name.slice(1, -1) : name;
    } catch {
      continue;
    }
    if (lineKey === key) written.push(match[2]!);
  }
  if (written.length === 1) {
    try {
      const back = parseToml(`x = ${written[0]!}`).x;
      const same = value instanceof Date ? back instanceof Date && String(back) === String(value) && back.toISOString() === value.toISOString() : back === value;
      if (same) return written[0]!;
    } catch {
      // not a value on its own: refused below
    }
  }
  throw new UserError(`${key}: the TOML ${kind} cannot be imported exactly as written`, `quote it as a string: ${key} = "…"`);
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** A flat object of names to strings; booleans become their text, numbers and dates `asWritten`. */
function flat(value: unknown, what: string, asWritten: (key: string, v: unknown) => string): Entry[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UserError(`not ${what} of names and values`);
  return Object.entries(value as Record<string, unknown>).map(([key, v]) => {
    if (v === null || v === undefined) return { key, value: '' };
    if (typeof v === 'string') return { key, value: v };
    if (typeof v === 'boolean') return { key, value: String(v) };
    if (typeof v === 'number' || typeof v === 'bigint' || v instanceof Date) return { key, value: asWritten(key, v) };
    throw new UserError(`${key} holds a nested value, not text`, 'only flat files of names and values can be imported');
  });
}

/** dotenv's names: letters, digits, `_`, `.` and `-`. */
function dotenvKey(key: string): string {
  if (!/^[\w.-]+$/.test(key)) throw new UserError(`the name '${key}' cannot be written in a .env file (letters, digits, _ . - only)`, 'use --format json, yaml or toml');
  return key;
}

/**
 * A quoting that dotenv reads back unchanged: single quotes (nothing is unescaped inside), else
 * backticks, else double quotes (where dotenv turns \n and \r into line breaks, so real line breaks
 * are written raw and carriage returns as \r). Each candidate is tried by reading it back with the
 * .env reader, followed by another line, the honest test; dotenv has no escape for the quote
 * characters themselves, so a value that no candidate carries is refused, saying what it holds.
 */
function dotenvValue(key: string, value: string): string {
  const candidates = [`'${value}'`, `\`${value}\``, `"${value.replace(/\r/g, '\\r')}"`];
  for (const candidate of candidates) {
    const back = dotenvEntries(`${key}=${candidate}\nZ_NEXT=z\n`);
    if (back.length === 2 && back[0]!.key === key && back[0]!.value === value && back[1]!.key === 'Z_NEXT' && back[1]!.value === 'z') return candidate;
  }
  const holds = [
    ["'", value.includes("'")],
    ['`', value.includes('`')],
    ['"', value.includes('"')],
    ['a carriage return', value.includes('\r')],
    ['a literal \\n or \\r', /\\[nr]/.test(value)],
    ['a backslash before a quote', /\\['"`]/.test(value)],
    ['a backslash at the end', value.endsWith('\\')],
  ]
    .filter(([, present]) => present)
    .map(([what]) => what as string);
  throw new UserError(
    `the value of ${key} cannot be written in a .env file: dotenv reads it back changed in '…', \`…\` and "…" quoting (it holds ${holds.join(', ') || 'characters dotenv cannot quote'})`,
    'use --format json, yaml or toml',
  );
}
