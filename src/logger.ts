// The process logger. Bearer tokens, cookies and every secret-bearing field are redacted, and
// request URLs are logged without query values (a `key=` filter is a secret's name).
import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Exact paths, not wildcards: a wildcard makes pino walk every logged object and costs about
 * 20 µs per line, more than a whole request. Request lines carry only what the serializers below
 * pick (never headers or bodies); these paths guard the objects code logs by hand.
 */
const SECRET_FIELDS = ['authorization', 'token', 'bearer', 'password', 'value', 'key', 'comment', 'secrets', 'override', 'masterKey', 'setupCode'];

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `body.${field}`),
];

/** A path segment as the router reads it (percent-decoded); undecodable text as it is. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * An invite link's token is a one-time secret carried in the path (`/coffer/v1/invites/<token>/`,
 * the console's `/invites/<token>`); invite ids under `/v1/members/invites/` are not secret. The
 * segment after `invites` becomes `*`, compared decoded: the router reads `/coffer/v1/%69nvites/<token>/`
 * as the invite route, so the raw text must not decide.
 */
function redactInviteTokens(path: string): string {
  const segments = path.split('/');
  for (let i = 1; i < segments.length - 1; i++) {
    if (decodedSegment(segments[i]!) === 'invites' && decodedSegment(segments[i - 1]!) !== 'members' && segments[i + 1] !== '') segments[i + 1] = '*';
  }
  return segments.join('/');
}

/** `/v1/secrets/?app_id=x&key=DB_PASS` -> `/v1/secrets/?app_id=*&key=*`; invite tokens in paths -> `*` */
export function redactUrl(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  if (q === -1) return redactInviteTokens(rawUrl);
  const names = rawUrl
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => `${pair.split('=')[0]}=*`);
  return `${redactInviteTokens(rawUrl.slice(0, q))}?${names.join('&')}`;
}

/**
 * What a database error carries about the data of the statement that failed: its parameters
 * (ciphertexts, digests, tag names, paths), the duplicate key of a unique violation (`detail`), the
 * statement's context. A logged error keeps what identifies the failure (message, code, constraint,
 * stack), not the data; 70,000 tag names made one log line 60 MB.
 */
const ERROR_DATA_FIELDS = ['params', 'parameters', 'detail', 'where', 'internalQuery', 'query'];

function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  return withoutData(serialized);
}

function withoutData(serialized: Record<string, unknown>): Record<string, unknown> {
  for (const field of ERROR_DATA_FIELDS) delete serialized[field];
  if (serialized.cause && typeof serialized.cause === 'object') serialized.cause = withoutData(serialized.cause as Record<string, unknown>);
  return serialized;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      req(request: { method: string; url: string; id?: string; ip?: string; socket?: { remoteAddress?: string } }) {
        return {
          method: request.method,
          url: redactUrl(request.url),
          remoteAddress: request.ip ?? request.socket?.remoteAddress,
        };
      },
      res(reply: { statusCode: number }) {
        return { statusCode: reply.statusCode };
      },
      err: serializeError,
    },
  };
}

/**
 * Logs go to stdout asynchronously: lines written while a write is in flight are sent together,
 * so a busy server does not make one system call per request. `flushLogger` before exiting.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(loggerOptions(level), destination ?? pino.destination({ dest: 1, sync: false }));
}

/** Writes out buffered log lines, then exits (within a second even if the output is stuck). */
export function exitAfterFlushingLogs(logger: Logger, code: number): void {
  const exit = () => process.exit(code);
  setTimeout(exit, 1_000).unref();
  try {
    logger.flush(exit);
  } catch {
    exit();
  }
}
