/**
 * Strict hex, base64 and UTF-8 codecs in plain TypeScript.
 *
 * They run unchanged in Node and in the browser (no Buffer), and they are strict where Node's Buffer is
 * lenient: `Buffer.from('zz', 'hex')` silently returns an empty buffer, which would turn a typo into a
 * wrong key. Every failure is a CryptoFormatError naming the field, never a RangeError.
 */
import { CryptoFormatError } from './errors.js';

const HEX_DIGITS = '0123456789abcdef';
const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4]! + HEX_DIGITS[i & 15]!);

/** Nibble value of an ASCII code, or -1. Upper-case accepted: every Phase consumer accepts it (spec §1.2). */
const HEX_NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_NIBBLE[HEX_DIGITS.charCodeAt(i)] = i;
  HEX_NIBBLE[HEX_DIGITS.toUpperCase().charCodeAt(i)] = i;
}

/** Lower-case hex, as every Phase producer emits. */
export function toHex(bytes: Uint8Array): string {
  // Short inputs (digests, keys, token hashes) are written as ASCII and decoded natively: the result
  // is one flat string, where concatenation would leave a chain of pieces to be flattened again each
  // time the string is hashed as a map key or compared.
  if (bytes.length <= HEX_SCRATCH_BYTES) {
    for (let i = 0; i < bytes.length; i++) {
      HEX_SCRATCH[2 * i] = HEX_ASCII[bytes[i]! >> 4]!;
      HEX_SCRATCH[2 * i + 1] = HEX_ASCII[bytes[i]! & 15]!;
    }
    const hex = ASCII_DECODER.decode(HEX_SCRATCH.subarray(0, 2 * bytes.length));
    HEX_SCRATCH.fill(0, 0, 2 * bytes.length); // it may have held a key's digits
    return hex;
  }
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_HEX[bytes[i]!];
  return out;
}

const HEX_ASCII = Uint8Array.from(HEX_DIGITS, (digit) => digit.charCodeAt(0));
const HEX_SCRATCH_BYTES = 128;
const HEX_SCRATCH = new Uint8Array(2 * HEX_SCRATCH_BYTES);
const ASCII_DECODER = new TextDecoder('utf-8');

/** True if `value` is hex of exactly `length` characters (either case). */
export function isHex(value: unknown, length?: number): value is string {
  if (typeof value !== 'string' || value.length % 2 !== 0) return false;
  if (length !== undefined && value.length !== length) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || HEX_NIBBLE[code] === -1) return false;
  }
  return true;
}

/**
 * Decodes hex (either case). `what` names the field in the error; `byteLength`, if given, is enforced.
 */
