// The syntax of secret references as Phase's server reads them (rest-api §6.2): which `${...}`
// spans of a value are cross-app, cross-environment and local references. Shared by the server's
// resolution (src/domain/secrets/references.ts) and the CLI, which names the references a
// server-resolved value still holds (src/cli/secrets-client.ts).
import { ForwardIndex } from './forward-index.js';
import { MAX_REFERENCES_PER_VALUE } from './reference-limits.js';

/** A value holds more than MAX_REFERENCES_PER_VALUE references: it is not expanded at all. */
export class TooManyReferences extends Error {}

/**
 * The `${...}` spans Phase's server matches, in order: `${`, then text without braces, then the
 * first `}`. Phase writes each phase as a regular expression over the whole value
 * (`\$\{(?!\{)([^{}]+?)::([^{}]+?)\.([^{}]+?)\}` for cross-app references,
 * `\$\{(?!\{)(?![^{}]*::)([^{}.]+?)\.([^{}]+?)\}` cross-environment, `\$\{(?!\{)([^{}.]+?)\}` local);
 * as regular expressions they backtrack in cubic time on a value with no closing brace (16 KB of
 * `a::b.` held the event loop 14 s), so the spans are found by one forward scan and each inside is
 * split with indexOf. test/domain/references-scan.test.ts holds the results to those expressions.
 */
function referenceSpans(value: string): Array<{ whole: string; inside: string }> {
  const spans: Array<{ whole: string; inside: string }> = [];
  const closing = new ForwardIndex(value, '}');
  const opening = new ForwardIndex(value, '{');
  let from = 0;
  for (;;) {
    const start = value.indexOf('${', from);
    if (start === -1) return spans;
    const inside = start + 2;
    const close = closing.at(inside);
    if (close === -1) return spans; // no closing brace after this point: nothing more can match
    const open = opening.at(inside);
    if (close > inside && (open === -1 || open > close)) {
      if (spans.length === MAX_REFERENCES_PER_VALUE) throw new TooManyReferences();
      spans.push({ whole: value.slice(start, close + 1), inside: value.slice(inside, close) });
      from = close + 1;
    } else {
      from = start + 1;
    }
  }
}

/** `app::env.ref` (each part at least one character; the first `::`, then the first `.` after it). */
export function crossAppMatches(value: string): Array<[whole: string, app: string, env: string, ref: string]> {
  const matches: Array<[string, string, string, string]> = [];
  for (const { whole, inside } of referenceSpans(value)) {
    const colons = inside.indexOf('::', 1);
    if (colons === -1) continue;
    const rest = inside.slice(colons + 2);
    const dot = rest.indexOf('.', 1);
    if (dot === -1 || dot === rest.length - 1) continue;
    matches.push([whole, inside.slice(0, colons), rest.slice(0, dot), rest.slice(dot + 1)]);
  }
  return matches;
}

/** `env.ref` with no `::` anywhere inside (the environment part has no dot). */
export function crossEnvMatches(value: string): Array<[whole: string, env: string, ref: string]> {
  const matches: Array<[string, string, string]> = [];
  for (const { whole, inside } of referenceSpans(value)) {
    if (inside.includes('::')) continue;
    const dot = inside.indexOf('.');
    if (dot < 1 || dot === inside.length - 1) continue;
    matches.push([whole, inside.slice(0, dot), inside.slice(dot + 1)]);
  }
  return matches;
}

/** `ref` with no dot. */
export function localMatches(value: string): Array<[whole: string, ref: string]> {
  const matches: Array<[string, string]> = [];
  for (const { whole, inside } of referenceSpans(value)) if (!inside.includes('.')) matches.push([whole, inside]);
  return matches;
}

/**
 * The references of `value` that a server-resolved value still holds: each one's whole text, once,
 * in order of first appearance (cross-app, then cross-environment, then local, as the phases run).
 * Spans that are not references in any phase (`${{VAR}}`, `${a.b::c}`) are not named.
 */
export function referencesIn(value: string): string[] {
  if (!value.includes('${')) return [];
  try {
    const wholes = [...crossAppMatches(value), ...crossEnvMatches(value), ...localMatches(value)].map((match) => match[0]);
    return [...new Set(wholes)];
  } catch (error) {
    if (error instanceof TooManyReferences) return [];
    throw error;
  }
}
