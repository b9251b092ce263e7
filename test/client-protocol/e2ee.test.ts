// End-to-end encrypted apps (DESIGN §1 "E2EE", crypto spec §2.5–§2.6): created from keys made on
// the client and wrapped for each recipient, never opened by the server, and switched to SSE later
// with seeds and salts wrapped to the server's key-exchange key (a master-key purpose of its own).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PhaseSession } from '../../src/client/index.js';
import {
  CryptoFormatError,
  ed25519PublicKeyToKx,
  generateEnvironmentSecrets,
  kxKeyPair,
  toHex,
  wrapEnvironmentSecrets,
  wrapForRecipient,
} from '../../src/crypto/index.js';
import { SnapshotCache } from '../../src/domain/secrets/snapshot.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { addMember } from '../helpers/principals.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { addMemberWithToken, createE2eeApp, createServiceAccount } from './helpers.js';

interface RecipientLike {
  type: 'member' | 'service_account';
  id: string;
  identityKey: string;
}

/** A create body as a client builds it: one seed and salt per environment, wrapped for each recipient. */
function createBody(name: string, recipients: RecipientLike[], environments = ['Development', 'Staging'], extra: Record<string, RecipientLike[]> = {}) {
  return {
    name,
    encryption: 'e2ee',
    environments: environments.map((envName) => {
      const secrets = generateEnvironmentSecrets();
      return {
        name: envName,
        identityKey: secrets.identityKey,
        grants: [...recipients, ...(extra[envName] ?? [])].map((r) => {
          const wrapped = wrapEnvironmentSecrets(secrets, ed25519PublicKeyToKx(r.identityKey));
          return { [r.type === 'member' ? 'memberId' : 'serviceAccountId']: r.id, wrappedSeed: wrapped.wrappedSeed, wrappedSalt: wrapped.wrappedSalt };
        }),
      };
    }),
  };
}

