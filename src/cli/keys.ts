// The client side of the key ceremony (crypto spec §2.3, §3.2): everything secret is made here and
// only public or wrapped material leaves the machine. The server never sees the password, the
// recovery phrase, a private key or a bearer token.
import { randomUUID } from 'node:crypto';
import {
  DecryptionError,
  deriveDeviceKey,
  derivePasswordLoginHash,
  keyringFromMnemonic,
  PHASE_KDF_MODERATE,
  PHASE_KDF_SENSITIVE,
  TEST_KDF_FAST,
  toHex,
  isValidMnemonic,
  signRecoveryStatement,
  unwrapRecoveryPhrase,
  unwrapUserKeyring,
  wipeKeyring,
  wrapRecoveryPhrase,
  wrapUserKeyring,
  type KdfParams,
  type UserKeyring,
} from '../crypto/index.js';
import { deriveMembership, KeyringMismatchError, openKeyring, type MembershipMaterial, type WrappedKeyringView } from '../client/membership.js';
import { UserError } from './errors.js';
import type { Ui } from './ui.js';

export interface ClientKdf {
  /** Account seed from the recovery phrase. */
  sensitive: KdfParams;
  /** Device key and login hash. Stored with the member as kdf_params. */
  moderate: KdfParams;
  fast: boolean;
}

let warned = false;

/**
 * Phase's parameters (1 GiB and 256 MiB Argon2id), unless COFFER_INSECURE_FAST_KDF=1: a test-only
 * switch to TEST_KDF_FAST so end-to-end suites stay fast. Keys made with it are weak and not
 * Phase-compatible; the switch must be the same for every command run against one account.
 */
export function clientKdf(): ClientKdf {
  if (process.env.COFFER_INSECURE_FAST_KDF === '1') {
    if (!warned) {
      warned = true;
      process.stderr.write('warning: COFFER_INSECURE_FAST_KDF=1: keys are derived with test-only parameters; never use this for real accounts\n');
    }
    return { sensitive: TEST_KDF_FAST, moderate: TEST_KDF_FAST, fast: true };
  }
  return { sensitive: PHASE_KDF_SENSITIVE, moderate: PHASE_KDF_MODERATE, fast: false };
}

/** The server normalises addresses the same way; the e-mail is a salt, so it must match exactly. */
export function normaliseEmail(email: string): string {
  const cleaned = email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(cleaned)) throw new UserError(`'${email}' is not an email address`, 'pass --email name@example.com');
  return cleaned;
}

export type { KeyringBody, MembershipMaterial, TokenBody, WrappedKeyringView } from '../client/membership.js';
export { checkNewPassword, MIN_PASSWORD_LENGTH, mintTokenFor } from '../client/membership.js';

/** A new membership (src/client/membership.ts) with this machine's parameters, behind a spinner. */
export async function newMembershipMaterial(options: {
  organisationId?: string;
  email: string;
  password: string;
  tokenName: string;
  ui: Ui;
}): Promise<MembershipMaterial> {
  const kdf = clientKdf();
  const spinner = options.ui.spinner();
  spinner.start(kdf.fast ? 'Deriving keys (test parameters)' : 'Deriving your keyring (Argon2id, 1 GiB; this takes a few seconds)');
  try {
    const material = await deriveMembership({
      organisationId: options.organisationId ?? randomUUID(),
      email: options.email,
      password: options.password,
      tokenName: options.tokenName,
      tokenExpiresAt: null,
      kdf,
    });
    spinner.stop('Keyring ready');
    return material;
  } catch (error) {
    spinner.error('Could not derive the keyring');
    throw error;
  }
}

/** Opens the member's keyring (src/client/membership.ts) behind a spinner; a wrong password says so. */
export async function unlockKeyring(view: WrappedKeyringView, email: string, password: string, ui: Ui): Promise<UserKeyring> {
  const spinner = ui.spinner();
  spinner.start('Unlocking your keyring');
  try {
    const keyring = await openKeyring(view, email, password);
    spinner.stop('Keyring unlocked');
    return keyring;
  } catch (error) {
    spinner.error('Could not unlock the keyring');
    if (error instanceof DecryptionError) throw new UserError(`wrong password for ${email}`, 'use the password you chose when you joined this organisation');
    if (error instanceof KeyringMismatchError) throw new UserError(error.message, 'ask an owner to check your membership');
    throw error;
  }
}

export interface RewrappedKeyringBody {
  organisationId: string;
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: { opsLimit: number; memLimit: number };
}

/**
 * The device keys of one password, derived once per set of kdf parameters (each derivation is an
 * Argon2id of 256 MiB). Wipe them with `wipe()` when done.
 */
