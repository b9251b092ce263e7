/**
 * Phase formats (spec §1): round trips, tampering with every part, malformed input. Every rejection is
 * one of our typed errors; the fuzz cases check that nothing else ever escapes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fromBase64, fromBase64Portable, fromHex, toBase64, toHex } from '../../src/crypto/encoding.js';
import { CryptoError, CryptoFormatError, DecryptionError, type Ciphertext, type KeyPair } from '../../src/crypto/index.js';
import { BACKENDS, NATIVE } from './helpers/backends.js';

/** Replaces the character at `index` with a different one from the same alphabet. */
function flipChar(text: string, index: number, alphabet = '0123456789abcdef'): string {
  const current = text[index]!;
  const replacement = alphabet[(alphabet.indexOf(current) + 1) % alphabet.length]!;
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

/** Flips one bit of the decoded ph:v1 body at `offset` (negative = from the end) and re-encodes it. */
function tamperBody(ciphertext: string, offset: number): string {
  const parts = ciphertext.split(':');
  const blob = fromBase64(parts[3], 'test');
  blob[offset < 0 ? blob.length + offset : offset]! ^= 0x01;
  return [...parts.slice(0, 3), toBase64(blob)].join(':');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

for (const b of BACKENDS) {
  const c = b.crypto;

  describe(`raw XChaCha20-Poly1305, nonce after the tag (${b.name})`, () => {
    const key = c.randomKeyHex();

    test('round trips in bytes, hex and base64, including empty and non-ASCII text', () => {
      for (const text of ['', 'a', 'grüße 🔑', 'x'.repeat(70_000)]) {
        assert.equal(c.decryptRawHex(c.encryptRawHex(text, key), key), text);
        assert.equal(c.decryptRawBase64(c.encryptRawBase64(text, key), key), text);
      }
      const blob = c.encryptRaw(new Uint8Array([1, 2, 3]), fromHex(key, 'k'));
      assert.equal(blob.length, 3 + 16 + 24);
      assert.deepEqual([...c.decryptRaw(blob, key)], [1, 2, 3]);
      assert.notEqual(c.encryptRawHex('same', key), c.encryptRawHex('same', key));
    });

    test('tampered ciphertext, tag or nonce, or a wrong key → DecryptionError', () => {
      const blob = c.encryptRaw(new TextEncoder().encode('hello'), key);
      for (const offset of [0, 4, 5, 20, 21, 44]) {
        const tampered = blob.slice();
        tampered[offset]! ^= 0x80;
        assert.throws(() => c.decryptRaw(tampered, key), DecryptionError, `byte ${offset}`);
      }
      assert.throws(() => c.decryptRaw(blob, c.randomKeyHex()), DecryptionError);
      assert.throws(() => c.decryptRaw(blob.subarray(1), key), DecryptionError);
    });

    test('short blobs, bad hex/base64 and wrong key lengths → CryptoFormatError', () => {
      assert.throws(() => c.decryptRaw(new Uint8Array(39), key), CryptoFormatError);
      assert.throws(() => c.decryptRawHex('zz', key), CryptoFormatError);
      assert.throws(() => c.decryptRawHex('abc', key), CryptoFormatError);
      assert.throws(() => c.decryptRawBase64('not base64!', key), CryptoFormatError);
      assert.throws(() => c.encryptRawHex('x', key.slice(2)), CryptoFormatError);
      assert.throws(() => c.encryptRawHex('x', new Uint8Array(16)), CryptoFormatError);
      assert.throws(() => c.encryptRawHex('x', 'g'.repeat(64)), CryptoFormatError);
    });

    test('invalid UTF-8 plaintext → CryptoFormatError, not replacement characters', () => {
      const blob = c.encryptRaw(new Uint8Array([0xff, 0xfe]), key);
      assert.throws(() => c.decryptRawHex(toHex(blob), key), CryptoFormatError);
    });
  });

  describe(`ph:v1 asymmetric strings (${b.name})`, () => {
    const recipient: KeyPair = c.kxKeyPair();
    const ciphertext = c.encryptAsymmetric('postgres://user:pw@db/app', recipient.publicKey);

    test('shape: 4 parts, lower-case hex ephemeral key, padded standard base64, 40 bytes of overhead', () => {
      const [prefix, version, ephemeral, body] = ciphertext.split(':');
      assert.equal(prefix, 'ph');
      assert.equal(version, 'v1');
      assert.match(ephemeral!, /^[0-9a-f]{64}$/);
      assert.equal(fromBase64(body, 'body').length, 'postgres://user:pw@db/app'.length + 40);
      assert.notEqual(c.encryptAsymmetric('same', recipient.publicKey).split(':')[2], c.encryptAsymmetric('same', recipient.publicKey).split(':')[2]);
    });

    test('round trips for empty, non-ASCII and long text; upper-case hex accepted on input', () => {
      for (const text of ['', 'ünïcödé 秘密 🔑', 'v'.repeat(100_000)]) {
        assert.equal(c.decryptAsymmetric(c.encryptAsymmetric(text, recipient.publicKey), recipient), text);
      }
      const upper = ciphertext.replace(/:([0-9a-f]{64}):/, (_, hexKey: string) => `:${hexKey.toUpperCase()}:`);
      assert.notEqual(upper, ciphertext);
      assert.equal(c.decryptAsymmetric(upper, recipient), 'postgres://user:pw@db/app');
      const hexPair = { publicKey: toHex(recipient.publicKey).toUpperCase(), privateKey: toHex(recipient.privateKey) };
      assert.equal(c.decryptAsymmetric(ciphertext, hexPair), 'postgres://user:pw@db/app');
    });

    test('tampering with ciphertext, tag, nonce or ephemeral key → DecryptionError', () => {
      const bodyLength = fromBase64(ciphertext.split(':')[3], 'b').length;
      for (const offset of [0, bodyLength - 40, bodyLength - 25, bodyLength - 24, bodyLength - 1]) {
        assert.throws(() => c.decryptAsymmetric(tamperBody(ciphertext, offset), recipient), DecryptionError, `offset ${offset}`);
      }
      const otherEphemeral = toHex(c.kxKeyPair().publicKey);
      const swapped = ciphertext.replace(/:[0-9a-f]{64}:/, `:${otherEphemeral}:`);
      assert.throws(() => c.decryptAsymmetric(swapped, recipient), DecryptionError);
    });

    test('wrong private key, or right private key with a wrong public key → DecryptionError', () => {
      const other = c.kxKeyPair();
      assert.throws(() => c.decryptAsymmetric(ciphertext, other), DecryptionError);
      assert.throws(() => c.decryptAsymmetric(ciphertext, { publicKey: other.publicKey, privateKey: recipient.privateKey }), DecryptionError);
    });

    test('malformed strings → CryptoFormatError', () => {
      const [, , ephemeral, body] = ciphertext.split(':') as [string, string, string, string];
      const malformed: unknown[] = [
        '',
        'ph:v1',
        `ph:v1:${ephemeral}`,
        `ph:v1:${ephemeral}:${body}:extra`,
        `PH:v1:${ephemeral}:${body}`,
        `ph:v2:${ephemeral}:${body}`,
        `ph:v1:${ephemeral.slice(2)}:${body}`,
        `ph:v1:${'g'.repeat(64)}:${body}`,
        `ph:v1:${ephemeral}:${body.replace(/=+$/, '')}`,
        `ph:v1:${ephemeral}:${body.replace(/\+/g, '-').replace(/\//g, '_')}x`,
        `ph:v1:${ephemeral}:${toBase64(new Uint8Array(39))}`,
        `ph:v1:${ephemeral}:QQ==`,
        `ph:v1:${ephemeral}:QR==`,
        `ph:v1:${ephemeral}:${body} `,
        `ph:v1:${'00'.repeat(32)}:${body}`,
        42,
        null,
        undefined,
      ];
      for (const value of malformed) {
        assert.throws(() => c.decryptAsymmetric(value as string, recipient), CryptoFormatError, JSON.stringify(value));
      }
    });

    test('asCiphertext validates and brands; asOptionalCiphertext also accepts ""', () => {
      const branded: Ciphertext = c.asCiphertext(ciphertext);
      assert.equal(branded, ciphertext);
      assert.equal(c.asOptionalCiphertext(''), '');
      assert.throws(() => c.asCiphertext(''), CryptoFormatError);
      assert.throws(() => c.asCiphertext('plaintext'), CryptoFormatError);
      // @ts-expect-error a plain string is not a Ciphertext: store columns cannot receive plaintext by accident
      const notAllowed: Ciphertext = 'DATABASE_URL';
      assert.equal(typeof notAllowed, 'string');
    });
  });

  describe(`key digests, seeds, Ed25519 conversion, XOR split (${b.name})`, () => {
    test('key digest needs a 64-hex salt string and is case-sensitive in the name', () => {
      const salt = c.randomKeyHex();
      assert.match(c.keyDigest('A', salt), /^[0-9a-f]{64}$/);
      assert.notEqual(c.keyDigest('A', salt), c.keyDigest('a', salt));
      // The salt is used as TEXT: its case changes the digest, exactly as in the SDKs.
      assert.notEqual(c.keyDigest('A', salt), c.keyDigest('A', salt.toUpperCase()));
      for (const bad of ['', 'abc', 'g'.repeat(64), salt + '00']) assert.throws(() => c.keyDigest('A', bad), CryptoFormatError);
    });

    test('seed key pairs reject wrong lengths and bad hex', () => {
      assert.throws(() => c.kxKeyPairFromSeed('00'.repeat(31)), CryptoFormatError);
      assert.throws(() => c.kxKeyPairFromSeed('x'.repeat(64)), CryptoFormatError);
      assert.throws(() => c.kxKeyPairFromSeed(new Uint8Array(33)), CryptoFormatError);
    });

    test('Ed25519 → X25519: the converted pair is a valid kx pair; invalid points are rejected', () => {
      const identity = c.generateServiceAccountKeyring();
      const kx = c.ed25519ToKx(identity);
      assert.equal(toHex(c.kxPublicKeyOf(kx.privateKey)), toHex(kx.publicKey));
      assert.throws(() => c.ed25519PublicKeyToKx('ff'.repeat(32)), CryptoFormatError);
      assert.throws(() => c.ed25519ToKx({ publicKey: identity.publicKey, privateKey: identity.privateKey.subarray(0, 32) }), CryptoFormatError);
    });

    test('split / wrapShare / reconstruct: 32-byte shares, 208 hex characters, typed failures', () => {
      const secret = b.backend.randomBytes(32);
      const { clientShare, serverShare } = c.splitSecret(secret);
      assert.equal(clientShare.length, 32);
      assert.equal(serverShare.length, 32);
      const wrapKey = c.randomKeyHex();
      const wrapped = c.wrapShare(serverShare, wrapKey);
      assert.match(wrapped, /^[0-9a-f]{208}$/);
      assert.equal(toHex(c.reconstructSecret(clientShare, wrapped, wrapKey)), toHex(secret));
      assert.equal(toHex(c.reconstructSecret(toHex(clientShare).toUpperCase(), wrapped.toUpperCase(), wrapKey.toUpperCase())), toHex(secret));

      assert.throws(() => c.splitSecret(new Uint8Array(31)), CryptoFormatError);
      assert.throws(() => c.reconstructSecret(clientShare, wrapped, c.randomKeyHex()), DecryptionError);
      assert.throws(() => c.reconstructSecret(clientShare, flipChar(wrapped, 10), wrapKey), DecryptionError);
      assert.throws(() => c.reconstructSecret(clientShare, flipChar(wrapped, 200), wrapKey), DecryptionError);
      assert.throws(() => c.reconstructSecret(clientShare, wrapped.slice(2), wrapKey), CryptoFormatError);
      // A share that is not the 64-char hex text (e.g. 31 bytes, which the Node SDK would silently accept).
      const shortShare = c.encryptRawHex('ab'.repeat(31) + 'zz', wrapKey);
      assert.throws(() => c.reconstructSecret(clientShare, shortShare, wrapKey), CryptoFormatError);
    });
  });
}

describe('encodings match Node Buffer where Buffer is right, and are stricter where it is lenient', () => {
  test('base64 and hex round trips against Buffer for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const expected = Buffer.from(bytes).toString('base64');
        assert.equal(toBase64(bytes), expected);
        assert.deepEqual(fromBase64(expected, 't'), bytes);
        assert.equal(toHex(bytes), Buffer.from(bytes).toString('hex'));
        assert.deepEqual(fromHex(Buffer.from(bytes).toString('hex').toUpperCase(), 't'), bytes);
      }),
    );
  });

  test('the native fast path and the portable decoder agree on every input (accept with equal bytes, or reject)', () => {
    const outcome = (decode: () => Uint8Array) => {
      try {
        return toHex(decode());
      } catch (error) {
        assert.ok(error instanceof CryptoFormatError, String(error));
        return 'rejected';
      }
    };
    const units = [...B64, ...'AQgwEIMU048', '=', '==', '-', '_', ' ', '\n', '.', 'é', '\u0000', 'Ａ'];
    const adversarial = fc.string({ unit: fc.constantFrom(...units), maxLength: 40 });
    fc.assert(
      fc.property(adversarial, (text) => {
        assert.equal(outcome(() => fromBase64(text, 't')), outcome(() => fromBase64Portable(text, 't')), JSON.stringify(text));
      }),
      { numRuns: 5000 },
    );
  });

  test('arbitrary strings either decode canonically or throw CryptoFormatError', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...B64, '=', '-', '_', ' ', 'é') }), (text) => {
        try {
          assert.equal(toBase64(fromBase64(text, 't')), text);
        } catch (error) {
          assert.ok(error instanceof CryptoFormatError, String(error));
        }
      }),
    );
  });
});

