// Request bodies are captured raw (see plugins/transport.ts) and parsed only when a handler asks,
// after authentication, rate limiting and permission checks (rest-api §1.4, §1.8).
import type { FastifyRequest } from 'fastify';
import { DomainError, invalid } from '../domain/errors.js';

export interface RawBody {
  readonly mediaType: string;
  readonly contentTypeHeader: string;
  /** The bytes as UTF-8 (U+FFFD for what is not). */
  readonly text: string;
  /** Whether the bytes are valid UTF-8: JSON that is not is refused, not read with U+FFFD in it. */
  readonly validUtf8: boolean;
}

/** Phase's framework parses JSON for `application/json` only (rest-api §1.4); `+json` types are 415 too. */
export function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json';
}

export type JsonObject = Record<string, unknown>;

export function isRawBody(value: unknown): value is RawBody {
  return typeof value === 'object' && value !== null && 'text' in value && 'mediaType' in value;
}

function rawBodyOf(request: FastifyRequest): RawBody | undefined {
  return isRawBody(request.body) ? request.body : undefined;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The secrets and client-protocol endpoints read JSON whatever the Content-Type says (the Phase
 * Node SDK sends JSON labelled form-urlencoded or text/plain).
 */
export function readJsonBodyAnyType(request: FastifyRequest): JsonObject {
  const raw = rawBodyOf(request);
  // Empty, as Phase's `if not request.body`: a body of whitespace is not JSON.
  if (!raw || raw.text === '') throw invalid('Request body is required.');
  // Not UTF-8 is not JSON: read with U+FFFD in it, a secret would be stored other than sent.
  if (!raw.validUtf8) throw invalid('Request body must be valid JSON.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.text);
  } catch {
    throw invalid('Request body must be valid JSON.');
  }
  if (!isJsonObject(parsed)) throw invalid('Request body must be a JSON object.');
  return parsed;
}

/**
 * Every other endpoint selects a parser by Content-Type as Phase's framework does: JSON (empty
 * body = {}), form-urlencoded (single string values); anything else with a body is 415.
 */
/**
 * The detail after `JSON parse error - `: where the parser stopped, never the text around it. V8's
 * message quotes part of the body, which may be a password or a secret (rest-api §1.4 leaves the
 * detail to the implementation).
 */
export function jsonSyntaxDetail(parserMessage: string): string {
  if (/end of JSON input/i.test(parserMessage)) return 'the body ends before the JSON does.';
  const position = /at position (\d+)/.exec(parserMessage)?.[1];
  return position === undefined ? 'the body is not valid JSON.' : `the body is not valid JSON at position ${position}.`;
}

export function readJsonBody(request: FastifyRequest): JsonObject {
  const raw = rawBodyOf(request);
  if (!raw || raw.text === '') {
    if (!raw || raw.mediaType === '' || raw.mediaType === 'application/json' || raw.mediaType === 'application/x-www-form-urlencoded') {
      return {};
    }
  }
  const body = raw!;
  if (isJsonMediaType(body.mediaType)) {
    if (!body.validUtf8) throw invalid('JSON parse error - the body is not valid UTF-8.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.text);
    } catch (error) {
      throw invalid(`JSON parse error - ${jsonSyntaxDetail((error as Error).message)}`);
    }
    if (!isJsonObject(parsed)) throw invalid('Request body must be a JSON object.');
    return parsed;
  }
  if (body.mediaType === 'application/x-www-form-urlencoded') {
    const fields: JsonObject = {};
    for (const [name, value] of new URLSearchParams(body.text)) fields[name] = value;
    return fields;
  }
  throw new DomainError('unsupported_media_type', `Unsupported media type "${body.contentTypeHeader}" in request.`);
}
