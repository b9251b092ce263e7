/**
 * Coffer's barrier (STYLE §3, DESIGN §1 "Server root key"): everything the server keeps under its own
 * root key goes through here, and nothing else in Coffer encrypts with it.
 *
 * Keys. The root key is 32 bytes (COFFER_MASTER_KEY / key file; parsing is the config's job). A
 * MasterKeyring holds the active key and optionally older ones. Each is named by a key id derived one
 * way from it, safe to store in rows and print in logs:
 *
 *   keyId = hex( first 8 bytes of crypto_kdf_derive_from_key(16, subkey 0, context "cfr_kid_", key) )
 *
 * Purposes. A root key is never used directly; each purpose gets its own subkey
 *
 *   subkey(purpose) = crypto_kdf_derive_from_key(32, subkey 1, context MASTER_KEY_PURPOSES[purpose], key)
 *
 * so no key ever serves two purposes (spec §8.3: Phase reuses its server key as an AEAD key).
 *
 * Envelope, versioned and self-describing:
 *
 *   cfr1:<keyId, 16 hex>:<purpose>:<base64 std padded( nonce(24) || ciphertext || tag(16) )>
 *
 * XChaCha20-Poly1305 under subkey(purpose) with associated data
 *   "cfr1" 0x00 keyId 0x00 purpose 0x00 context
 * where context names the row the value belongs to (e.g. "org:<id>/env:<id>/seed"). A value copied to
 * another row, another purpose or another key id fails to open (Vault's MoveIntegrity test).
 */
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, KEY_BYTES, type SodiumBackend } from './backend.js';
import { concatBytes, expectBytes, fromBase64, isHex, toBase64, toHex, utf8Decode, utf8Encode } from './encoding.js';
import {
  CryptoFormatError,
  CryptoInternalError,
  DecryptionError,
  EnvelopeMismatchError,
  UnknownMasterKeyError,
} from './errors.js';

/**
 * Purpose → 8-byte kdf context. Adding a purpose is one line here; never change or reuse a context, or
 * every value sealed for that purpose stops opening.
 */
export const MASTER_KEY_PURPOSES = {
  /** Server copies of SSE environment seeds and salts. */
  'env-keys': 'cfr_envk',
  /** Server-managed service-account keyrings ({publicKey, privateKey} JSON). */
  'sa-keyring': 'cfr_sakr',
  /**
   * Each organisation's random audit-trail MAC key. The trail is chained with that key, not with a
   * master subkey, so rotating the master key re-wraps it and old events stay verifiable.
   */
  'audit-key': 'cfr_audk',
  /**
   * Not an envelope key: the seed of the server's X25519 key pair (crypto_kx_seed_keypair(subkey)) to
   * which a client wraps the seeds and salts of an E2EE app's environments when it enables SSE on it
   * (crypto spec §2.6). Only `kxKeyPair` uses it; seal and open refuse it.
   */
  'sse-kx': 'cfr_ssek',
} as const satisfies Record<string, string>;

export type MasterKeyPurpose = keyof typeof MASTER_KEY_PURPOSES;

/** Purposes whose subkey seeds a key-exchange key pair instead of keying envelopes. */
export type KxPurpose = 'sse-kx';
const KX_PURPOSES: ReadonlySet<string> = new Set<KxPurpose>(['sse-kx']);

function assertEnvelopePurpose(purpose: MasterKeyPurpose): void {
  if (KX_PURPOSES.has(purpose)) throw new CryptoFormatError(`master-key purpose '${purpose}' seeds a key-exchange key pair; it cannot seal or open envelopes`);
}

