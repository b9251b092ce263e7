// Signing in to the console, all on this page (crypto spec §2.3, §3.2): the password never leaves
// the browser. It derives the login hash the server checks and the device key that unwraps the
// keyring; the keyring mints a personal access token for this tab, whose public parts the server
// registers; the token then opens a Phase protocol session like the CLI's. Signing out revokes the
// token and ends the console session. Nothing is kept in storage: a reload signs out.
import { DecryptionError, PHASE_KDF_MODERATE, type UserKeyring } from '../../src/crypto/browser.js';
import { PhaseSession } from '../../src/client/phase-protocol.js';
import { KeyringMismatchError, mintTokenFor, openKeyring } from '../../src/client/membership.js';
import { derivePasswordLoginHash, wipeKeyring } from './crypto-binding.js';
import { ApiError, ConsoleApi, RestApi, type LoginAnswer, type Membership } from './coffer-api.js';
import { TOKEN_LIFETIME_MS, consoleTokenName } from './console-token.js';

export interface SignedIn {
  email: string;
  organisation: Membership;
  memberships: Membership[];
  session: PhaseSession;
  /** Phase's REST API (/v1) with this tab's token, for what the client protocol does not cover. */
  rest: RestApi;
  /** A fresh client-protocol session with the same token (after an app was created, to hold its keys). */
  reopen(): Promise<PhaseSession>;
  /** Revokes the tab's token and ends the session; what went wrong, if the token may still be valid. */
  signOut(): Promise<string | undefined>;
}

/** A console session signed in but not yet opened: the person picks one of their organisations. */
export interface PendingSignIn {
  email: string;
  memberships: Membership[];
  open(organisationId: string): Promise<SignedIn>;
  cancel(): Promise<void>;
}

/** The server normalises addresses the same way; the e-mail salts the login hash, so it must match. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Step one: the login hash signs the console session in; the password stays here until open(). */
export async function signIn(input: { email: string; password: string }, api = new ConsoleApi()): Promise<PendingSignIn> {
  const email = normaliseEmail(input.email);
  const loginHash = await derivePasswordLoginHash(input.password, email, PHASE_KDF_MODERATE);
  const login: LoginAnswer = await api.login(email, loginHash);
  if (login.memberships.length === 0) {
    await api.logout().catch(() => undefined);
    throw new ApiError('This account belongs to no organisation.', 0);
  }
  let password: string | undefined = input.password;
  return {
    email,
    memberships: login.memberships,
    async open(organisationId) {
      const organisation = login.memberships.find((m) => m.organisationId === organisationId);
      if (!organisation) throw new ApiError('You are not a member of that organisation.', 0);
      if (password === undefined) throw new ApiError('Sign in again.', 0);
      try {
        const registered = await mintTabToken(api, email, password, organisation);
        password = undefined;
        return await openWithToken(api, { email, organisation, memberships: login.memberships, ...registered });
      } catch (error) {
        password = undefined;
        await api.logout().catch(() => undefined);
        throw error;
      }
    },
    async cancel() {
      password = undefined;
      await api.logout().catch(() => undefined);
    },
  };
}

/**
 * After setup or an accepted invite, whose request registered this tab's token already: sign the
 * console session in with the same login hash and open the new organisation.
 */
export async function signInAfterJoining(input: { email: string; loginHash: string; organisationId: string; token: string; tokenId: string }, api = new ConsoleApi()): Promise<SignedIn> {
  const login = await api.login(input.email, input.loginHash);
  const organisation = login.memberships.find((m) => m.organisationId === input.organisationId);
  if (!organisation) {
    await api.logout().catch(() => undefined);
    throw new ApiError('The new membership is not listed; sign in again.', 0);
  }
  return openWithToken(api, { email: input.email, organisation, memberships: login.memberships, token: input.token, tokenId: input.tokenId });
}

/** Unlock the keyring of one organisation and mint this tab's token from it. */
async function mintTabToken(api: ConsoleApi, email: string, password: string, organisation: Membership): Promise<{ token: string; tokenId: string }> {
  const view = await api.keyring(organisation.organisationId);
  let keyring: UserKeyring;
  try {
    keyring = await openKeyring(view, email, password);
  } catch (error) {
    if (error instanceof KeyringMismatchError) throw new ApiError('The keyring stored on the server does not match your identity key; ask an owner to check your membership.', 0);
    if (error instanceof DecryptionError) throw new ApiError('This password does not unlock your keyring in this organisation.', 0);
    throw error;
  }
  let minted: ReturnType<typeof mintTokenFor>;
  try {
    minted = mintTokenFor(keyring, consoleTokenName(), new Date(Date.now() + TOKEN_LIFETIME_MS));
  } finally {
    wipeKeyring(keyring);
  }
  const registered = await api.registerToken(organisation.organisationId, minted.body);
  return { token: minted.token, tokenId: registered.id };
}

async function openWithToken(
  api: ConsoleApi,
  input: { email: string; organisation: Membership; memberships: Membership[]; token: string; tokenId: string },
): Promise<SignedIn> {
  const rest = new RestApi(input.token);
  // The token revokes itself: another tab's sign-in or sign-out may have replaced or ended the
  // session cookie this tab started with, and the token must go all the same.
  const revoke = () => rest.call('DELETE', `/coffer/v1/tokens/${encodeURIComponent(input.tokenId)}/`);
  const openSession = () => PhaseSession.open({ host: window.location.origin, token: input.token, userAgent: 'coffer-console', fetch: (url, init) => window.fetch(url, init) });
  let session: PhaseSession;
  try {
    session = await openSession();
  } catch (error) {
    await revoke().catch(() => undefined);
    await api.logout().catch(() => undefined);
    throw error;
  }
  return {
    email: input.email,
    organisation: input.organisation,
    memberships: input.memberships,
    get session() {
      return session;
    },
    rest,
    async reopen() {
      const next = await openSession();
      session.close();
      session = next;
      return next;
    },
    async signOut() {
      session.close();
      let failure: string | undefined;
      try {
        await revoke();
      } catch (error) {
        // 401: revoked or expired already, which is what signing out wants.
        if (!(error instanceof ApiError && error.status === 401)) failure = `This tab's token could not be revoked (${(error as Error).message}). Revoke it with: coffer tokens revoke ${input.tokenId}`;
      }
      await api.logout().catch(() => undefined);
      return failure;
    },
  };
}
