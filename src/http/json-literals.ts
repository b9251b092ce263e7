// JSON.parse turns `3600.0` and `3600` into the same number, but Phase (Python) reads the first as a
// float and refuses it where an integer is required (rest-api §10.7 `expires_in`). This finds the
// top-level keys of a JSON object whose value was written with a fraction or an exponent.
import type { FastifyRequest } from 'fastify';
import { isJsonMediaType, isRawBody } from './body.js';

function skipWhitespace(text: string, index: number): number {
  while (index < text.length && ' \t\n\r'.includes(text[index]!)) index += 1;
  return index;
}

/** Index just past the string starting at `index` (which is a double quote). */
function skipString(text: string, index: number): number {
  let i = index + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Index just past the value starting at `index`. */
function skipValue(text: string, index: number): number {
  const first = text[index];
  if (first === '"') return skipString(text, index);
  if (first === '{' || first === '[') {
    let depth = 0;
    let i = index;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '"') {
        i = skipString(text, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth += 1;
      if (ch === '}' || ch === ']') {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return i;
  }
  let i = index;
  while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i += 1;
  return i;
}

/** For a text that is a valid JSON object: the keys whose (last) value is a non-integer number literal. */
export function floatLiteralKeys(text: string): Set<string> {
  const keys = new Set<string>();
  let i = skipWhitespace(text, 0);
  if (text[i] !== '{') return keys;
  i = skipWhitespace(text, i + 1);
  while (i < text.length && text[i] === '"') {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWhitespace(text, keyEnd) + 1; // past ':'
    i = skipWhitespace(text, i);
    const valueEnd = skipValue(text, i);
    const literal = text.slice(i, valueEnd);
    if (/^-?\d/.test(literal) && /[.eE]/.test(literal)) keys.add(key);
    else keys.delete(key);
    i = skipWhitespace(text, valueEnd);
    if (text[i] === ',') i = skipWhitespace(text, i + 1);
  }
  return keys;
}

/** The float-literal keys of a request's JSON body (none for other media types). */
export function floatLiteralKeysOf(request: FastifyRequest): Set<string> {
  const body = request.body;
  if (!isRawBody(body) || !isJsonMediaType(body.mediaType)) return new Set();
  return floatLiteralKeys(body.text);
}
