/**
 * Environment keys and the read path (DESIGN §5 items 3–4, crypto spec §2.5).
 *
 * An environment is a 32-byte seed (→ X25519 key pair, public half = `identity_key`) and a 32-byte salt
 * (→ key digests). Access to it is an EnvironmentKey row: the seed and salt, as hex TEXT, wrapped in
 * ph:v1 to a principal's kx public key with a fresh ephemeral key, as Phase does.
 *
 * EnvironmentCipher is what a server process holds per unwrapped environment. Naively every ph:v1 field
 * costs one X25519 (~36 µs native). The cipher avoids that in both directions:
 * - writing: one ephemeral key pair per instance; its session key is derived once and reused for every
 *   field, with a fresh random 24-byte nonce each time. Same security as crypto_box between two static
 *   keys. The ephemeral secret key is wiped right after the session key is derived.
 * - reading: the recipient session key for each distinct ephemeral public key is cached in a bounded LRU
 *   map (evicted keys are wiped). Fields written by this process, or by another process with its own
 *   shared ephemeral key, then cost one X25519 per distinct ephemeral key instead of one per field.
 * The output is ordinary ph:v1: every Phase SDK decrypts it (tested against @phase.dev/phase-node).
 */
import { AEAD_NONCE_BYTES, KEY_BYTES, type KeyPair, type SodiumBackend } from './backend.js';
import { decodeBase64Into, fromHex, isHex, toHex, utf8Decode, utf8Encode } from './encoding.js';
import { CryptoFormatError, CryptoInternalError, KeyMismatchError } from './errors.js';
import {
  expectHexKeyText,
  formatCiphertext,
  parseCiphertext,
  phaseFormatsFor,
  RAW_OVERHEAD_BYTES,
  type Ciphertext,
  type KeyInput,
  type KeyPairInput,
  type ParsedCiphertext,
  type PhaseFormats,
} from './formats.js';

export interface EnvironmentCipherOptions {
  /** Session keys kept for decryption, one per distinct ephemeral public key (default 256, minimum 1). */
  sessionKeyCacheSize?: number;
}

export const DEFAULT_SESSION_KEY_CACHE_SIZE = 256;

export class EnvironmentCipher {
  /** hex(Env_pk): the environment's `identity_key`. */
  readonly publicKeyHex: string;
  /** The salt exactly as unwrapped (64 hex characters); it keys the digests as text. */
  readonly saltHex: string;

  readonly #sodium: SodiumBackend;
  readonly #formats: PhaseFormats;
  readonly #keyPair: KeyPair;
  readonly #cacheSize: number;
  /** ephemeral public key (lower-case hex) → recipient rx session key; Map order = least recently used first. */
  readonly #sessionKeys = new Map<string, Uint8Array>();
  /** The most recently used cache entry, always also present in #sessionKeys. */
  #mostRecent: { id: string; key: Uint8Array } | undefined;
  #writer: { ephemeralPublicKeyHex: string; tx: Uint8Array } | undefined;
  #disposed = false;
  /** Holds one field's ciphertext at a time (public data: nonce, ciphertext, tag). */
  #scratch = new Uint8Array(256);

  constructor(sodium: SodiumBackend, seed: KeyInput, saltHex: string, options: EnvironmentCipherOptions = {}) {
    const cacheSize = options.sessionKeyCacheSize ?? DEFAULT_SESSION_KEY_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) {
      throw new CryptoFormatError(`sessionKeyCacheSize must be an integer >= 1; got ${cacheSize}`);
    }
    if (!isHex(saltHex, 2 * KEY_BYTES)) throw new CryptoFormatError('environment salt must be 64 hex characters');
    this.#sodium = sodium;
    this.#formats = phaseFormatsFor(sodium);
    this.#keyPair = this.#formats.kxKeyPairFromSeed(seed);
    this.#cacheSize = cacheSize;
    this.publicKeyHex = toHex(this.#keyPair.publicKey);
    this.saltHex = saltHex;
  }

  /** §1.7 digest of a secret's name under this environment's salt (the name is used as given). */
  keyDigest(key: string): string {
    return this.#formats.keyDigest(key, this.saltHex);
  }

