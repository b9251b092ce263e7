/**
 * SodiumBackend over `libsodium-wrappers-sumo` (libsodium compiled to WASM), for the web console.
 * The sumo build is needed for crypto_pwhash and crypto_kdf, which the console's key ceremony uses.
 * Never imported by the server: it only has to produce the same bytes as backend-node.ts, which the
 * tests check function by function.
 */
import sodium from 'libsodium-wrappers-sumo';
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  KEY_BYTES,
  KX_PUBLIC_KEY_BYTES,
  KX_SECRET_KEY_BYTES,
  SIGN_PUBLIC_KEY_BYTES,
  SIGN_SECRET_KEY_BYTES,
  SIGN_SEED_BYTES,
  SIGNATURE_BYTES,
  checkAeadArgs,
  checkGenerichashArgs,
  checkKdfArgs,
  checkPwhashArgs,
  type KeyPair,
  type SessionKeys,
  type SodiumBackend,
} from './backend.js';
import { expectBytes, toHex, utf8Encode } from './encoding.js';
import { CryptoFormatError, CryptoInternalError, DecryptionError } from './errors.js';

function guarded<T>(run: () => T, onFailure: (cause: unknown) => Error): T {
  try {
    return run();
  } catch (cause) {
    throw onFailure(cause);
  }
}

const internal = (operation: string) => (cause: unknown) =>
  new CryptoInternalError(`${operation} failed in libsodium after its inputs were validated`, { cause });

/** The wrappers return {publicKey, privateKey, keyType}; keep only the two keys. */
function keyPairOf(result: { publicKey: Uint8Array; privateKey: Uint8Array }): KeyPair {
  return { publicKey: result.publicKey, privateKey: result.privateKey };
}

function kxSessionKeys(
  role: 'client' | 'server',
  ownPublicKey: Uint8Array,
  ownSecretKey: Uint8Array,
  peerPublicKey: Uint8Array,
): SessionKeys {
  expectBytes(ownPublicKey, KX_PUBLIC_KEY_BYTES, `kx ${role} public key`);
  expectBytes(ownSecretKey, KX_SECRET_KEY_BYTES, `kx ${role} secret key`);
  expectBytes(peerPublicKey, KX_PUBLIC_KEY_BYTES, 'kx peer public key');
  const keys = guarded(
    () =>
      role === 'client'
        ? sodium.crypto_kx_client_session_keys(ownPublicKey, ownSecretKey, peerPublicKey)
        : sodium.crypto_kx_server_session_keys(ownPublicKey, ownSecretKey, peerPublicKey),
    (cause) =>
      new CryptoFormatError(
        `crypto_kx_${role}_session_keys: the public key is not a usable X25519 point (low order or invalid)`,
        { cause },
      ),
  );
  return { rx: keys.sharedRx, tx: keys.sharedTx };
}

