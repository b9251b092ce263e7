// The single table from errors to HTTP responses. Everything a client sees on failure is
// `{"error": "..."}`; server faults say only `Internal server error.` and are logged.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { UnknownMasterKeyError } from '../crypto/index.js';
import { DomainError, type ErrorKind } from '../domain/errors.js';
import { jsonSyntaxDetail } from './body.js';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  throttled: 429,
  unavailable: 503,
};

export function statusOf(kind: ErrorKind): number {
  return STATUS[kind];
}

interface ErrorResponse {
  status: number;
  message: string;
  headers: Record<string, string>;
}

/** Fastify's own errors (body limit, parser failures) in the framework wording of rest-api §1.6. */
function frameworkError(error: FastifyError, request: FastifyRequest): ErrorResponse | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'Request body too large.', headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? { status: 415, message: `Unsupported media type "${request.contentTypeSent ?? ''}" in request.`, headers: {} }
        : { status: 400, message: 'Request body length does not match Content-Length.', headers: {} };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: `JSON parse error - ${jsonSyntaxDetail(error.message)}`, headers: {} };
    default:
      break;
  }
  // Socket-level client errors (aborted uploads, bad framing) carry 4xx statuses of their own.
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, message: error.message, headers: {} };
  }
  return undefined;
}

/**
 * A node not given the master key an organisation is sealed under (a shared PostgreSQL database,
 * a rotation not rolled out to every node): a fault of this server's configuration, not of the
 * request. The log names the key id; the client is told nothing about keys.
 */
export const SEALED_UNDER_UNKNOWN_KEY = "This server cannot open the organisation's keys (its master key is not configured here); nothing was read or changed.";

/**
 * The database refused for want of resources (SQLSTATE class 53: disk full, out of memory, too many
 * connections) or because it is shutting down or starting (57P01-57P03). The statement's transaction
 * rolled back; the same request may work later. A fault of the server's surroundings, not a bug.
 */
export const STORE_UNAVAILABLE = 'The store could not take this request (out of disk space, memory or connections, or restarting); nothing was changed. Please retry.';

function isStoreUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('53') || /^57P0[1-3]$/.test(code));
}

export function toErrorResponse(error: unknown, request: FastifyRequest): ErrorResponse | undefined {
  if (error instanceof DomainError) {
    return { status: STATUS[error.kind], message: error.message, headers: error.headers };
  }
  if (error instanceof UnknownMasterKeyError) return { status: 503, message: SEALED_UNDER_UNKNOWN_KEY, headers: {} };
  if (isStoreUnavailable(error)) return { status: 503, message: STORE_UNAVAILABLE, headers: {} };
  if (error && typeof error === 'object' && 'code' in error) {
    return frameworkError(error as FastifyError, request);
  }
  return undefined;
}

export function sendError(reply: FastifyReply, status: number, message: string, headers: Record<string, string> = {}) {
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  return reply.code(status).type('application/json').send({ error: message });
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const response = toErrorResponse(error, request);
  if (response?.status === 503) request.log.error({ err: (error as Error).cause ?? error }, 'service unavailable');
  if (response) return sendError(reply, response.status, response.message, response.headers);
  request.log.error({ err: error }, 'unhandled error');
  return sendError(reply, 500, 'Internal server error.');
}

/**
 * Errors of the router itself (Fastify's `frameworkErrors`), before any route runs: a path that is
 * not valid percent-encoding is 400; a path parameter longer than any id matches no record (404, as
 * every unknown id, rest-api §1.2).
 */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 404, 'Not found.');
  if (error.code === 'FST_ERR_BAD_URL') return sendError(reply, 400, 'Malformed URL: the path is not valid percent-encoded UTF-8.');
  return sendError(reply, 400, 'Malformed request.');
}

export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply) {
  return sendError(reply, 404, 'Not found.');
}
