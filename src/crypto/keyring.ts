/**
 * Phase's account keyrings (crypto spec §2.3, §2.4). This runs in the client (CLI, console): the server
 * never receives a password, a recovery phrase or a user's private key (DESIGN §1 "E2EE"). The one
 * exception is the server-managed service-account keyring, a random Ed25519 pair the server keeps under
 * its master key (spec §3.7 A1).
 *
 *   mnemonic (24 BIP39 words) ─Argon2id(salt = BLAKE2b-128(org id))─► account seed
 *   account seed ─kdf(0, "_secret_")─► symmetricKey
 *   account seed ─kdf(1, "__sign__")─► Ed25519 seed ─► (identity pk, sk) ─§1.8─► kx key pair
 *   password ─Argon2id(salt = BLAKE2b-128(email))─► device key: wraps {symmetricKey, privateKey, publicKey}
 */
import { entropyToMnemonic, validateMnemonic } from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import {
  KEY_BYTES,
  PWHASH_SALT_BYTES,
  SIGN_PUBLIC_KEY_BYTES,
  SIGN_SECRET_KEY_BYTES,
  type KeyPair,
  type SodiumBackend,
} from './backend.js';
import { fromHex, isHex, toHex, utf8Encode } from './encoding.js';
import { CryptoFormatError, KeyMismatchError } from './errors.js';
import type { KeyInput, PhaseFormats } from './formats.js';

/** Argon2id cost. Part of every derivation's signature so that tests can make it cheap. */
export interface KdfParams {
  readonly opsLimit: number;
  readonly memLimit: number;
}

/** crypto_pwhash_OPSLIMIT_SENSITIVE / MEMLIMIT_SENSITIVE: Phase's account-seed derivation (4 passes, 1 GiB). */
export const PHASE_KDF_SENSITIVE: KdfParams = Object.freeze({ opsLimit: 4, memLimit: 1024 * 1024 * 1024 });

/** crypto_pwhash_OPSLIMIT_MODERATE / MEMLIMIT_MODERATE: device key and password-login hash (3 passes, 256 MiB). */
export const PHASE_KDF_MODERATE: KdfParams = Object.freeze({ opsLimit: 3, memLimit: 256 * 1024 * 1024 });

/**
 * The Argon2id parameters a member's keyring may be wrapped with: libsodium's crypto_pwhash bounds
 * (OPSLIMIT_MIN..OPSLIMIT_MAX, MEMLIMIT_MIN..), memory capped at 4 GiB (MEMLIMIT_MAX is 4 TiB on 64-bit
 * builds: no client derives a key with that, so a membership stored with it could never be opened).
 * test/crypto checks them against sodium-native.
 */
export const KDF_PARAM_LIMITS = Object.freeze({
  opsLimitMin: 1,
  opsLimitMax: 4_294_967_295,
  memLimitMin: 8192,
  memLimitMax: 4 * 1024 * 1024 * 1024,
});

/** Whether `params` are integer Argon2id parameters within KDF_PARAM_LIMITS. */
export function isKdfParams(params: unknown): params is KdfParams {
  if (typeof params !== 'object' || params === null) return false;
  const { opsLimit, memLimit } = params as Record<string, unknown>;
  const within = (value: unknown, min: number, max: number) => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
  return within(opsLimit, KDF_PARAM_LIMITS.opsLimitMin, KDF_PARAM_LIMITS.opsLimitMax) && within(memLimit, KDF_PARAM_LIMITS.memLimitMin, KDF_PARAM_LIMITS.memLimitMax);
}

/**
 * For test suites that create many users: 1 pass over 1 MiB, about a millisecond. Keys derived with it
 * are NOT Phase-compatible (a Phase console would derive different keys from the same words) and offer
 * no resistance to guessing. Never use outside tests.
 */
export const TEST_KDF_FAST: KdfParams = Object.freeze({ opsLimit: 1, memLimit: 1024 * 1024 });

/** An Ed25519 identity: `publicKey` is the 32-byte identity key, `privateKey` libsodium's 64-byte seed || pk. */
export interface IdentityKeyring {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A user's (or console-created service account's) keyring: identity plus the console's symmetric key. */
export interface UserKeyring extends IdentityKeyring {
  symmetricKey: Uint8Array;
}

/** Phase's crypto_kdf subkeys of the account seed (spec §2.3). */
const ACCOUNT_SEED_SUBKEYS = {
  symmetricKey: { id: 0, context: '_secret_' },
  signingSeed: { id: 1, context: '__sign__' },
} as const;
const MNEMONIC_WORDS = 24;