describe('fuzz: malformed input never escapes as anything but a CryptoError', () => {
  const c = NATIVE.crypto;
  const recipient = c.kxKeyPair();
  const valid = c.encryptAsymmetric('fuzz target', recipient.publicKey);
  const alphabet = [...'0123456789abcdefABCDEF', ...B64, ':', '=', 'p', 'h', 'v', ' '];

  function mustBeTyped(run: () => unknown): void {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof CryptoError, `escaped: ${String(error)}`);
    }
  }

  test('random strings as ph:v1 ciphertexts, raw hex and base64', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 200 }), (text) => {
        mustBeTyped(() => c.decryptAsymmetric(text, recipient));
        mustBeTyped(() => c.decryptAsymmetric(`ph:v1:${text}`, recipient));
        mustBeTyped(() => c.decryptRawHex(text, recipient.privateKey));
        mustBeTyped(() => c.decryptRawBase64(text, recipient.privateKey));
      }),
      { numRuns: 500 },
    );
  });

  test('single-character mutations of a valid ciphertext are always rejected with a typed error', () => {
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.constantFrom(...alphabet), (index, char) => {
        const mutated = valid.slice(0, index) + char + valid.slice(index + 1);
        const inHexKey = index >= 'ph:v1:'.length && index < 'ph:v1:'.length + 64;
        if (mutated === valid || (inHexKey && char.toLowerCase() === valid[index])) return; // same key, any hex case
        assert.throws(() => c.decryptAsymmetric(mutated, recipient), CryptoError);
      }),
      { numRuns: 500 },
    );
  });

  test('truncations of a valid ciphertext', () => {
    for (let length = 0; length < valid.length; length++) {
      assert.throws(() => c.decryptAsymmetric(valid.slice(0, length), recipient), CryptoError);
    }
  });
});