  /** ph:v1 encryption to this environment, under the instance's shared ephemeral key. */
  encryptField(text: string): Ciphertext {
    const writer = this.#ensureWriter();
    return formatCiphertext(writer.ephemeralPublicKeyHex, this.#formats.encryptRaw(utf8Encode(text), writer.tx));
  }

  /**
   * Decrypts a ph:v1 field of this environment; one X25519 per distinct ephemeral key, then cached.
   * A field whose ephemeral key is cached takes a short path (no hex decoding, no exchange, usually no
   * map lookup); anything else goes through the full parser, which also produces the precise error for
   * malformed input.
   */
  decryptField(ciphertext: string): string {
    this.#assertUsable();
    const cached = this.#cachedSessionKeyOf(ciphertext);
    if (cached) {
      // The body is decoded into a scratch buffer rather than a new array per field; a body the strict
      // decoder refuses goes on to the parser, which says what is wrong with it.
      const body = this.#scratchFor(ciphertext.length - BODY_START);
      const size = decodeBase64Into(ciphertext.slice(BODY_START), body);
      if (size >= 0) return this.#open(body.subarray(0, size), cached);
    }
    const parsed = parseCiphertext(ciphertext);
    return this.#open(parsed.blob, this.#sessionKeyFor(parsed));
  }

  /** As decryptField, but "" (what clients send for an empty comment) decrypts to "". */
  decryptOptionalField(ciphertext: string): string {
    return ciphertext === '' ? '' : this.decryptField(ciphertext);
  }

  /** How many session keys are cached (for metrics and tests). */
  get cachedSessionKeyCount(): number {
    return this.#sessionKeys.size;
  }

  /** Wipes the environment secret key, the writer's session key and every cached session key. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#sodium.memzero(this.#keyPair.privateKey);
    if (this.#writer) this.#sodium.memzero(this.#writer.tx);
    for (const key of this.#sessionKeys.values()) this.#sodium.memzero(key);
    this.#sessionKeys.clear();
    this.#mostRecent = undefined;
  }

  #assertUsable(): void {
    if (this.#disposed) throw new CryptoInternalError('EnvironmentCipher used after dispose()');
  }

  /** Derived on first write only, so read-only instances never pay for an ephemeral key pair. */
  #ensureWriter(): { ephemeralPublicKeyHex: string; tx: Uint8Array } {
    this.#assertUsable();
    if (this.#writer) return this.#writer;
    const ephemeral = this.#sodium.kxKeypair();
    const session = this.#sodium.kxClientSessionKeys(ephemeral.publicKey, ephemeral.privateKey, this.#keyPair.publicKey);
    this.#sodium.memzero(ephemeral.privateKey);
    this.#sodium.memzero(session.rx);
    const ephemeralPublicKeyHex = toHex(ephemeral.publicKey);
    this.#writer = { ephemeralPublicKeyHex, tx: session.tx };
    // The recipient's rx for our ephemeral key is our tx: reading our own writes costs no X25519.
    this.#remember(ephemeralPublicKeyHex, session.tx.slice());
    return this.#writer;
  }

  /** A buffer for a decoded body of at most `base64Length * 3 / 4` bytes; grows, never shrinks. */
  #scratchFor(base64Length: number): Uint8Array {
    const needed = Math.ceil((base64Length * 3) / 4);
    if (this.#scratch.length < needed) this.#scratch = new Uint8Array(Math.max(needed, 2 * this.#scratch.length));
    return this.#scratch;
  }

  #open(blob: Uint8Array, sessionKey: Uint8Array): string {
    if (blob.length < RAW_OVERHEAD_BYTES) {
      throw new CryptoFormatError(`ph:v1 ciphertext body is ${blob.length} bytes; it needs at least ${RAW_OVERHEAD_BYTES}`);
    }
    const cut = blob.length - AEAD_NONCE_BYTES;
    const plaintext = this.#sodium.aeadDecrypt(blob.subarray(0, cut), null, blob.subarray(cut), sessionKey);
    return utf8Decode(plaintext, 'decrypted ph:v1 plaintext');
  }

  /**
   * The cached session key for a field shaped `ph:v1:` + 64 characters + `:` + body, or undefined.
   * Nothing else is validated here, on purpose: only validated keys are ever cached, so bad hex simply
   * misses and meets the full parser; and a body with a fifth part or any other stray character is
   * refused by the strict base64 decoder, with a CryptoFormatError as from the parser.
   */
  #cachedSessionKeyOf(ciphertext: string): Uint8Array | undefined {
    if (typeof ciphertext !== 'string' || ciphertext.charCodeAt(BODY_START - 1) !== COLON || !ciphertext.startsWith(PREFIX)) {
      return undefined;
    }
    const recent = this.#mostRecent;
    // Compared in place: no substring, no lower-casing, no hashing for the common case.
    if (recent && ciphertext.startsWith(recent.id, PREFIX.length)) return recent.key;
    return this.#cachedSessionKey(ciphertext.slice(PREFIX.length, BODY_START - 1).toLowerCase());
  }

  /** LRU lookup by lower-case hex; a hit becomes the most recently used entry. */
  #cachedSessionKey(ephemeralPublicKeyHex: string): Uint8Array | undefined {
    const recent = this.#mostRecent;
    if (recent && recent.id === ephemeralPublicKeyHex) return recent.key;
    const key = this.#sessionKeys.get(ephemeralPublicKeyHex);
    if (key) {
      this.#sessionKeys.delete(ephemeralPublicKeyHex);
      this.#sessionKeys.set(ephemeralPublicKeyHex, key);
      this.#mostRecent = { id: ephemeralPublicKeyHex, key };
    }
    return key;
  }

  #sessionKeyFor(parsed: ParsedCiphertext): Uint8Array {
    const cached = this.#cachedSessionKey(parsed.ephemeralPublicKeyHex);
    if (cached) return cached;
    const { publicKey, privateKey } = this.#keyPair;
    const session = this.#sodium.kxServerSessionKeys(publicKey, privateKey, parsed.ephemeralPublicKey);
    this.#sodium.memzero(session.tx);
    this.#remember(parsed.ephemeralPublicKeyHex, session.rx);
    return session.rx;
  }

  #remember(id: string, key: Uint8Array): void {
    this.#sessionKeys.set(id, key);
    this.#mostRecent = { id, key };
    while (this.#sessionKeys.size > this.#cacheSize) {
      const oldest = this.#sessionKeys.keys().next().value as string;
      this.#sodium.memzero(this.#sessionKeys.get(oldest)!);
      this.#sessionKeys.delete(oldest);
    }
  }
}

