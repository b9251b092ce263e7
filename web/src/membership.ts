// A new membership made in the page (crypto spec §2.3), as `coffer setup` and `coffer invites
// accept` make it: a fresh 24-word recovery phrase, the keyring it derives for the organisation,
// wrapped under the device key of (password, e-mail), the login hash, and a first token for this
// tab. Only public and wrapped parts, the login hash and the token's bearer hash are sent.
import { PHASE_KDF_MODERATE, PHASE_KDF_SENSITIVE, toHex } from '../../src/crypto/browser.js';
import {
  deriveDeviceKey,
  derivePasswordLoginHash,
  generateMnemonic,
  keyringFromMnemonic,
  kxKeyPairOfIdentity,
  mintUserToken,
  wipeKeyring,
  wrapRecoveryPhrase,
  wrapUserKeyring,
} from './crypto-binding.js';
import { TOKEN_LIFETIME_MS, consoleTokenName } from './console-token.js';

export const MIN_PASSWORD_LENGTH = 8;

export interface MembershipMaterial {
  organisationId: string;
  recoveryPhrase: string;
  loginHash: string;
  keyring: { identityKey: string; wrappedKeyring: string; wrappedRecovery: string; kdfParams: { opsLimit: number; memLimit: number } };
  /** The tab's token: the full string stays here; `tokenBody` is what the server registers. */
  token: string;
  tokenBody: { name: string; identityKey: string; bearerHash: string; wrappedKeyShare: string; expiresAt: string };
}

export function checkNewPassword(password: string, confirmation: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password !== confirmation) return 'The two passwords differ.';
  return undefined;
}

export async function newMembershipMaterial(options: { organisationId?: string; email: string; password: string }): Promise<MembershipMaterial> {
  const organisationId = options.organisationId ?? randomUuid();
  const recoveryPhrase = generateMnemonic();
  const keyring = await keyringFromMnemonic(recoveryPhrase, organisationId, PHASE_KDF_SENSITIVE);
  const deviceKey = await deriveDeviceKey(options.password, options.email, PHASE_KDF_MODERATE);
  try {
    const loginHash = await derivePasswordLoginHash(options.password, options.email, PHASE_KDF_MODERATE);
    const kx = kxKeyPairOfIdentity(keyring);
    const minted = mintUserToken(kx);
    kx.privateKey.fill(0);
    return {
      organisationId,
      recoveryPhrase,
      loginHash,
      keyring: {
        identityKey: toHex(keyring.publicKey),
        wrappedKeyring: wrapUserKeyring(keyring, deviceKey),
        wrappedRecovery: wrapRecoveryPhrase(recoveryPhrase, deviceKey),
        kdfParams: { opsLimit: PHASE_KDF_MODERATE.opsLimit, memLimit: PHASE_KDF_MODERATE.memLimit },
      },
      token: minted.token,
      tokenBody: {
        name: consoleTokenName(),
        identityKey: minted.identityKey,
        bearerHash: minted.bearerHash,
        wrappedKeyShare: minted.wrappedKeyShare,
        expiresAt: new Date(Date.now() + TOKEN_LIFETIME_MS).toISOString(),
      },
    };
  } finally {
    deviceKey.fill(0);
    wipeKeyring(keyring);
  }
}

/** A version-4 UUID from the browser's CSPRNG (crypto.randomUUID needs a secure context). */
function randomUuid(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
