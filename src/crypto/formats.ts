/**
 * Phase's wire formats (crypto spec §1), byte-compatible with the Node, Go and Python SDKs:
 * - "raw" XChaCha20-Poly1305 blobs laid out ciphertext || tag || nonce (nonce AFTER the tag), in hex or base64;
 * - `ph:v1:<hex ephemeral X25519 pk>:<base64(ct||tag||nonce)>` strings encrypted to an X25519 public key;
 * - key pairs from seeds, key digests, Ed25519 → X25519 conversion, XOR key splitting.
 *
 * Quirk kept on purpose (§1.2): binary values that get wrapped (seeds, salts, key shares) are encrypted as
 * their 64-character hex TEXT, not as 32 raw bytes. The helpers that wrap them (wrapShare here,
 * wrapEnvironmentSecrets in environment-cipher.ts) do that conversion, so callers never do.
 */
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  KEY_BYTES,
  KX_PUBLIC_KEY_BYTES,
  SIGN_PUBLIC_KEY_BYTES,
  SIGN_SECRET_KEY_BYTES,
  type KeyPair,
  type SodiumBackend,
} from './backend.js';
import { concatBytes, expectBytes, fromBase64, fromHex, isHex, toBase64, toHex, utf8Decode, utf8Encode } from './encoding.js';
import { CryptoFormatError, KeyMismatchError } from './errors.js';

/** A key given either as bytes or as hex text (either case), the way Phase stores and transmits keys. */
export type KeyInput = Uint8Array | string;

export interface KeyPairInput {
  publicKey: KeyInput;
  privateKey: KeyInput;
}

declare const ciphertextBrand: unique symbol;
/**
 * A `ph:v1:…` string. Branded so that store columns typed `Ciphertext` cannot receive plaintext by
 * accident: the only ways to get one are encrypting, or validating a client-sent string with asCiphertext.
 */
export type Ciphertext = string & { readonly [ciphertextBrand]: 'ph:v1' };

export interface ParsedCiphertext {
  /** Lower-case hex of the ephemeral public key, whatever case the input used (cache key material). */
  ephemeralPublicKeyHex: string;
  ephemeralPublicKey: Uint8Array;
  /** ciphertext || tag || nonce */
  blob: Uint8Array;
}

export const RAW_OVERHEAD_BYTES = AEAD_TAG_BYTES + AEAD_NONCE_BYTES;
/** hex(encryptRaw(UTF8(64 hex chars))) = 2 × (64 + 16 + 24). */
export const WRAPPED_SHARE_HEX_LENGTH = 208;

/**
 * Parses a `ph:v1` string without any key. Stricter than the Node SDK (which checks only the part count),
 * as strict as the Go SDK on the prefix and version, and additionally checks hex, base64 and minimum length,
 * so a stored value is known to be well-formed even when the server cannot decrypt it (E2EE apps).
 */
export function parseCiphertext(value: unknown): ParsedCiphertext {
  if (typeof value !== 'string') throw new CryptoFormatError('ph:v1 ciphertext must be a string');
  const parts = value.split(':');
  if (parts.length !== 4) {
    throw new CryptoFormatError(`ph:v1 ciphertext must have 4 colon-separated parts; got ${parts.length}`);
  }
  const [prefix, version, ephemeralHex, data] = parts as [string, string, string, string];
  if (prefix !== 'ph' || version !== 'v1') {
    throw new CryptoFormatError("ph:v1 ciphertext must start with 'ph:v1:'");
  }
  const ephemeralPublicKey = fromHex(ephemeralHex, 'ph:v1 ephemeral public key', KX_PUBLIC_KEY_BYTES);
  const blob = fromBase64(data, 'ph:v1 ciphertext body');
  if (blob.length < RAW_OVERHEAD_BYTES) {
    throw new CryptoFormatError(
      `ph:v1 ciphertext body is ${blob.length} bytes; it needs at least ${RAW_OVERHEAD_BYTES} (16-byte tag + 24-byte nonce)`,
    );
  }
  return { ephemeralPublicKeyHex: ephemeralHex.toLowerCase(), ephemeralPublicKey, blob };
}

/** Brands a client-sent string after checking that it is a well-formed ph:v1 ciphertext. */
export function asCiphertext(value: unknown): Ciphertext {
  parseCiphertext(value);
  return value as Ciphertext;
}

/** Phase clients send "" for an empty comment; this accepts that and otherwise behaves as asCiphertext. */
export function asOptionalCiphertext(value: unknown): Ciphertext | '' {
  return value === '' ? '' : asCiphertext(value);
}

export function formatCiphertext(ephemeralPublicKeyHex: string, blob: Uint8Array): Ciphertext {
  return `ph:v1:${ephemeralPublicKeyHex}:${toBase64(blob)}` as Ciphertext;
}

