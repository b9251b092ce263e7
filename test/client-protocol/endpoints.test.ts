// The client protocol on the wire (crypto spec §4): /service/secrets/tokens/ and /service/secrets/
// answered by a real server on every store, checked field by field, with the client behaviours of
// §4.10, Coffer's scoping of ids to the authenticated environment, the read path and the audit trail.
import assert from 'node:assert/strict';
import { readSecretIds } from '../../src/domain/audit-log.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { encryptAsymmetric, parseToken, reconstructTokenKeyPair, verifyEnvironmentGrant } from '../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { addMember, createCustomRole, grantAccess } from '../helpers/principals.js';
import { request, startTestServer, type JsonResponse, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createE2eeApp, createServiceAccount, createSseApp, eventsOf, type AppFixture } from './helpers.js';

const hex64 = () => randomBytes(32).toString('hex');

interface Wire {
  key: string;
  value: string;
  comment: string;
  keyDigest: string;
  path?: string;
  tags?: string[];
  type?: string;
  override?: { value: string; isActive: boolean };
}

for (const target of STORE_TARGETS) {
  describe(`client protocol endpoints (${target.kind})`, { timeout: 120_000 }, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: AppFixture;
    let identityKeys: Map<string, string>;

    /** A raw client-protocol request as an SDK makes it (JSON body, whatever content type is given). */
    const call = (method: string, path: string, options: { authorization?: string | null; environment?: string; headers?: Record<string, string>; body?: unknown; contentType?: string } = {}): Promise<JsonResponse> => {
      const headers: Record<string, string> = { ...options.headers };
      const authorization = options.authorization === undefined ? owner.authorization : options.authorization;
      if (authorization !== null) headers.authorization = authorization;
      if (options.environment) headers.environment = options.environment;
      if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
      return request(server.url + path, { method, headers, ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }) });
    };
    const envId = (fixture: AppFixture, name: string) => fixture.environments.find((e) => e.name === name)!.id;
    /** A well-formed secret for an environment: fields encrypted to its identity key, a random digest. */
    const wire = (environmentId: string, overrides: Partial<Wire> = {}): Wire => {
      const pk = identityKeys.get(environmentId)!;
      return { key: encryptAsymmetric(`K_${randomUUID().slice(0, 8)}`, pk), value: encryptAsymmetric('v', pk), comment: '', keyDigest: hex64(), ...overrides };
    };
    const revisionOf = async (environmentId: string) =>
      Number((await server.domain.deps.db.selectFrom('environments').select('revision').where('id', '=', environmentId).executeTakeFirstOrThrow()).revision);
    const rowsOf = (environmentId: string) => server.domain.deps.db.selectFrom('secrets').selectAll().where('environment_id', '=', environmentId).orderBy('created_at').execute();

    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createSseApp(server, owner);
      const environments = await server.domain.deps.db.selectFrom('environments').select(['id', 'identity_key']).where('organisation_id', '=', owner.organisationId).execute();
      identityKeys = new Map(environments.map((e) => [e.id, e.identity_key]));
    });
    after(() => server.close());

    test('GET /service/secrets/tokens/: snake_case always, every field a string or null, keys that open with the token', async () => {
      const e2ee = await createE2eeApp(server, owner.token);
      const res = await call('GET', '/service/secrets/tokens/', { headers: { 'x-use-camel-case': 'true', accept: 'application/json' } });
      assert.equal(res.status, 200, res.text);
      const body = res.body;
      assert.deepEqual(Object.keys(body).sort(), ['apps', 'offline_enabled', 'organisation', 'user_id', 'wrapped_key_share']);
      assert.match(body.wrapped_key_share, /^[0-9a-f]{208}$/);
      assert.equal(body.user_id, owner.memberId);
      assert.equal(body.offline_enabled, false);
      assert.deepEqual(body.organisation, { id: owner.organisationId, name: 'Acme' });
      const byId = new Map(body.apps.map((a: any) => [a.id, a]));
      const sse: any = byId.get(app.id);
      const e2e: any = byId.get(e2ee.id);
      assert.equal(sse.encryption, 'SSE');
      assert.equal(e2e.encryption, 'E2E');
      assert.deepEqual(sse.environment_keys.map((k: any) => [k.environment.name, k.environment.env_type, k.environment.index]), [['Development', 'dev', 0], ['Staging', 'staging', 1], ['Production', 'prod', 2]]);
      const keyPair = reconstructTokenKeyPair(parseToken(owner.token), body.wrapped_key_share);
      for (const key of [...sse.environment_keys, ...e2e.environment_keys]) {
        assert.deepEqual(Object.keys(key).sort(), ['created_at', 'deleted_at', 'environment', 'id', 'identity_key', 'paths', 'service_account', 'updated_at', 'user', 'wrapped_salt', 'wrapped_seed']);
        for (const [name, value] of Object.entries({ ...key, ...key.environment, environment: null })) {
          if (name === 'index') assert.equal(typeof value, 'number');
          else assert.ok(value === null || typeof value === 'string', `${name} is ${typeof value}`);
        }
        assert.equal(key.user, owner.memberId);
        assert.equal(key.service_account, null);
        assert.equal(key.paths, null);
        assert.match(key.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        assert.equal(key.identity_key, identityKeys.get(key.environment.id) ?? key.identity_key);
        // Each grant opens with the token's key and yields the identity key Go and Python encrypt to.
        verifyEnvironmentGrant({ identityKey: key.identity_key, wrappedSeed: key.wrapped_seed, wrappedSalt: key.wrapped_salt }, keyPair);
      }
      // Unslashed, and a doubled slash from a host configured with a trailing "/".
      for (const path of ['/service/secrets/tokens', '//service/secrets/tokens/']) {
        assert.equal((await call('GET', path)).status, 200, path);
      }
    });

    test('GET /service/secrets/tokens/: 401 without a token, 403 "Token expired or deleted" for any bad one, 405 for writes', async () => {
      const missing = await call('GET', '/service/secrets/tokens/', { authorization: null });
      assert.equal(missing.status, 401);
      for (const authorization of [`Bearer User ${hex64()}`, `Bearer ServiceAccount ${hex64()}`, 'Bearer Foo abc', 'Basic abc', `Bearer pss_user:v1:${hex64()}:${hex64()}:${hex64()}:${hex64()}`]) {
        const res = await call('GET', '/service/secrets/tokens/', { authorization });
        assert.equal(res.status, 403, authorization);
        assert.deepEqual(res.body, { error: 'Token expired or deleted' });
      }
      const post = await call('POST', '/service/secrets/tokens/', { body: {} });
      assert.equal(post.status, 405);
      // The full token string authenticates too (DESIGN §1 "Bearer form").
      assert.equal((await call('GET', '/service/secrets/tokens/', { authorization: `Bearer ${owner.token}` })).status, 200);
    });

    test('revoked tokens and rate limits apply to both endpoints', async () => {
      const sa = await createServiceAccount(server, owner, { appId: app.id, environmentIds: [envId(app, 'Development')] });
      assert.equal((await call('GET', '/service/secrets/tokens/', { authorization: sa.authorization })).status, 200);
      await server.domain.deps.db.updateTable('service_account_tokens').set({ deleted_at: new Date() }).where('service_account_id', '=', sa.serviceAccountId).execute();
      server.domain.deps.invalidateDirectory();
      const revoked = await call('GET', '/service/secrets/tokens/', { authorization: sa.authorization });
      assert.deepEqual([revoked.status, revoked.body], [403, { error: 'Token expired or deleted' }]);
      const revokedRead = await call('GET', '/service/secrets/', { authorization: sa.authorization, environment: envId(app, 'Development') });
      assert.deepEqual([revokedRead.status, revokedRead.body], [401, { error: 'Token expired or deleted' }]);

      const limited = await startTestServer({ store: target.kind, env: { RATE_LIMIT_DEFAULT: '2/minute' } });
      try {
        const someone = await createOwner(limited.domain);
        const at = (path: string, headers: Record<string, string> = {}) => request(limited.url + path, { headers: { authorization: someone.authorization, ...headers } });
        assert.equal((await at('/service/secrets/tokens/')).status, 200);
        assert.equal((await at('/service/secrets/')).status, 403);
        for (const path of ['/service/secrets/tokens/', '/service/secrets/']) {
          const res = await at(path);
          assert.equal(res.status, 429, path);
          assert.ok(Number(res.headers.get('retry-after')) > 0);
        }
      } finally {
        await limited.close();
      }
    });

    test('GET /service/secrets/: environment context, unknown environments, bad tokens', async () => {
      const none = await call('GET', '/service/secrets/');
      assert.equal(none.status, 403);
      assert.match(none.body.error, /^Environment context required\./);
      for (const environment of [randomUUID(), 'not-a-uuid']) {
        const res = await call('GET', '/service/secrets/', { environment });
        assert.equal(res.status, 401);
        assert.deepEqual(res.body, { error: 'Environment not found' });
      }
      // An environment of another organisation is unknown too.
      const stranger = await createOwner(server.domain);
      const theirs = await createSseApp(server, stranger);
      const foreign = await call('GET', '/service/secrets/', { environment: envId(theirs, 'Development') });
      assert.deepEqual([foreign.status, foreign.body], [401, { error: 'Environment not found' }]);
      const bad = await call('GET', '/service/secrets/', { authorization: `Bearer User ${hex64()}`, environment: envId(app, 'Development') });
      assert.deepEqual([bad.status, bad.body], [401, { error: 'Token expired or deleted' }]);
      assert.equal((await call('GET', '/service/secrets/', { authorization: null, environment: envId(app, 'Development') })).status, 401);
      assert.equal((await call('PATCH', '/service/secrets/', { environment: envId(app, 'Development') })).status, 405);
    });

    test('POST: JSON whatever the content type, 200 with an empty body, strings stored verbatim, one event per secret, revision bumped', async () => {
      const dev = envId(app, 'Development');
      const before = await revisionOf(dev);
      // Upper-case hex digest and an unslashed path: the digest is kept exactly, the path normalised.
      const first = wire(dev, { keyDigest: hex64().toUpperCase(), path: 'backend//api/', tags: ['api', ' api ', 'web'], comment: encryptAsymmetric('a comment', identityKeys.get(dev)!), type: 'config' });
      const second = wire(dev);
      const res = await call('POST', '/service/secrets/', { environment: dev, body: { secrets: [first, second] }, contentType: 'application/x-www-form-urlencoded' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, '');
      const after = await revisionOf(dev);
      assert.equal(after, before + 1);
      const stored = await rowsOf(dev);
      const rows = [first, second].map((s) => stored.find((r) => r.key_digest === s.keyDigest)!);
      assert.deepEqual(
        rows.map((r) => [r.key, r.value, r.comment, r.key_digest, r.path, r.type, r.version, r.deleted_at]),
        [first, second].map((s) => [s.key, s.value, s.comment, s.keyDigest, s === first ? '/backend/api' : '/', s.type ?? 'secret', 1, null]),
      );
      const events = (await eventsOf(server, dev)).filter((e) => e.action === 'create' && rows.some((r) => r.id === e.secret_id));
      assert.equal(events.length, 2);
      for (const event of events) {
        const row = rows.find((r) => r.id === event.secret_id)!;
        assert.equal(Number(event.environment_revision), after);
        assert.equal(event.kind, 'secret');
        assert.equal(event.actor_member_id, owner.memberId);
        assert.deepEqual(event.snapshot, { key: row.key, value: row.value, comment: row.comment, keyDigest: row.key_digest, path: row.path, folder: row.folder_id, version: 1, type: row.type, tags: row === rows[0] ? ['api', 'web'] : [] });
      }
      // A text/plain body (the SDK's DELETE) is JSON too.
      const third = wire(dev);
      assert.equal((await call('POST', '/service/secrets', { environment: dev, body: { secrets: [third] }, contentType: 'text/plain;charset=UTF-8' })).status, 200);
    });

    test('GET: ciphertext as stored, snake_case or camelCase, keyDigest/path/tags filters (empty = absent), one read event, never stale', async () => {
      const staging = envId(app, 'Staging');
      const a = wire(staging, { path: '/a', tags: ['x'] });
      const b = wire(staging, { tags: ['y'], comment: encryptAsymmetric('c', identityKeys.get(staging)!) });
      assert.equal((await call('POST', '/service/secrets/', { environment: staging, body: { secrets: [a, b] } })).status, 200);

      const snake = await call('GET', '/service/secrets/', { environment: staging });
      assert.equal(snake.status, 200);
      assert.match(snake.headers.get('content-type') ?? '', /^application\/json/);
      // One batch shares a creation time, so its order among itself is not fixed: compare sorted.
      const sorted = <T extends { key: string }>(list: T[]) => [...list].sort((x, y) => (x.key < y.key ? -1 : 1));
      assert.deepEqual(sorted(snake.body).map((s: any) => [s.key, s.value, s.comment, s.key_digest, s.path, s.tags]), sorted([a, b]).map((s) => [s.key, s.value, s.comment, s.keyDigest, s === a ? '/a' : '/', s.tags]));
      const first = snake.body.find((s: any) => s.key === a.key);
      assert.deepEqual(Object.keys(first).sort(), ['comment', 'created_at', 'environment', 'folder', 'id', 'key', 'key_digest', 'lifecycle', 'override', 'path', 'tags', 'type', 'updated_at', 'value', 'version']);
      assert.deepEqual([first.override, first.lifecycle, first.environment, first.version], [null, 'static', staging, 1]);
      assert.ok(first.folder);
      const camel = await call('GET', '/service/secrets/', { environment: staging, headers: { 'x-use-camel-case': 'true' } });
      assert.deepEqual(Object.keys(camel.body[0]).sort(), ['comment', 'createdAt', 'environment', 'folder', 'id', 'key', 'keyDigest', 'lifecycle', 'override', 'path', 'tags', 'type', 'updatedAt', 'value', 'version']);
      assert.equal(camel.body.find((s: any) => s.key === b.key).keyDigest, b.keyDigest);
      // Only the exact string "true" selects camelCase.
      assert.ok('key_digest' in (await call('GET', '/service/secrets/', { environment: staging, headers: { 'x-use-camel-case': 'True' } })).body[0]);

      const ids = (res: JsonResponse) => res.body.map((s: any) => s.key);
      assert.deepEqual(ids(await call('GET', '/service/secrets/', { environment: staging, headers: { keydigest: b.keyDigest } })), [b.key]);
      assert.deepEqual(ids(await call('GET', '/service/secrets/', { environment: staging, headers: { KeyDigest: '', Path: '' } })).sort(), [a.key, b.key].sort());
      assert.deepEqual(ids(await call('GET', '/service/secrets/', { environment: staging, headers: { path: 'a' } })), [a.key]);
      assert.deepEqual(ids(await call('GET', '/service/secrets/', { environment: staging, headers: { path: '/' } })), [b.key]);
      assert.deepEqual(ids(await call('GET', '/service/secrets/', { environment: staging, headers: { tags: 'y,z' } })), [b.key]);
      assert.deepEqual(ids(await call('GET', '/service/secrets/', { environment: staging, headers: { keydigest: hex64() } })), []);

      const reads = (await eventsOf(server, staging)).filter((e) => e.action === 'read');
      assert.equal(reads.length, 9);
      const last = reads.at(-1)!;
      assert.deepEqual([last.kind, last.secret_ids, last.actor_member_id, Number(last.environment_revision)], ['secret', [], owner.memberId, await revisionOf(staging)]);
      // An unfiltered read names its revision (the trail determines the secrets live there); filtered ones list their ids.
      assert.equal(reads[0]!.secret_ids, null);
      assert.deepEqual(await readSecretIds(server.domain.deps.db, reads[0]!), snake.body.map((s: any) => s.id));

      // A REST write is seen by the next client read, and a client write by the next REST read.
      assert.equal((await api.post(`/v1/secrets/?app_id=${app.id}&env=Staging`, { secrets: [{ key: 'FROM_REST', value: 'r' }] })).status, 200);
      assert.equal((await call('GET', '/service/secrets/', { environment: staging })).body.length, 3);
      const c = wire(staging);
      assert.equal((await call('POST', '/service/secrets/', { environment: staging, body: { secrets: [c] } })).status, 200);
      assert.equal((await call('GET', '/service/secrets/', { environment: staging })).body.length, 4);
    });

    test('write validation: ciphertext format, required fields, duplicates (also within a batch); nothing written on failure', async () => {
      const dev = envId(app, 'Development');
      const existing = wire(dev);
      assert.equal((await call('POST', '/service/secrets/', { environment: dev, body: { secrets: [existing] } })).status, 200);
      const before = await revisionOf(dev);
      const pk = identityKeys.get(dev)!;
      const cases: Array<[unknown, number, string]> = [
        [{ secrets: [wire(dev, { value: 'plaintext' })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [wire(dev, { key: 'ph:v1:abc:def' })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [wire(dev, { comment: 'plain comment' })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [wire(dev, { value: `${encryptAsymmetric('v', pk)}:extra` })] }, 400, 'Invalid ciphertext format'],
        // What libsodium's base64 decoder refuses (the SDK would then fail every read of the environment).
        [{ secrets: [wire(dev, { value: encryptAsymmetric('v', pk).replace(/=+$/, '') })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [wire(dev, { value: encryptAsymmetric('v', pk).replace(/.(=+)$/, 'B$1') })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [wire(dev, { value: `ph:v1:${'a'.repeat(64)}:AAAA` })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [wire(dev, { override: { value: 'plain', isActive: true } })] }, 400, 'Invalid ciphertext format'],
        [{ secrets: [{ ...wire(dev), keyDigest: undefined }] }, 400, 'Missing required field: keyDigest'],
        [{ secrets: [{ ...wire(dev), key: undefined }] }, 400, 'Missing required field: key'],
        [{ secrets: [{ ...wire(dev), comment: undefined }] }, 400, 'Missing required field: comment'],
        [{ secrets: [wire(dev, { keyDigest: 'xyz' })] }, 400, "'keyDigest' must be 64 hexadecimal characters."],
        [{ secrets: [wire(dev, { type: 'dynamic' })] }, 400, "Invalid 'type': 'dynamic'. Must be one of ['config', 'sealed', 'secret']."],
        [{ secrets: {} }, 400, "'secrets' must be a list."],
        [{ secrets: [wire(dev), wire(dev, { keyDigest: existing.keyDigest })] }, 409, 'Duplicate secret found'],
        [(() => { const s = wire(dev); return { secrets: [s, { ...wire(dev), keyDigest: s.keyDigest }] }; })(), 409, 'Duplicate secret found'],
        ['not json', 400, 'Request body must be valid JSON.'],
      ];
      for (const [body, status, error] of cases) {
        const res = await call('POST', '/service/secrets/', { environment: dev, body });
        assert.deepEqual([res.status, res.body], [status, { error }], JSON.stringify(body).slice(0, 120));
      }
      // Same identity in another path is not a duplicate.
      assert.equal((await call('POST', '/service/secrets/', { environment: dev, body: { secrets: [wire(dev, { keyDigest: existing.keyDigest, path: '/other' })] } })).status, 200);
      assert.equal(await revisionOf(dev), before + 1);
    });

    test('PUT: only the fields sent change, tags absent stay, version +1 per entry, key needs keyDigest; DELETE soft-deletes', async () => {
      const prod = envId(app, 'Production');
      const s = wire(prod, { tags: ['keep'], comment: encryptAsymmetric('old comment', identityKeys.get(prod)!) });
      assert.equal((await call('POST', '/service/secrets/', { environment: prod, body: { secrets: [s] } })).status, 200);
      const [row] = (await rowsOf(prod)).filter((r) => r.key_digest === s.keyDigest);
      const newValue = encryptAsymmetric('new', identityKeys.get(prod)!);
      const put = await call('PUT', '/service/secrets/', { environment: prod, body: { secrets: [{ id: row!.id, value: newValue }] }, contentType: 'application/x-www-form-urlencoded' });
      assert.deepEqual([put.status, put.text], [200, '']);
      let listed = (await call('GET', '/service/secrets/', { environment: prod, headers: { keydigest: s.keyDigest } })).body[0];
      assert.deepEqual([listed.value, listed.comment, listed.tags, listed.version, listed.key], [newValue, s.comment, ['keep'], 2, s.key]);

      const renamed = wire(prod);
      const twice = await call('PUT', '/service/secrets/', {
        environment: prod,
        body: { secrets: [{ id: row!.id, key: renamed.key, keyDigest: renamed.keyDigest, tags: [], path: '/moved' }, { id: row!.id, comment: '' }] },
      });
      assert.equal(twice.status, 200, twice.text);
      listed = (await call('GET', '/service/secrets/', { environment: prod, headers: { keydigest: renamed.keyDigest } })).body[0];
      assert.deepEqual([listed.key, listed.comment, listed.tags, listed.path, listed.version], [renamed.key, '', [], '/moved', 4]);
      const updates = (await eventsOf(server, prod)).filter((e) => e.action === 'update' && e.secret_id === row!.id);
      assert.deepEqual(updates.map((e) => (e.snapshot as any).version), [2, 3, 4]);

      const noDigest = await call('PUT', '/service/secrets/', { environment: prod, body: { secrets: [{ id: row!.id, key: renamed.key }] } });
      assert.deepEqual([noDigest.status, noDigest.body], [400, { error: "'keyDigest' is required when 'key' is given." }]);
      const noId = await call('PUT', '/service/secrets/', { environment: prod, body: { secrets: [{ value: newValue }] } });
      assert.deepEqual([noId.status, noId.body], [400, { error: 'Secret ID not provided' }]);

      const del = await call('DELETE', '/service/secrets/', { environment: prod, body: { secrets: [row!.id] }, contentType: 'text/plain;charset=UTF-8' });
      assert.deepEqual([del.status, del.text], [200, '']);
      assert.deepEqual((await call('GET', '/service/secrets/', { environment: prod, headers: { keydigest: renamed.keyDigest } })).body, []);
      const stored = await server.domain.deps.db.selectFrom('secrets').select('deleted_at').where('id', '=', row!.id).executeTakeFirstOrThrow();
      assert.ok(stored.deleted_at instanceof Date, 'a soft delete keeps the row');
      // Deleting again, or an id that matches nothing, is a 200 that changes nothing.
      const revision = await revisionOf(prod);
      assert.equal((await call('DELETE', '/service/secrets/', { environment: prod, body: { secrets: [row!.id, randomUUID(), 'junk'] } })).status, 200);
      const empty = await call('DELETE', '/service/secrets/', { environment: prod, body: { secrets: [] } });
      assert.deepEqual([empty.status, empty.text], [200, ''], 'an empty list matches nothing, as in Phase');
      // POST and PUT of an empty list too: Phase loops over nothing and answers 200 (the Node SDK's
      // create([]) and update([]) never settled on the 400 they got), changing nothing.
      const untouched = await revisionOf(prod);
      for (const method of ['POST', 'PUT'] as const) {
        const none = await call(method, '/service/secrets/', { environment: prod, body: { secrets: [] } });
        assert.deepEqual([none.status, none.text], [200, ''], method);
      }
      assert.equal(await revisionOf(prod), untouched, 'nothing was written');
      assert.equal(await revisionOf(prod), revision);
      for (const body of [{}, { secrets: 'x' }, { secrets: [7] }]) {
        const refused = await call('DELETE', '/service/secrets/', { environment: prod, body });
        assert.deepEqual([refused.status, refused.body], [400, { error: "'secrets' must be a list of secret IDs." }], JSON.stringify(body));
      }
    });

    test('scope: PUT and DELETE with ids of another environment or organisation change nothing', async () => {
      const dev = envId(app, 'Development');
      const staging = envId(app, 'Staging');
      const own = wire(dev);
      const foreign = wire(staging);
      assert.equal((await call('POST', '/service/secrets/', { environment: dev, body: { secrets: [own] } })).status, 200);
      assert.equal((await call('POST', '/service/secrets/', { environment: staging, body: { secrets: [foreign] } })).status, 200);
      const ownRow = (await rowsOf(dev)).find((r) => r.key_digest === own.keyDigest)!;
      const foreignRow = (await rowsOf(staging)).find((r) => r.key_digest === foreign.keyDigest)!;
      const stranger = await createOwner(server.domain);
      const theirApp = await createSseApp(server, stranger);
      const theirs = await apiClient(server.url, stranger.authorization).post(`/v1/secrets/?app_id=${theirApp.id}&env=Development`, { secrets: [{ key: 'THEIRS', value: 'x' }] });
      const theirId = theirs.body[0].id;

      const devRevision = await revisionOf(dev);
      for (const id of [foreignRow.id, theirId]) {
        const put = await call('PUT', '/service/secrets/', { environment: dev, body: { secrets: [{ id: ownRow.id, value: own.value }, { id, value: own.value }] } });
        assert.deepEqual([put.status, put.body], [404, { error: `Secret not found: ${id}` }]);
      }
      const del = await call('DELETE', '/service/secrets/', { environment: dev, body: { secrets: [foreignRow.id, theirId, ownRow.id] } });
      assert.equal(del.status, 200);
      // Only the secret of the authenticated environment went; the batch's PUTs wrote nothing.
      const after = await server.domain.deps.db.selectFrom('secrets').select(['id', 'value', 'version', 'deleted_at']).where('id', 'in', [ownRow.id, foreignRow.id, theirId]).execute();
      const state = new Map(after.map((r) => [r.id, r]));
      assert.ok(state.get(ownRow.id)!.deleted_at);
      assert.equal(state.get(ownRow.id)!.version, 1);
      assert.deepEqual([state.get(foreignRow.id)!.deleted_at, state.get(foreignRow.id)!.version, state.get(foreignRow.id)!.value], [null, 1, foreign.value]);
      assert.deepEqual([state.get(theirId)!.deleted_at, state.get(theirId)!.version], [null, 1]);
      assert.equal(await revisionOf(dev), devRevision + 1);
      const touched = await server.domain.deps.db.selectFrom('events').select('action').where('secret_id', 'in', [foreignRow.id, theirId]).where('action', '!=', 'create').execute();
      assert.deepEqual(touched, []);
    });

    test('principal checks: members 403, service accounts 401, role permissions, and /tokens/ lists only granted environments', async () => {
      const dev = envId(app, 'Development');
      const staging = envId(app, 'Staging');
      const developer = await addMember(server.domain, owner.organisationId, 'Developer');
      const noAccess = await call('GET', '/service/secrets/', { authorization: developer.authorization, environment: dev });
      assert.deepEqual([noAccess.status, noAccess.body], [403, { error: 'User cannot access this environment' }]);

      const readOnly = await createCustomRole(server.domain, owner.organisationId, `ro-${randomUUID().slice(0, 6)}`, { Apps: ['read'] }, { Secrets: ['read'] });
      const reader = await addMember(server.domain, owner.organisationId, { id: readOnly });
      await grantAccess(server.domain, reader, app.id, [dev]);
      assert.equal((await call('GET', '/service/secrets/', { authorization: reader.authorization, environment: dev })).status, 200);
      for (const [method, action] of [['POST', 'create'], ['PUT', 'update'], ['DELETE', 'delete']] as const) {
        const res = await call(method, '/service/secrets/', { authorization: reader.authorization, environment: dev, body: 'not even json' });
        assert.deepEqual([res.status, res.body], [403, { error: `You don't have permission to ${action} secrets in this environment.` }], method);
      }

      const sa = await createServiceAccount(server, owner, { appId: app.id, environmentIds: [dev] });
      const denied = await call('GET', '/service/secrets/', { authorization: sa.authorization, environment: staging });
      assert.deepEqual([denied.status, denied.body], [401, { error: 'Service account cannot access this environment' }]);
      const allowed = await call('GET', '/service/secrets/', { authorization: sa.authorization, environment: dev });
      assert.equal(allowed.status, 200);

      const tokens = await call('GET', '/service/secrets/tokens/', { authorization: sa.authorization });
      assert.equal(tokens.status, 200);
      assert.equal(tokens.body.account_id, sa.serviceAccountId);
      assert.equal('user_id' in tokens.body, false);
      assert.deepEqual(tokens.body.apps.map((a: any) => [a.id, a.environment_keys.map((k: any) => k.environment.id)]), [[app.id, [dev]]]);
      const key = tokens.body.apps[0].environment_keys[0];
      assert.deepEqual([key.user, key.service_account], [null, sa.serviceAccountId]);
      const keyPair = reconstructTokenKeyPair(parseToken(sa.token), tokens.body.wrapped_key_share);
      verifyEnvironmentGrant({ identityKey: key.identity_key, wrappedSeed: key.wrapped_seed, wrappedSalt: key.wrapped_salt }, keyPair);
      // A token without any environment still gets a session, with no keys.
      const bare = await createServiceAccount(server, owner, null);
      const empty = await call('GET', '/service/secrets/tokens/', { authorization: bare.authorization });
      assert.deepEqual([empty.status, empty.body.apps], [200, []]);
    });

    test('personal overrides: stored as client ciphertext for PAT callers only, shown only to their owner', async () => {
      const dev = envId(app, 'Development');
      const pk = identityKeys.get(dev)!;
      const mine = wire(dev, { override: { value: encryptAsymmetric('my override', pk), isActive: true } });
      assert.equal((await call('POST', '/service/secrets/', { environment: dev, body: { secrets: [mine] } })).status, 200);
      const listed = (await call('GET', '/service/secrets/', { environment: dev, headers: { keydigest: mine.keyDigest, 'x-use-camel-case': 'true' } })).body[0];
      assert.deepEqual([listed.override.value, listed.override.isActive], [mine.override!.value, true]);
      assert.deepEqual(Object.keys(listed.override).sort(), ['createdAt', 'id', 'isActive', 'updatedAt', 'value']);
      const snake = (await call('GET', '/service/secrets/', { environment: dev, headers: { keydigest: mine.keyDigest } })).body[0];
      assert.deepEqual(Object.keys(snake.override).sort(), ['created_at', 'id', 'is_active', 'updated_at', 'value']);

      const flipped = encryptAsymmetric('changed', pk);
      assert.equal((await call('PUT', '/service/secrets/', { environment: dev, body: { secrets: [{ id: listed.id, override: { value: flipped, isActive: false } }] } })).status, 200);
      const after = (await call('GET', '/service/secrets/', { environment: dev, headers: { keydigest: mine.keyDigest, 'x-use-camel-case': 'true' } })).body[0];
      assert.deepEqual([after.override.value, after.override.isActive, after.value], [flipped, false, mine.value]);

      const sa = await createServiceAccount(server, owner, { appId: app.id, environmentIds: [dev] });
      const theirs = wire(dev, { override: { value: encryptAsymmetric('sa override', pk), isActive: true } });
      assert.equal((await call('POST', '/service/secrets/', { authorization: sa.authorization, environment: dev, body: { secrets: [theirs] } })).status, 200);
      const seenBySa = (await call('GET', '/service/secrets/', { authorization: sa.authorization, environment: dev })).body;
      assert.ok(seenBySa.every((s: any) => s.override === null), 'service accounts never see overrides');
      const overrides = await server.domain.deps.db.selectFrom('personal_overrides as o').innerJoin('secrets as s', 's.id', 'o.secret_id').select(['s.key_digest', 'o.value']).where('s.environment_id', '=', dev).execute();
      assert.deepEqual(overrides, [{ key_digest: mine.keyDigest, value: flipped }]);
    });
  });
}