export function fromHex(value: unknown, what: string, byteLength?: number): Uint8Array {
  if (typeof value !== 'string') throw new CryptoFormatError(`${what} must be a hex string`);
  if (byteLength !== undefined && value.length !== byteLength * 2) {
    throw new CryptoFormatError(
      `${what} must be ${byteLength * 2} hex characters (${byteLength} bytes); got ${value.length} characters`,
    );
  }
  if (value.length % 2 !== 0) throw new CryptoFormatError(`${what} has an odd number of hex characters`);
  const out = new Uint8Array(value.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(value.charCodeAt(2 * i));
    const lo = nibble(value.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new CryptoFormatError(`${what} is not valid hex`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function nibble(code: number): number {
  return code < 128 ? HEX_NIBBLE[code]! : -1;
}

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Uint8Array(128).fill(255);
for (let i = 0; i < 64; i++) B64_VALUE[B64_ALPHABET.charCodeAt(i)] = i;

/** RFC 4648 §4 standard alphabet with `=` padding (libsodium ORIGINAL), the only variant Phase uses. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  const full = bytes.length - (bytes.length % 3);
  for (let i = 0; i < full; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64_ALPHABET[n >> 18]! + B64_ALPHABET[(n >> 12) & 63]! + B64_ALPHABET[(n >> 6) & 63]! + B64_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - full;
  if (rest === 1) {
    const n = bytes[full]! << 16;
    out += B64_ALPHABET[n >> 18]! + B64_ALPHABET[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[full]! << 16) | (bytes[full + 1]! << 8);
    out += B64_ALPHABET[n >> 18]! + B64_ALPHABET[(n >> 12) & 63]! + B64_ALPHABET[(n >> 6) & 63]! + '=';
  }
  return out;
}

/**
 * Strict standard base64 with padding. Rejects URL-safe and unpadded forms (libsodium's ORIGINAL decoder
 * and Go's StdEncoding reject them too) and non-zero trailing bits (as libsodium does), so one byte string
 * has exactly one accepted encoding.
 *
 * This runs once per ph:v1 field on the read path. Where Node's Buffer exists, a valid input is decoded
 * natively after a few O(1) checks; anything the native decoder might treat leniently (it skips unknown
 * characters and accepts the URL-safe alphabet) is caught because the output length or the alphabet
 * check disagrees, and then the portable decoder below decides and produces the precise error. The
 * tests fuzz both paths against each other.
 */
export function fromBase64(value: unknown, what: string): Uint8Array {
  if (NodeBuffer && typeof value === 'string') {
    const fast = decodeBase64Native(NodeBuffer, value);
    if (fast) return fast;
  }
  return fromBase64Portable(value, what);
}

type BufferLike = { from(text: string, encoding: 'base64'): Uint8Array };
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

function decodeBase64Native(buffer: BufferLike, value: string): Uint8Array | undefined {
  const length = value.length;
  if (length === 0 || length % 4 !== 0) return undefined;
  const padding = value.charCodeAt(length - 1) !== 61 ? 0 : value.charCodeAt(length - 2) === 61 ? 2 : 1;
  // Canonical: the bits after the last encoded byte are zero (an invalid character fails this too).
  if (padding === 2 && (b64Value(value.charCodeAt(length - 3)) & 15) !== 0) return undefined;
  if (padding === 1 && (b64Value(value.charCodeAt(length - 2)) & 3) !== 0) return undefined;
  if (value.indexOf('-') !== -1 || value.indexOf('_') !== -1) return undefined;
  const decoded = buffer.from(value, 'base64');
  if (decoded.length !== (length / 4) * 3 - padding) return undefined;
  // A plain Uint8Array view: Buffer#slice shares memory, which callers would not expect.
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.length);
}

/** The reference decoder, in plain TypeScript: the browser path, and the judge of every rejected input. */
export function fromBase64Portable(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string') throw new CryptoFormatError(`${what} must be a base64 string`);
  const length = value.length;
  if (length % 4 !== 0) {
    throw new CryptoFormatError(`${what} is not padded standard base64 (length ${length} is not a multiple of 4)`);
  }
  const out = new Uint8Array(base64DecodedLength(value));
  if (decodeBase64Into(value, out) < 0) throw base64Error(value, what);
  return out;
}

/** Bytes that a padded base64 string of a valid length decodes to. */
export function base64DecodedLength(value: string): number {
  const length = value.length;
  if (length === 0) return 0;
  const padding = value.charCodeAt(length - 1) !== 61 ? 0 : value.charCodeAt(length - 2) === 61 ? 2 : 1;
  return (length / 4) * 3 - padding;
}

/**
 * Strict decoding (as fromBase64) into the caller's buffer, for the read path where one scratch buffer
 * serves every field: returns the number of bytes written, or -1 if the input is not canonical padded
 * standard base64 or `out` is too small. Says nothing about why; fromBase64Portable does.
 */
export function decodeBase64Into(value: string, out: Uint8Array): number {
  const length = value.length;
  if (length % 4 !== 0) return -1;
  const size = base64DecodedLength(value);
  if (size > out.length) return -1;
  if (size === 0) return 0;
  const padding = (length / 4) * 3 - size;
  const fullQuads = padding === 0 ? length : length - 4;
  let o = 0;
  let invalid = 0;
  for (let i = 0; i < fullQuads; i += 4) {
    const a = b64Value(value.charCodeAt(i));
    const b = b64Value(value.charCodeAt(i + 1));
    const c = b64Value(value.charCodeAt(i + 2));
    const d = b64Value(value.charCodeAt(i + 3));
    invalid |= a | b | c | d;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  if (invalid > 63) return -1;
  if (padding === 0) return o;
  const a = b64Value(value.charCodeAt(fullQuads));
  const b = b64Value(value.charCodeAt(fullQuads + 1));
  const c = padding === 1 ? b64Value(value.charCodeAt(fullQuads + 2)) : 0;
  // Canonical: the bits after the last encoded byte are zero.
  if ((a | b | c) > 63 || (padding === 2 ? b & 15 : c & 3) !== 0) return -1;
  out[o++] = (a << 2) | (b >> 4);
  if (padding === 1) out[o++] = ((b & 15) << 4) | (c >> 2);
  return o;
}

/** Why decodeBase64Into refused a string whose length is a multiple of 4. */
function base64Error(value: string, what: string): CryptoFormatError {
  for (let i = 0; i < value.length; i += 4) {
    const last = i + 4 === value.length;
    const padding = last ? value.length / 4 * 3 - base64DecodedLength(value) : 0;
    for (let j = i; j < i + 4 - padding; j++) {
      if (b64Value(value.charCodeAt(j)) > 63) {
        return new CryptoFormatError(`${what} is not standard base64 (unexpected character at offset ${j})`);
      }
    }
  }
  return new CryptoFormatError(`${what} is not canonical base64 (non-zero padding bits)`);
}

/** 6-bit value of a base64 character, or 255 (so an OR of four values exceeds 63 if any is invalid). */
function b64Value(code: number): number {
  return code < 128 ? B64_VALUE[code]! : 255;
}

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8Encode(text: string): Uint8Array {
  return UTF8_ENCODER.encode(text);
}

/** Writes text as UTF-8 at the start of `target` (at least 3 bytes per UTF-16 unit); returns the bytes written. */
export function utf8EncodeInto(text: string, target: Uint8Array): number {
  if (target.length < 3 * text.length) throw new RangeError('utf8EncodeInto: target too small');
  return UTF8_ENCODER.encodeInto(text, target).written;
}

/** Fatal on invalid UTF-8: silently replacing bytes with U+FFFD would corrupt a secret. */
export function utf8Decode(bytes: Uint8Array, what: string): string {
  try {
    return UTF8_DECODER.decode(bytes);
  } catch (cause) {
    throw new CryptoFormatError(`${what} is not valid UTF-8`, { cause });
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Throws CryptoFormatError unless `value` is a Uint8Array of exactly `length` bytes. */
export function expectBytes(value: unknown, length: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CryptoFormatError(`${what} must be a Uint8Array of ${length} bytes`);
  if (value.length !== length) {
    throw new CryptoFormatError(`${what} must be ${length} bytes; got ${value.length}`);
  }
  return value;
}
