/**
 * The two backends are interchangeable: identical bytes from every deterministic function, each decrypts
 * what the other encrypts, and bad input fails with the same error class on both.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toHex, utf8Encode } from '../../src/crypto/encoding.js';
import { CryptoFormatError, DecryptionError, TEST_KDF_FAST } from '../../src/crypto/index.js';
import { NATIVE, WASM, type BackendUnderTest } from './helpers/backends.js';

const random = (n: number) => NATIVE.backend.randomBytes(n);

/** Asserts both backends return the same bytes (compared as hex, so failures are readable). */
function sameBytes(run: (b: BackendUnderTest) => Uint8Array | string): void {
  const fromNative = run(NATIVE);
  const fromWasm = run(WASM);
  assert.equal(typeof fromNative === 'string' ? fromNative : toHex(fromNative), typeof fromWasm === 'string' ? fromWasm : toHex(fromWasm));
}

/** Asserts both backends throw the same class for the same input. */
function sameError(run: (b: BackendUnderTest) => unknown, errorClass: new (...args: never[]) => Error): void {
  assert.throws(() => run(NATIVE), errorClass);
  assert.throws(() => run(WASM), errorClass);
}

describe('backends: identical bytes for every deterministic primitive', () => {
  test('BLAKE2b with and without key, all output lengths; SHA-256', () => {
    for (const length of [16, 24, 32, 48, 64]) {
      const message = random(length * 3);
      const key = random(length);
      sameBytes((b) => b.backend.generichash(length, message));
      sameBytes((b) => b.backend.generichash(length, message, key));
    }
    sameBytes((b) => b.backend.generichash(32, new Uint8Array(0)));
    sameBytes((b) => b.backend.sha256(utf8Encode('bearer text')));
    for (const text of ['bearer text', '', 'é ✓ 𝄞', `${'ab'.repeat(32)}`]) {
      sameBytes((b) => b.backend.sha256TextHex(text));
      assert.equal(NATIVE.backend.sha256TextHex(text), toHex(NATIVE.backend.sha256(utf8Encode(text))));
    }
  });

  test('kx seed key pairs, session keys, scalarmult_base', () => {
    const seed = random(32);
    const peer = NATIVE.backend.kxKeypair();
    sameBytes((b) => b.backend.kxSeedKeypair(seed).publicKey);
    sameBytes((b) => b.backend.kxSeedKeypair(seed).privateKey);
    const own = NATIVE.backend.kxSeedKeypair(seed);
    for (const role of ['client', 'server'] as const) {
      for (const part of ['rx', 'tx'] as const) {
        sameBytes((b) =>
          role === 'client'
            ? b.backend.kxClientSessionKeys(own.publicKey, own.privateKey, peer.publicKey)[part]
            : b.backend.kxServerSessionKeys(own.publicKey, own.privateKey, peer.publicKey)[part],
        );
      }
    }
    sameBytes((b) => b.backend.scalarmultBase(own.privateKey));
  });

  test('XChaCha20-Poly1305 with and without associated data', () => {
    const key = random(32);
    const nonce = random(24);
    for (const length of [0, 1, 40, 1000]) {
      const message = random(length);
      sameBytes((b) => b.backend.aeadEncrypt(message, null, nonce, key));
      sameBytes((b) => b.backend.aeadEncrypt(message, utf8Encode('ad'), nonce, key));
    }
  });

  test('Ed25519 from seed, Ed25519 → X25519, kdf subkeys', () => {
    const seed = random(32);
    sameBytes((b) => b.backend.signSeedKeypair(seed).privateKey);
    const identity = NATIVE.backend.signSeedKeypair(seed);
    sameBytes((b) => b.backend.ed25519PublicKeyToCurve25519(identity.publicKey));
    sameBytes((b) => b.backend.ed25519SecretKeyToCurve25519(identity.privateKey));
    const master = random(32);
    for (const [id, context] of [[0, '_secret_'], [1, '__sign__'], [2 ** 40, 'cfr_envk']] as const) {
      sameBytes((b) => b.backend.kdfDeriveFromKey(32, id, context, master));
      sameBytes((b) => b.backend.kdfDeriveFromKey(16, id, context, master));
    }
  });

  test('Ed25519 detached signatures and the account-recovery statement: same bytes, each verifies the other, tampering fails', () => {
    const identity = NATIVE.backend.signSeedKeypair(random(32));
    const message = random(200);
    sameBytes((b) => b.backend.signDetached(message, identity.privateKey));
    const signature = NATIVE.backend.signDetached(message, identity.privateKey);
    const tampered = Uint8Array.from(message);
    tampered[0]! ^= 1;
    for (const b of [NATIVE, WASM]) {
      assert.equal(b.backend.verifyDetached(signature, message, identity.publicKey), true, b.backend.name);
      assert.equal(b.backend.verifyDetached(signature, tampered, identity.publicKey), false, b.backend.name);
      assert.equal(b.backend.verifyDetached(signature.subarray(1), message, identity.publicKey), false, b.backend.name);
    }
    const statement = {
      organisationId: '6c0f2a4e-1b7d-4c61-9a57-3d2e8f1b0c9a',
      email: 'ada@example.com',
      issuedAt: '2030-01-31T12:00:00.000Z',
      loginHash: 'ab'.repeat(32),
      wrappedKeyring: 'cd'.repeat(60),
      wrappedRecovery: 'ef'.repeat(60),
      kdfParams: { opsLimit: 3, memLimit: 268435456 },
    };
    const signed = WASM.crypto.signRecoveryStatement(identity, statement);
    assert.equal(signed, NATIVE.crypto.signRecoveryStatement(identity, statement));
    const publicHex = toHex(identity.publicKey);
    for (const b of [NATIVE, WASM]) {
      assert.equal(b.crypto.verifyRecoveryStatement(publicHex, statement, signed), true);
      for (const changed of [{ email: 'eve@example.com' }, { loginHash: 'ac'.repeat(32) }, { issuedAt: '2030-01-31T12:00:01.000Z' }, { kdfParams: { opsLimit: 3, memLimit: 268435457 } }, { wrappedKeyring: 'cd'.repeat(59) }]) {
        assert.equal(b.crypto.verifyRecoveryStatement(publicHex, { ...statement, ...changed }, signed), false, JSON.stringify(changed));
      }
      assert.equal(b.crypto.verifyRecoveryStatement(publicHex, { ...statement, email: 'a@b.c\nx' }, signed), false, 'a line break never verifies');
      assert.equal(b.crypto.verifyRecoveryStatement(publicHex, statement, 'zz'), false);
      assert.equal(b.crypto.verifyRecoveryStatement(publicHex, statement, 42), false);
    }
  });

  test('Argon2id (fast test parameters) and the keyring derivations built on it', async () => {
    const salt = random(16);
    const [native, wasm] = await Promise.all([
      NATIVE.backend.pwhashArgon2id(32, utf8Encode('password'), salt, TEST_KDF_FAST.opsLimit, TEST_KDF_FAST.memLimit),
      WASM.backend.pwhashArgon2id(32, utf8Encode('password'), salt, TEST_KDF_FAST.opsLimit, TEST_KDF_FAST.memLimit),
    ]);
    assert.equal(toHex(native), toHex(wasm));

    const mnemonic = NATIVE.crypto.generateMnemonic();
    const orgId = 'org-1';
    const seeds = await Promise.all([NATIVE, WASM].map((b) => b.crypto.deriveAccountSeed(mnemonic, orgId, TEST_KDF_FAST)));
    assert.equal(toHex(seeds[0]!), toHex(seeds[1]!));
    sameBytes((b) => b.crypto.serializeUserKeyring(b.crypto.keyringFromAccountSeed(seeds[0]!)));
    const devices = await Promise.all([NATIVE, WASM].map((b) => b.crypto.deriveDeviceKey('pw', 'a@b.c', TEST_KDF_FAST)));
    assert.equal(toHex(devices[0]!), toHex(devices[1]!));
    const logins = await Promise.all([NATIVE, WASM].map((b) => b.crypto.derivePasswordLoginHash('pw', 'a@b.c', TEST_KDF_FAST)));
    assert.equal(logins[0], logins[1]);
  });

  test('Phase formats with fixed ephemeral keys and nonces, key digests, master key ids', () => {
    const recipient = NATIVE.backend.kxKeypair();
    const ephemeral = NATIVE.backend.kxKeypair();
    const nonce = random(24);
    const key = random(32);
    sameBytes((b) => b.formats.encryptAsymmetricWith('value ✓', recipient.publicKey, ephemeral, nonce));
    sameBytes((b) => b.formats.encryptRawWithNonce(utf8Encode('text'), key, nonce));
    sameBytes((b) => b.crypto.keyDigest('DATABASE_URL', toHex(key)));
    sameBytes((b) => b.crypto.publicKeyHexFromSeed(key));
    sameBytes((b) => b.crypto.masterKeyId(key));
  });
});

