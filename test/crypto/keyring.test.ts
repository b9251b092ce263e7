/**
 * Keyrings (spec §2.3, §2.4) with TEST_KDF_FAST; the real Phase parameters are covered by the
 * console_user_keyring vector in vectors.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { toHex } from '../../src/crypto/encoding.js';
import { CryptoFormatError, DecryptionError, KeyMismatchError, TEST_KDF_FAST } from '../../src/crypto/index.js';
import { BACKENDS } from './helpers/backends.js';
import { vectors } from './helpers/vectors.js';

for (const b of BACKENDS) {
  const c = b.crypto;

  describe(`keyrings (${b.name})`, () => {
    test('TEST_KDF_FAST is cheap and documented as such', () => {
      assert.ok(TEST_KDF_FAST.opsLimit >= 1 && TEST_KDF_FAST.opsLimit <= 2);
      assert.ok(TEST_KDF_FAST.memLimit <= 8 * 1024 * 1024);
    });

    test('mnemonics: 24 English words with a valid checksum, different every time', () => {
      const a = c.generateMnemonic();
      const words = a.split(' ');
      assert.equal(words.length, 24);
      assert.equal(c.isValidMnemonic(a), true);
      assert.notEqual(c.generateMnemonic(), a);
      assert.equal(c.isValidMnemonic(vectors.console_user_keyring.mnemonic), true);
      assert.equal(c.isValidMnemonic(words.slice(0, 12).join(' ')), false);
      // The last word holds 3 bits of entropy and the 8-bit checksum: flipping a checksum bit keeps
      // the entropy and always breaks the checksum (another word chosen blindly passes 1 time in 256).
      const last = english.indexOf(words[23]!);
      assert.equal(c.isValidMnemonic([...words.slice(0, 23), english[last ^ 1]!].join(' ')), false);
      assert.equal(c.isValidMnemonic([...words.slice(0, 23), 'notaword'].join(' ')), false);
      assert.equal(c.isValidMnemonic(''), false);
    });

    test('account seed: per organisation, tolerant of spacing and case, strict about the phrase', async () => {
      const mnemonic = c.generateMnemonic();
      const seed = toHex(await c.deriveAccountSeed(mnemonic, 'org-a', TEST_KDF_FAST));
      assert.equal(toHex(await c.deriveAccountSeed(`  ${mnemonic.toUpperCase().split(' ').join('  \n')} `, 'org-a', TEST_KDF_FAST)), seed);
      assert.notEqual(toHex(await c.deriveAccountSeed(mnemonic, 'org-b', TEST_KDF_FAST)), seed);
      await assert.rejects(c.deriveAccountSeed(mnemonic.split(' ').slice(1).join(' '), 'org-a', TEST_KDF_FAST), CryptoFormatError);
      await assert.rejects(c.deriveAccountSeed(mnemonic, '', TEST_KDF_FAST), CryptoFormatError);
    });

    test('keyring from mnemonic: deterministic, valid Ed25519 pair, kx pair follows §1.8', async () => {
      const mnemonic = c.generateMnemonic();
      const keyring = await c.keyringFromMnemonic(mnemonic, 'org-a', TEST_KDF_FAST);
      const again = await c.keyringFromMnemonic(mnemonic, 'org-a', TEST_KDF_FAST);
      assert.equal(c.serializeUserKeyring(again), c.serializeUserKeyring(keyring));
      assert.equal(toHex(keyring.privateKey.subarray(32)), toHex(keyring.publicKey));
      const kx = c.kxKeyPairOfIdentity(keyring);
      assert.equal(toHex(c.kxPublicKeyOf(kx.privateKey)), toHex(kx.publicKey));
      assert.deepEqual(Object.keys(JSON.parse(c.serializeUserKeyring(keyring)) as object), ['symmetricKey', 'privateKey', 'publicKey']);
    });

    test('device key wraps the keyring and the recovery phrase; wrong key or tampering is rejected', async () => {
      const mnemonic = c.generateMnemonic();
      const keyring = await c.keyringFromMnemonic(mnemonic, 'org-a', TEST_KDF_FAST);
      const deviceKey = await c.deriveDeviceKey('correct horse', 'dev@coffer.test', TEST_KDF_FAST);
      const wrapped = c.wrapUserKeyring(keyring, deviceKey);
      assert.match(wrapped, /^[0-9a-f]+$/);
      assert.equal(c.serializeUserKeyring(c.unwrapUserKeyring(wrapped, deviceKey)), c.serializeUserKeyring(keyring));
      assert.equal(c.unwrapRecoveryPhrase(c.wrapRecoveryPhrase(mnemonic, deviceKey), deviceKey), mnemonic);

      const otherDevice = await c.deriveDeviceKey('wrong horse', 'dev@coffer.test', TEST_KDF_FAST);
      assert.throws(() => c.unwrapUserKeyring(wrapped, otherDevice), DecryptionError);
      const tampered = wrapped.slice(0, 10) + (wrapped[10] === '0' ? '1' : '0') + wrapped.slice(11);
      assert.throws(() => c.unwrapUserKeyring(tampered, deviceKey), DecryptionError);
    });

    test('device key and password-login hash use different salts for the same password', async () => {
      const device = toHex(await c.deriveDeviceKey('pw', 'a@b.c', TEST_KDF_FAST));
      const login = await c.derivePasswordLoginHash('pw', 'a@b.c', TEST_KDF_FAST);
      assert.match(login, /^[0-9a-f]{64}$/);
      assert.notEqual(login, device);
      assert.equal(await c.derivePasswordLoginHash('pw', 'a@b.c', TEST_KDF_FAST), login);
    });

    test('unwrapping malformed or inconsistent keyring JSON fails with a typed error', () => {
      const deviceKey = b.backend.randomBytes(32);
      const identity = c.generateServiceAccountKeyring();
      const other = c.generateServiceAccountKeyring();
      const json = (value: unknown) => c.encryptRawHex(JSON.stringify(value), deviceKey);
      const sym = c.randomKeyHex();
      assert.throws(() => c.unwrapUserKeyring(c.encryptRawHex('not json {', deviceKey), deviceKey), CryptoFormatError);
      assert.throws(() => c.unwrapUserKeyring(json([1, 2]), deviceKey), CryptoFormatError);
      const privateKey = toHex(identity.privateKey);
      const publicKey = toHex(identity.publicKey);
      assert.throws(() => c.unwrapUserKeyring(json({ privateKey, publicKey }), deviceKey), CryptoFormatError);
      assert.throws(() => c.unwrapUserKeyring(json({ symmetricKey: sym, privateKey: privateKey.slice(2), publicKey }), deviceKey), CryptoFormatError);
      assert.throws(
        () => c.unwrapUserKeyring(json({ symmetricKey: sym, privateKey, publicKey: toHex(other.publicKey) }), deviceKey),
        KeyMismatchError,
      );
    });

    test('service-account keyring (§3.7 A1): random Ed25519 pair, {publicKey, privateKey} JSON', () => {
      const keyring = c.generateServiceAccountKeyring();
      const json = c.serializeIdentityKeyring(keyring);
      assert.deepEqual(Object.keys(JSON.parse(json) as object), ['publicKey', 'privateKey']);
      assert.equal(c.serializeIdentityKeyring(c.parseIdentityKeyring(json)), json);
      // A console-made account keyring carries symmetricKey too; it is accepted and ignored.
      const consoleMade = JSON.stringify({ symmetricKey: c.randomKeyHex(), ...JSON.parse(json) });
      assert.equal(c.serializeIdentityKeyring(c.parseIdentityKeyring(consoleMade)), json);
      assert.notEqual(c.serializeIdentityKeyring(c.generateServiceAccountKeyring()), json);
      const mismatched = JSON.stringify({ publicKey: toHex(c.generateServiceAccountKeyring().publicKey), privateKey: toHex(keyring.privateKey) });
      assert.throws(() => c.parseIdentityKeyring(mismatched), KeyMismatchError);
      assert.throws(() => c.parseIdentityKeyring('{'), CryptoFormatError);
    });

    test('a service-account keyring kept under the master key (purpose sa-keyring)', async () => {
      const master = c.masterKeyring({ active: b.backend.randomBytes(32) });
      const keyring = c.generateServiceAccountKeyring();
      const context = 'org:o1/service-account:s1/keyring';
      const sealed = master.seal('sa-keyring', context, c.serializeIdentityKeyring(keyring));
      const reopened = c.parseIdentityKeyring(await master.openText(sealed, 'sa-keyring', context));
      assert.equal(toHex(reopened.privateKey), toHex(keyring.privateKey));
    });

    test('wipeKeyring zeroes the secret parts', async () => {
      const keyring = await c.keyringFromMnemonic(c.generateMnemonic(), 'org', TEST_KDF_FAST);
      c.wipeKeyring(keyring);
      assert.ok(keyring.privateKey.every((x) => x === 0));
      assert.ok(keyring.symmetricKey.every((x) => x === 0));
    });
  });
}
