// Server configuration, read once from environment variables and validated up front.
// A bad value stops the process with one line naming the variable (see cli/commands/serve.ts).
import path from 'node:path';
import { z } from 'zod';

export interface RateLimit {
  count: number;
  periodSeconds: number;
}

export interface Config {
  port: number;
  host: string;
  /** PostgreSQL URL; when absent the embedded PGlite store in `dataDir` is used. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Master keys as given (hex), first one active; empty when a key file is used or generated. */
  masterKeys: string[];
  masterKeyFile: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  rateLimit: RateLimit | undefined;
  redisUrl: string | undefined;
  allowedOrigins: string[];
  setupCode: string | undefined;
  bodyLimit: number;
  /** Seconds a client has to send all request headers (then 408 and the connection is closed). */
  headersTimeout: number;
  /** Seconds a client has to send the whole request, headers and body. */
  requestTimeout: number;
  /** Proxies in front of Coffer whose X-Forwarded-* headers count (0: none). */
  trustProxy: number;
  /** When set, /metrics answers only `Authorization: Bearer <this>` (a Prometheus scrape's bearer_token). */
  metricsToken: string | undefined;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Phase's syntax: `<count>/<period>`, only the first letter of the period counts (s, m, h, d). */
export function parseRateLimit(text: string): RateLimit | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const match = /^(\d+)\/([a-zA-Z]+)$/.exec(trimmed);
  const seconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const period = match ? seconds[match[2]!.charAt(0).toLowerCase()] : undefined;
  if (!match || period === undefined || Number(match[1]) < 1) {
    throw new Error('must look like 100/minute (a positive count, then s, m, h or d)');
  }
  return { count: Number(match[1]), periodSeconds: period };
}

export const MASTER_KEY_PATTERN = /^[0-9a-fA-F]{64}$/;

/** A list of 64-hex keys separated by commas or whitespace; the first is the active key. */
export function parseMasterKeyList(text: string): string[] {
  const keys = text
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter((k) => k !== '' && !k.startsWith('#'));
  if (keys.length === 0 || !keys.every((k) => MASTER_KEY_PATTERN.test(k))) {
    throw new Error('must be 64 hexadecimal characters (32 bytes), e.g. from `openssl rand -hex 32`');
  }
  return keys.map((k) => k.toLowerCase());
}

const port = z.coerce.number().int().min(0).max(65535);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * How many proxies in front of Coffer to believe (0: none). `true` is one: the client address is
 * the one the nearest proxy appended to X-Forwarded-For, not the leftmost entry, which the client
 * writes itself (believing every hop let a guesser give each failed sign-in a new address).
 */
function parseTrustProxy(raw: string): number {
  const value = raw.trim().toLowerCase();
  if (value === 'true') return 1;
  if (value === 'false') return 0;
  if (!/^\d{1,2}$/.test(value)) throw new Error('must be true, false or a number of proxies (0-99)');
  return Number(value);
}

/** How a refused value is quoted in the error: as given, or (a secret's) not at all. */
type Quote = (raw: string) => string;
const asGiven: Quote = (raw) => JSON.stringify(raw);
/** Keys, codes and tokens: the error goes to a terminal or a log, so only the length is told. */
const notShown: Quote = (raw) => `${raw.length} characters, not shown`;
/** URLs are shown without their password (a database URL carries one). */
const withoutPassword: Quote = (raw) => {
  try {
    const url = new URL(raw);
    if (url.password === '') return JSON.stringify(raw);
    url.password = '***';
    return JSON.stringify(url.href);
  } catch {
    return notShown(raw);
  }
};

function read<T>(env: Env, name: string, parse: (raw: string) => T, fallback: T, quote: Quote = asGiven): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return parse(raw);
  } catch (error) {
    const problem = error instanceof z.ZodError ? zodProblem(error, raw) : (error as Error).message;
    throw new ConfigError(name, `${problem} (got ${quote(raw)})`);
  }
}