/** Splits a raw blob into its AEAD part (ciphertext || tag) and its trailing nonce. */
export function splitRawBlob(blob: Uint8Array): { ciphertextAndTag: Uint8Array; nonce: Uint8Array } {
  if (!(blob instanceof Uint8Array)) throw new CryptoFormatError('raw ciphertext must be a Uint8Array');
  if (blob.length < RAW_OVERHEAD_BYTES) {
    throw new CryptoFormatError(
      `raw ciphertext is ${blob.length} bytes; it needs at least ${RAW_OVERHEAD_BYTES} (16-byte tag + 24-byte nonce)`,
    );
  }
  const cut = blob.length - AEAD_NONCE_BYTES;
  return { ciphertextAndTag: blob.subarray(0, cut), nonce: blob.subarray(cut) };
}

/** The 64-char hex text a wrapped seed, salt or share must decrypt to (§1.2 quirk). */
export function expectHexKeyText(text: string, what: string): string {
  if (isHex(text, 2 * KEY_BYTES)) return text;
  throw new CryptoFormatError(`${what} must be 64 hex characters (hex-as-text, spec §1.2); got ${String(text).length} characters`);
}

export function createPhaseFormats(sodium: SodiumBackend) {
  /**
   * Runs `use` with the key as bytes. Hex input is decoded into a buffer we own and wipe afterwards;
   * byte input belongs to the caller and is left alone.
   */
  function withKey<T>(input: KeyInput, length: number, what: string, use: (key: Uint8Array) => T): T {
    if (typeof input !== 'string') return use(expectBytes(input, length, what));
    const bytes = fromHex(input, what, length);
    try {
      return use(bytes);
    } finally {
      sodium.memzero(bytes);
    }
  }

  function randomKeyHex(): string {
    const bytes = sodium.randomBytes(KEY_BYTES);
    const hex = toHex(bytes);
    sodium.memzero(bytes);
    return hex;
  }

  /** §1.3: ciphertext || tag || nonce, with a fresh random nonce. */
  function encryptRaw(plaintext: Uint8Array, key: KeyInput): Uint8Array {
    return encryptRawWithNonce(plaintext, key, sodium.aeadNonce());
  }

  /** encryptRaw with a caller-chosen nonce. Only for reproducing test vectors: never reuse a nonce. */
  function encryptRawWithNonce(plaintext: Uint8Array, key: KeyInput, nonce: Uint8Array): Uint8Array {
    expectBytes(nonce, AEAD_NONCE_BYTES, 'nonce');
    return withKey(key, KEY_BYTES, 'symmetric key', (k) => concatBytes(sodium.aeadEncrypt(plaintext, null, nonce, k), nonce));
  }

  function decryptRaw(blob: Uint8Array, key: KeyInput): Uint8Array {
    const { ciphertextAndTag, nonce } = splitRawBlob(blob);
    return withKey(key, KEY_BYTES, 'symmetric key', (k) => sodium.aeadDecrypt(ciphertextAndTag, null, nonce, k));
  }

  /** Hex form of §1.3 over UTF-8 text: wrapped key shares, keyrings and recovery phrases. */
  function encryptRawHex(text: string, key: KeyInput): string {
    return toHex(encryptRaw(utf8Encode(text), key));
  }

  function decryptRawHex(hex: string, key: KeyInput): string {
    return utf8Decode(decryptRaw(fromHex(hex, 'raw ciphertext (hex)'), key), 'decrypted text');
  }

  /** Base64 form of §1.3 over UTF-8 text (the body of a ph:v1 string). */
  function encryptRawBase64(text: string, key: KeyInput): string {
    return toBase64(encryptRaw(utf8Encode(text), key));
  }

  function decryptRawBase64(base64: string, key: KeyInput): string {
    return utf8Decode(decryptRaw(fromBase64(base64, 'raw ciphertext (base64)'), key), 'decrypted text');
  }

  function kxKeyPair(): KeyPair {
    return sodium.kxKeypair();
  }

  /** §1.6: environment and server key pairs; sk = BLAKE2b-256(seed), pk = X25519_base(sk). */
  function kxKeyPairFromSeed(seed: KeyInput): KeyPair {
    return withKey(seed, KEY_BYTES, 'seed', (s) => sodium.kxSeedKeypair(s));
  }

  /** hex(Env_pk) for a seed: the `identity_key` of Environment and EnvironmentKey rows. */
  function publicKeyHexFromSeed(seed: KeyInput): string {
    const pair = kxKeyPairFromSeed(seed);
    sodium.memzero(pair.privateKey);
    return toHex(pair.publicKey);
  }

  /**
   * ph:v1 encryption with a given ephemeral key pair and, for test vectors only, a given nonce. The
   * random path (encryptAsymmetric) and the EnvironmentCipher's shared-ephemeral path both end here.
   */
  function encryptAsymmetricWith(
    text: string,
    recipientPublicKey: KeyInput,
    ephemeral: KeyPair,
    nonce?: Uint8Array,
  ): Ciphertext {
    const session = withKey(recipientPublicKey, KX_PUBLIC_KEY_BYTES, 'recipient public key', (pk) =>
      sodium.kxClientSessionKeys(ephemeral.publicKey, ephemeral.privateKey, pk),
    );
    try {
      const plaintext = utf8Encode(text);
      const blob = nonce ? encryptRawWithNonce(plaintext, session.tx, nonce) : encryptRaw(plaintext, session.tx);
      return formatCiphertext(toHex(ephemeral.publicKey), blob);
    } finally {
      sodium.memzero(session.rx);
      sodium.memzero(session.tx);
    }
  }

  /** §1.5 with a fresh ephemeral key pair, as every Phase client does. */
  function encryptAsymmetric(text: string, recipientPublicKey: KeyInput): Ciphertext {
    const ephemeral = sodium.kxKeypair();
    try {
      return encryptAsymmetricWith(text, recipientPublicKey, ephemeral);
    } finally {
      sodium.memzero(ephemeral.privateKey);
    }
  }

  /** The recipient's session rx key for one ephemeral public key (one X25519 + one BLAKE2b-512). */
  function recipientSessionKey(recipient: KeyPairInput, ephemeralPublicKey: Uint8Array): Uint8Array {
    return withKey(recipient.publicKey, KX_PUBLIC_KEY_BYTES, 'recipient public key', (pk) =>
      withKey(recipient.privateKey, KEY_BYTES, 'recipient private key', (sk) => {
        const session = sodium.kxServerSessionKeys(pk, sk, ephemeralPublicKey);
        sodium.memzero(session.tx);
        return session.rx;
      }),
    );
  }

  /** §1.5 decryption; needs the recipient's public key too, because it is hashed into the session key. */
  function decryptAsymmetric(ciphertext: string, recipient: KeyPairInput): string {
    const parsed = parseCiphertext(ciphertext);
    const rx = recipientSessionKey(recipient, parsed.ephemeralPublicKey);
    try {
      return utf8Decode(decryptRaw(parsed.blob, rx), 'decrypted ph:v1 plaintext');
    } finally {
      sodium.memzero(rx);
    }
  }

  /**
   * §1.7 blind index: hex(BLAKE2b-256(UTF8(key), key = UTF8(saltHex))). The salt is used as its 64-char
   * TEXT (64 bytes), not hex-decoded, and is used exactly as given: a salt unwrapped as upper-case text
   * would digest differently, as it does in every client. Case of `key` is the caller's business
   * (Phase upper-cases names first; see spec §7).
   */
  function keyDigest(key: string, saltHex: string): string {
    if (typeof key !== 'string') throw new CryptoFormatError('secret key name must be a string');
    if (!isHex(saltHex, 2 * KEY_BYTES)) throw new CryptoFormatError('environment salt must be 64 hex characters');
    return toHex(sodium.generichash(32, utf8Encode(key), utf8Encode(saltHex)));
  }

  /** §1.8: Ed25519 identity key pair (64-byte libsodium secret key) → X25519 key-exchange pair. */
  function ed25519ToKx(identity: KeyPairInput): KeyPair {
    const publicKey = ed25519PublicKeyToKx(identity.publicKey);
    const privateKey = withKey(identity.privateKey, SIGN_SECRET_KEY_BYTES, 'Ed25519 private key', (sk) =>
      sodium.ed25519SecretKeyToCurve25519(sk),
    );
    return { publicKey, privateKey };
  }

  /** The X25519 public key to wrap environment keys to, for a principal known by its Ed25519 identity key. */
  function ed25519PublicKeyToKx(edPublicKey: KeyInput): Uint8Array {
    return withKey(edPublicKey, SIGN_PUBLIC_KEY_BYTES, 'Ed25519 public key', (pk) => sodium.ed25519PublicKeyToCurve25519(pk));
  }

  /**
   * Whether `edPublicKey` (hex or bytes) is an Ed25519 public key that ed25519PublicKeyToKx accepts:
   * 32 bytes that are a valid curve point. Anything else (wrong length, not hex, not a point) is false.
   */
  function isEd25519PublicKey(edPublicKey: unknown): boolean {
    if (typeof edPublicKey !== 'string' && !(edPublicKey instanceof Uint8Array)) return false;
    try {
      sodium.memzero(ed25519PublicKeyToKx(edPublicKey));
      return true;
    } catch (error) {
      if (error instanceof CryptoFormatError) return false;
      throw error;
    }
  }

  /**
   * Whether `kxPublicKey` (hex or bytes) is an X25519 public key that ph:v1 encryption can use (an
   * environment's Env_pk, crypto spec §2.5): 32 bytes that libsodium's key exchange accepts, so not a
   * low-order point. Tried with a throwaway key pair, as encryptAsymmetric would use it.
   */
  function isX25519PublicKey(kxPublicKey: unknown): boolean {
    if (typeof kxPublicKey !== 'string' && !(kxPublicKey instanceof Uint8Array)) return false;
    const ephemeral = sodium.kxKeypair();
    try {
      const session = withKey(kxPublicKey, KX_PUBLIC_KEY_BYTES, 'X25519 public key', (pk) => sodium.kxClientSessionKeys(ephemeral.publicKey, ephemeral.privateKey, pk));
      sodium.memzero(session.rx);
      sodium.memzero(session.tx);
      return true;
    } catch (error) {
      if (error instanceof CryptoFormatError) return false;
      throw error;
    } finally {
      sodium.memzero(ephemeral.privateKey);
    }
  }

  function kxPublicKeyOf(privateKey: KeyInput): Uint8Array {
    return withKey(privateKey, KEY_BYTES, 'X25519 private key', (sk) => sodium.scalarmultBase(sk));
  }

  /** Throws KeyMismatchError unless publicKey = X25519_base(privateKey). */
  function assertKxKeyPair(pair: KeyPairInput, what: string): void {
    const derived = kxPublicKeyOf(pair.privateKey);
    const matches = withKey(pair.publicKey, KX_PUBLIC_KEY_BYTES, `${what} public key`, (pk) =>
      sodium.equalConstantTime(derived, pk),
    );
    if (!matches) throw new KeyMismatchError(`${what}: the public key does not belong to the private key`);
  }

  /** §1.9 t = n = 2 XOR split. Always 32-byte shares (the Go SDK rejects anything else). */
  function splitSecret(secret: Uint8Array): { clientShare: Uint8Array; serverShare: Uint8Array } {
    expectBytes(secret, KEY_BYTES, 'secret to split');
    const clientShare = sodium.randomBytes(KEY_BYTES);
    const serverShare = xor32(secret, clientShare);
    return { clientShare, serverShare };
  }

  /** §1.9: hex(encryptRaw(UTF8(hex(share)), wrapKey)): 208 hex characters. */
  function wrapShare(serverShare: KeyInput, wrapKey: KeyInput): string {
    const shareHex = withKey(serverShare, KEY_BYTES, 'server key share', toHex);
    return encryptRawHex(shareHex, wrapKey);
  }

  /** Inverse of wrapShare: the 32-byte server share. */
  function unwrapShare(wrappedShareHex: string, wrapKey: KeyInput): Uint8Array {
    if (!isHex(wrappedShareHex, WRAPPED_SHARE_HEX_LENGTH)) {
      throw new CryptoFormatError(`wrapped key share must be ${WRAPPED_SHARE_HEX_LENGTH} hex characters`);
    }
    const shareHex = expectHexKeyText(decryptRawHex(wrappedShareHex, wrapKey), 'wrapped key share');
    return fromHex(shareHex, 'server key share', KEY_BYTES);
  }

  /** §1.9 reconstruct: clientShare XOR unwrap(wrappedShare). */
  function reconstructSecret(clientShare: KeyInput, wrappedShareHex: string, wrapKey: KeyInput): Uint8Array {
    const serverShare = unwrapShare(wrappedShareHex, wrapKey);
    try {
      return withKey(clientShare, KEY_BYTES, 'client key share', (a) => xor32(a, serverShare));
    } finally {
      sodium.memzero(serverShare);
    }
  }

  return {
    randomKeyHex,
    encryptRaw,
    encryptRawWithNonce,
    decryptRaw,
    encryptRawHex,
    decryptRawHex,
    encryptRawBase64,
    decryptRawBase64,
    kxKeyPair,
    kxKeyPairFromSeed,
    publicKeyHexFromSeed,
    kxPublicKeyOf,
    assertKxKeyPair,
    encryptAsymmetric,
    encryptAsymmetricWith,
    decryptAsymmetric,
    parseCiphertext,
    keyDigest,
    ed25519ToKx,
    ed25519PublicKeyToKx,
    isEd25519PublicKey,
    isX25519PublicKey,
    splitSecret,
    wrapShare,
    unwrapShare,
    reconstructSecret,
    withKey,
  };
}

export type PhaseFormats = ReturnType<typeof createPhaseFormats>;

const formatsByBackend = new WeakMap<SodiumBackend, PhaseFormats>();

/** The formats bound to a backend, built once per backend (classes built per environment reuse them). */
export function phaseFormatsFor(sodium: SodiumBackend): PhaseFormats {
  let formats = formatsByBackend.get(sodium);
  if (!formats) {
    formats = createPhaseFormats(sodium);
    formatsByBackend.set(sodium, formats);
  }
  return formats;
}

function xor32(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
