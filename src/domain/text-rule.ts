// The text-field rule of rest-api Appendix B: names and descriptions are stripped of HTML markup
// and control characters, trimmed, and length-checked with Phase's exact messages.
import { ForwardIndex } from '../forward-index.js';
import { invalid } from './errors.js';
import { isPythonBlank, pythonStrip } from './secrets/python-literal.js';

// U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+007F-U+009F (tab, LF and CR are kept).
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
const UNPAIRED_SURROGATE = /\p{Surrogate}/u;

/**
 * Coffer's bound on a field's raw length (docs/security.md "Limits"): stripping markup can shorten
 * a value, so a raw value may be longer than the field's maximum, but not by more than this. It
 * bounds the repeated stripping passes (one per level of nested markup).
 */
const MARKUP_ALLOWANCE = 1_024;

/**
 * Removes markup until none is left: comments `<!--...-->`, declarations `<!...>`, processing
 * instructions `<?...>` and tags `</a ...>`, i.e. `/<!--[\s\S]*?-->|<![^>]*>|<\?[^>]*>|<\/?[a-zA-Z][^<>]*>/g`
 * replaced by nothing, again and again (removing one tag can form another).
 */
export function stripMarkup(text: string): string {
  let current = text;
  for (;;) {
    const next = stripMarkupOnce(current);
    if (next === current) return current;
    current = next;
  }
}

/**
 * One pass of that replacement, leftmost match first as the regular expression would, but with the
 * next `-->`, `>` and `<` looked up once and reused: as a regular expression each unterminated
 * `<!--` or `<!` scanned to the end of the text (240 KB of `<!--` took 10 s).
 * test/domain/text-rule.test.ts holds it to the expression.
 */
function stripMarkupOnce(text: string): string {
  if (!text.includes('<')) return text;
  const ends: MarkupEnds = { comment: new ForwardIndex(text, '-->'), close: new ForwardIndex(text, '>'), open: new ForwardIndex(text, '<') };
  let out = '';
  let copied = 0;
  let at = text.indexOf('<');
  while (at !== -1) {
    const end = markupEnd(text, at, ends);
    if (end === -1) {
      at = text.indexOf('<', at + 1);
      continue;
    }
    out += text.slice(copied, at);
    copied = end;
    at = text.indexOf('<', end);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

interface MarkupEnds {
  comment: ForwardIndex;
  close: ForwardIndex;
  open: ForwardIndex;
}

/** Where the markup starting at `at` (a `<`) ends, or -1 when none starts there. */
function markupEnd(text: string, at: number, ends: MarkupEnds): number {
  const second = text[at + 1];
  if (second === '!') {
    if (text.startsWith('!--', at + 1)) {
      const commentEnd = ends.comment.at(at + 4);
      if (commentEnd !== -1) return commentEnd + 3;
    }
    const close = ends.close.at(at + 2);
    return close === -1 ? -1 : close + 1;
  }
  if (second === '?') {
    const close = ends.close.at(at + 2);
    return close === -1 ? -1 : close + 1;
  }
  const letter = second === '/' ? at + 2 : at + 1;
  if (!/^[a-zA-Z]$/.test(text[letter] ?? '')) return -1;
  const close = ends.close.at(letter + 1);
  if (close === -1) return -1;
  const open = ends.open.at(letter + 1);
  return open !== -1 && open < close ? -1 : close + 1;
}

export function cleanText(text: string): string {
  return pythonStrip(stripMarkup(text).replace(CONTROL, ''));
}

export interface TextRule {
  field: string;
  max: number;
  required: boolean;
}

/**
 * Returns the cleaned text, or undefined when an optional field is "not provided" (absent, null or
 * whitespace-only). Throws Phase's 400 messages otherwise.
 */
export function applyTextRule(value: unknown, rule: TextRule): string | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && isPythonBlank(value))) {
    if (rule.required) throw invalid(`Missing required field: ${rule.field}`);
    return undefined;
  }
  if (typeof value !== 'string') throw invalid(`'${rule.field}' must be a string.`);
  // JSON can carry `\ud800`; PostgreSQL's json refuses it in the audit event that records the name.
  if (UNPAIRED_SURROGATE.test(value)) throw invalid(`'${rule.field}' must not contain unpaired surrogates.`);
  if (value.length > rule.max + MARKUP_ALLOWANCE) throw invalid(`'${rule.field}' cannot exceed ${rule.max} characters.`);
  const cleaned = cleanText(value);
  if (rule.required && cleaned === '') throw invalid(`Missing required field: ${rule.field}`);
  if ([...cleaned].length > rule.max) throw invalid(`'${rule.field}' cannot exceed ${rule.max} characters.`);
  return cleaned;
}
