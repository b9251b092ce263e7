// Signing in to the console, all on this page (crypto spec §2.3, §3.2): the password never leaves
// the browser. It derives the login hash the server checks and the device key that unwraps the
// keyring; the keyring mints a personal access token for this tab, whose public parts the server
// registers; the token then opens a Phase protocol session like the CLI's. Signing out revokes the
// token and ends the console session. Nothing is kept in storage: a reload signs out.
import { PHASE_KDF_MODERATE, toHex } from '../../src/crypto/browser.js';
import { PhaseSession } from '../../src/client/phase-protocol.js';
import { derivePasswordLoginHash, deriveDeviceKey, kxKeyPairOfIdentity, mintUserToken, unwrapUserKeyring, wipeKeyring } from './crypto-binding.js';
import { ApiError, ConsoleApi, type LoginAnswer, type Membership } from './coffer-api.js';

/** The console's token lives as long as a console session (12 h), and is revoked at sign-out. */
const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;

export interface SignedIn {
  email: string;
  organisation: Membership;
  memberships: Membership[];
  session: PhaseSession;
  signOut(): Promise<void>;
}

/** The server normalises addresses the same way; the e-mail salts the login hash, so it must match. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A console session signed in but not yet opened: the person picks one of their organisations. */
export interface PendingSignIn {
  email: string;
  memberships: Membership[];
  open(organisationId: string): Promise<SignedIn>;
  cancel(): Promise<void>;
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
        const opened = await openOrganisation(api, email, password, organisation);
        password = undefined;
        return { ...opened, memberships: login.memberships };
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

/** Step two: unlock the keyring of one organisation and mint this tab's token from it. */
async function openOrganisation(api: ConsoleApi, email: string, password: string, organisation: Membership): Promise<Omit<SignedIn, 'memberships'>> {
  const view = await api.keyring(organisation.organisationId);
  const deviceKey = await deriveDeviceKey(password, email, view.kdfParams);
  let keyring;
  try {
    keyring = unwrapUserKeyring(view.wrappedKeyring, deviceKey);
  } catch {
    throw new ApiError('This password does not unlock your keyring in this organisation.', 0);
  } finally {
    deviceKey.fill(0);
  }
  if (toHex(keyring.publicKey) !== view.identityKey.toLowerCase()) {
    wipeKeyring(keyring);
    throw new ApiError('The keyring stored on the server does not match your identity key; ask an owner to check your membership.', 0);
  }
  const kx = kxKeyPairOfIdentity(keyring);
  const minted = mintUserToken(kx);
  kx.privateKey.fill(0);
  wipeKeyring(keyring);
  const registered = await api.registerToken(organisation.organisationId, {
    name: `console ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
    identityKey: minted.identityKey,
    bearerHash: minted.bearerHash,
    wrappedKeyShare: minted.wrappedKeyShare,
    expiresAt: new Date(Date.now() + TOKEN_LIFETIME_MS).toISOString(),
  });
  const revoke = () => api.revokeToken(organisation.organisationId, registered.id).catch(() => undefined);
  let session: PhaseSession;
  try {
    session = await PhaseSession.open({ host: window.location.origin, token: minted.token, userAgent: 'coffer-console', fetch: (url, init) => window.fetch(url, init) });
  } catch (error) {
    await revoke();
    throw error;
  }
  return {
    email,
    organisation,
    session,
    async signOut() {
      // Each step on its own: a token already gone must not keep the session open.
      session.close();
      await revoke();
      await api.logout().catch(() => undefined);
    },
  };
}

