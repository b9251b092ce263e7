/**
 * The read path (DESIGN §5.3–4): EnvironmentCipher shares one ephemeral key per instance when writing and
 * caches one session key per distinct ephemeral key when reading; output stays ordinary ph:v1.
 * Environment key wrapping for EnvironmentKey rows uses a fresh ephemeral key each time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBase64, toHex } from '../../src/crypto/encoding.js';
import {
  createCrypto,
  CryptoFormatError,
  CryptoInternalError,
  DecryptionError,
  KeyMismatchError,
  type SodiumBackend,
} from '../../src/crypto/index.js';
import { BACKENDS } from './helpers/backends.js';

/** A backend that counts recipient-side X25519 exchanges and keeps the session keys it handed out. */
function countingBackend(inner: SodiumBackend) {
  const handedOut: Uint8Array[] = [];
  const counter = { exchanges: 0, handedOut };
  const backend: SodiumBackend = {
    ...inner,
    kxServerSessionKeys(serverPublicKey, serverSecretKey, clientPublicKey) {
      counter.exchanges += 1;
      const keys = inner.kxServerSessionKeys(serverPublicKey, serverSecretKey, clientPublicKey);
      handedOut.push(keys.rx);
      return keys;
    },
  };
  return { backend, counter };
}

for (const b of BACKENDS) {
  const c = b.crypto;

  describe(`EnvironmentCipher (${b.name})`, () => {
    const env = c.generateEnvironmentSecrets();
    const envKeyPair = c.kxKeyPairFromSeed(env.seedHex);

    test('identity key and digests match the stand-alone functions', () => {
      const cipher = c.environmentCipher(env.seedHex, env.saltHex);
      assert.equal(cipher.publicKeyHex, env.identityKey);
      assert.equal(cipher.keyDigest('DATABASE_URL'), c.keyDigest('DATABASE_URL', env.saltHex));
      assert.equal(cipher.saltHex, env.saltHex);
    });

    test('writes share one ephemeral key per instance, with a fresh nonce per field; output is plain ph:v1', () => {
      const cipher = c.environmentCipher(env.seedHex, env.saltHex);
      const fields = Array.from({ length: 50 }, (_, i) => cipher.encryptField(`value-${i}`));
      assert.equal(new Set(fields.map((f) => f.split(':')[2])).size, 1);
      const nonces = fields.map((f) => toHex(fromBase64(f.split(':')[3], 'b').subarray(-24)));
      assert.equal(new Set(nonces).size, fields.length);
      assert.equal(c.decryptAsymmetric(fields[7]!, envKeyPair), 'value-7');
      assert.notEqual(c.environmentCipher(env.seedHex, env.saltHex).encryptField('x').split(':')[2], fields[0]!.split(':')[2]);
    });

    test('reads cost one X25519 per distinct ephemeral key, none for its own writes', () => {
      const writerA = c.environmentCipher(env.seedHex, env.saltHex);
      const writerB = c.environmentCipher(env.seedHex, env.saltHex);
      const fields = [
        ...Array.from({ length: 100 }, (_, i) => writerA.encryptField(`a${i}`)),
        ...Array.from({ length: 100 }, (_, i) => writerB.encryptField(`b${i}`)),
      ];
      const { backend, counter } = countingBackend(b.backend);
      const reader = createCrypto(backend).environmentCipher(env.seedHex, env.saltHex);
      const expected = [...Array.from({ length: 100 }, (_, i) => `a${i}`), ...Array.from({ length: 100 }, (_, i) => `b${i}`)];
      assert.deepEqual(fields.map((f) => reader.decryptField(f)), expected);
      assert.equal(counter.exchanges, 2);
      assert.equal(reader.cachedSessionKeyCount, 2);
      fields.forEach((f) => reader.decryptField(f));
      assert.equal(counter.exchanges, 2, 'a second pass is free');

      const own = reader.encryptField('own write');
      assert.equal(reader.decryptField(own), 'own write');
      assert.equal(counter.exchanges, 2, 'reading its own writes needs no exchange');
    });

    test('SDK-style fields (fresh ephemeral each) decrypt too, one exchange each', () => {
      const { backend, counter } = countingBackend(b.backend);
      const reader = createCrypto(backend).environmentCipher(env.seedHex, env.saltHex);
      const fields = ['x', 'y', 'z'].map((text) => c.encryptAsymmetric(text, env.identityKey));
      assert.deepEqual(fields.map((f) => reader.decryptField(f)), ['x', 'y', 'z']);
      assert.equal(counter.exchanges, 3);
    });

    test('the session-key cache is bounded, least recently used goes first, and evicted keys are wiped', () => {
      const { backend, counter } = countingBackend(b.backend);
      const reader = createCrypto(backend).environmentCipher(env.seedHex, env.saltHex, { sessionKeyCacheSize: 2 });
      const writers = [0, 1, 2].map(() => c.environmentCipher(env.seedHex, env.saltHex));
      const fields = writers.map((w, i) => w.encryptField(`w${i}`));
      reader.decryptField(fields[0]!);
      reader.decryptField(fields[1]!);
      reader.decryptField(fields[0]!); // refresh 0, so 1 is now the least recently used
      reader.decryptField(fields[2]!); // evicts 1
      assert.equal(reader.cachedSessionKeyCount, 2);
      assert.equal(counter.exchanges, 3);
      assert.ok(counter.handedOut[1]!.every((byte) => byte === 0), 'evicted session key is wiped');
      assert.ok(!counter.handedOut[0]!.every((byte) => byte === 0));
      reader.decryptField(fields[0]!);
      assert.equal(counter.exchanges, 3);
      assert.equal(reader.decryptField(fields[1]!), 'w1');
      assert.equal(counter.exchanges, 4);
    });

    test('tampered fields, fields of another environment and malformed input are rejected, cached or not', () => {
      const cipher = c.environmentCipher(env.seedHex, env.saltHex);
      const field = cipher.encryptField('secret');
      const blob = fromBase64(field.split(':')[3], 'b');
      blob[0]! ^= 1;
      const tampered = [...field.split(':').slice(0, 3), Buffer.from(blob).toString('base64')].join(':');
      assert.throws(() => cipher.decryptField(tampered), DecryptionError, 'the cached key still authenticates');
      const other = c.generateEnvironmentSecrets();
      const otherCipher = c.environmentCipher(other.seedHex, other.saltHex);
      assert.throws(() => otherCipher.decryptField(field), DecryptionError);
      assert.throws(() => cipher.decryptField(otherCipher.encryptField('x')), DecryptionError);
      const malformed = [
        '',
        'ph:v1:zz:AAAA',
        field.replace('ph:v1', 'ph:v2'),
        `${field}:extra`,
        `${field} `,
        field.slice(0, 75),
        `${field.slice(0, 71)}QQ==`,
        `${field.slice(0, 71)}-${field.slice(72)}`, // URL-safe alphabet
      ];
      for (const bad of malformed) assert.throws(() => cipher.decryptField(bad), CryptoFormatError, bad);
      assert.equal(cipher.decryptOptionalField(''), '');
      assert.equal(cipher.decryptOptionalField(cipher.encryptField('')), '');
    });

    test('bad construction arguments → CryptoFormatError; use after dispose → typed error', () => {
      assert.throws(() => c.environmentCipher(env.seedHex, env.saltHex.slice(1)), CryptoFormatError);
      assert.throws(() => c.environmentCipher(env.seedHex.slice(2), env.saltHex), CryptoFormatError);
      assert.throws(() => c.environmentCipher(env.seedHex, env.saltHex, { sessionKeyCacheSize: 0 }), CryptoFormatError);
      const cipher = c.environmentCipher(env.seedHex, env.saltHex);
      const field = cipher.encryptField('x');
      cipher.dispose();
      cipher.dispose();
      assert.equal(cipher.cachedSessionKeyCount, 0);
      assert.throws(() => cipher.decryptField(field), CryptoInternalError);
      assert.throws(() => cipher.encryptField('x'), CryptoInternalError);
    });
  });

  describe(`environment keys for EnvironmentKey rows (${b.name})`, () => {
    test('new environments: random lower-case seed and salt, identity key from the seed', () => {
      const env = c.generateEnvironmentSecrets();
      assert.match(env.seedHex, /^[0-9a-f]{64}$/);
      assert.match(env.saltHex, /^[0-9a-f]{64}$/);
      assert.notEqual(env.seedHex, env.saltHex);
      assert.equal(env.identityKey, c.publicKeyHexFromSeed(env.seedHex));
    });

    test('wrap to a principal with a fresh ephemeral each time; unwrap yields the hex text; grant verification', () => {
      const env = c.generateEnvironmentSecrets();
      const principal = c.kxKeyPairOfIdentity(c.generateServiceAccountKeyring());
      const one = c.wrapEnvironmentSecrets(env, principal.publicKey);
      const two = c.wrapEnvironmentSecrets(env, toHex(principal.publicKey));
      assert.notEqual(one.wrappedSeed.split(':')[2], two.wrappedSeed.split(':')[2]);
      assert.notEqual(one.wrappedSeed.split(':')[2], one.wrappedSalt.split(':')[2]);
      assert.equal(c.unwrapWithKeyPair(one.wrappedSeed, principal), env.seedHex, 'the plaintext is the 64-char hex text');
      assert.deepEqual(c.unwrapEnvironmentSecrets(two, principal), env);
      assert.deepEqual(c.verifyEnvironmentGrant({ identityKey: env.identityKey, ...one }, principal), { seedHex: env.seedHex, saltHex: env.saltHex });
      const wrongIdentity = { identityKey: c.generateEnvironmentSecrets().identityKey, ...one };
      assert.throws(() => c.verifyEnvironmentGrant(wrongIdentity, principal), KeyMismatchError);
      assert.throws(() => c.unwrapEnvironmentSecrets(one, c.kxKeyPair()), DecryptionError);
    });

    test('only 64-hex seeds and salts are wrapped, and only those are accepted when unwrapping', () => {
      const principal = c.kxKeyPair();
      const env = c.generateEnvironmentSecrets();
      assert.throws(() => c.wrapEnvironmentSecrets({ ...env, seedHex: env.seedHex.slice(1) }, principal.publicKey), CryptoFormatError);
      assert.throws(() => c.wrapEnvironmentSecrets({ ...env, saltHex: 'z'.repeat(64) }, principal.publicKey), CryptoFormatError);
      const notHex = {
        wrappedSeed: c.wrapForRecipient('not a seed', principal.publicKey),
        wrappedSalt: c.wrapForRecipient(env.saltHex, principal.publicKey),
      };
      assert.throws(() => c.unwrapEnvironmentSecrets(notHex, principal), CryptoFormatError);
      assert.throws(() => c.wrapForRecipient('x', '00'.repeat(32)), CryptoFormatError);
    });
  });
}
