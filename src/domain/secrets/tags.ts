// Processing of a `tags` array (rest-api §5.4).
import { pythonStrip, pythonString } from './python-literal.js';

export const TAG_NAME_MAX = 64;

export interface ProcessedTags {
  names: string[];
  /** Phase's message for the first over-long name, raised after the duplicate check. */
  tooLong?: string;
}

/** Non-strings skipped, strings trimmed, empties skipped, duplicates collapsed (first position kept). */
export function processTags(raw: unknown[]): ProcessedTags {
  const names: string[] = [];
  const seen = new Set<string>();
  let tooLong: string | undefined;
  for (const item of raw) {
    if (typeof item !== 'string') continue;
    const name = pythonStrip(item);
    if (name === '') continue;
    if ([...name].length > TAG_NAME_MAX) {
      tooLong ??= `Tag name exceeds 64 characters: ${pythonString([...name].slice(0, 32).join(''))}…`;
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    names.push(name);
  }
  return tooLong === undefined ? { names } : { names, tooLong };
}

/**
 * A secret's tags after an update sets them to `requested`: those it keeps stay in the order they
 * were first assigned, new ones follow in the request's order (rest-api §1.7; Phase's `tags.set()`
 * keeps the links that remain and adds the others).
 */
export function reassignedTags(current: readonly string[], requested: readonly string[]): string[] {
  const wanted = new Set(requested);
  const kept = current.filter((name) => wanted.has(name));
  const keptSet = new Set(kept);
  return [...kept, ...requested.filter((name) => !keptSet.has(name))];
}
