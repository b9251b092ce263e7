/**
 * Server-side storage of login verifiers (Node only; the console never hashes for storage).
 *
 * A password login sends `derivePasswordLoginHash(password, email)`, itself Argon2id MODERATE on the
 * client. The server must not store that value as is: whoever read it from a database dump could
 * replay it. It stores `crypto_pwhash_str` of it instead, the self-describing
 * `$argon2id$v=19$m=…,t=…,p=1$salt$hash` string, and checks logins with `crypto_pwhash_str_verify`.
 * Both run on the libuv thread pool, not on the event loop.
 */
import sodiumNative from 'sodium-native';
import { CryptoFormatError, CryptoInternalError } from './errors.js';
import type { KdfParams } from './keyring.js';

interface NativePwhashStr {
  crypto_pwhash_str_async(out: Uint8Array, passwd: Uint8Array, ops: number, mem: number): Promise<void>;
  crypto_pwhash_str_verify_async(str: Uint8Array, passwd: Uint8Array): Promise<boolean>;
  crypto_pwhash_STRBYTES: number;
}

const native = sodiumNative as unknown as NativePwhashStr;

/**
 * crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (2 passes, 64 MiB). The input is already
 * the output of a MODERATE Argon2id, so the stored verifier costs a guesser both.
 */
export const SERVER_PASSWORD_KDF: KdfParams = Object.freeze({ opsLimit: 2, memLimit: 64 * 1024 * 1024 });

const MAX_INPUT_BYTES = 1024;

function inputBytes(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) throw new CryptoFormatError('password hash input must be a non-empty string');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_INPUT_BYTES) throw new CryptoFormatError(`password hash input must be at most ${MAX_INPUT_BYTES} bytes`);
  return bytes;
}

/** `$argon2id$…` text for storage. */
export async function hashPassword(text: string, params: KdfParams = SERVER_PASSWORD_KDF): Promise<string> {
  const password = inputBytes(text);
  const out = Buffer.alloc(native.crypto_pwhash_STRBYTES);
  try {
    await native.crypto_pwhash_str_async(out, password, params.opsLimit, params.memLimit);
  } catch (cause) {
    throw new CryptoInternalError('Argon2id password hashing failed (out of memory?)', { cause });
  } finally {
    password.fill(0);
  }
  // The output is NUL-terminated inside a fixed-size buffer.
  const end = out.indexOf(0);
  return out.subarray(0, end === -1 ? out.length : end).toString('ascii');
}

/** True when `text` is what `stored` was made from. A malformed stored value verifies nothing. */
export async function verifyPassword(stored: string, text: string): Promise<boolean> {
  if (typeof stored !== 'string' || !stored.startsWith('$argon2') || stored.length >= native.crypto_pwhash_STRBYTES) return false;
  const password = inputBytes(text);
  const str = Buffer.alloc(native.crypto_pwhash_STRBYTES);
  str.write(stored, 'ascii');
  try {
    return await native.crypto_pwhash_str_verify_async(str, password);
  } catch {
    return false;
  } finally {
    password.fill(0);
  }
}
