// What the apps commands share: an unlocked client-protocol session for the signed-in token, and
// the client library's errors told as the CLI tells errors.
import { PhaseProtocolError, PhaseSession } from '../../../client/index.js';
import { CryptoError } from '../../../crypto/index.js';
import { fetchWithin, notCofferAnswer } from '../../api.js';
import type { Account } from '../../credentials.js';
import { UserError } from '../../errors.js';

const HINTS: Record<number, string> = {
  401: 'Sign in again with `coffer login`, or check COFFER_TOKEN.',
  403: 'Your role does not allow this; ask an owner or admin of the organisation.',
  429: 'Wait a little and try again.',
};

/** Runs `work` with a session that rebuilt the token's key pair and unwrapped its environments. */
export async function withSession<T>(account: Account, work: (session: PhaseSession) => Promise<T>): Promise<T> {
  let session: PhaseSession;
  try {
    session = await openPhaseSession(account);
  } catch (error) {
    if (error instanceof CryptoError) {
      throw new UserError(`the keys the server returned for this token do not open: ${error.message}`, 'the token may belong to another server or organisation; run `coffer login` again');
    }
    throw asUserError(error);
  }
  try {
    return await work(session);
  } catch (error) {
    throw asUserError(error);
  } finally {
    session.close();
  }
}

/** A client-protocol session whose requests keep COFFER_TIMEOUT and fail like CofferApi's (src/cli/api.ts). */
export function openPhaseSession(account: { url: string; token: string }): Promise<PhaseSession> {
  return PhaseSession.open({ host: account.url, token: account.token, userAgent: 'coffer-cli', fetch: fetchWithin(account.url) });
}

/** A client-library error told as the CLI tells errors (anything else is returned unchanged). */
export function asUserError(error: unknown): unknown {
  if (!(error instanceof PhaseProtocolError)) return error;
  switch (error.kind) {
    case 'unreachable':
      // fetchWithin's own explanation (timeout, refused, TLS), when it was the cause.
      if (error.cause instanceof UserError) return error.cause;
      return new UserError(error.message, 'check --url (or COFFER_URL) and that the server is running');
    case 'unexpected':
      if (error.host && error.path) return notCofferAnswer(error.host, error.path);
      return new UserError(error.message, 'check --url (or COFFER_URL) and that the server is running');
    case 'not-found':
      return new UserError(error.message, 'apps are named by id, or by name when no other app has it');
    case 'http':
      if (error.status >= 500) return new UserError(`the server failed (${error.serverMessage ?? `HTTP ${error.status}`}); its log has the details`);
      return new UserError(error.serverMessage ?? error.message, HINTS[error.status]);
  }
}
