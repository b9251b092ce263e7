// Client input that reached the database unchecked: NUL and unpaired surrogates in client-protocol
// tags and paths and in role colors, control characters and very long input in e-mail addresses,
// identity keys that are hex but no Ed25519 point, unbounded Argon2id parameters, expiries past year
// 9999 once their offset is applied or without an offset, and the environment bound of E2EE app
// creation. Each is a 400 that says what is wrong, with nothing written, on every store.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import sodium from 'sodium-native';
import { encryptAsymmetric, generateEnvironmentSecrets, isEd25519PublicKey, isKdfParams, isX25519PublicKey, KDF_PARAM_LIMITS, toHex } from '../../src/crypto/index.js';
import { parseIsoDateTime } from '../../src/domain/iso-datetime.js';
import { normaliseEmail } from '../../src/domain/organisations.js';
import { PUBLIC_BODY_LIMIT } from '../../src/http/routes/console/define.js';
import { apiClient, type ApiClient } from '../helpers/fixtures.js';
import { request, startTestServer, type JsonResponse, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createAccount, invite, makeMaterial, mintPat, uniqueEmail, type Account, type Material } from './console/accounts.js';

/** 32 bytes that are hex but no point of Ed25519 (libsodium refuses to convert it). */
const NOT_A_POINT = `02${'00'.repeat(31)}`;
const HEX64 = () => randomBytes(32).toString('hex');


const acceptBody = (material: Material, keyring: Record<string, unknown> = {}) => ({
  email: material.email,
  loginHash: material.loginHash,
  keyring: { ...material.keyringBody, ...keyring },
  token: material.pat.body,
});

function assert400(response: JsonResponse, message: string | RegExp, what = ''): void {
  assert.equal(response.status, 400, `${what}: ${response.text.slice(0, 300)}`);
  if (typeof message === 'string') assert.equal(response.body.error, message, what);
  else assert.match(response.body.error, message, what);
}

describe('input bounds without a store', () => {
  it('isEd25519PublicKey: a curve point, not merely 64 hex characters', () => {
    const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES);
    sodium.crypto_sign_keypair(pk, Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES));
    assert.equal(isEd25519PublicKey(toHex(pk)), true);
    assert.equal(isEd25519PublicKey(NOT_A_POINT), false);
    assert.equal(isEd25519PublicKey('00'.repeat(32)), false);
    assert.equal(isEd25519PublicKey('zz'.repeat(32)), false);
    assert.equal(isEd25519PublicKey(undefined), false);
  });

  it("isX25519PublicKey: an environment's Env_pk the key exchange accepts, not merely 64 hex characters", () => {
    assert.equal(isX25519PublicKey(generateEnvironmentSecrets().identityKey), true);
    assert.equal(isX25519PublicKey(generateEnvironmentSecrets().identityKey.toUpperCase()), true);
    // Low-order points: zero, and one of order 8 (libsodium's blocklist).
    assert.equal(isX25519PublicKey('00'.repeat(32)), false);
    assert.equal(isX25519PublicKey('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'), false);
    assert.equal(isX25519PublicKey('ab'.repeat(31)), false);
    assert.equal(isX25519PublicKey('zz'.repeat(32)), false);
    assert.equal(isX25519PublicKey(undefined), false);
  });

  it("KDF_PARAM_LIMITS are within libsodium's crypto_pwhash bounds", () => {
    assert.equal(KDF_PARAM_LIMITS.opsLimitMin, sodium.crypto_pwhash_OPSLIMIT_MIN);
    assert.equal(KDF_PARAM_LIMITS.opsLimitMax, sodium.crypto_pwhash_OPSLIMIT_MAX);
    assert.equal(KDF_PARAM_LIMITS.memLimitMin, sodium.crypto_pwhash_MEMLIMIT_MIN);
    assert.ok(KDF_PARAM_LIMITS.memLimitMax <= sodium.crypto_pwhash_MEMLIMIT_MAX);
    assert.ok(KDF_PARAM_LIMITS.memLimitMax >= sodium.crypto_pwhash_MEMLIMIT_SENSITIVE);
    assert.equal(isKdfParams({ opsLimit: 4, memLimit: 1024 ** 3 }), true);
    for (const bad of [{ opsLimit: 1e300, memLimit: 1e300 }, { opsLimit: 4, memLimit: 8 * 1024 ** 3 }, { opsLimit: 0, memLimit: 8192 }, { opsLimit: 1.5, memLimit: 8192 }, { opsLimit: 1 }, null]) {
      assert.equal(isKdfParams(bad), false, JSON.stringify(bad));
    }
  });

  it('parseIsoDateTime: the instant, offset applied, lies within years 1 to 9999', () => {
    assert.equal(parseIsoDateTime('9999-12-31T23:59:59-23:59'), undefined);
    assert.equal(parseIsoDateTime('0001-01-01T00:00:00+00:01'), undefined);
    assert.equal(parseIsoDateTime('9999-12-31T23:59:59Z')?.instant?.toISOString(), '9999-12-31T23:59:59.000Z');
    assert.equal(parseIsoDateTime('0001-01-01T00:00:00Z')?.instant?.toISOString(), '0001-01-01T00:00:00.000Z');
    assert.equal(parseIsoDateTime('9999-12-31T23:00:00+01:00')?.instant?.toISOString(), '9999-12-31T22:00:00.000Z');
  });

  it('normaliseEmail: no control characters or surrogates, and a long input is neither matched nor echoed whole', () => {
    assert.throws(() => normaliseEmail('a\u0000@example.com'), { message: "'a\u0000@example.com' is not a valid email address." });
    assert.throws(() => normaliseEmail('a\u0007b@example.com'), /is not a valid email address/);
    assert.throws(() => normaliseEmail('\ud800@example.com'), /is not a valid email address/);
    const long = `${'a'.repeat(2_000_000)}@x.com`;
    assert.throws(() => normaliseEmail(long), { message: `'${'a'.repeat(64)}…' is not a valid email address.` });
    assert.equal(normaliseEmail(' Bob@Example.com '), 'bob@example.com');
  });
});

