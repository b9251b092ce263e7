// A small typed HTTP client for the Coffer server. Every failure becomes a UserError of one or two
// sentences: the server's own `{"error": ...}` message, or what went wrong on the way there, and a
// hint that says what to do.
import { authorizationHeaderOf } from '../crypto/index.js';
import { UserError } from './errors.js';

/** The server answered with an error status; `message` is its `{"error": ...}` text. */
export class ApiError extends UserError {
  constructor(readonly status: number, message: string, hint?: string) {
    super(message, hint);
    this.name = 'ApiError';
  }
}

export type Credentials =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  | { kind: 'session'; cookie: string; csrfToken: string };

const HINTS: Record<number, string> = {
  401: 'Sign in again with `coffer login`, or check COFFER_TOKEN.',
  429: 'Wait a little and try again.',
};

/** `https://host:8080/` -> `https://host:8080`; anything that is not http(s) is refused. */
export function normaliseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(`'${text}' is not a URL`, 'pass the server address, e.g. --url https://coffer.example.com');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`'${text}' is not an http:// or https:// URL`, 'pass the server address, e.g. --url https://coffer.example.com');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** COFFER_TIMEOUT: seconds one request may take in all (default 30). */
export function requestTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.COFFER_TIMEOUT?.trim();
  if (!text) return 30_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`COFFER_TIMEOUT must be a positive number of seconds, not '${text}'`);
  return Math.round(seconds * 1000);
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  const causeName = (error as { cause?: { name?: string } })?.cause?.name;
  return name === 'TimeoutError' || causeName === 'TimeoutError';
}

const TLS_NOT_SPOKEN = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'EPROTO']);
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

// Shapes of the answers the CLI relies on (only what it reads).
export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
export const hasStrings =
  (...keys: string[]) =>
  (value: unknown): boolean =>
    isObject(value) && keys.every((k) => typeof value[k] === 'string');
export const listOf =
  (item: (value: unknown) => boolean) =>
  (value: unknown): boolean =>
    Array.isArray(value) && value.every(item);
export const dataListOf =
  (item: (value: unknown) => boolean) =>
  (value: unknown): boolean =>
    isObject(value) && listOf(item)(value.data);
export const isMe = (value: unknown): boolean => isObject(value) && hasStrings('email')(value.user) && listOf(isObject)(value.memberships);

export function notCofferAnswer(baseUrl: string, path: string): UserError {
  return new UserError(`the server at ${baseUrl} answered something that is not a Coffer/Phase API response (${path})`, 'check --url (or COFFER_URL)');
}

/**
 * One request to the server and its whole answer within COFFER_TIMEOUT (connecting, the headers and
 * the body); any failure on the way is a UserError `cannot reach <baseUrl>: …`.
 */
export async function exchange(baseUrl: string, url: string, init: RequestInit): Promise<{ response: Response; text: string }> {
  const unreachable = (reason: string, hint = 'check --url (or COFFER_URL) and that the server is running') => new UserError(`cannot reach ${baseUrl}: ${reason}`, hint);
  const timeoutMs = requestTimeoutMs();
  const failed = (error: unknown): UserError => {
    if (isTimeout(error)) return unreachable(`no complete answer within ${timeoutMs / 1000} s`, 'check that the server is running; COFFER_TIMEOUT sets the limit in seconds');
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (error as { code?: string }).code;
    if (code === 'ECONNREFUSED') return unreachable('connection refused');
    if (code === 'ENOTFOUND') return unreachable('unknown host');
    if (code && TLS_NOT_SPOKEN.has(code)) return unreachable('the server does not speak TLS (HTTPS)', 'if it serves plain HTTP, use an http:// URL');
    if (code && UNTRUSTED_CERTIFICATE.has(code)) {
      return unreachable(`its TLS certificate is not trusted (${code})`, 'for a private CA or a self-signed certificate, point NODE_EXTRA_CA_CERTS at its PEM file');
    }
    return unreachable(`${cause?.message ?? (error as Error).message}`);
  };
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    // The body can fail too (a server that stops half-way): the server is out of reach all the same.
    return { response, text: await response.text() };
  } catch (error) {
    throw failed(error);
  }
}

/**
 * A fetch for the client library (src/client), so that the E2EE path has the same deadline and the
 * same `cannot reach` errors as CofferApi. Its answers arrive already read in full; its errors are
 * the UserErrors of exchange(), which the library keeps as the `cause` of its own.
 */
export function fetchWithin(baseUrl: string): typeof fetch {
  return async (input, init) => {
    const { response, text } = await exchange(baseUrl, String(input instanceof Request ? input.url : input), init ?? {});
    return new Response(text === '' ? null : text, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export class CofferApi {
  readonly baseUrl: string;

  constructor(baseUrl: string, private credentials: Credentials = { kind: 'none' }) {
    this.baseUrl = normaliseBaseUrl(baseUrl);
  }

  withCredentials(credentials: Credentials): CofferApi {
    return new CofferApi(this.baseUrl, credentials);
  }

  /** With `check`, an answer of another shape is an error saying so, not a crash further on. */
  async get<T>(path: string, check?: (value: unknown) => boolean): Promise<T> {
    const body = (await this.send<T>('GET', path)).body;
    if (check && !check(body)) throw this.notCoffer(path);
    return body;
  }

  notCoffer(path: string): UserError {
    return notCofferAnswer(this.baseUrl, path);
  }

  async post<T>(path: string, body: unknown = {}): Promise<T> {
    return (await this.send<T>('POST', path, body)).body;
  }

  async delete(path: string): Promise<void> {
    await this.send('DELETE', path);
  }

  async send<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'coffer-cli' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const credentials = this.credentials;
    if (credentials.kind === 'token') headers.authorization = authorizationHeaderOf(credentials.token);
    if (credentials.kind === 'session') {
      headers.cookie = credentials.cookie;
      if (method !== 'GET') headers['x-csrf-token'] = credentials.csrfToken;
    }
    const { response, text } = await exchange(this.baseUrl, `${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new UserError(`${this.baseUrl} did not answer like a Coffer server (HTTP ${response.status}, not JSON)`, 'check --url (or COFFER_URL)');
    }
    if (!response.ok) {
      const message = typeof (parsed as { error?: unknown })?.error === 'string' ? (parsed as { error: string }).error : `HTTP ${response.status}`;
      const hint = response.status === 404 && message === 'Not found.' ? `${this.baseUrl} has no ${path}; check --url, or upgrade the server` : HINTS[response.status];
      throw new ApiError(response.status, response.status >= 500 ? `the server failed (${message}); its log has the details` : message, hint);
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }
}

// Response shapes of /coffer/v1 (see src/http/routes/console/).

export interface RoleRef {
  id: string;
  name: string;
}

export interface MembershipResponse {
  organisationId: string;
  organisationName: string;
  memberId: string;
  role: RoleRef | null;
}

export interface MeResponse {
  user: { id: string; email: string; fullName: string | null };
  memberships: MembershipResponse[];
  via: 'session' | 'token';
  organisationId: string | null;
  tokenId: string | null;
}

export interface LoginResponse {
  user: { id: string; email: string; fullName: string | null };
  memberships: MembershipResponse[];
  csrfToken: string;
  expiresAt: string;
}

export interface NewMembershipResponse {
  organisationId: string;
  organisationName: string;
  userId: string;
  memberId: string;
  tokenId: string;
}

export interface TokenResponse {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsed: string | null;
}

export interface InviteResponse {
  organisationId: string;
  organisationName: string;
  email: string;
  role: RoleRef | null;
  expiresAt: string;
}