function zodProblem(error: z.ZodError, raw: string): string {
  const issue = error.issues[0];
  if (!issue) return 'is invalid';
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.join(', ')}`;
  if (issue.code === 'too_big' || issue.code === 'too_small' || issue.code === 'invalid_type') {
    if (Number.isNaN(Number(raw))) return 'must be a number';
    return Number.isInteger(Number(raw)) ? `is out of range (${issue.message})` : 'must be a whole number';
  }
  return issue.message;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const databaseUrl = read(env, 'DATABASE_URL', (raw) => {
    const url = new URL(raw);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new Error('must be a postgres:// or postgresql:// URL');
    }
    return raw;
  }, undefined, withoutPassword);
  const masterKeyText = env.COFFER_MASTER_KEY || env.SERVER_SECRET;
  const masterKeyVariable = env.COFFER_MASTER_KEY ? 'COFFER_MASTER_KEY' : 'SERVER_SECRET';
  const masterKeys = masterKeyText ? read(env, masterKeyVariable, parseMasterKeyList, [], notShown) : [];
  const masterKeyFile = env.COFFER_MASTER_KEY_FILE || env.SERVER_SECRET_FILE || undefined;
  if (masterKeys.length > 0 && masterKeyFile) {
    throw new ConfigError('COFFER_MASTER_KEY_FILE', 'cannot be combined with COFFER_MASTER_KEY; set only one');
  }
  if (databaseUrl && masterKeys.length === 0 && !masterKeyFile) {
    throw new ConfigError(
      'COFFER_MASTER_KEY',
      'is required with DATABASE_URL (64 hex characters, e.g. from `openssl rand -hex 32`), or set COFFER_MASTER_KEY_FILE',
    );
  }
  const headersTimeout = read(env, 'HEADERS_TIMEOUT', (raw) => z.coerce.number().int().min(1).max(3600).parse(raw), 10);
  const requestTimeout = read(env, 'REQUEST_TIMEOUT', (raw) => z.coerce.number().int().min(1).max(3600).parse(raw), 30);
  if (requestTimeout < headersTimeout) {
    throw new ConfigError('REQUEST_TIMEOUT', `must be at least HEADERS_TIMEOUT (${headersTimeout}) (got ${JSON.stringify(String(requestTimeout))})`);
  }
  return {
    port: read(env, 'PORT', (raw) => port.parse(raw), 8080),
    host: read(env, 'HOST', (raw) => raw, '127.0.0.1'),
    databaseUrl,
    dataDir: path.resolve(cwd, read(env, 'COFFER_DATA_DIR', (raw) => raw, './.coffer-data')),
    masterKeys,
    masterKeyFile: masterKeyFile ? path.resolve(cwd, masterKeyFile) : undefined,
    logLevel: read(env, 'LOG_LEVEL', (raw) => logLevel.parse(raw.toLowerCase()), 'info'),
    rateLimit: read(env, 'RATE_LIMIT_DEFAULT', parseRateLimit, undefined),
    redisUrl: read(env, 'REDIS_URL', (raw) => {
      const url = new URL(raw);
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('must be a redis:// or rediss:// URL');
      return raw;
    }, undefined, withoutPassword),
    allowedOrigins: read(env, 'ALLOWED_ORIGINS', (raw) => {
      const origins = raw.split(',').map((o) => o.trim()).filter(Boolean);
      for (const origin of origins) {
        const url = new URL(origin);
        if (url.origin !== origin.replace(/\/$/, '')) throw new Error(`must list origins like https://console.example.com, not ${origin}`);
      }
      return origins.map((o) => o.replace(/\/$/, ''));
    }, []),
    setupCode: read(env, 'COFFER_SETUP_CODE', (raw) => {
      if (raw.trim().length < 12) throw new Error('must be at least 12 characters');
      return raw.trim();
    }, undefined, notShown),
    bodyLimit: read(env, 'BODY_LIMIT', (raw) => z.coerce.number().int().min(2_621_440).max(64 * 1024 * 1024).parse(raw), 2_621_440),
    headersTimeout,
    requestTimeout,
    trustProxy: read(env, 'TRUST_PROXY', parseTrustProxy, 0),
    metricsToken: read(env, 'COFFER_METRICS_TOKEN', (raw) => {
      if (raw.length < 16) throw new Error('must be at least 16 characters (e.g. `openssl rand -hex 32`)');
      if (!/^[\x21-\x7e]+$/.test(raw)) throw new Error('must be printable ASCII without spaces (it is sent in an Authorization header)');
      return raw;
    }, undefined, notShown),
  };
}
