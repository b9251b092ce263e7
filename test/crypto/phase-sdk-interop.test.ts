/**
 * Interoperability with the official Node SDK, both ways, through its own public code path
 * (new Phase(token, host) → init() → get() / create()) against an in-test HTTP server:
 * (a) what Coffer encrypts and mints (EnvironmentCipher fields, server-minted SA token, PAT, wrapped
 *     environment keys) is read by the SDK;
 * (b) what the SDK encrypts on create() is read by Coffer, with the same key digest.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { TEST_KDF_FAST, type CofferCrypto, type EnvironmentCipher, type KeyPair, type MintedToken } from '../../src/crypto/index.js';
import { BACKENDS, NATIVE } from './helpers/backends.js';
import {
  startMockPhaseServer,
  type MockApp,
  type MockEnvironment,
  type MockPhaseServer,
  type MockSecret,
} from './helpers/phase-mock-server.js';

// The SDK is a CommonJS bundle whose module.exports is the Phase class.
const require = createRequire(import.meta.url);
const Phase = require('@phase.dev/phase-node') as typeof import('@phase.dev/phase-node').default;

interface PlainSecret {
  key: string;
  value: string;
  comment: string;
  path?: string;
  tags?: string[];
}

interface TestEnvironment {
  env: MockEnvironment;
  cipher: EnvironmentCipher;
}

/** An SSE environment granted to `kx`: random seed and salt wrapped to the principal (spec §3.7 step B). */
function grantEnvironment(c: CofferCrypto, kx: KeyPair, name: string, index: number): TestEnvironment {
  const secrets = c.generateEnvironmentSecrets();
  const { wrappedSeed, wrappedSalt } = c.wrapEnvironmentSecrets(secrets, kx.publicKey);
  const envType = (['dev', 'staging', 'prod'] as const)[index] ?? 'custom';
  return {
    env: { id: randomUUID(), name, envType, index, identityKey: secrets.identityKey, wrappedSeed, wrappedSalt },
    cipher: c.environmentCipher(secrets.seedHex, secrets.saltHex),
  };
}

/** Secret rows as the server would store them when written through its own plaintext API (SSE). */
function encryptRows(cipher: EnvironmentCipher, plain: readonly PlainSecret[]): MockSecret[] {
  return plain.map((secret) => ({
    id: randomUUID(),
    key: cipher.encryptField(secret.key),
    value: cipher.encryptField(secret.value),
    comment: secret.comment === '' ? '' : cipher.encryptField(secret.comment),
    keyDigest: cipher.keyDigest(secret.key.toUpperCase()),
    path: secret.path ?? '/',
    tags: secret.tags ?? [],
    version: 1,
  }));
}

const DEV_SECRETS: PlainSecret[] = [
  { key: 'DATABASE_URL', value: 'postgres://coffer:hunter2@db:5432/app', comment: 'primary db', tags: ['backend'] },
  { key: 'API_KEY', value: 'sk_test_123', comment: '' },
  { key: 'UNICODE', value: 'grüße · 秘密 · 🔑', comment: 'ünïcödé comment' },
  { key: 'DSN_COPY', value: '${DATABASE_URL}', comment: '' },
];

const PROD_SECRETS: PlainSecret[] = [{ key: 'API_KEY', value: 'sk_live_456', comment: 'live' }];

function byKey<T extends { key: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => a.key.localeCompare(b.key));
}