/** A key-exchange key pair derived from one master key; the caller wipes privateKey after use. */
export interface DerivedKxKeyPair {
  /** Id of the master key it was derived from. */
  keyId: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const KEY_ID_CONTEXT = 'cfr_kid_';
const KEY_ID_SUBKEY = 0;
const PURPOSE_SUBKEY = 1;
const ENVELOPE_VERSION = 'cfr1';
const KEY_ID_HEX_LENGTH = 16;

declare const envelopeBrand: unique symbol;
/** A `cfr1:…` string produced by MasterKeyring.seal. */
export type SealedEnvelope = string & { readonly [envelopeBrand]: 'cfr1' };

export interface ParsedEnvelope {
  version: typeof ENVELOPE_VERSION;
  keyId: string;
  purpose: MasterKeyPurpose;
  nonce: Uint8Array;
  ciphertextAndTag: Uint8Array;
}

/** The key material a keyring is (re)built from. Buffers are copied; the caller may wipe its own. */
export interface MasterKeySet {
  active: Uint8Array;
  previous?: readonly Uint8Array[];
}

export interface MasterKeyringOptions {
  /**
   * Called when an envelope names a key id this process does not hold, e.g. after another process
   * rotated the key file. Concurrent misses share one call (single flight); after it settles, further
   * misses within `minReloadIntervalMs` do not call it again.
   */
  reload?: () => Promise<MasterKeySet>;
  /** Default 1000 ms. */
  minReloadIntervalMs?: number;
}

function isPurpose(value: string): value is MasterKeyPurpose {
  return Object.prototype.hasOwnProperty.call(MASTER_KEY_PURPOSES, value);
}

function assertContext(context: unknown): asserts context is string {
  if (typeof context !== 'string' || context.length === 0) {
    throw new CryptoFormatError('envelope context must be a non-empty string naming the row, e.g. org:<id>/env:<id>/seed');
  }
}

/** Parses an envelope's structure (no key needed). */
export function parseEnvelope(envelope: unknown): ParsedEnvelope {
  if (typeof envelope !== 'string') throw new CryptoFormatError('master-key envelope must be a string');
  const parts = envelope.split(':');
  if (parts.length !== 4) {
    throw new CryptoFormatError(`master-key envelope must have 4 colon-separated parts; got ${parts.length}`);
  }
  const [version, keyId, purpose, body] = parts as [string, string, string, string];
  if (version !== ENVELOPE_VERSION) {
    throw new CryptoFormatError(
      `master-key envelope version must be '${ENVELOPE_VERSION}'; this value was written by another version of Coffer`,
    );
  }
  if (!isHex(keyId, KEY_ID_HEX_LENGTH) || keyId !== keyId.toLowerCase()) {
    throw new CryptoFormatError(`master-key envelope key id must be ${KEY_ID_HEX_LENGTH} lower-case hex characters`);
  }
  if (!isPurpose(purpose)) throw new CryptoFormatError('master-key envelope names an unknown purpose');
  const blob = fromBase64(body, 'master-key envelope body');
  if (blob.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) {
    throw new CryptoFormatError(
      `master-key envelope body is ${blob.length} bytes; it needs at least ${AEAD_NONCE_BYTES + AEAD_TAG_BYTES}`,
    );
  }
  return {
    version: ENVELOPE_VERSION,
    keyId,
    purpose,
    nonce: blob.subarray(0, AEAD_NONCE_BYTES),
    ciphertextAndTag: blob.subarray(AEAD_NONCE_BYTES),
  };
}

/** The key id an envelope was sealed under, so rotation can find rows still under an old key. */
export function keyIdOf(envelope: string): string {
  return parseEnvelope(envelope).keyId;
}

/** The one-way, loggable id of a 32-byte master key (see the file comment). */
export function masterKeyId(sodium: SodiumBackend, key: Uint8Array): string {
  expectBytes(key, KEY_BYTES, 'master key');
  const derived = sodium.kdfDeriveFromKey(16, KEY_ID_SUBKEY, KEY_ID_CONTEXT, key);
  try {
    return toHex(derived.subarray(0, KEY_ID_HEX_LENGTH / 2));
  } finally {
    sodium.memzero(derived);
  }
}

function associatedData(keyId: string, purpose: MasterKeyPurpose, context: string): Uint8Array {
  const zero = new Uint8Array(1);
  return concatBytes(
    utf8Encode(ENVELOPE_VERSION),
    zero,
    utf8Encode(keyId),
    zero,
    utf8Encode(purpose),
    zero,
    utf8Encode(context),
  );
}

interface MasterKeyEntry {
  readonly id: string;
  readonly key: Uint8Array;
  readonly subkeys: Map<MasterKeyPurpose, Uint8Array>;
}

export class MasterKeyring {
  readonly #sodium: SodiumBackend;
  readonly #reload: (() => Promise<MasterKeySet>) | undefined;
  readonly #minReloadIntervalMs: number;
  #entries = new Map<string, MasterKeyEntry>();
  #activeId = '';
  #reloading: Promise<void> | undefined;
  #lastReloadAt = Number.NEGATIVE_INFINITY;

