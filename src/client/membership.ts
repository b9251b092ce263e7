// The client side of a membership's keys (crypto spec §2.3, §3.2), shared by the CLI and the web
// console (which binds '../crypto/index.js' to libsodium's WASM build): making a new membership,
// opening a member's keyring with the password, minting tokens from it. Everything secret is made
// here and only public or wrapped material leaves the client. The server never sees the password,
// the recovery phrase, a private key or a bearer token.
import {
  deriveDeviceKey,
  unwrapUserKeyring,
  derivePasswordLoginHash,
  generateMnemonic,
  keyringFromMnemonic,
  kxKeyPairOfIdentity,
  mintUserToken,
  toHex,
  wipeKeyring,
  wrapRecoveryPhrase,
  wrapUserKeyring,
  type KdfParams,
  type UserKeyring,
} from '../crypto/index.js';

export const MIN_PASSWORD_LENGTH = 8;

/** Why a new password is refused, or undefined. */
export function checkNewPassword(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  return undefined;
}

/** A member's keyring as the server keeps it (`GET /coffer/v1/me/keyring/`). */
export interface WrappedKeyringView {
  organisationId: string;
  memberId: string;
  identityKey: string;
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: { opsLimit: number; memLimit: number };
}

/** The keyring opened, but it is not the one the server names as the member's identity. */
export class KeyringMismatchError extends Error {
  constructor() {
    super('the keyring stored on the server does not match your identity key');
    this.name = 'KeyringMismatchError';
  }
}

/**
 * Opens a member's keyring with the device key of (password, e-mail). A wrong password throws the
 * crypto module's DecryptionError; a keyring that is not the member's, KeyringMismatchError.
 */
export async function openKeyring(view: WrappedKeyringView, email: string, password: string): Promise<UserKeyring> {
  const deviceKey = await deriveDeviceKey(password, email, view.kdfParams);
  try {
    const keyring = unwrapUserKeyring(view.wrappedKeyring, deviceKey);
    if (toHex(keyring.publicKey) !== view.identityKey.toLowerCase()) {
      wipeKeyring(keyring);
      throw new KeyringMismatchError();
    }
    return keyring;
  } finally {
    deviceKey.fill(0);
  }
}

/** What the server registers of a personal access token minted on the client. */
export interface TokenBody {
  name: string;
  identityKey: string;
  bearerHash: string;
  wrappedKeyShare: string;
  expiresAt: string | null;
}

export interface KeyringBody {
  identityKey: string;
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: { opsLimit: number; memLimit: number };
}

export interface MembershipMaterial {
  organisationId: string;
  recoveryPhrase: string;
  loginHash: string;
  keyring: KeyringBody;
  token: string;
  tokenBody: TokenBody;
}

export interface MembershipKdf {
  /** Account seed from the recovery phrase. */
  sensitive: KdfParams;
  /** Device key and login hash; stored with the member as kdf_params. */
  moderate: KdfParams;
}

/** A personal access token for a keyring: the full string (shown once) and what the server gets. */
export function mintTokenFor(keyring: UserKeyring, name: string, expiresAt: Date | null): { token: string; body: TokenBody } {
  const kx = kxKeyPairOfIdentity(keyring);
  try {
    const minted = mintUserToken(kx);
    return {
      token: minted.token,
      body: { name, identityKey: minted.identityKey, bearerHash: minted.bearerHash, wrappedKeyShare: minted.wrappedKeyShare, expiresAt: expiresAt?.toISOString() ?? null },
    };
  } finally {
    kx.privateKey.fill(0);
  }
}

/**
 * A new membership: a fresh 24-word phrase, the keyring it derives for this organisation id,
 * wrapped under the device key of (password, email), and a first token minted from it.
 */
export async function deriveMembership(options: {
  organisationId?: string;
  email: string;
  password: string;
  tokenName: string;
  tokenExpiresAt: Date | null;
  kdf: MembershipKdf;
}): Promise<MembershipMaterial> {
  const { kdf } = options;
  const organisationId = options.organisationId ?? randomUuid();
  const recoveryPhrase = generateMnemonic();
  const keyring = await keyringFromMnemonic(recoveryPhrase, organisationId, kdf.sensitive);
  try {
    const deviceKey = await deriveDeviceKey(options.password, options.email, kdf.moderate);
    let keyringBody: KeyringBody;
    try {
      keyringBody = {
        identityKey: toHex(keyring.publicKey),
        wrappedKeyring: wrapUserKeyring(keyring, deviceKey),
        wrappedRecovery: wrapRecoveryPhrase(recoveryPhrase, deviceKey),
        kdfParams: { opsLimit: kdf.moderate.opsLimit, memLimit: kdf.moderate.memLimit },
      };
    } finally {
      deviceKey.fill(0);
    }
    const loginHash = await derivePasswordLoginHash(options.password, options.email, kdf.moderate);
    const { token, body } = mintTokenFor(keyring, options.tokenName, options.tokenExpiresAt);
    return { organisationId, recoveryPhrase, loginHash, keyring: keyringBody, token, tokenBody: body };
  } finally {
    wipeKeyring(keyring);
  }
}

/** A version-4 UUID from the platform's CSPRNG (crypto.randomUUID needs a secure context in browsers). */
export function randomUuid(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
