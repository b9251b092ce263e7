/**
 * Master-key envelope, Coffer's barrier: round trips, binding to purpose and row context (a moved value
 * fails to open), rotation with old keys, unknown key ids, and the single-flight reload hook.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBase64, toBase64, toHex, utf8Encode } from '../../src/crypto/encoding.js';
import {
  CryptoFormatError,
  CryptoInternalError,
  DecryptionError,
  EnvelopeMismatchError,
  MASTER_KEY_PURPOSES,
  UnknownMasterKeyError,
  keyIdOf,
  parseEnvelope,
  type MasterKeySet,
} from '../../src/crypto/index.js';
import { BACKENDS } from './helpers/backends.js';

const SEED_CONTEXT = 'org:o1/env:e1/seed';

/** Replaces part `index` of an envelope. */
function withPart(envelope: string, index: number, value: string): string {
  const parts = envelope.split(':');
  parts[index] = value;
  return parts.join(':');
}

describe('MASTER_KEY_PURPOSES', () => {
  test('every purpose has a distinct 8-character kdf context', () => {
    const contexts = Object.values(MASTER_KEY_PURPOSES);
    assert.ok(contexts.every((context) => /^[\x20-\x7e]{8}$/.test(context)));
    assert.equal(new Set(contexts).size, contexts.length);
    assert.deepEqual(Object.keys(MASTER_KEY_PURPOSES).sort(), ['audit-key', 'env-keys', 'sa-keyring', 'sse-kx']);
  });
});

