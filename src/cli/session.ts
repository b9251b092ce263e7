// A console session opened with the password, for what a token cannot do: a token acts in its own
// organisation only, a session in every organisation of the account (sign-in, password change).
// The caller ends it when done (`closeSession`).
import { derivePasswordLoginHash } from '../crypto/index.js';
import { ApiError, type CofferApi, type LoginResponse } from './api.js';
import { UserError } from './errors.js';
import { clientKdf } from './keys.js';
import type { Ui } from './ui.js';

export interface OpenSession {
  session: CofferApi;
  login: LoginResponse;
  /** The login hash the password gave (what the server asks for again where a session is not enough). */
  loginHash: string;
}

export async function openSession(api: CofferApi, email: string, password: string, ui: Ui): Promise<OpenSession> {
  const spinner = ui.spinner();
  spinner.start('Signing in');
  const loginHash = await derivePasswordLoginHash(password, email, clientKdf().moderate);
  let response;
  try {
    response = await api.send<LoginResponse>('POST', '/coffer/v1/auth/login/', { email, loginHash });
  } catch (error) {
    spinner.error('Sign-in failed');
    // The generic 401 hint (sign in again, check COFFER_TOKEN) does not fit a password that was refused.
    if (error instanceof ApiError && error.status === 401) throw new UserError(error.message, 'check the e-mail address and password (after 10 failures in 15 minutes, sign-in is refused for a while)');
    throw error;
  }
  const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('coffer_session='));
  if (!cookie) {
    spinner.error('Sign-in failed');
    throw new UserError(`${api.baseUrl} accepted the sign-in but set no session cookie`, 'check --url, and any proxy in front of the server');
  }
  spinner.stop(`Signed in as ${email}`);
  return { session: api.withCredentials({ kind: 'session', cookie, csrfToken: response.body.csrfToken }), login: response.body, loginHash };
}

/** Ends a session opened here; a failure to do so is not the command's failure. */
export async function closeSession(session: CofferApi): Promise<void> {
  await session.post('/coffer/v1/auth/logout/').catch(() => undefined);
}