describe('backends: each decrypts what the other encrypts', () => {
  for (const [writer, reader] of [[NATIVE, WASM], [WASM, NATIVE]] as const) {
    const direction = `${writer.name} → ${reader.name}`;

    test(`ph:v1, raw hex/base64, wrapped shares, keyrings (${direction})`, () => {
      const recipient = writer.crypto.kxKeyPair();
      assert.equal(reader.crypto.decryptAsymmetric(writer.crypto.encryptAsymmetric('secret ✓', recipient.publicKey), recipient), 'secret ✓');
      const key = writer.crypto.randomKeyHex();
      assert.equal(reader.crypto.decryptRawHex(writer.crypto.encryptRawHex('raw', key), key), 'raw');
      assert.equal(reader.crypto.decryptRawBase64(writer.crypto.encryptRawBase64('raw64', key), key), 'raw64');

      const secret = random(32);
      const { clientShare, serverShare } = writer.crypto.splitSecret(secret);
      const wrapKey = random(32);
      const wrapped = writer.crypto.wrapShare(serverShare, wrapKey);
      assert.equal(toHex(reader.crypto.reconstructSecret(clientShare, wrapped, wrapKey)), toHex(secret));

      const identity = writer.crypto.generateServiceAccountKeyring();
      const deviceKey = random(32);
      const userKeyring = { ...identity, symmetricKey: random(32) };
      const unwrapped = reader.crypto.unwrapUserKeyring(writer.crypto.wrapUserKeyring(userKeyring, deviceKey), deviceKey);
      assert.equal(reader.crypto.serializeUserKeyring(unwrapped), writer.crypto.serializeUserKeyring(userKeyring));
    });

    test(`tokens and environment grants (${direction})`, () => {
      const kx = writer.crypto.kxKeyPairOfIdentity(writer.crypto.generateServiceAccountKeyring());
      const env = writer.crypto.generateEnvironmentSecrets();
      const grant = { identityKey: env.identityKey, ...writer.crypto.wrapEnvironmentSecrets(env, kx.publicKey) };
      const minted = writer.crypto.mintServiceAccountToken(kx, { grants: [grant] });
      const reconstructed = reader.crypto.reconstructTokenKeyPair(minted.token, minted.wrappedKeyShare);
      assert.equal(toHex(reconstructed.privateKey), toHex(kx.privateKey));
      assert.deepEqual(reader.crypto.verifyEnvironmentGrant(grant, reconstructed), { seedHex: env.seedHex, saltHex: env.saltHex });
      assert.equal(reader.crypto.bearerHash(minted.bearer), minted.bearerHash);
    });

    test(`EnvironmentCipher fields (${direction})`, () => {
      const env = writer.crypto.generateEnvironmentSecrets();
      const writing = writer.crypto.environmentCipher(env.seedHex, env.saltHex);
      const reading = reader.crypto.environmentCipher(env.seedHex, env.saltHex);
      const fields = ['a', '', 'ünï', 'x'.repeat(5000)].map((text) => writing.encryptField(text));
      assert.deepEqual(fields.map((f) => reading.decryptField(f)), ['a', '', 'ünï', 'x'.repeat(5000)]);
      assert.equal(reading.keyDigest('KEY'), writing.keyDigest('KEY'));
    });

    test(`master-key envelopes (${direction})`, async () => {
      const key = random(32);
      const sealed = writer.crypto.masterKeyring({ active: key }).seal('env-keys', 'org:1/env:2/seed', 'seed hex');
      const opened = await reader.crypto.masterKeyring({ active: key }).openText(sealed, 'env-keys', 'org:1/env:2/seed');
      assert.equal(opened, 'seed hex');
    });
  }
});

