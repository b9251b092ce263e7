// What the apps commands share: an unlocked client-protocol session for the signed-in token, and
// the client library's errors told as the CLI tells errors.
import { PhaseProtocolError, PhaseSession } from '../../../client/index.js';
import { CryptoError } from '../../../crypto/index.js';
import { CofferApi, fetchWithin, notCofferAnswer } from '../../api.js';
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
    if (error instanceof CryptoError) throw keysDoNotOpen(error);
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

/** The token's grants do not open: a grant wrapped wrongly for it (named in the message), or a token of another server. */
export function keysDoNotOpen(error: CryptoError): UserError {
  return new UserError(
    `the keys the server returned for this token do not open: ${error.message}`,
    'if that app was handed to you with `coffer apps grant`, ask a holder to run `coffer apps revoke` and grant it again; otherwise the token may belong to another server or organisation (check COFFER_TOKEN, or run `coffer login` again)',
  );
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
      if (error.message.startsWith('no environment')) return new UserError(error.message, 'see the environment names with `coffer envs list --app APP`');
      return new UserError(error.message, 'apps are named by id, or by name when no other app has it');
    case 'http':
      if (error.status >= 500) return new UserError(`the server failed (${error.serverMessage ?? `HTTP ${error.status}`}); its log has the details`);
      return new UserError(error.serverMessage ?? error.message, HINTS[error.status]);
  }
}

export interface RecipientOptions {
  member?: string;
  serviceAccount?: string;
}

interface Named {
  id: string;
  email?: string;
  name?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The member (`--member`, an e-mail address or id) or service account (`--service-account`, a name or id) of `apps grant` and `apps revoke`. */
export async function resolveRecipient(account: Account, options: RecipientOptions): Promise<{ type: 'member' | 'service_account'; id: string }> {
  if (Boolean(options.member) === Boolean(options.serviceAccount)) {
    throw new UserError('name one recipient: --member EMAIL or --service-account NAME', 'e.g. coffer apps grant vault --member alice@example.com');
  }
  const api = new CofferApi(account.url, { kind: 'token', token: account.token });
  return options.member
    ? { type: 'member', id: await resolveId(api, '/v1/members/', options.member, (m) => m.email, 'member') }
    : { type: 'service_account', id: await resolveId(api, '/v1/service-accounts/', options.serviceAccount!, (sa) => sa.name, 'service account') };
}

/**
 * An id as given, or the one member (by e-mail address) or service account (by name) so called:
 * spelt exactly, else ignoring case.
 */
async function resolveId(api: CofferApi, path: string, given: string, label: (item: Named) => string | undefined, kind: string): Promise<string> {
  if (UUID.test(given)) return given.toLowerCase();
  const list = await api.get<{ data: Named[] }>(path, (value) => typeof value === 'object' && value !== null && Array.isArray((value as { data?: unknown }).data));
  const exact = list.data.filter((item) => label(item) === given);
  const matches = exact.length === 1 ? exact : list.data.filter((item) => label(item)?.toLowerCase() === given.toLowerCase());
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length > 1) throw new UserError(`${matches.length} ${kind}s are called ${given}`, `pass the id instead: ${matches.map((m) => m.id).join(', ')}`);
  throw new UserError(`no ${kind} ${given} in this organisation`, kind === 'member' ? 'invite them first; they must have accepted' : 'create it first with POST /v1/service-accounts/');
}
