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

  async get<T>(path: string): Promise<T> {
    return (await this.send<T>('GET', path)).body;
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
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code === 'ECONNREFUSED' ? 'connection refused' : cause?.code === 'ENOTFOUND' ? 'unknown host' : (cause?.message ?? (error as Error).message);
      throw new UserError(`cannot reach ${this.baseUrl}: ${reason}`, 'check --url (or COFFER_URL) and that the server is running');
    }
    const text = await response.text();
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