const PREFIX = 'ph:v1:';
const COLON = 0x3a;
/** Offset of the base64 body: after `ph:v1:`, 64 hex characters and a colon. */
const BODY_START = PREFIX.length + 64 + 1;

/** An environment's secret material as hex text, the form in which it is wrapped (§1.2 quirk). */
export interface EnvironmentSecrets {
  seedHex: string;
  saltHex: string;
}

/** The cryptographic columns of an EnvironmentKey row. */
export interface EnvironmentGrant {
  /** hex(Env_pk), the environment's public key (not the principal's). */
  identityKey: string;
  wrappedSeed: string;
  wrappedSalt: string;
}

export function createEnvironmentKeys(sodium: SodiumBackend, formats: PhaseFormats) {
  /** A new environment: random seed and salt (lower-case hex) and the resulting identity key. */
  function generateEnvironmentSecrets(): EnvironmentSecrets & { identityKey: string } {
    const seedHex = formats.randomKeyHex();
    const saltHex = formats.randomKeyHex();
    return { seedHex, saltHex, identityKey: formats.publicKeyHexFromSeed(seedHex) };
  }

  /** ph:v1 to a principal's kx public key with a fresh ephemeral key (EnvironmentKey rows, SA keyrings). */
  function wrapForRecipient(text: string, recipientKxPublicKey: KeyInput): Ciphertext {
    return formats.encryptAsymmetric(text, recipientKxPublicKey);
  }

  function unwrapWithKeyPair(ciphertext: string, keyPair: KeyPairInput): string {
    return formats.decryptAsymmetric(ciphertext, keyPair);
  }

  /** wrapped_seed / wrapped_salt for one principal: the hex TEXT of seed and salt, each in its own ph:v1. */
  function wrapEnvironmentSecrets(
    secrets: EnvironmentSecrets,
    recipientKxPublicKey: KeyInput,
  ): { wrappedSeed: Ciphertext; wrappedSalt: Ciphertext } {
    expectHexKeyText(secrets.seedHex, 'environment seed');
    expectHexKeyText(secrets.saltHex, 'environment salt');
    return {
      wrappedSeed: wrapForRecipient(secrets.seedHex, recipientKxPublicKey),
      wrappedSalt: wrapForRecipient(secrets.saltHex, recipientKxPublicKey),
    };
  }

  /** Opens wrapped_seed / wrapped_salt and returns them with the identity key the seed yields. */
  function unwrapEnvironmentSecrets(
    wrapped: { wrappedSeed: string; wrappedSalt: string },
    keyPair: KeyPairInput,
  ): EnvironmentSecrets & { identityKey: string } {
    const seedHex = expectHexKeyText(unwrapWithKeyPair(wrapped.wrappedSeed, keyPair), 'wrapped seed');
    const saltHex = expectHexKeyText(unwrapWithKeyPair(wrapped.wrappedSalt, keyPair), 'wrapped salt');
    return { seedHex, saltHex, identityKey: formats.publicKeyHexFromSeed(seedHex) };
  }

  /**
   * Opens an EnvironmentKey row and checks that its seed yields the row's identity_key: Go and Python
   * clients trust identity_key as the encryption key, so a mismatch would split the environment.
   */
  function verifyEnvironmentGrant(grant: EnvironmentGrant, keyPair: KeyPairInput): EnvironmentSecrets {
    const secrets = unwrapEnvironmentSecrets(grant, keyPair);
    const expected = fromHex(grant.identityKey, 'grant identity key', KEY_BYTES);
    const actual = fromHex(secrets.identityKey, 'derived identity key', KEY_BYTES);
    if (!sodium.equalConstantTime(expected, actual)) {
      throw new KeyMismatchError("environment grant: the wrapped seed does not yield the row's identity_key");
    }
    return { seedHex: secrets.seedHex, saltHex: secrets.saltHex };
  }

  /** An EnvironmentCipher bound to this backend. */
  function environmentCipher(seed: KeyInput, saltHex: string, options?: EnvironmentCipherOptions): EnvironmentCipher {
    return new EnvironmentCipher(sodium, seed, saltHex, options);
  }

  return {
    generateEnvironmentSecrets,
    wrapForRecipient,
    unwrapWithKeyPair,
    wrapEnvironmentSecrets,
    unwrapEnvironmentSecrets,
    verifyEnvironmentGrant,
    environmentCipher,
  };
}

export type EnvironmentKeys = ReturnType<typeof createEnvironmentKeys>;