for (const b of BACKENDS) {
  const c = b.crypto;
  const newKey = () => b.backend.randomBytes(32);

  describe(`master-key envelope (${b.name})`, () => {
    test('key id: 16 hex characters, one-way, as documented (kdf(16, 0, "cfr_kid_", key)[0..8])', () => {
      const key = newKey();
      const id = c.masterKeyId(key);
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.equal(id, toHex(b.backend.kdfDeriveFromKey(16, 0, 'cfr_kid_', key).subarray(0, 8)));
      assert.notEqual(c.masterKeyId(newKey()), id);
      assert.ok(!toHex(key).includes(id));
    });

    test('seal/open round trip; format cfr1:<keyId>:<purpose>:<base64>; fresh nonce each time', async () => {
      const key = newKey();
      const ring = c.masterKeyring({ active: key });
      const sealed = ring.seal('env-keys', SEED_CONTEXT, 'a0a1a2a3');
      assert.match(sealed, /^cfr1:[0-9a-f]{16}:env-keys:[A-Za-z0-9+/]+={0,2}$/);
      assert.equal(keyIdOf(sealed), c.masterKeyId(key));
      assert.equal(ring.activeKeyId, c.masterKeyId(key));
      assert.equal(await ring.openText(sealed, 'env-keys', SEED_CONTEXT), 'a0a1a2a3');
      assert.deepEqual([...ring.openSync(ring.seal('sa-keyring', 'ctx', new Uint8Array([0, 1, 255])), 'sa-keyring', 'ctx')], [0, 1, 255]);
      assert.notEqual(ring.seal('env-keys', SEED_CONTEXT, 'x'), ring.seal('env-keys', SEED_CONTEXT, 'x'));
      assert.equal(await ring.openText(ring.seal('env-keys', SEED_CONTEXT, ''), 'env-keys', SEED_CONTEXT), '');
    });

    test('binding: another context, another purpose, an edited header or body does not open', async () => {
      const other = newKey();
      const ring = c.masterKeyring({ active: newKey(), previous: [other] });
      const sealed = ring.seal('env-keys', SEED_CONTEXT, 'seed');

      // Moved to another row, or to the salt column of the same row.
      await assert.rejects(ring.open(sealed, 'env-keys', 'org:o1/env:e2/seed'), DecryptionError);
      await assert.rejects(ring.open(sealed, 'env-keys', 'org:o1/env:e1/salt'), DecryptionError);
      // Asked for as another purpose.
      await assert.rejects(ring.open(sealed, 'sa-keyring', SEED_CONTEXT), EnvelopeMismatchError);
      await assert.rejects(ring.open(sealed, 'sa-keyring', SEED_CONTEXT), DecryptionError);
      // Header edited to claim another purpose or another (known) key.
      await assert.rejects(ring.open(withPart(sealed, 2, 'sa-keyring'), 'sa-keyring', SEED_CONTEXT), DecryptionError);
      await assert.rejects(ring.open(withPart(sealed, 1, c.masterKeyId(other)), 'env-keys', SEED_CONTEXT), DecryptionError);
      // Body: nonce, ciphertext or tag flipped.
      const blob = fromBase64(sealed.split(':')[3], 'body');
      for (const offset of [0, 23, 24, blob.length - 1]) {
        const tampered = blob.slice();
        tampered[offset]! ^= 1;
        await assert.rejects(ring.open(withPart(sealed, 3, toBase64(tampered)), 'env-keys', SEED_CONTEXT), DecryptionError, `offset ${offset}`);
      }
      // The error names purpose and context, never the plaintext.
      await assert.rejects(ring.open(sealed, 'env-keys', 'org:o1/env:e2/seed'), /org:o1\/env:e2\/seed/);
    });

    test('malformed envelopes and arguments → CryptoFormatError', () => {
      const ring = c.masterKeyring({ active: newKey() });
      const sealed = ring.seal('env-keys', SEED_CONTEXT, 'seed');
      const malformed: unknown[] = [
        '',
        sealed.split(':').slice(0, 3).join(':'),
        `${sealed}:x`,
        withPart(sealed, 0, 'cfr2'),
        withPart(sealed, 1, keyIdOf(sealed).toUpperCase()),
        withPart(sealed, 1, keyIdOf(sealed).slice(1)),
        withPart(sealed, 2, 'session'),
        withPart(sealed, 2, 'constructor'),
        withPart(sealed, 3, toBase64(new Uint8Array(39))),
        withPart(sealed, 3, 'no base64'),
        7,
      ];
      for (const value of malformed) {
        assert.throws(() => ring.openSync(value as string, 'env-keys', SEED_CONTEXT), CryptoFormatError, JSON.stringify(value));
        assert.throws(() => parseEnvelope(value), CryptoFormatError);
      }
      assert.throws(() => ring.seal('env-keys', '', 'x'), CryptoFormatError);
      assert.throws(() => ring.seal('nope' as 'env-keys', SEED_CONTEXT, 'x'), CryptoFormatError);
      assert.throws(() => c.masterKeyring({ active: new Uint8Array(32) }), CryptoFormatError);
      assert.throws(() => c.masterKeyring({ active: new Uint8Array(16).fill(1) }), CryptoFormatError);
    });

    test('rotation: old envelopes open once the old key is kept as previous; rewrap moves them to the new key', async () => {
      const oldKey = newKey();
      const newActive = newKey();
      const before = c.masterKeyring({ active: oldKey });
      const sealed = before.seal('env-keys', SEED_CONTEXT, 'seed hex');

      const after = c.masterKeyring({ active: newActive, previous: [oldKey] });
      assert.deepEqual(after.keyIds, [c.masterKeyId(newActive), c.masterKeyId(oldKey)]);
      assert.equal(after.isUnderActiveKey(sealed), false);
      assert.equal(await after.openText(sealed, 'env-keys', SEED_CONTEXT), 'seed hex');

      const rewrapped = await after.rewrap(sealed, 'env-keys', SEED_CONTEXT);
      assert.equal(keyIdOf(rewrapped), c.masterKeyId(newActive));
      assert.equal(after.isUnderActiveKey(rewrapped), true);
      assert.equal(await after.openText(rewrapped, 'env-keys', SEED_CONTEXT), 'seed hex');
      await assert.rejects(after.rewrap(sealed, 'env-keys', 'org:o1/env:e9/seed'), DecryptionError);

      const newOnly = c.masterKeyring({ active: newActive });
      assert.equal(await newOnly.openText(rewrapped, 'env-keys', SEED_CONTEXT), 'seed hex');
      await assert.rejects(newOnly.open(sealed, 'env-keys', SEED_CONTEXT), UnknownMasterKeyError);
    });

    test('unknown key id: typed error whose message names the key id', async () => {
      const stranger = c.masterKeyring({ active: newKey() });
      const sealed = stranger.seal('env-keys', SEED_CONTEXT, 'x');
      const ring = c.masterKeyring({ active: newKey() });
      const id = keyIdOf(sealed);
      await assert.rejects(ring.open(sealed, 'env-keys', SEED_CONTEXT), (error: unknown) => {
        assert.ok(error instanceof UnknownMasterKeyError);
        assert.equal(error.keyId, id);
        assert.match(error.message, new RegExp(`^master key ${id} is not configured; `));
        assert.ok(error.message.includes(ring.activeKeyId));
        return true;
      });
      assert.throws(() => ring.openSync(sealed, 'env-keys', SEED_CONTEXT), UnknownMasterKeyError);
    });

    test('reload hook: concurrent misses share one call, then every open succeeds under the new key set', async () => {
      const oldKey = newKey();
      const rotated = newKey();
      // Another process rotated the key file and sealed under the new key.
      const sealed = c.masterKeyring({ active: rotated }).seal('env-keys', SEED_CONTEXT, 'fresh');

      let calls = 0;
      const ring = c.masterKeyring(
        { active: oldKey },
        {
          reload: async (): Promise<MasterKeySet> => {
            calls += 1;
            await new Promise((resolve) => setTimeout(resolve, 20));
            return { active: rotated, previous: [oldKey] };
          },
        },
      );
      const results = await Promise.all(Array.from({ length: 25 }, () => ring.openText(sealed, 'env-keys', SEED_CONTEXT)));
      assert.deepEqual(new Set(results), new Set(['fresh']));
      assert.equal(calls, 1);
      assert.equal(ring.activeKeyId, c.masterKeyId(rotated));
      assert.equal(keyIdOf(ring.seal('env-keys', SEED_CONTEXT, 'x')), c.masterKeyId(rotated));

      // A miss right after a reload does not reload again (no reload storm on a truly unknown key).
      const unknown = c.masterKeyring({ active: newKey() }).seal('env-keys', SEED_CONTEXT, 'x');
      await assert.rejects(ring.open(unknown, 'env-keys', SEED_CONTEXT), UnknownMasterKeyError);
      assert.equal(calls, 1);
    });

    test('reload hook that still lacks the key, or that fails, ends in UnknownMasterKeyError', async () => {
      const unknown = c.masterKeyring({ active: newKey() }).seal('env-keys', SEED_CONTEXT, 'x');
      const key = newKey();
      let calls = 0;
      const stillOld = c.masterKeyring({ active: key }, { reload: async () => ((calls += 1), { active: key }), minReloadIntervalMs: 0 });
      await assert.rejects(stillOld.open(unknown, 'env-keys', SEED_CONTEXT), UnknownMasterKeyError);
      await assert.rejects(stillOld.open(unknown, 'env-keys', SEED_CONTEXT), UnknownMasterKeyError);
      assert.equal(calls, 2, 'with minReloadIntervalMs 0 each miss may reload');

      const failing = c.masterKeyring({ active: key }, { reload: () => Promise.reject(new Error('EACCES: key file')) });
      await assert.rejects(failing.open(unknown, 'env-keys', SEED_CONTEXT), (error: unknown) => {
        assert.ok(error instanceof UnknownMasterKeyError);
        assert.match(String((error.cause as Error).message), /EACCES/);
        return true;
      });
      await assert.rejects(c.masterKeyring({ active: key }).reload(), CryptoInternalError);
    });

    test('audit MAC: keyed BLAKE2b-256 under a per-organisation key', () => {
      const key = newKey();
      const mac = c.auditMac(key, 'event 1|prev=00');
      assert.match(mac, /^[0-9a-f]{64}$/);
      assert.equal(c.auditMac(key, utf8Encode('event 1|prev=00')), mac);
      assert.notEqual(c.auditMac(key, 'event 2|prev=00'), mac);
      assert.notEqual(c.auditMac(newKey(), 'event 1|prev=00'), mac);
      assert.equal(mac, toHex(b.backend.generichash(32, utf8Encode('event 1|prev=00'), key)));
    });

    test('purposes use independent subkeys: no purpose subkey equals another or the root key', () => {
      const key = newKey();
      const subkeys = Object.values(MASTER_KEY_PURPOSES).map((context) => toHex(b.backend.kdfDeriveFromKey(32, 1, context, key)));
      assert.equal(new Set([...subkeys, toHex(key)]).size, subkeys.length + 1);
    });

    test('dispose wipes the keys; later use is a typed error', () => {
      const ring = c.masterKeyring({ active: newKey() });
      ring.dispose();
      assert.throws(() => ring.seal('env-keys', SEED_CONTEXT, 'x'), CryptoInternalError);
    });
  });
}
