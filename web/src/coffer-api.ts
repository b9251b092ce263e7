// The console API (/coffer/v1) with the session cookie (the CSRF token on every state-changing
// call), and Phase's REST API with the tab's token: JSON in and out, and the server's
// `{"error": ...}` message carried into the thrown error.
import type { WrappedKeyringView } from '../../src/client/membership.js';
import { authorizationHeaderOf, parseToken } from './crypto-binding.js';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface Membership {
  organisationId: string;
  organisationName: string;
  memberId: string;
  role: { id: string; name: string } | null;
}

export interface LoginAnswer {
  user: { id: string; email: string; fullName?: string | null };
  memberships: Membership[];
  csrfToken: string;
  expiresAt: string;
}

export interface RegisteredToken {
  id: string;
  name: string;
  expiresAt: string | null;
}

export interface Invite {
  organisationId: string;
  organisationName: string;
  email: string;
  role: { id: string; name: string } | null;
  expiresAt: string;
}

/** What setup and an accepted invite answer: the new membership and the token registered with it. */
export interface NewMembership {
  organisationId: string;
  organisationName: string;
  userId: string;
  memberId: string;
  tokenId: string;
}

/** Phase's REST API (/v1) with a personal access token, as any other client calls it. */
export class RestApi {
  readonly #authorization: string;

  constructor(token: string) {
    this.#authorization = authorizationHeaderOf(parseToken(token));
  }

  call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return request<T>(path, method, { authorization: this.#authorization }, body);
  }
}

export class ConsoleApi {
  #csrfToken: string | undefined;

  call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return request<T>(`/coffer/v1${path}`, method, method !== 'GET' && this.#csrfToken ? { 'x-csrf-token': this.#csrfToken } : {}, body);
  }

  async login(email: string, loginHash: string): Promise<LoginAnswer> {
    const answer = await this.call<LoginAnswer>('POST', '/auth/login/', { email, loginHash });
    this.#csrfToken = answer.csrfToken;
    return answer;
  }

  keyring(organisationId: string): Promise<WrappedKeyringView> {
    return this.call('GET', `/me/keyring/?organisation_id=${encodeURIComponent(organisationId)}`);
  }

  registerToken(organisationId: string, body: object): Promise<RegisteredToken> {
    return this.call('POST', `/tokens/?organisation_id=${encodeURIComponent(organisationId)}`, body);
  }


  async setupRequired(): Promise<boolean> {
    return (await this.call<{ required: boolean }>('GET', '/setup/')).required;
  }

  async checkSetupCode(code: string): Promise<void> {
    await this.call('POST', '/setup/check/', { code });
  }

  completeSetup(body: object): Promise<NewMembership> {
    return this.call('POST', '/setup/', body);
  }

  invite(inviteToken: string): Promise<Invite> {
    return this.call('GET', `/invites/${encodeURIComponent(inviteToken)}/`);
  }

  acceptInvite(inviteToken: string, body: object): Promise<NewMembership> {
    return this.call('POST', `/invites/${encodeURIComponent(inviteToken)}/accept/`, body);
  }

  async logout(): Promise<void> {
    await this.call('POST', '/auth/logout/');
    this.#csrfToken = undefined;
  }
}

/** Same-origin JSON in and out; a failure carries the server's `{"error": ...}` message. */
async function request<T>(path: string, method: string, extraHeaders: Record<string, string>, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch {
    throw new ApiError('The server cannot be reached.', 0);
  }
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : safeJson(text);
  if (!response.ok) {
    const message = typeof (parsed as { error?: unknown } | undefined)?.error === 'string' ? (parsed as { error: string }).error : `The server answered ${response.status}.`;
    throw new ApiError(message, response.status);
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