function createBrowserBackend(): SodiumBackend {
  return {
    name: 'libsodium-wrappers-sumo',

    randomBytes(length) {
      return sodium.randombytes_buf(length);
    },

    aeadNonce() {
      return sodium.randombytes_buf(AEAD_NONCE_BYTES);
    },

    kxKeypair() {
      return keyPairOf(guarded(() => sodium.crypto_kx_keypair(), internal('crypto_kx_keypair')));
    },

    kxSeedKeypair(seed) {
      expectBytes(seed, KEY_BYTES, 'kx seed');
      return keyPairOf(guarded(() => sodium.crypto_kx_seed_keypair(seed), internal('crypto_kx_seed_keypair')));
    },

    kxClientSessionKeys(clientPublicKey, clientSecretKey, serverPublicKey) {
      return kxSessionKeys('client', clientPublicKey, clientSecretKey, serverPublicKey);
    },

    kxServerSessionKeys(serverPublicKey, serverSecretKey, clientPublicKey) {
      return kxSessionKeys('server', serverPublicKey, serverSecretKey, clientPublicKey);
    },

    aeadEncrypt(message, ad, nonce, key) {
      checkAeadArgs(nonce, key);
      return guarded(
        () => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, null, nonce, key),
        internal('xchacha20poly1305 encrypt'),
      );
    },

    aeadDecrypt(ciphertextAndTag, ad, nonce, key) {
      checkAeadArgs(nonce, key);
      if (ciphertextAndTag.length < AEAD_TAG_BYTES) {
        throw new CryptoFormatError(`ciphertext is ${ciphertextAndTag.length} bytes, shorter than the 16-byte tag`);
      }
      return guarded(
        () => sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertextAndTag, ad, nonce, key),
        (cause) =>
          new DecryptionError('ciphertext does not authenticate under this key (wrong key, nonce, tag or associated data)', {
            cause,
          }),
      );
    },

    generichash(outputLength, message, key) {
      checkGenerichashArgs(outputLength, key);
      return guarded(() => sodium.crypto_generichash(outputLength, message, key ?? null), internal('crypto_generichash'));
    },

    sha256(message) {
      return guarded(() => sodium.crypto_hash_sha256(message), internal('crypto_hash_sha256'));
    },

    sha256TextHex(text) {
      return toHex(guarded(() => sodium.crypto_hash_sha256(utf8Encode(text)), internal('crypto_hash_sha256')));
    },

    signKeypair() {
      return keyPairOf(guarded(() => sodium.crypto_sign_keypair(), internal('crypto_sign_keypair')));
    },

    signSeedKeypair(seed) {
      expectBytes(seed, SIGN_SEED_BYTES, 'Ed25519 seed');
      return keyPairOf(guarded(() => sodium.crypto_sign_seed_keypair(seed), internal('crypto_sign_seed_keypair')));
    },

    signDetached(message, secretKey) {
      expectBytes(secretKey, SIGN_SECRET_KEY_BYTES, 'Ed25519 secret key');
      return guarded(() => sodium.crypto_sign_detached(message, secretKey), internal('crypto_sign_detached'));
    },

    verifyDetached(signature, message, publicKey) {
      expectBytes(publicKey, SIGN_PUBLIC_KEY_BYTES, 'Ed25519 public key');
      if (signature.length !== SIGNATURE_BYTES) return false;
      // libsodium.js throws for a signature that does not verify; the interface answers false.
      try {
        return sodium.crypto_sign_verify_detached(signature, message, publicKey);
      } catch {
        return false;
      }
    },

    ed25519PublicKeyToCurve25519(edPublicKey) {
      expectBytes(edPublicKey, SIGN_PUBLIC_KEY_BYTES, 'Ed25519 public key');
      return guarded(
        () => sodium.crypto_sign_ed25519_pk_to_curve25519(edPublicKey),
        (cause) => new CryptoFormatError('Ed25519 public key is not a valid curve point', { cause }),
      );
    },

    ed25519SecretKeyToCurve25519(edSecretKey) {
      expectBytes(edSecretKey, SIGN_SECRET_KEY_BYTES, 'Ed25519 secret key');
      return guarded(
        () => sodium.crypto_sign_ed25519_sk_to_curve25519(edSecretKey),
        internal('crypto_sign_ed25519_sk_to_curve25519'),
      );
    },

    kdfDeriveFromKey(outputLength, subkeyId, context, key) {
      checkKdfArgs(outputLength, subkeyId, context, key);
      return guarded(
        // The wrapper refuses numbers >= 2^31 but takes any uint64 as a bigint.
        () => sodium.crypto_kdf_derive_from_key(outputLength, BigInt(subkeyId), context, key),
        internal('crypto_kdf_derive_from_key'),
      );
    },

    async pwhashArgon2id(outputLength, password, salt, opsLimit, memLimit) {
      checkPwhashArgs(outputLength, salt, opsLimit, memLimit);
      return guarded(
        () => sodium.crypto_pwhash(outputLength, password, salt, opsLimit, memLimit, sodium.crypto_pwhash_ALG_ARGON2ID13),
        (cause) => new CryptoInternalError('Argon2id failed (out of memory for memLimit?)', { cause }),
      );
    },

    scalarmultBase(secretKey) {
      expectBytes(secretKey, KX_SECRET_KEY_BYTES, 'X25519 secret key');
      return guarded(() => sodium.crypto_scalarmult_base(secretKey), internal('crypto_scalarmult_base'));
    },

    memzero(buffer) {
      sodium.memzero(buffer);
    },

    equalConstantTime(a, b) {
      if (a.length !== b.length) return false;
      if (a.length === 0) return true;
      return sodium.memcmp(a, b);
    },
  };
}

let loading: Promise<SodiumBackend> | undefined;

/** Resolves once the WASM module is instantiated; later calls share the same backend. */
export function loadBrowserBackend(): Promise<SodiumBackend> {
  loading ??= sodium.ready.then(createBrowserBackend);
  return loading;
}
