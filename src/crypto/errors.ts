/**
 * Typed errors of the crypto module.
 *
 * Every malformed, tampered or mismatched input that reaches src/crypto ends in one of these classes,
 * never in a RangeError from slicing or an assertion from the native binding, so the HTTP layer can map
 * them with one table (`instanceof CryptoError` → 400/401/500 as it sees fit).
 *
 * Messages say what was wrong and how to fix it, but never contain key material, plaintext, bearer
 * tokens or full token strings: errors end up in logs.
 */

export type CryptoErrorCode =
  | 'CRYPTO_FORMAT'
  | 'CRYPTO_DECRYPT'
  | 'CRYPTO_KEY_MISMATCH'
  | 'TOKEN_FORMAT'
  | 'ENVELOPE_MISMATCH'
  | 'MASTER_KEY_UNKNOWN'
  | 'CRYPTO_INTERNAL';

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An input does not have the expected shape: wrong part count, bad hex/base64, wrong length, invalid point. */
export class CryptoFormatError extends CryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CRYPTO_FORMAT', message, options);
  }
}

/** A token string does not match the SDK's `pss_(user|service):v<N>:<hex64>×4` pattern. */
export class TokenFormatError extends CryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TOKEN_FORMAT', message, options);
  }
}

/** Authentication failed: wrong key, wrong nonce, tampered ciphertext or tag, or wrong associated data. */
export class DecryptionError extends CryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CRYPTO_DECRYPT', message, options);
  }
}

/**
 * A master-key envelope was sealed for a different purpose than the caller asked for. A subclass of
 * DecryptionError because, like a wrong context, it means "this value does not belong here".
 */
export class EnvelopeMismatchError extends DecryptionError {
  readonly expectedPurpose: string;
  readonly actualPurpose: string;

  constructor(expectedPurpose: string, actualPurpose: string) {
    super(
      `master-key envelope was sealed for purpose '${actualPurpose}', not '${expectedPurpose}'; ` +
        'the value was copied from another kind of row',
    );
    this.expectedPurpose = expectedPurpose;
    this.actualPurpose = actualPurpose;
  }
}

/** Key material decrypted fine but does not fit together (public key ≠ f(private key), self-test failed). */
export class KeyMismatchError extends CryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CRYPTO_KEY_MISMATCH', message, options);
  }
}

/** An envelope names a master key id that this process does not hold (even after a reload). */
export class UnknownMasterKeyError extends CryptoError {
  readonly keyId: string;

  constructor(keyId: string, knownKeyIds: readonly string[], options?: { cause?: unknown }) {
    super(
      'MASTER_KEY_UNKNOWN',
      `master key ${keyId} is not configured; this process knows ${describeKeyIds(knownKeyIds)}. ` +
        'If the master key was rotated, keep the previous key configured as an old key ' +
        'until `coffer admin rotate-master-key` has rewrapped every row.',
      options,
    );
    this.keyId = keyId;
  }
}

/** libsodium refused an operation we validated beforehand; indicates a bug, not bad input. */
export class CryptoInternalError extends CryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CRYPTO_INTERNAL', message, options);
  }
}

function describeKeyIds(ids: readonly string[]): string {
  if (ids.length === 0) return 'no master key';
  return `key id${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`;
}
