/**
 * Every vector of spec/crypto-vectors.json (crypto spec §10), on both backends. Where the vectors give
 * the labels their random inputs were derived from, the ciphertexts are reproduced byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toHex, utf8Encode } from '../../src/crypto/encoding.js';
import { DecryptionError, PHASE_KDF_MODERATE, PHASE_KDF_SENSITIVE } from '../../src/crypto/index.js';
import { BACKENDS, hex, labelBytes, type BackendUnderTest } from './helpers/backends.js';
import { vectors } from './helpers/vectors.js';

const v = vectors;

/** ph:v1 with the ephemeral seed and nonce derived from the vector labels coffer-vec/eph/N, coffer-vec/nonce/N. */
function deterministicPhV1(b: BackendUnderTest, text: string, recipientPublicKeyHex: string, n: number): string {
  const ephemeral = b.formats.kxKeyPairFromSeed(labelBytes(b.backend, 32, `coffer-vec/eph/${n}`));
  return b.formats.encryptAsymmetricWith(text, recipientPublicKeyHex, ephemeral, labelBytes(b.backend, 24, `coffer-vec/nonce/${n}`));
}

for (const b of BACKENDS) {
  const c = b.crypto;

  describe(`crypto vectors (${b.name})`, () => {
    test('env_keypair_from_seed and server_keypair (§1.6)', () => {
      for (const vector of v.env_keypair_from_seed) {
        const pair = c.kxKeyPairFromSeed(vector.seed);
        assert.equal(toHex(pair.publicKey), vector.public_key);
        assert.equal(toHex(pair.privateKey), vector.private_key);
        assert.equal(c.publicKeyHexFromSeed(hex(vector.seed)), vector.public_key);
      }
      const server = c.kxKeyPairFromSeed(v.server_keypair.SERVER_SECRET);
      assert.equal(toHex(server.publicKey), v.server_keypair.public_key);
      assert.equal(toHex(server.privateKey), v.server_keypair.private_key);
    });

    test('upper-case hex input gives the same key pair', () => {
      const vector = v.env_keypair_from_seed[0]!;
      assert.equal(c.publicKeyHexFromSeed(vector.seed.toUpperCase()), vector.public_key);
    });

    test('key_digests (§1.7), including case sensitivity', () => {
      for (const vector of v.key_digests) assert.equal(c.keyDigest(vector.input, vector.salt), vector.digest);
    });

    test('symmetric_raw (§1.3): nonce after the tag, hex and base64 forms', () => {
      const s = v.symmetric_raw;
      assert.equal(toHex(labelBytes(b.backend, 32, s.key_label)), s.key);
      assert.equal(toHex(labelBytes(b.backend, 24, s.nonce_label)), s.nonce);
      const blob = b.formats.encryptRawWithNonce(utf8Encode(s.plaintext_utf8), s.key, hex(s.nonce));
      assert.equal(toHex(blob), s.ciphertext_and_nonce_hex);
      assert.equal(Buffer.from(blob).toString('base64'), s.ciphertext_and_nonce_base64);
      assert.equal(c.decryptRawHex(s.ciphertext_and_nonce_hex, s.key), s.plaintext_utf8);
      assert.equal(c.decryptRawBase64(s.ciphertext_and_nonce_base64, s.key), s.plaintext_utf8);
      assert.equal(c.decryptRawHex(s.ciphertext_and_nonce_hex.toUpperCase(), s.key.toUpperCase()), s.plaintext_utf8);
    });

    test('kx_session_keys (§1.4) in both roles', () => {
      const k = v.kx_session_keys;
      const client = c.kxKeyPairFromSeed(k.client_seed);
      const server = c.kxKeyPairFromSeed(k.server_seed);
      assert.equal(toHex(client.publicKey), k.client_public_key);
      assert.equal(toHex(client.privateKey), k.client_private_key);
      assert.equal(toHex(server.publicKey), k.server_public_key);
      assert.equal(toHex(server.privateKey), k.server_private_key);
      const cs = b.backend.kxClientSessionKeys(client.publicKey, client.privateKey, server.publicKey);
      const ss = b.backend.kxServerSessionKeys(server.publicKey, server.privateKey, client.publicKey);
      assert.equal(toHex(cs.rx), k.client_rx);
      assert.equal(toHex(cs.tx), k.client_tx);
      assert.equal(toHex(ss.rx), k.server_rx);
      assert.equal(toHex(ss.tx), k.server_tx);
    });

    test('asymmetric_deterministic (§1.5): byte-identical ph:v1 and decryption', () => {
      const a = v.asymmetric_deterministic;
      assert.equal(toHex(labelBytes(b.backend, 32, a.ephemeral_seed_label)), a.ephemeral_seed);
      assert.equal(toHex(labelBytes(b.backend, 24, a.nonce_label)), a.nonce);
      const ephemeral = c.kxKeyPairFromSeed(a.ephemeral_seed);
      assert.equal(toHex(ephemeral.publicKey), a.ephemeral_public_key);
      assert.equal(toHex(ephemeral.privateKey), a.ephemeral_private_key);
      const session = b.backend.kxClientSessionKeys(ephemeral.publicKey, ephemeral.privateKey, hex(a.recipient_public_key));
      assert.equal(toHex(session.rx), a.client_rx);
      assert.equal(toHex(session.tx), a.client_tx_encryption_key);
      const ciphertext = b.formats.encryptAsymmetricWith(a.plaintext, a.recipient_public_key, ephemeral, hex(a.nonce));
      assert.equal(ciphertext, a.ciphertext);
      assert.equal(
        toHex(Buffer.from(ciphertext.split(':')[3]!, 'base64')),
        a.ciphertext_and_nonce_hex,
      );
      const recipient = { publicKey: a.recipient_public_key, privateKey: a.recipient_private_key };
      assert.equal(c.decryptAsymmetric(a.ciphertext, recipient), a.plaintext);
    });

    test('asymmetric_sdk_produced decrypts; asymmetric_negative fails with DecryptionError', () => {
      const p = v.asymmetric_sdk_produced;
      assert.equal(c.decryptAsymmetric(p.ciphertext, { publicKey: p.recipient_public_key, privateKey: p.recipient_private_key }), p.plaintext);
      const n = v.asymmetric_negative;
      assert.throws(
        () => c.decryptAsymmetric(n.ciphertext, { publicKey: n.recipient_public_key, privateKey: n.recipient_private_key }),
        DecryptionError,
      );
    });

    test('server_environment_key: hex strings encrypted as text, reproduced from labels', () => {
      const s = v.server_environment_key;
      const server = { publicKey: v.server_keypair.public_key, privateKey: v.server_keypair.private_key };
      const opened = c.unwrapEnvironmentSecrets({ wrappedSeed: s.wrapped_seed, wrappedSalt: s.wrapped_salt }, server);
      assert.deepEqual(opened, { seedHex: v.inputs.env_seed, saltHex: v.inputs.env_salt, identityKey: s.identity_key });
      assert.equal(deterministicPhV1(b, v.inputs.env_seed, v.server_keypair.public_key, 2), s.wrapped_seed);
      assert.equal(deterministicPhV1(b, v.inputs.env_salt, v.server_keypair.public_key, 3), s.wrapped_salt);
      c.verifyEnvironmentGrant({ identityKey: s.identity_key, wrappedSeed: s.wrapped_seed, wrappedSalt: s.wrapped_salt }, server);
    });

    test('ed25519_to_kx (§1.8) and the server-wrapped service-account keyring JSON', () => {
      const e = v.ed25519_to_kx;
      assert.equal(toHex(labelBytes(b.backend, 32, e.ed25519_seed_label)), e.ed25519_seed);
      const identity = b.backend.signSeedKeypair(hex(e.ed25519_seed));
      assert.equal(toHex(identity.publicKey), e.ed25519_public_key);
      assert.equal(toHex(identity.privateKey), e.ed25519_private_key);
      const kx = c.kxKeyPairOfIdentity(identity);
      assert.equal(toHex(kx.publicKey), e.kx_public_key);
      assert.equal(toHex(kx.privateKey), e.kx_private_key);
      assert.equal(toHex(c.ed25519PublicKeyToKx(e.ed25519_public_key)), e.kx_public_key);
      assert.equal(c.serializeIdentityKeyring(identity), e.server_wrapped_keyring_plaintext);
      const parsed = c.parseIdentityKeyring(e.server_wrapped_keyring_plaintext);
      assert.equal(toHex(parsed.privateKey), e.ed25519_private_key);
    });

    test('service_account_token (§1.9, §3.4): split, wrap, token string, bearer hash, reconstruction', () => {
      const t = v.service_account_token;
      assert.equal(toHex(labelBytes(b.backend, 32, t.labels.bearer)), t.bearer_token);
      assert.equal(toHex(labelBytes(b.backend, 32, t.labels.wrap_key)), t.wrap_key);
      assert.equal(toHex(labelBytes(b.backend, 32, t.labels.share_a)), t.client_share);
      assert.equal(toHex(labelBytes(b.backend, 24, t.labels.wrap_nonce)), t.wrap_nonce);

      const serverShare = hex(t.kx_private_key).map((byte, i) => byte ^ hex(t.client_share)[i]!);
      assert.equal(toHex(serverShare), t.server_share);
      const wrapped = b.formats.encryptRawWithNonce(utf8Encode(t.server_share), t.wrap_key, hex(t.wrap_nonce));
      assert.equal(toHex(wrapped), t.wrapped_key_share);
      assert.equal(t.wrapped_key_share.length, 208);

      assert.equal(`pss_service:v2:${t.bearer_token}:${t.kx_public_key}:${t.client_share}:${t.wrap_key}`, t.token);
      assert.equal(toHex(c.reconstructSecret(t.client_share, t.wrapped_key_share, t.wrap_key)), t.reconstructed_private_key);

      const parsed = c.parseToken(t.token);
      assert.equal(parsed.authType, 'ServiceAccount');
      assert.equal(parsed.bearer, t.bearer_token);
      assert.equal(c.authorizationHeaderOf(parsed), t.authorization_header);
      assert.equal(c.bearerHash(t.bearer_token), t.bearer_sha256_hex_suggested_storage);
      assert.equal(c.bearerMatchesHash(t.bearer_token, t.bearer_sha256_hex_suggested_storage), true);

      const pair = c.reconstructTokenKeyPair(t.token, t.wrapped_key_share);
      assert.equal(toHex(pair.publicKey), t.kx_public_key);
      assert.equal(toHex(pair.privateKey), t.kx_private_key);
    });

    test('tokens_endpoint_response: environment keys open with the token key pair, reproduced from labels', () => {
      const r = v.tokens_endpoint_response;
      assert.equal(r.wrapped_key_share, v.service_account_token.wrapped_key_share);
      const kx = c.reconstructTokenKeyPair(v.service_account_token.token, r.wrapped_key_share);
      const key = r.apps[0]!.environment_keys[0]!;
      const grant = { identityKey: key.identity_key, wrappedSeed: key.wrapped_seed, wrappedSalt: key.wrapped_salt };
      assert.deepEqual(c.verifyEnvironmentGrant(grant, kx), { seedHex: v.inputs.env_seed, saltHex: v.inputs.env_salt });
      assert.equal(deterministicPhV1(b, v.inputs.env_seed, v.service_account_token.kx_public_key, 4), key.wrapped_seed);
      assert.equal(deterministicPhV1(b, v.inputs.env_salt, v.service_account_token.kx_public_key, 5), key.wrapped_salt);
    });

    test('secrets endpoint responses decrypt to secrets_plaintext, digests match, reproduced from labels', () => {
      const cipher = c.environmentCipher(v.inputs.env_seed, v.inputs.env_salt);
      assert.equal(cipher.publicKeyHex, v.env_keypair_from_seed[0]!.public_key);
      let label = 6;
      for (const [i, plain] of v.secrets_plaintext.entries()) {
        for (const response of [v.secrets_endpoint_response_camel[i]!, v.secrets_endpoint_response_snake[i]!]) {
          assert.equal(cipher.decryptField(response.key), plain.key);
          assert.equal(cipher.decryptField(response.value), plain.value);
          assert.equal(cipher.decryptOptionalField(response.comment), plain.comment);
        }
        const camel = v.secrets_endpoint_response_camel[i]!;
        assert.equal(cipher.keyDigest(plain.key), camel.keyDigest);
        assert.equal(v.secrets_endpoint_response_snake[i]!.key_digest, camel.keyDigest);
        assert.equal(deterministicPhV1(b, plain.key, cipher.publicKeyHex, label++), camel.key);
        assert.equal(deterministicPhV1(b, plain.value, cipher.publicKeyHex, label++), camel.value);
        if (plain.comment !== '') assert.equal(deterministicPhV1(b, plain.comment, cipher.publicKeyHex, label++), camel.comment);
      }
      assert.equal(label, 13);
      cipher.dispose();
    });
  });
}