  constructor(sodium: SodiumBackend, keys: MasterKeySet, options: MasterKeyringOptions = {}) {
    this.#sodium = sodium;
    this.#reload = options.reload;
    this.#minReloadIntervalMs = options.minReloadIntervalMs ?? 1000;
    this.replaceKeys(keys);
  }

  /** Id of the key new envelopes are sealed under. */
  get activeKeyId(): string {
    return this.#activeId;
  }

  /** Ids of every key this keyring can open, active first. */
  get keyIds(): string[] {
    return [this.#activeId, ...[...this.#entries.keys()].filter((id) => id !== this.#activeId)];
  }

  hasKey(keyId: string): boolean {
    return this.#entries.has(keyId);
  }

  /**
   * Installs a new key set (startup, reload, rotation). Keys no longer present are wiped; a key given
   * twice counts once; an all-zero key (an unset buffer, not a key) is refused.
   */
  replaceKeys(keys: MasterKeySet): void {
    const next = new Map<string, MasterKeyEntry>();
    const all = [keys.active, ...(keys.previous ?? [])];
    for (const [index, key] of all.entries()) {
      expectBytes(key, KEY_BYTES, index === 0 ? 'active master key' : 'previous master key');
      if (key.every((byte) => byte === 0)) {
        throw new CryptoFormatError('master key is all zeros; generate one with `openssl rand -hex 32`');
      }
      const id = masterKeyId(this.#sodium, key);
      if (next.has(id)) continue;
      next.set(id, this.#entries.get(id) ?? { id, key: key.slice(), subkeys: new Map() });
    }
    for (const [id, entry] of this.#entries) if (!next.has(id)) this.#wipe(entry);
    this.#entries = next;
    this.#activeId = masterKeyId(this.#sodium, keys.active);
  }

  /** Seals under the active key. `context` names the row; the same string is needed to open. */
  seal(purpose: MasterKeyPurpose, context: string, plaintext: Uint8Array | string): SealedEnvelope {
    if (!isPurpose(purpose)) throw new CryptoFormatError('unknown master-key purpose');
    assertEnvelopePurpose(purpose);
    assertContext(context);
    const entry = this.#entries.get(this.#activeId);
    if (!entry) throw new CryptoInternalError('MasterKeyring used after dispose()');
    const message = typeof plaintext === 'string' ? utf8Encode(plaintext) : plaintext;
    const nonce = this.#sodium.aeadNonce();
    const ad = associatedData(entry.id, purpose, context);
    const ciphertextAndTag = this.#sodium.aeadEncrypt(message, ad, nonce, this.#subkey(entry, purpose));
    if (typeof plaintext === 'string') this.#sodium.memzero(message);
    return `${ENVELOPE_VERSION}:${entry.id}:${purpose}:${toBase64(concatBytes(nonce, ciphertextAndTag))}` as SealedEnvelope;
  }

  /** Opens with the key the envelope names, without reloading; UnknownMasterKeyError if it is not held. */
  openSync(envelope: string, purpose: MasterKeyPurpose, context: string): Uint8Array {
    assertEnvelopePurpose(purpose);
    assertContext(context);
    const parsed = parseEnvelope(envelope);
    if (parsed.purpose !== purpose) throw new EnvelopeMismatchError(purpose, parsed.purpose);
    const entry = this.#entries.get(parsed.keyId);
    if (!entry) throw new UnknownMasterKeyError(parsed.keyId, this.keyIds);
    try {
      const ad = associatedData(entry.id, purpose, context);
      return this.#sodium.aeadDecrypt(parsed.ciphertextAndTag, ad, parsed.nonce, this.#subkey(entry, purpose));
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      throw new DecryptionError(
        `master-key envelope does not open for purpose '${purpose}' and context '${context}': ` +
          'it was sealed for another row or has been altered',
        { cause: error },
      );
    }
  }

  /** Opens; on an unknown key id, calls the reload hook once (single flight) and tries again. */
  async open(envelope: string, purpose: MasterKeyPurpose, context: string): Promise<Uint8Array> {
    try {
      return this.openSync(envelope, purpose, context);
    } catch (error) {
      if (!(error instanceof UnknownMasterKeyError) || !this.#reload) throw error;
      await this.#reloadOnce(error);
      return this.openSync(envelope, purpose, context);
    }
  }

  async openText(envelope: string, purpose: MasterKeyPurpose, context: string): Promise<string> {
    const bytes = await this.open(envelope, purpose, context);
    try {
      return utf8Decode(bytes, 'master-key envelope plaintext');
    } finally {
      this.#sodium.memzero(bytes);
    }
  }

  /** Rotation: opens with whatever key the envelope names and seals again under the active key. */
  async rewrap(envelope: string, purpose: MasterKeyPurpose, context: string): Promise<SealedEnvelope> {
    const plaintext = await this.open(envelope, purpose, context);
    try {
      return this.seal(purpose, context, plaintext);
    } finally {
      this.#sodium.memzero(plaintext);
    }
  }

  /** True if the envelope is already under the active key (rotation can skip it). */
  isUnderActiveKey(envelope: string): boolean {
    return keyIdOf(envelope) === this.#activeId;
  }

  /** Re-reads the keys through the reload hook now (single flight with concurrent misses). */
  async reload(): Promise<void> {
    if (!this.#reload) throw new CryptoInternalError('MasterKeyring has no reload hook');
    await this.#startReload();
  }

  /**
   * The X25519 key pair crypto_kx_seed_keypair(subkey(purpose)) of one held master key (default: the
   * active one). Deterministic, so it survives restarts and is the same on every node; rotating the
   * master key changes it, and the previous key's pair stays available while that key is configured.
   */
  kxKeyPair(purpose: KxPurpose, keyId: string = this.#activeId): DerivedKxKeyPair {
    if (!KX_PURPOSES.has(purpose)) throw new CryptoFormatError(`master-key purpose '${purpose}' does not seed a key-exchange key pair`);
    const entry = this.#entries.get(keyId);
    if (!entry) throw new UnknownMasterKeyError(keyId, this.keyIds);
    const pair = this.#sodium.kxSeedKeypair(this.#subkey(entry, purpose));
    return { keyId: entry.id, publicKey: pair.publicKey, privateKey: pair.privateKey };
  }

  /** Wipes every key and subkey. The keyring is unusable afterwards. */
  dispose(): void {
    for (const entry of this.#entries.values()) this.#wipe(entry);
    this.#entries.clear();
  }

  async #reloadOnce(miss: UnknownMasterKeyError): Promise<void> {
    if (!this.#reloading && Date.now() - this.#lastReloadAt < this.#minReloadIntervalMs) throw miss;
    try {
      await this.#startReload();
    } catch (cause) {
      throw new UnknownMasterKeyError(miss.keyId, this.keyIds, { cause });
    }
  }

  #startReload(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        this.replaceKeys(await this.#reload!());
      } finally {
        this.#lastReloadAt = Date.now();
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  #subkey(entry: MasterKeyEntry, purpose: MasterKeyPurpose): Uint8Array {
    let subkey = entry.subkeys.get(purpose);
    if (!subkey) {
      subkey = this.#sodium.kdfDeriveFromKey(KEY_BYTES, PURPOSE_SUBKEY, MASTER_KEY_PURPOSES[purpose], entry.key);
      entry.subkeys.set(purpose, subkey);
    }
    return subkey;
  }

  #wipe(entry: MasterKeyEntry): void {
    this.#sodium.memzero(entry.key);
    for (const subkey of entry.subkeys.values()) this.#sodium.memzero(subkey);
    entry.subkeys.clear();
  }
}