describe('backends: AEAD nonces', () => {
  test('24 bytes each, never the same twice across refills of the pool, and not changed by later draws', () => {
    for (const { backend } of [NATIVE, WASM]) {
      const first = backend.aeadNonce();
      const firstHex = toHex(first);
      const seen = new Set([firstHex]);
      // 1,000 draws cross the native pool's refill (256 nonces) several times.
      for (let i = 0; i < 1_000; i++) {
        const nonce = backend.aeadNonce();
        assert.equal(nonce.length, 24, backend.name);
        const hex = toHex(nonce);
        assert.ok(!seen.has(hex), `${backend.name} handed out a nonce twice`);
        seen.add(hex);
      }
      assert.equal(toHex(first), firstHex, `${backend.name}: a refill changed a nonce already handed out`);
    }
  });
});

describe('backends: the same typed error for the same bad input', () => {
  test('low-order X25519 public key, invalid Ed25519 point, wrong lengths, failed authentication', () => {
    const own = NATIVE.backend.kxKeypair();
    sameError((b) => b.backend.kxServerSessionKeys(own.publicKey, own.privateKey, new Uint8Array(32)), CryptoFormatError);
    sameError((b) => b.backend.kxClientSessionKeys(own.publicKey, own.privateKey, new Uint8Array(32)), CryptoFormatError);
    sameError((b) => b.backend.ed25519PublicKeyToCurve25519(new Uint8Array(32).fill(0xff)), CryptoFormatError);
    sameError((b) => b.backend.kxSeedKeypair(new Uint8Array(31)), CryptoFormatError);
    sameError((b) => b.backend.aeadEncrypt(new Uint8Array(1), null, new Uint8Array(23), new Uint8Array(32)), CryptoFormatError);
    sameError((b) => b.backend.aeadDecrypt(new Uint8Array(15), null, new Uint8Array(24), new Uint8Array(32)), CryptoFormatError);
    sameError((b) => b.backend.aeadDecrypt(new Uint8Array(16), null, new Uint8Array(24), new Uint8Array(32)), DecryptionError);
    sameError((b) => b.backend.kdfDeriveFromKey(32, 0, 'short', new Uint8Array(32)), CryptoFormatError);
    sameError((b) => b.backend.generichash(8, new Uint8Array(1)), CryptoFormatError);
    sameError((b) => b.backend.generichash(32, new Uint8Array(1), new Uint8Array(65)), CryptoFormatError);
  });

  test('Argon2id parameters out of range', async () => {
    for (const b of [NATIVE, WASM]) {
      await assert.rejects(b.backend.pwhashArgon2id(32, new Uint8Array(1), new Uint8Array(15), 1, 8192), CryptoFormatError);
      await assert.rejects(b.backend.pwhashArgon2id(32, new Uint8Array(1), new Uint8Array(16), 0, 8192), CryptoFormatError);
      await assert.rejects(b.backend.pwhashArgon2id(32, new Uint8Array(1), new Uint8Array(16), 1, 1024), CryptoFormatError);
    }
  });

  test('constant-time equality and memzero behave alike', () => {
    for (const b of [NATIVE, WASM]) {
      const a = random(32);
      assert.equal(b.backend.equalConstantTime(a, a.slice()), true);
      assert.equal(b.backend.equalConstantTime(a, random(32)), false);
      assert.equal(b.backend.equalConstantTime(a, a.subarray(0, 31)), false);
      assert.equal(b.backend.equalConstantTime(new Uint8Array(0), new Uint8Array(0)), true);
      b.backend.memzero(a);
      assert.ok(a.every((byte) => byte === 0));
    }
  });
});