for (const b of BACKENDS) {
  const c = b.crypto;

  describe(`Phase Node SDK reads what Coffer writes (${b.name})`, () => {
    test('server-minted service-account token (pss_service:v2), shared-ephemeral fields, wrapped env seeds', async (t) => {
      // Step A (A1): a server-managed keyring; its kx keys follow from §1.8.
      const keyring = c.generateServiceAccountKeyring();
      const kx = c.kxKeyPairOfIdentity(keyring);
      const dev = grantEnvironment(c, kx, 'Development', 0);
      const prod = grantEnvironment(c, kx, 'Production', 2);
      const grants = [dev.env, prod.env].map(({ identityKey, wrappedSeed, wrappedSalt }) => ({ identityKey, wrappedSeed, wrappedSalt }));
      const minted = c.mintServiceAccountToken(kx, { grants });
      assert.match(minted.token, /^pss_service:v2:/);

      const app: MockApp = { id: randomUUID(), name: 'example-app', environments: [dev.env, prod.env] };
      const server = await startMockPhaseServer({
        principal: { authType: 'ServiceAccount', id: randomUUID(), bearerHash: minted.bearerHash, wrappedKeyShare: minted.wrappedKeyShare },
        apps: [app],
        secrets: new Map([
          [dev.env.id, encryptRows(dev.cipher, DEV_SECRETS)],
          [prod.env.id, encryptRows(prod.cipher, PROD_SECRETS)],
        ]),
      });
      t.after(() => server.close());

      // Every field of one environment written by this cipher shares one ephemeral key (DESIGN §5.4).
      const ephemeralKeys = new Set(server.secrets.get(dev.env.id)!.map((row) => row.value.split(':')[2]));
      assert.equal(ephemeralKeys.size, 1);

      const phase = new Phase(minted.token, server.host);
      await phase.init();
      assert.equal(phase.tokenType, 'ServiceAccount');
      assert.deepEqual(phase.keypair.publicKey, minted.identityKey);

      const devSecrets = await phase.get({ appId: app.id, envName: 'development' });
      const expected = DEV_SECRETS.map((s) => ({
        key: s.key,
        value: s.key === 'DSN_COPY' ? DEV_SECRETS[0]!.value : s.value,
        comment: s.comment,
      }));
      assert.deepEqual(
        byKey(devSecrets.map(({ key, value, comment }) => ({ key, value, comment }))),
        byKey(expected),
      );

      const single = await phase.get({ appId: app.id, envName: 'Development', key: 'api_key' });
      assert.deepEqual(single.map((s) => s.value), ['sk_test_123']);

      const prodSecrets = await phase.get({ appId: app.id, envName: 'Production' });
      assert.deepEqual(prodSecrets.map((s) => [s.key, s.value, s.comment]), [['API_KEY', 'sk_live_456', 'live']]);

      const authHeaders = server.requests.map((r) => r.headers.authorization);
      assert.ok(authHeaders.every((h) => h === `Bearer ServiceAccount ${minted.bearer}`));
    });

    test('personal access token (pss_user:v1) minted from a user keyring', async (t) => {
      const mnemonic = c.generateMnemonic();
      const keyring = await c.keyringFromMnemonic(mnemonic, randomUUID(), TEST_KDF_FAST);
      const kx = c.kxKeyPairOfIdentity(keyring);
      const dev = grantEnvironment(c, kx, 'Development', 0);
      const minted: MintedToken = c.mintUserToken(kx, { grants: [dev.env] });
      assert.match(minted.token, /^pss_user:v1:/);

      const app: MockApp = { id: randomUUID(), name: 'pat-app', environments: [dev.env] };
      const server = await startMockPhaseServer({
        principal: { authType: 'User', id: randomUUID(), bearerHash: minted.bearerHash, wrappedKeyShare: minted.wrappedKeyShare },
        apps: [app],
        secrets: new Map([[dev.env.id, encryptRows(dev.cipher, PROD_SECRETS)]]),
      });
      t.after(() => server.close());

      const phase = new Phase(minted.token, server.host);
      await phase.init();
      assert.equal(phase.tokenType, 'User');
      const secrets = await phase.get({ appId: app.id, envName: 'Development' });
      assert.deepEqual(secrets.map((s) => [s.key, s.value, s.comment]), [['API_KEY', 'sk_live_456', 'live']]);
    });
  });
}

describe('Coffer reads what the Phase Node SDK writes (create())', () => {
  const c = NATIVE.crypto;
  let server: MockPhaseServer;
  let phase: InstanceType<typeof Phase>;
  let dev: TestEnvironment;
  let app: MockApp;

  before(async () => {
    const kx = c.kxKeyPairOfIdentity(c.generateServiceAccountKeyring());
    dev = grantEnvironment(c, kx, 'Development', 0);
    const minted = c.mintServiceAccountToken(kx, { grants: [dev.env] });
    app = { id: randomUUID(), name: 'sdk-writes', environments: [dev.env] };
    server = await startMockPhaseServer({
      principal: { authType: 'ServiceAccount', id: randomUUID(), bearerHash: minted.bearerHash, wrappedKeyShare: minted.wrappedKeyShare },
      apps: [app],
    });
    phase = new Phase(minted.token, server.host);
    await phase.init();
  });

  after(() => server.close());

  test('decrypts the SDK ciphertexts and matches its key digests; the SDK reads them back', async () => {
    await phase.create({
      appId: app.id,
      envName: 'Development',
      secrets: [
        { key: 'STRIPE_KEY', value: 'sk_live_789', comment: 'payments', tags: ['billing'] },
        { key: 'EMPTY_COMMENT', value: 'x', comment: '' },
        { key: 'lower_case', value: 'written by create()', comment: '' },
      ],
    });

    const post = server.requests.find((r) => r.method === 'POST')!;
    // Recorded so the HTTP layer knows what it must accept (spec §4.1).
    assert.match(String(post.headers['content-type']), /application\/x-www-form-urlencoded/);
    type SentSecret = { key: string; value: string; comment: string; keyDigest: string };
    const body = JSON.parse(post.body) as { secrets: SentSecret[] };
    const decrypted = body.secrets.map((s) => {
      const key = dev.cipher.decryptField(s.key);
      return {
        key,
        value: dev.cipher.decryptField(s.value),
        comment: dev.cipher.decryptOptionalField(s.comment),
        digestMatches: s.keyDigest === dev.cipher.keyDigest(key),
        digestOfTypedKey: s.keyDigest,
      };
    });
    assert.deepEqual(
      decrypted.map(({ key, value, comment }) => ({ key, value, comment })),
      [
        { key: 'STRIPE_KEY', value: 'sk_live_789', comment: 'payments' },
        { key: 'EMPTY_COMMENT', value: 'x', comment: '' },
        // The SDK encrypts the key upper-cased but digests it as typed (spec §7).
        { key: 'LOWER_CASE', value: 'written by create()', comment: '' },
      ],
    );
    assert.equal(decrypted[0]!.digestMatches, true);
    assert.equal(decrypted[1]!.digestMatches, true);
    assert.equal(decrypted[2]!.digestMatches, false);
    assert.equal(decrypted[2]!.digestOfTypedKey, dev.cipher.keyDigest('lower_case'));
    // The SDK always sends a comment, an encrypted "" when empty (spec §4.6).
    assert.match(body.secrets[1]!.comment, /^ph:v1:/);

    const readBack = await phase.get({ appId: app.id, envName: 'Development', key: 'STRIPE_KEY' });
    assert.deepEqual(readBack.map((s) => [s.key, s.value]), [['STRIPE_KEY', 'sk_live_789']]);
  });
});