export function createKeyrings(sodium: SodiumBackend, formats: PhaseFormats) {
  /** 24 English words from 256 bits of libsodium randomness: the recovery phrase. */
  function generateMnemonic(): string {
    const entropy = sodium.randomBytes(32);
    try {
      return entropyToMnemonic(entropy, english);
    } finally {
      sodium.memzero(entropy);
    }
  }

  function isValidMnemonic(mnemonic: string): boolean {
    const words = normalizeMnemonic(mnemonic);
    return words.length === MNEMONIC_WORDS && validateMnemonic(words.join(' '), english);
  }

  /** BLAKE2b-128 of a string: Phase's Argon2 salts (org id, email, "auth-v1:" + email). */
  function saltOf(text: string): Uint8Array {
    return sodium.generichash(PWHASH_SALT_BYTES, utf8Encode(text));
  }

  async function argon2id(password: string, saltText: string, params: KdfParams): Promise<Uint8Array> {
    const passwordBytes = utf8Encode(password);
    try {
      return await sodium.pwhashArgon2id(KEY_BYTES, passwordBytes, saltOf(saltText), params.opsLimit, params.memLimit);
    } finally {
      sodium.memzero(passwordBytes);
    }
  }

  /**
   * Account seed = Argon2id(words joined with "-", BLAKE2b-128(UTF8(org id))). Per (user, organisation).
   * The phrase is validated (24 words, BIP39 checksum) so a typo fails loudly instead of deriving a
   * different identity.
   */
  async function deriveAccountSeed(
    mnemonic: string,
    organisationId: string,
    params: KdfParams = PHASE_KDF_SENSITIVE,
  ): Promise<Uint8Array> {
    const words = normalizeMnemonic(mnemonic);
    if (words.length !== MNEMONIC_WORDS || !validateMnemonic(words.join(' '), english)) {
      throw new CryptoFormatError(`recovery phrase must be ${MNEMONIC_WORDS} English BIP39 words with a valid checksum`);
    }
    if (typeof organisationId !== 'string' || organisationId.length === 0) {
      throw new CryptoFormatError('organisation id must be a non-empty string');
    }
    return argon2id(words.join('-'), organisationId, params);
  }

  /** symmetricKey = kdf(0, "_secret_"), Ed25519 = sign_seed_keypair(kdf(1, "__sign__")). */
  function keyringFromAccountSeed(accountSeed: Uint8Array): UserKeyring {
    const { symmetricKey: sym, signingSeed: sign } = ACCOUNT_SEED_SUBKEYS;
    const symmetricKey = sodium.kdfDeriveFromKey(KEY_BYTES, sym.id, sym.context, accountSeed);
    const signingSeed = sodium.kdfDeriveFromKey(KEY_BYTES, sign.id, sign.context, accountSeed);
    try {
      const identity = sodium.signSeedKeypair(signingSeed);
      return { symmetricKey, publicKey: identity.publicKey, privateKey: identity.privateKey };
    } finally {
      sodium.memzero(signingSeed);
    }
  }

  async function keyringFromMnemonic(
    mnemonic: string,
    organisationId: string,
    params: KdfParams = PHASE_KDF_SENSITIVE,
  ): Promise<UserKeyring> {
    const seed = await deriveAccountSeed(mnemonic, organisationId, params);
    try {
      return keyringFromAccountSeed(seed);
    } finally {
      sodium.memzero(seed);
    }
  }

  /** Device key (unlocks the wrapped keyring) = Argon2id(password, BLAKE2b-128(UTF8(email))). */
  function deriveDeviceKey(password: string, email: string, params: KdfParams = PHASE_KDF_MODERATE): Promise<Uint8Array> {
    return argon2id(password, email, params);
  }

  /** What a password login sends instead of the password: hex Argon2id(password, BLAKE2b-128("auth-v1:" + email)). */
  async function derivePasswordLoginHash(
    password: string,
    email: string,
    params: KdfParams = PHASE_KDF_MODERATE,
  ): Promise<string> {
    const hash = await argon2id(password, `auth-v1:${email}`, params);
    try {
      return toHex(hash);
    } finally {
      sodium.memzero(hash);
    }
  }

  /** The exact JSON Phase's console wraps (key order matters for byte-identical ciphertexts). */
  function serializeUserKeyring(keyring: UserKeyring): string {
    return JSON.stringify({
      symmetricKey: toHex(keyring.symmetricKey),
      privateKey: toHex(keyring.privateKey),
      publicKey: toHex(keyring.publicKey),
    });
  }

  /** `OrganisationMember.wrapped_keyring`: hex(encryptRaw(UTF8(keyring JSON), deviceKey)). */
  function wrapUserKeyring(keyring: UserKeyring, deviceKey: KeyInput): string {
    return formats.encryptRawHex(serializeUserKeyring(keyring), deviceKey);
  }

  function unwrapUserKeyring(wrappedKeyringHex: string, deviceKey: KeyInput): UserKeyring {
    const json = formats.decryptRawHex(wrappedKeyringHex, deviceKey);
    const fields = parseKeyringJson(json, ['symmetricKey', 'privateKey', 'publicKey']);
    const identity = identityFromHex(fields.publicKey, fields.privateKey);
    return { ...identity, symmetricKey: fromHex(fields.symmetricKey, 'keyring symmetricKey', KEY_BYTES) };
  }

  /** `OrganisationMember.wrapped_recovery`: hex(encryptRaw(UTF8(mnemonic), deviceKey)). */
  function wrapRecoveryPhrase(mnemonic: string, deviceKey: KeyInput): string {
    return formats.encryptRawHex(mnemonic, deviceKey);
  }

  function unwrapRecoveryPhrase(wrappedRecoveryHex: string, deviceKey: KeyInput): string {
    return formats.decryptRawHex(wrappedRecoveryHex, deviceKey);
  }

  /** §3.7 A1: a server-managed service account gets a random Ed25519 pair (no mnemonic, no symmetricKey). */
  function generateServiceAccountKeyring(): IdentityKeyring {
    return sodium.signKeypair();
  }

  /** `{"publicKey": …, "privateKey": …}`, the JSON Phase stores in `server_wrapped_keyring` (same key order). */
  function serializeIdentityKeyring(keyring: IdentityKeyring): string {
    return JSON.stringify({ publicKey: toHex(keyring.publicKey), privateKey: toHex(keyring.privateKey) });
  }

  /** Parses a service-account keyring JSON; a console-made one also carries symmetricKey, which is ignored. */
  function parseIdentityKeyring(json: string): IdentityKeyring {
    const fields = parseKeyringJson(json, ['publicKey', 'privateKey']);
    return identityFromHex(fields.publicKey, fields.privateKey);
  }

  /** Checks that the 64-byte secret key's embedded public half is the identity key, in constant time. */
  function identityFromHex(publicKeyHex: string, privateKeyHex: string): IdentityKeyring {
    const publicKey = fromHex(publicKeyHex, 'keyring publicKey', SIGN_PUBLIC_KEY_BYTES);
    const privateKey = fromHex(privateKeyHex, 'keyring privateKey', SIGN_SECRET_KEY_BYTES);
    if (!sodium.equalConstantTime(privateKey.subarray(32), publicKey)) {
      sodium.memzero(privateKey);
      throw new KeyMismatchError('keyring publicKey does not match its privateKey');
    }
    return { publicKey, privateKey };
  }

  /** §1.8 applied to an identity: the X25519 pair that opens EnvironmentKey rows and backs tokens. */
  function kxKeyPairOfIdentity(keyring: IdentityKeyring): KeyPair {
    return formats.ed25519ToKx(keyring);
  }

  /** Wipes every secret buffer of a keyring (the public key is left as is). */
  function wipeKeyring(keyring: IdentityKeyring | UserKeyring): void {
    sodium.memzero(keyring.privateKey);
    if ('symmetricKey' in keyring) sodium.memzero(keyring.symmetricKey);
  }

  return {
    generateMnemonic,
    isValidMnemonic,
    deriveAccountSeed,
    keyringFromAccountSeed,
    keyringFromMnemonic,
    deriveDeviceKey,
    derivePasswordLoginHash,
    serializeUserKeyring,
    wrapUserKeyring,
    unwrapUserKeyring,
    wrapRecoveryPhrase,
    unwrapRecoveryPhrase,
    generateServiceAccountKeyring,
    serializeIdentityKeyring,
    parseIdentityKeyring,
    kxKeyPairOfIdentity,
    wipeKeyring,
  };
}

export type Keyrings = ReturnType<typeof createKeyrings>;

/** Lower-case words separated by single spaces, whatever whitespace or case the user typed. */
function normalizeMnemonic(mnemonic: string): string[] {
  if (typeof mnemonic !== 'string') return [];
  const trimmed = mnemonic.trim().toLowerCase();
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

function parseKeyringJson<K extends string>(json: string, required: readonly K[]): Record<K, string> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    // No cause: the parser's message quotes the input, which holds private keys.
    throw new CryptoFormatError('keyring is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CryptoFormatError('keyring JSON must be an object');
  }
  const record = value as Record<string, unknown>;
  for (const field of required) {
    if (!isHex(record[field])) throw new CryptoFormatError(`keyring JSON field '${field}' must be a hex string`);
  }
  return record as Record<K, string>;
}
