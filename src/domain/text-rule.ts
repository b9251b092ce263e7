// The text-field rule of rest-api Appendix B: names and descriptions are stripped of HTML markup
// and control characters, trimmed, and length-checked with Phase's exact messages.
import { invalid } from './errors.js';
import { isPythonBlank, pythonStrip } from './secrets/python-literal.js';

const MARKUP = /<!--[\s\S]*?-->|<![^>]*>|<\?[^>]*>|<\/?[a-zA-Z][^<>]*>/g;
// U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+007F-U+009F (tab, LF and CR are kept).
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
const UNPAIRED_SURROGATE = /\p{Surrogate}/u;

export function stripMarkup(text: string): string {
  let current = text;
  for (;;) {
    const next = current.replace(MARKUP, '');
    if (next === current) return current;
    current = next;
  }
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
  const cleaned = cleanText(value);
  if (rule.required && cleaned === '') throw invalid(`Missing required field: ${rule.field}`);
  if ([...cleaned].length > rule.max) throw invalid(`'${rule.field}' cannot exceed ${rule.max} characters.`);
  return cleaned;
}