for (const target of STORE_TARGETS) {
  describe(`input validation on ${target.kind}`, { timeout: 120_000 }, () => {
    let server: TestServer;
    let owner: Account;
    let api: ApiClient;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createAccount(server.domain, { orgName: 'Acme' });
      api = apiClient(server.url, owner.pat.authorization);
    });
    after(() => server.close());

    it('client protocol: NUL and unpaired surrogates in tags and path are 400s with the REST messages, nothing written', async () => {
      const created = await api.post('/v1/apps/', { name: `app-${randomUUID().slice(0, 8)}` });
      assert.equal(created.status, 201, created.text);
      const env = created.body.environments[0].id as string;
      const row = await server.domain.deps.db.selectFrom('environments').select('identity_key').where('id', '=', env).executeTakeFirstOrThrow();
      const wire = (extra: Record<string, unknown> = {}) => ({ key: encryptAsymmetric('K', row.identity_key), value: encryptAsymmetric('v', row.identity_key), comment: '', keyDigest: HEX64(), ...extra });
      const call = (method: string, body: unknown) =>
        request(`${server.url}/service/secrets/`, { method, headers: { authorization: owner.pat.authorization, environment: env }, json: body });
      const stored = await call('POST', { secrets: [wire()] });
      assert.equal(stored.status, 200, stored.text);
      const id = (await server.domain.deps.db.selectFrom('secrets').select('id').where('environment_id', '=', env).executeTakeFirstOrThrow()).id;
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ tags: ['a\u0000b'] }, 'Tag names cannot contain NUL (0x00) characters.'],
        [{ tags: ['ok', '\ud800'] }, "'tags' must not contain unpaired surrogates."],
        [{ path: '/\ud800x' }, "'path' must not contain unpaired surrogates."],
        [{ path: '/a\u0000b' }, 'Folder names cannot contain NUL (0x00) characters.'],
      ];
      const before = await server.domain.deps.db.selectFrom('secrets').selectAll().where('environment_id', '=', env).execute();
      for (const [extra, message] of cases) {
        assert400(await call('POST', { secrets: [wire(), wire(extra)] }), message, `POST ${JSON.stringify(extra)}`);
        assert400(await call('PUT', { secrets: [{ id, ...extra }] }), message, `PUT ${JSON.stringify(extra)}`);
      }
      assert.deepEqual(await server.domain.deps.db.selectFrom('secrets').selectAll().where('environment_id', '=', env).execute(), before);
    });

    it('login: NUL, controls and unpaired surrogates in the e-mail are 400s; a long address is not echoed', async () => {
      const login = (email: string) => request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email, loginHash: 'ab'.repeat(32) } });
      assert400(await login('a\u0000@example.com'), "'a\u0000@example.com' is not a valid email address.");
      assert400(await login('a\u001f@example.com'), "'a\u001f@example.com' is not a valid email address.");
      assert400(await login('\ud800@example.com'), /^'.+' is not a valid email address\.$/);
      // As long as an anonymous body may be (PUBLIC_BODY_LIMIT); invites below take a longer one.
      const long = await login(`${'a'.repeat(PUBLIC_BODY_LIMIT - 1024)}@x.com`);
      assert400(long, `'${'a'.repeat(64)}…' is not a valid email address.`);
      assert.ok(long.text.length < 200, `answer of ${long.text.length} characters`);
      const invited = await api.post('/v1/members/invites/', { email: `${'b'.repeat(500_000)}@x.com`, role_id: (await api.get('/v1/roles/')).body.data.find((r: any) => r.name === 'Developer').id });
      assert400(invited, `'${'b'.repeat(64)}…' is not a valid email address.`);
    });

    it("an identity key that is no Ed25519 point is a 400 on invite acceptance and organisation creation; nothing written, the invite stays valid", async () => {
      const email = uniqueEmail('pt');
      const token = await invite(server.store.db, owner.organisationId, email);
      const material = await makeMaterial(owner.organisationId, email);
      // Counted in this organisation and for this address only: other suites write to a shared PostgreSQL database at the same time.
      const members = async () => (await server.domain.deps.db.selectFrom('members').select('id').where('organisation_id', '=', owner.organisationId).execute()).length;
      const users = async () => (await server.domain.deps.db.selectFrom('users').select('id').where('email', '=', email).execute()).length;
      const [membersBefore, usersBefore] = [await members(), await users()];
      const accept = (body: unknown) => request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: body });
      assert400(await accept(acceptBody(material, { identityKey: NOT_A_POINT })), "'identityKey' must be an Ed25519 public key.");
      const kdfMessage = /^'kdfParams' must be \{opsLimit, memLimit\} integers: opsLimit 1 to 4294967295, memLimit 8192 to 4294967296 bytes\.$/;
      assert400(await accept(acceptBody(material, { kdfParams: { opsLimit: 1e300, memLimit: 1e300 } })), kdfMessage);
      assert400(await accept(acceptBody(material, { kdfParams: { opsLimit: 2, memLimit: 5 * 1024 ** 3 } })), kdfMessage);
      assert.equal(await members(), membersBefore);
      assert.equal(await users(), usersBefore);
      assert.equal((await request(`${server.url}/coffer/v1/invites/${token}/`)).status, 200, 'the invite is still valid');
      const accepted = await accept(acceptBody(material));
      assert.equal(accepted.status, 201, accepted.text);

      const second = await makeMaterial(randomUUID(), owner.email);
      const org = (keyring: Record<string, unknown>) => api.post('/coffer/v1/organisations/', { organisation: { id: second.organisationId, name: 'Second' }, keyring: { ...second.keyringBody, ...keyring }, token: second.pat.body });
      assert400(await org({ identityKey: NOT_A_POINT }), "'identityKey' must be an Ed25519 public key.");
      assert400(await org({ kdfParams: { opsLimit: 1e300, memLimit: 1e300 } }), kdfMessage);
      assert.equal(await server.domain.deps.db.selectFrom('organisations').select('id').where('id', '=', second.organisationId).executeTakeFirst(), undefined);
    });

    it('expiries: past year 9999 once the offset is applied, or without an offset, are 400s', async () => {
      const roles = (await api.get('/v1/roles/')).body.data;
      const account = await api.post('/v1/service-accounts/', { name: `sa-${randomUUID().slice(0, 8)}`, role_id: roles.find((r: any) => r.name === 'Service').id });
      assert.equal(account.status, 201, account.text);
      for (const at of ['9999-12-31T23:59:59-23:59', '9999-12-31T23:00:00-01:00']) {
        assert400(await api.post(`/v1/service-accounts/${account.body.id}/tokens/`, { name: 'x', expires_at: at }), "'expires_at' is not a valid ISO-8601 datetime.", at);
      }
      const ok = await api.post(`/v1/service-accounts/${account.body.id}/tokens/`, { name: 'x', expires_at: '9999-12-31T23:00:00+01:00' });
      assert.equal(ok.status, 201, ok.text);

      const pat = (expiresAt: string) => api.post('/coffer/v1/tokens/', { ...mintPat(owner.keyring, 'x', expiresAt).body, loginHash: owner.loginHash });
      assert400(await pat('9999-12-31T23:59:59-23:59'), "'expiresAt' must be an ISO-8601 date-time such as 2030-01-31T12:00:00Z, or null.");
      assert400(await pat('2030-01-01T00:00'), "'expiresAt' must include a timezone offset (e.g. 'Z' or '+00:00').");
      assert400(await pat('2030-01-01'), "'expiresAt' must include a timezone offset (e.g. 'Z' or '+00:00').");
      const later = await pat('2030-01-01T00:00:00+02:00');
      assert.equal(later.status, 201, later.text);
      assert.equal(new Date(later.body.expiresAt).toISOString(), '2029-12-31T22:00:00.000Z');

      const second = await makeMaterial(randomUUID(), owner.email);
      const { expiresAt: _none, ...tokenBody } = second.pat.body;
      const org = await api.post('/coffer/v1/organisations/', { organisation: { id: second.organisationId, name: 'Third' }, keyring: second.keyringBody, token: { ...tokenBody, expiresAt: '9999-12-31T23:59:59-23:59' } });
      assert400(org, "'expiresAt' must be an ISO-8601 date-time such as 2030-01-31T12:00:00Z, or null.");
    });

    it('role color: control characters and unpaired surrogates are 400s on create and update', async () => {
      const created = await api.post('/v1/roles/', { name: `r-${randomUUID().slice(0, 8)}`, color: '#00ff00', permissions: { permissions: null, app_permissions: null } });
      assert.equal(created.status, 201, created.text);
      const count = async () => (await server.domain.deps.db.selectFrom('roles').select('id').where('organisation_id', '=', owner.organisationId).execute()).length;
      const rolesBefore = await count();
      for (const [color, message] of [
        ['#\u0000', "'color' must not contain control characters."],
        ['\u001b[31m', "'color' must not contain control characters."],
        ['#\ud800', "'color' must not contain unpaired surrogates."],
      ] as const) {
        assert400(await api.post('/v1/roles/', { name: `r-${randomUUID().slice(0, 8)}`, color, permissions: { permissions: null, app_permissions: null } }), message, `POST ${JSON.stringify(color)}`);
        assert400(await api.put(`/v1/roles/${created.body.id}/`, { color }), message, `PUT ${JSON.stringify(color)}`);
      }
      assert.equal(await count(), rolesBefore);
      assert.equal((await api.get(`/v1/roles/${created.body.id}/`)).body.color, '#00ff00');
    });

    it('E2EE app creation: at most 100 environments, as POST /v1/apps/', async () => {
      const envs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: i === 0 ? 'bad name!' : `e${i}`, identityKey: HEX64(), grants: [] }));
      const create = (n: number) => api.post('/coffer/v1/apps/', { name: `e2ee-${randomUUID().slice(0, 8)}`, encryption: 'e2ee', environments: envs(n) });
      assert400(await create(101), 'At most 100 environments can be created with an app (got 101).');
      // 65 environments pass the count check: the first one's name is what is wrong.
      assert400(await create(65), /^Environment name is invalid\./);
    });
  });
}