for (const target of STORE_TARGETS) {
  describe(`E2EE apps (${target.kind})`, { timeout: 120_000 }, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let ownerRecipient: RecipientLike;

    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      ownerRecipient = { type: 'member', id: owner.memberId, identityKey: toHex(owner.keyring.publicKey) };
    });
    after(() => server.close());

    const countApps = async () => (await server.domain.deps.db.selectFrom('apps').select('id').where('organisation_id', '=', owner.organisationId).execute()).length;

    test('server key: an X25519 key derived from the master key under its own purpose, stable, for token holders only', async () => {
      const res = await api.get('/coffer/v1/server-key/');
      assert.equal(res.status, 200, res.text);
      const ring = server.domain.deps.masterKeyring;
      const pair = ring.kxKeyPair('sse-kx');
      assert.deepEqual(res.body, { publicKey: toHex(pair.publicKey), keyId: ring.activeKeyId });
      assert.deepEqual((await api.get('/coffer/v1/server-key/')).body, res.body);
      assert.equal((await apiClient(server.url, undefined).get('/coffer/v1/server-key/')).status, 401);
      // The purpose seeds a key pair only: it never seals or opens envelopes, and no envelope purpose seeds a key pair.
      assert.throws(() => ring.seal('sse-kx', 'org:x/test', 'plaintext'), CryptoFormatError);
      assert.throws(() => ring.kxKeyPair('env-keys' as 'sse-kx'), CryptoFormatError);
      assert.equal((await api.post('/coffer/v1/server-key/', {})).status, 405);
    });

    test('recipients: the caller and global-access members are required; others may be added', async () => {
      const admin = await addMemberWithToken(server.domain, owner.organisationId, 'Admin');
      const developer = await addMember(server.domain, owner.organisationId, 'Developer');
      const sa = await createServiceAccount(server, owner, null);
      const res = await api.get('/coffer/v1/recipients/');
      assert.equal(res.status, 200, res.text);
      const byId = new Map(res.body.recipients.map((r: any) => [r.id, r]));
      assert.deepEqual(byId.get(owner.memberId), { type: 'member', id: owner.memberId, identityKey: ownerRecipient.identityKey, kxPublicKey: toHex(ed25519PublicKeyToKx(ownerRecipient.identityKey)), required: true });
      assert.equal((byId.get(admin.memberId) as any).required, true);
      assert.equal((byId.get(developer.memberId) as any).required, false);
      assert.deepEqual([(byId.get(sa.serviceAccountId) as any).type, (byId.get(sa.serviceAccountId) as any).required], ['service_account', false]);
      // A Developer may not create apps, so gets no recipient list either.
      const denied = await apiClient(server.url, developer.authorization).get('/coffer/v1/recipients/');
      assert.deepEqual([denied.status, denied.body], [403, { error: "You don't have permission to create apps or to change access." }]);
    });

    test('create: every required recipient gets every environment; bad input changes nothing; the server holds nothing it can open', async () => {
      const recipients = (await api.get('/coffer/v1/recipients/')).body.recipients as Array<RecipientLike & { required: boolean }>;
      const required = recipients.filter((r) => r.required);
      const admin = required.find((r) => r.id !== owner.memberId)!;
      const before = await countApps();
      const valid = createBody('e2ee-app', required);
      const cases: Array<[unknown, number, RegExp]> = [
        [{ ...valid, encryption: undefined }, 400, /^'encryption' must be "e2ee"/],
        [{ ...valid, encryption: 'sse' }, 400, /^'encryption' must be "e2ee"/],
        [{ ...valid, environments: [] }, 400, /^'environments' must be a non-empty list/],
        [createBody('x', [ownerRecipient]), 400, new RegExp(`has no grant for member ${admin.id}`)],
        [createBody('x', required.filter((r) => r.id !== owner.memberId)), 400, new RegExp(`has no grant for member ${owner.memberId}`)],
        [{ ...valid, environments: [{ ...valid.environments[0], identityKey: 'abc' }] }, 400, /'identityKey' of environment 'Development' must be 64 hexadecimal characters/],
        // 64 hex characters, then a usable X25519 key (the environment's Env_pk): wrong length, and
        // points the key exchange refuses (zero, and a point of order 8), are refused before anything is written.
        [{ ...valid, environments: [{ ...valid.environments[0], identityKey: 'ab'.repeat(31) }] }, 400, /'identityKey' of environment 'Development' must be 64 hexadecimal characters/],
        [{ ...valid, environments: [{ ...valid.environments[0], identityKey: 'ab'.repeat(33) }] }, 400, /'identityKey' of environment 'Development' must be 64 hexadecimal characters/],
        [{ ...valid, environments: [{ ...valid.environments[0], identityKey: '00'.repeat(32) }] }, 400, /^'identityKey' of environment 'Development' must be an X25519 public key\.$/],
        [{ ...valid, environments: [{ ...valid.environments[0], identityKey: 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800' }] }, 400, /^'identityKey' of environment 'Development' must be an X25519 public key\.$/],
        [{ ...valid, environments: [valid.environments[0], { ...valid.environments[1], name: 'development' }] }, 400, /Duplicate environment name/],
        [{ ...valid, environments: [valid.environments[0], { ...valid.environments[1], identityKey: valid.environments[0]!.identityKey }] }, 400, /own seed/],
        [{ ...valid, environments: [{ ...valid.environments[0], grants: [...valid.environments[0]!.grants, { memberId: randomUUID(), wrappedSeed: valid.environments[0]!.grants[0]!.wrappedSeed, wrappedSalt: valid.environments[0]!.grants[0]!.wrappedSalt }] }] }, 400, /unknown member/],
        [{ ...valid, environments: [{ ...valid.environments[0], grants: valid.environments[0]!.grants.map((g) => ({ ...g, wrappedSeed: 'seed in clear' })) }] }, 400, /^Invalid ciphertext format$/],
        [{ ...valid, name: '' }, 400, /^Missing required field: name$/],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.post('/coffer/v1/apps/', body);
        assert.equal(res.status, status, res.text);
        assert.match(res.body.error, error);
      }
      assert.equal(await countApps(), before);

      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const developerRecipient = recipients.find((r) => r.id === developer.memberId) ?? { type: 'member' as const, id: developer.memberId, identityKey: (await server.domain.deps.db.selectFrom('members').select('identity_key').where('id', '=', developer.memberId).executeTakeFirstOrThrow()).identity_key };
      const sa = await createServiceAccount(server, owner, null);
      const body = createBody('e2ee-app', [...required, developerRecipient, { type: 'service_account', id: sa.serviceAccountId, identityKey: sa.identityKey }]);
      const created = await api.post('/coffer/v1/apps/', body);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.sseEnabled, false);
      assert.equal(created.body.encryption, 'e2ee');
      assert.deepEqual(created.body.environments.map((e: any) => [e.name, e.envType, e.index, e.identityKey]), [
        ['Development', 'dev', 0, body.environments[0]!.identityKey],
        ['Staging', 'staging', 1, body.environments[1]!.identityKey],
      ]);
      const appId = created.body.id;
      const db = server.domain.deps.db;
      const envIds = created.body.environments.map((e: any) => e.id);
      assert.deepEqual(await db.selectFrom('server_environment_keys').select('environment_id').where('environment_id', 'in', envIds).execute(), []);
      const members = await db.selectFrom('app_members').select(['member_id', 'service_account_id']).where('app_id', '=', appId).execute();
      assert.deepEqual(new Set(members.map((m) => m.member_id ?? m.service_account_id)), new Set([...required.map((r) => r.id), developer.memberId, sa.serviceAccountId]));
      assert.equal(await server.domain.deps.keys.cipherFor(envIds[0]), undefined, 'the server cannot open an E2EE environment');
      const event = await db.selectFrom('events').selectAll().where('app_id', '=', appId).where('action', '=', 'app.create').executeTakeFirstOrThrow();
      assert.equal((event.snapshot as any).encryption, 'e2ee');

      // The REST API refuses the app; the client protocol serves every recipient.
      assert.deepEqual((await api.get(`/v1/apps/${appId}/`)).body, { error: 'SSE is not enabled for this App.' });
      const devEnv = created.body.environments[0].id;
      for (const token of [developer.token, sa.token]) {
        const session = await PhaseSession.open({ host: server.url, token });
        try {
          const app = session.app(appId);
          assert.equal(app.encryption, 'E2E');
          assert.deepEqual(app.environments.map((e) => e.id), envIds);
          const env = session.environment(app, 'development');
          const key = `K_${randomUUID().slice(0, 6).toUpperCase()}`;
          await session.create(env, [{ key, value: `value for ${token.slice(0, 8)}` }]);
          const listed = await session.list(env, { key });
          assert.deepEqual(listed.map((s) => [s.key, s.value]), [[key, `value for ${token.slice(0, 8)}`]]);
        } finally {
          session.close();
        }
      }
      assert.equal((await apiClient(server.url, developer.authorization).get('/service/secrets/', { environment: devEnv })).body.length, 2);
    });

    test('enable SSE: checked against every identity key, one-way, then the REST API serves the app', async () => {
      const app = await createE2eeApp(server, owner.token);
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        const dev = session.environment(app.id, 'Development');
        await session.create(dev, [{ key: 'WRITTEN_E2EE', value: 'by the client', comment: 'kept', tags: ['t'] }]);
        const serverKey = (await api.get('/coffer/v1/server-key/')).body.publicKey as string;
        const good = session.app(app.id).environments.map((env) => ({ id: env.id, wrappedSeed: wrapForRecipient(env.seedHex, serverKey), wrappedSalt: wrapForRecipient(env.saltHex, serverKey) }));
        const url = `/coffer/v1/apps/${app.id}/enable-sse/`;
        const stranger = generateEnvironmentSecrets();
        const otherKey = toHex(kxKeyPair().publicKey);
        const cases: Array<[unknown, number, RegExp]> = [
          [{ environments: good.slice(1) }, 400, /missing: Development/],
          [{ environments: [...good, good[0]] }, 400, /listed twice/],
          [{ environments: [{ ...good[0], wrappedSeed: wrapForRecipient(stranger.seedHex, serverKey) }, ...good.slice(1)] }, 400, /does not yield its identity key/],
          [{ environments: [{ ...good[0], wrappedSalt: wrapForRecipient(stranger.saltHex, otherKey) }, ...good.slice(1)] }, 400, /not wrapped to this server's key/],
          [{ environments: [{ ...good[0], wrappedSeed: wrapForRecipient('not hex', serverKey) }, ...good.slice(1)] }, 400, /must be 64 hexadecimal characters/],
          [{ environments: [{ ...good[0], id: randomUUID() }, ...good.slice(1)] }, 400, /is not an environment of this app/],
          [{}, 400, /'environments' must be a list/],
        ];
        for (const [body, status, error] of cases) {
          const res = await api.post(url, body);
          assert.equal(res.status, status, res.text);
          assert.match(res.body.error, error);
        }
        assert.deepEqual((await api.get(`/v1/apps/${app.id}/`)).body, { error: 'SSE is not enabled for this App.' });

        // Permission and access: a service account (EncryptionMode read only) and a member lacking an environment.
        const sa = await createServiceAccount(server, owner, null);
        const unknown = await apiClient(server.url, sa.authorization).post(url, { environments: good });
        assert.deepEqual([unknown.status, unknown.body], [401, { error: 'Service account cannot access this app' }]);
        const other = await apiClient(server.url, owner.authorization).post(`/coffer/v1/apps/${randomUUID()}/enable-sse/`, { environments: good });
        assert.equal(other.status, 404);

        const revisions = async () => (await server.domain.deps.db.selectFrom('environments').select(['id', 'revision']).where('app_id', '=', app.id).orderBy('index').execute()).map((e) => Number(e.revision));
        const before = await revisions();
        const enabled = await session.enableSse(app.id);
        assert.equal(enabled.sseEnabled, true);
        assert.deepEqual(await revisions(), before.map((r) => r + 1));
        const copies = await server.domain.deps.db.selectFrom('server_environment_keys').select(['environment_id', 'wrapped_seed']).where('environment_id', 'in', app.environments.map((e) => e.id)).execute();
        assert.equal(copies.length, app.environments.length);
        assert.ok(copies.every((c) => c.wrapped_seed.startsWith('cfr1:')), 'server copies are sealed under the master key');
        assert.ok(await server.domain.deps.db.selectFrom('events').select('seq').where('app_id', '=', app.id).where('action', '=', 'app.enable_sse').executeTakeFirst());
        const again = await api.post(url, { environments: good });
        assert.deepEqual([again.status, again.body], [409, { error: 'SSE is already enabled for this App.' }]);

        // The REST API now reads the client's ciphertext and writes what the client reads.
        const rest = `/v1/secrets/?app_id=${app.id}&env=Development`;
        const listed = await api.get(rest);
        assert.equal(listed.status, 200, listed.text);
        assert.deepEqual(listed.body.map((s: any) => [s.key, s.value, s.comment, s.tags]), [['WRITTEN_E2EE', 'by the client', 'kept', ['t']]]);
        assert.equal((await api.post(rest, { secrets: [{ key: 'WRITTEN_REST', value: 'by the server' }] })).status, 200);
        const mixed = await session.list(dev);
        assert.deepEqual(mixed.map((s) => [s.key, s.value]).sort(), [['WRITTEN_E2EE', 'by the client'], ['WRITTEN_REST', 'by the server']]);
        const tokens = (await api.get('/service/secrets/tokens/')).body;
        assert.equal(tokens.apps.find((a: any) => a.id === app.id).encryption, 'SSE');
        // New environments can now be added through the REST API, which wraps their keys itself.
        assert.equal((await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'qa' })).status, 201);
      } finally {
        session.close();
      }
    });

    // Found with two nodes: a node whose snapshot load began as another node enabled SSE looked the
    // key up before the switch and read the rows after it, and cached the new revision without
    // plaintext: 200 [] for that environment until its next write.
    test('a snapshot loaded while SSE is enabled is labelled with the revision whose key it saw', async () => {
      const app = await createE2eeApp(server, owner.token);
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        const dev = session.environment(app.id, 'Development');
        await session.create(dev, [{ key: 'RACED', value: 'seen after the switch' }]);
        const keys = server.domain.deps.keys;
        let enabled = false;
        // The switch commits while the cache is looking the key up: what it finds is from before it.
        const cipherOf = async (environmentId: string) => {
          if (enabled) return keys.cipherFor(environmentId);
          const before = await keys.cipherFor(environmentId);
          enabled = true;
          await session.enableSse(app.id);
          return before;
        };
        const cache = new SnapshotCache(server.domain.deps.db, undefined as never, cipherOf);
        const revision = async () => Number((await server.domain.deps.db.selectFrom('environments').select('revision').where('id', '=', dev.id).executeTakeFirstOrThrow()).revision);
        await cache.get(dev.id, await revision());
        if (!enabled) {
          enabled = true;
          await session.enableSse(app.id);
        }
        const current = await cache.get(dev.id, await revision());
        assert.equal(current?.decrypted, true, 'the snapshot of the SSE revision holds plaintext');
        assert.deepEqual(current.secrets.map((secret) => [secret.key, secret.value]), [['RACED', 'seen after the switch']]);
      } finally {
        session.close();
      }
    });

    test('enable SSE needs the EncryptionMode permission and every environment', async () => {
      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const developerKey = (await server.domain.deps.db.selectFrom('members').select('identity_key').where('id', '=', developer.memberId).executeTakeFirstOrThrow()).identity_key;
      const sa = await createServiceAccount(server, owner, null);
      const recipients = ((await api.get('/coffer/v1/recipients/')).body.recipients as Array<RecipientLike & { required: boolean }>).filter((r) => r.required);
      // The developer and the service account hold Development only.
      const partial = [{ type: 'member' as const, id: developer.memberId, identityKey: developerKey }, { type: 'service_account' as const, id: sa.serviceAccountId, identityKey: sa.identityKey }];
      const body = createBody('partial', recipients, ['Development', 'Staging'], { Development: partial });
      const created = await api.post('/coffer/v1/apps/', body);
      assert.equal(created.status, 201, created.text);
      const envs = created.body.environments.map((e: any) => ({ id: e.id, wrappedSeed: 'x', wrappedSalt: 'x' }));
      const url = `/coffer/v1/apps/${created.body.id}/enable-sse/`;
      const byDeveloper = await apiClient(server.url, developer.authorization).post(url, { environments: envs });
      assert.deepEqual([byDeveloper.status, byDeveloper.body], [403, { error: 'Enabling SSE needs access to every environment of the app.' }]);
      const bySa = await apiClient(server.url, sa.authorization).post(url, { environments: envs });
      assert.deepEqual([bySa.status, bySa.body], [403, { error: "You don't have permission to update the encryption mode of this app." }]);
    });
  });
}
