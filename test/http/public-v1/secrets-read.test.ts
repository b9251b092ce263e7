// GET /v1/secrets/ (rest-api §4.2) and the secret semantics of §5 that reads show (paths, folders,
// keyDigest, comments, overrides), plus the read events of §5.9 / DESIGN §5.6, on every store.
import assert from 'node:assert/strict';
import { readSecretIds } from '../../../src/domain/audit-log.js';
import { after, before, describe, it } from 'node:test';
import { keyDigest } from '../../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { addMember, createCustomRole, grantAccess } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, environmentRow, listSecrets, postSecrets, secretEvents, secretsUrl, TIMESTAMP, type CreatedApp } from '../../helpers/world.js';

const LEASE = 'lease_ttl must be a valid integer (seconds)';

for (const target of STORE_TARGETS) {
  describe(`GET /v1/secrets/ (rest-api §4.2, §5) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    let s: Record<string, any>;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Read');
      const created = await postSecrets(api, app.id, 'development', [
        { key: 'ROOT_A', value: 'a' },
        { key: 'ROOT_B', value: 'b', tags: ['x', 'y'] },
        { key: 'DUP', value: 'root dup' },
        { key: 'NESTED', value: 'n', path: '/backend', tags: ['y'] },
        { key: 'DUP', value: 'backend dup', path: '/backend', tags: ['Y'] },
        { key: 'DEEP', value: 'd', path: '/backend/db', tags: ['x'] },
        { key: 'straße', value: 'street' },
      ]);
      s = { rootA: created[0], rootB: created[1], dupRoot: created[2], nested: created[3], dupBackend: created[4], deep: created[5], street: created[6] };
    });
    after(() => server.close());

    const keys = async (extra: string) => (await listSecrets(api, app.id, 'development', extra)).map((x) => `${x.path}:${x.key}`).sort();

    it('answers a bare array ordered by createdAt then id', async () => {
      const res = await api.get(secretsUrl(app.id, 'development'));
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body));
      assert.equal(res.body.length, 7);
      const sorted = [...res.body].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
      assert.deepEqual(res.body, sorted);
      assert.deepEqual(await listSecrets(api, app.id, 'production'), []);
    });

    it('path filter: normalised, exact (no sub-folders); "/" is the root; empty means all', async () => {
      assert.deepEqual(await keys('&path=/backend'), ['/backend:DUP', '/backend:NESTED']);
      assert.deepEqual(await keys('&path=backend/'), ['/backend:DUP', '/backend:NESTED']);
      assert.deepEqual(await keys('&path=//backend//db//'), ['/backend/db:DEEP']);
      assert.deepEqual(await keys('&path=/'), ['/:DUP', '/:ROOT_A', '/:ROOT_B', '/:STRASSE']);
      assert.deepEqual(await keys('&path=/Backend'), []);
      assert.equal((await keys('&path=')).length, 7);
    });

    it('key filter: case-insensitive through the digest of the upper-cased key, at every path', async () => {
      assert.deepEqual(await keys('&key=dup'), ['/:DUP', '/backend:DUP']);
      assert.deepEqual(await keys('&key=Dup&path=/backend'), ['/backend:DUP']);
      assert.deepEqual(await keys('&key=STRAßE'), ['/:STRASSE']);
      assert.deepEqual(await keys(`&key=${encodeURIComponent('strasse')}`), ['/:STRASSE']);
      assert.deepEqual(await keys('&key=missing'), []);
      assert.deepEqual(await keys('&key=%20dup'), []);
      assert.equal((await keys('&key=')).length, 7);
    });

    it('tags filter: comma-separated, any tag, exact and case-sensitive, each secret once (D-6)', async () => {
      assert.deepEqual(await keys('&tags=y'), ['/:ROOT_B', '/backend:NESTED']);
      assert.deepEqual(await keys('&tags=x,y'), ['/:ROOT_B', '/backend/db:DEEP', '/backend:NESTED']);
      assert.deepEqual(await keys('&tags=y,x,y'), ['/:ROOT_B', '/backend/db:DEEP', '/backend:NESTED']);
      assert.deepEqual(await keys('&tags=Y'), ['/backend:DUP']);
      assert.deepEqual(await keys('&tags=nope'), []);
      assert.deepEqual(await keys('&tags=nope,x'), ['/:ROOT_B', '/backend/db:DEEP']);
      assert.deepEqual(await keys('&tags=%20x'), []);
      assert.deepEqual(await keys('&tags=,'), []);
      assert.equal((await keys('&tags=')).length, 7);
      // filters combine with AND
      assert.deepEqual(await keys('&tags=x,Y&path=/backend'), ['/backend:DUP']);
      assert.deepEqual(await keys('&tags=y&key=nested&path=/backend'), ['/backend:NESTED']);
      assert.deepEqual(await keys('&tags=x&key=nested'), []);
    });

    it('validates lease_ttl only when dynamic secrets are asked for; never appends any', async () => {
      for (const query of ['&dynamic=true&lease_ttl=abc', '&dynamic&lease_ttl=1.5', '&dynamic=&lease_ttl=%20', '&dynamic=1&lease=true&lease_ttl=10s', '&include_dynamic=yes&lease_ttl=x', '&includeDynamic&leaseTtl=x', '&dynamic=true&lease_ttl=0x10']) {
        assertError(await api.get(secretsUrl(app.id, 'development', query)), 400, LEASE);
      }
      for (const query of ['&dynamic=false&lease_ttl=abc', '&dynamic=False&lease_ttl=abc', '&dynamic=FALSE&include_dynamic=false&lease_ttl=x', '&lease_ttl=abc', '&dynamic=true&lease_ttl=', '&dynamic&lease_ttl=%20-42%20', '&dynamic&lease=1&lease_ttl=%2B7', '&dynamic=true&lease=true&lease_ttl=3600']) {
        const res = await api.get(secretsUrl(app.id, 'development', query));
        assert.equal(res.status, 200, `${query}: ${res.text}`);
        assert.equal(res.body.length, 7);
      }
      // the role permission is checked first
      const roleId = await createCustomRole(server.domain, owner.organisationId, 'No secrets', { Apps: ['read'] }, {});
      const member = await addMember(server.domain, owner.organisationId, { id: roleId });
      await grantAccess(server.domain, member, app.id, [app.env.development!.id]);
      assertError(await apiClient(server.url, member.authorization).get(secretsUrl(app.id, 'development', '&dynamic&lease_ttl=x')), 403, "You don't have permission to read secrets in this environment.");
    });

    it('shows §5 attributes: static lifecycle, keyDigest under the environment salt, 6-digit UTC timestamps', async () => {
      const listed = await listSecrets(api, app.id, 'development');
      const salt = (await server.domain.deps.keys.secretsOf(app.env.development!.id))!.saltHex;
      for (const secret of listed) {
        assert.equal(secret.lifecycle, 'static');
        assert.equal(secret.keyDigest, keyDigest(secret.key, salt));
        assert.match(secret.createdAt, TIMESTAMP);
        assert.match(secret.updatedAt, TIMESTAMP);
      }
      assert.equal(s.dupRoot.keyDigest, s.dupBackend.keyDigest);
      const [staged] = await postSecrets(api, app.id, 'staging', [{ key: 'DUP', value: 'x' }]);
      assert.notEqual(staged.keyDigest, s.dupRoot.keyDigest);
      assert.equal(staged.keyDigest, keyDigest('DUP', (await server.domain.deps.keys.secretsOf(app.env.staging!.id))!.saltHex));
      // the digest ignores value, path and comment changes
      const [moved] = (await api.put(secretsUrl(app.id, 'staging'), { secrets: [{ id: staged.id, value: 'y', path: '/z', comment: 'c' }] })).body;
      assert.equal(moved.keyDigest, staged.keyDigest);
    });

    it('normalises paths (§5.3) and gives every folder a stable id', async () => {
      const table: Array<[string, string]> = [
        ['/', '/'],
        ['', '/'],
        ['//', '/'],
        ['backend', '/backend'],
        ['/backend/', '/backend'],
        ['//a///b/', '/a/b'],
        ['a/b/', '/a/b'],
        [' x ', '/ x '],
        ['/A/./b/../c', '/A/./b/../c'],
      ];
      const created = await postSecrets(api, app.id, 'production', table.map(([path], i) => ({ key: `PATH_${i}`, value: 'v', path })));
      assert.deepEqual(created.map((c) => c.path), table.map(([, stored]) => stored));
      const byPath = new Map<string, string | null>();
      for (const secret of created) {
        if (byPath.has(secret.path)) assert.equal(secret.folder, byPath.get(secret.path), `same folder for ${secret.path}`);
        byPath.set(secret.path, secret.folder);
      }
      assert.equal(byPath.get('/'), null);
      assert.equal(new Set([...byPath.values()].filter(Boolean)).size, byPath.size - 1);
      // the folder chain exists in the store: /A/./b/../c -> c (parent ..) -> .. -> b -> . -> A
      const folders = await server.domain.deps.db.selectFrom('folders').select(['id', 'parent_id', 'name', 'path']).where('environment_id', '=', app.env.production!.id).execute();
      const byId = new Map(folders.map((f) => [f.id, f]));
      const chain: string[] = [];
      for (let id: string | null = byPath.get('/A/./b/../c')!; id; id = byId.get(id)!.parent_id) chain.unshift(`${byId.get(id)!.path}|${byId.get(id)!.name}`);
      assert.deepEqual(chain, ['/|A', '/A|.', '/A/.|b', '/A/./b|..', '/A/./b/..|c']);
      // a parent folder of /a/b is the folder of /a
      const [inA] = await postSecrets(api, app.id, 'production', [{ key: 'IN_A', value: 'v', path: '/a' }]);
      assert.equal(byId.get(byPath.get('/a/b')!)!.parent_id, inA.folder);
      // moving the last secret out leaves the folder; coming back reuses its id
      const only = created[7];
      assert.equal(only.path, '/ x ');
      const [out] = (await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: only.id, path: '/' }] })).body;
      assert.equal(out.folder, null);
      const [back] = (await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: only.id, path: ' x /' }] })).body;
      assert.equal(back.folder, only.folder);
    });

    it('keeps comments verbatim', async () => {
      const comments = ['  spaced\n\ttabs  ', '<b>not sanitised</b>', 'ünïcödé 😀', ''];
      const created = await postSecrets(api, app.id, 'production', comments.map((comment, i) => ({ key: `COMMENT_${i}`, value: 'v', comment })));
      assert.deepEqual(created.map((c) => c.comment), comments);
      const listed = await listSecrets(api, app.id, 'production', '&key=comment_0');
      assert.equal(listed[0].comment, comments[0]);
      const [replaced] = (await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: created[0].id, comment: ' new ' }] })).body;
      assert.equal(replaced.comment, ' new ');
    });

    it('records one read event per GET naming the environment, its revision and the ids returned', async () => {
      const env = app.env.development!.id;
      const revision = (await environmentRow(server.domain, env))!.revision;
      const before = (await secretEvents(server.domain, owner.organisationId, env)).length;
      const all = await listSecrets(api, app.id, 'development');
      const filtered = await listSecrets(api, app.id, 'development', '&path=/backend');
      const none = await listSecrets(api, app.id, 'development', '&key=missing');
      assertError(await api.get(secretsUrl(app.id, 'development', '&dynamic&lease_ttl=x')), 400, LEASE);
      await server.domain.deps.audit.sync();
      const events = (await secretEvents(server.domain, owner.organisationId, env)).slice(before);
      assert.deepEqual(
        events.map((e) => ({ action: e.action, environment: e.environment_id, app: e.app_id, revision: e.environment_revision, secret: e.secret_id, member: e.actor_member_id })),
        [all, filtered, none].map(() => ({ action: 'read', environment: env, app: app.id, revision, secret: null, member: owner.memberId })),
      );
      // Filtered reads list their ids; the unfiltered one names the revision, whose secrets the trail determines.
      assert.deepEqual(events.map((e) => e.secret_ids), [null, filtered.map((x) => x.id), []]);
      const returned = await Promise.all(events.map((e) => readSecretIds(server.domain.deps.db, e)));
      assert.deepEqual(returned, [all, filtered, none].map((list) => list.map((x) => x.id)));
    });

    it('shows the PAT caller\'s own override, active or not, with the shared value in `value`', async () => {
      const [secret] = await postSecrets(api, app.id, 'staging', [{ key: 'MINE', value: 'shared', override: { value: 'private', isActive: false } }]);
      const [listed] = await listSecrets(api, app.id, 'staging', '&key=mine');
      assert.deepEqual([listed.value, listed.override.value, listed.override.isActive, listed.override.id], ['shared', 'private', false, secret.override.id]);
    });
  });
}