export function deviceKeysOf(password: string, email: string): { get(params: KdfParams): Promise<Uint8Array>; wipe(): void } {
  const keys = new Map<string, Promise<Uint8Array>>();
  return {
    get(params) {
      const id = `${params.opsLimit}:${params.memLimit}`;
      let key = keys.get(id);
      if (!key) keys.set(id, (key = deriveDeviceKey(password, email, params)));
      return key;
    },
    wipe() {
      for (const key of keys.values()) void key.then((bytes) => bytes.fill(0), () => undefined);
      keys.clear();
    },
  };
}

/**
 * A membership's keyring and recovery phrase, opened with the current password's device key and
 * wrapped again under the new one. A DecryptionError means the current password does not open it.
 */
export function rewrapKeyring(view: WrappedKeyringView, currentDeviceKey: Uint8Array, newDeviceKey: Uint8Array, newKdf: KdfParams): RewrappedKeyringBody {
  const keyring = unwrapUserKeyring(view.wrappedKeyring, currentDeviceKey);
  try {
    if (toHex(keyring.publicKey) !== view.identityKey.toLowerCase()) {
      throw new UserError(`your keyring of organisation ${view.organisationId} does not match your identity key there`, 'ask an owner to check your membership');
    }
    const phrase = unwrapRecoveryPhrase(view.wrappedRecovery, currentDeviceKey);
    return {
      organisationId: view.organisationId,
      wrappedKeyring: wrapUserKeyring(keyring, newDeviceKey),
      wrappedRecovery: wrapRecoveryPhrase(phrase, newDeviceKey),
      kdfParams: { opsLimit: newKdf.opsLimit, memLimit: newKdf.memLimit },
    };
  } finally {
    wipeKeyring(keyring);
  }
}

export interface RecoveryBody {
  email: string;
  organisationId: string;
  issuedAt: string;
  loginHash: string;
  keyring: { wrappedKeyring: string; wrappedRecovery: string; kdfParams: { opsLimit: number; memLimit: number } };
  signature: string;
}

/**
 * A recovery request: the keyring the phrase derives for the organisation, wrapped under the new
 * password, the new login hash, and the statement of both signed with the keyring's identity key
 * (the server checks it against the membership's identity key).
 */
export async function recoveryRequest(options: { phrase: string; organisationId: string; email: string; newPassword: string; ui: Ui }): Promise<RecoveryBody> {
  if (!isValidMnemonic(options.phrase)) throw new UserError('that is not a valid recovery phrase', 'type the 24 words shown when you joined the organisation, in order, separated by spaces');
  const kdf = clientKdf();
  const spinner = options.ui.spinner();
  spinner.start(kdf.fast ? 'Deriving keys (test parameters)' : 'Deriving your keyring from the phrase (Argon2id, 1 GiB; this takes a few seconds)');
  const keyring = await keyringFromMnemonic(options.phrase, options.organisationId, kdf.sensitive);
  const deviceKey = await deriveDeviceKey(options.newPassword, options.email, kdf.moderate);
  try {
    const loginHash = await derivePasswordLoginHash(options.newPassword, options.email, kdf.moderate);
    const wrapped = {
      wrappedKeyring: wrapUserKeyring(keyring, deviceKey),
      wrappedRecovery: wrapRecoveryPhrase(options.phrase.trim().toLowerCase().split(/\s+/).join(' '), deviceKey),
      kdfParams: { opsLimit: kdf.moderate.opsLimit, memLimit: kdf.moderate.memLimit },
    };
    const issuedAt = new Date().toISOString();
    const signature = signRecoveryStatement(keyring, { organisationId: options.organisationId, email: options.email, issuedAt, loginHash, ...wrapped });
    spinner.stop('Recovery request signed');
    return { email: options.email, organisationId: options.organisationId, issuedAt, loginHash, keyring: wrapped, signature };
  } catch (error) {
    spinner.error('Could not derive the keyring');
    throw error;
  } finally {
    deviceKey.fill(0);
    wipeKeyring(keyring);
  }
}

/** `30d`, `12h`, `90m`, `3600s`, `2w` or plain seconds -> milliseconds; `never` -> null. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'never') return null;
  const match = /^(\d+)\s*([smhdw]?)$/.exec(trimmed);
  const units: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  if (!match || Number(match[1]) === 0) throw new UserError(`'${text}' is not a duration`, 'use e.g. 30d, 12h, 90m, 3600s or never');
  return Number(match[1]) * units[match[2]!]! * 1000;
}