/**
 * The console key ceremony with Phase's real Argon2id parameters (SENSITIVE: 1 GiB; MODERATE: 256 MiB).
 * Slow by nature; run once per backend, both at once (the native one runs on the libuv pool while the
 * WASM one holds the main thread).
 */
describe('console_user_keyring vector with real Phase Argon2id parameters', { concurrency: true }, () => {
  const k = v.console_user_keyring;
  for (const b of BACKENDS) {
    test(`account seed, kdf subkeys, Ed25519, X25519, device key, wrapped keyring (${b.name})`, async () => {
      const c = b.crypto;
      assert.deepEqual(PHASE_KDF_SENSITIVE, { opsLimit: k.argon2id.opslimit, memLimit: k.argon2id.memlimit_bytes });
      assert.deepEqual(PHASE_KDF_MODERATE, { opsLimit: k.device_key.opslimit, memLimit: k.device_key.memlimit_bytes });
      assert.equal(toHex(b.backend.generichash(16, utf8Encode(k.org_id))), k.argon2id.salt_hex);
      assert.equal(toHex(b.backend.generichash(16, utf8Encode(k.device_key.email))), k.device_key.argon2_salt_hex);
      assert.equal(k.mnemonic.split(' ').join('-'), k.argon2id.input);
      assert.equal(c.isValidMnemonic(k.mnemonic), true);

      const seed = await c.deriveAccountSeed(k.mnemonic, k.org_id);
      assert.equal(toHex(seed), k.argon2id.output_account_seed);
      const keyring = c.keyringFromAccountSeed(seed);
      assert.equal(toHex(keyring.symmetricKey), k.kdf.symmetric_key.value);
      assert.equal(toHex(keyring.privateKey.subarray(0, 32)), k.kdf.signing_seed.value);
      assert.equal(toHex(keyring.publicKey), k.ed25519_public_key_identity_key);
      assert.equal(toHex(keyring.privateKey), k.ed25519_private_key);
      const kx = c.kxKeyPairOfIdentity(keyring);
      assert.equal(toHex(kx.publicKey), k.kx_public_key);
      assert.equal(toHex(kx.privateKey), k.kx_private_key);

      const deviceKey = await c.deriveDeviceKey(k.device_key.password, k.device_key.email);
      assert.equal(toHex(deviceKey), k.device_key.key);

      assert.equal(c.serializeUserKeyring(keyring), k.wrapped_keyring.plaintext_json);
      assert.equal(toHex(labelBytes(b.backend, 24, k.wrapped_keyring.nonce_label)), k.wrapped_keyring.nonce);
      const wrapped = b.formats.encryptRawWithNonce(utf8Encode(k.wrapped_keyring.plaintext_json), deviceKey, hex(k.wrapped_keyring.nonce));
      assert.equal(toHex(wrapped), k.wrapped_keyring.hex);
      const unwrapped = c.unwrapUserKeyring(k.wrapped_keyring.hex, deviceKey);
      assert.equal(c.serializeUserKeyring(unwrapped), k.wrapped_keyring.plaintext_json);
    });
  }
});
