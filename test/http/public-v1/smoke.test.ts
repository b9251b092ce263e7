// End-to-end smoke of the public API on both stores: an app, its environments, secrets written,
// read back, updated and deleted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';

for (const target of STORE_TARGETS) {
  describe(`public API smoke on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(() => server.close());

    it('creates an app, writes, reads, updates and deletes secrets', async () => {
      const created = await api.post('/v1/apps/', { name: 'Shop', description: 'web shop' });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.environments.map((e: any) => [e.name, e.envType, e.index]), [
        ['Development', 'dev', 0],
        ['Staging', 'staging', 1],
        ['Production', 'prod', 2],
      ]);
      const appId = created.body.id;
      const q = `?app_id=${appId}&env=development`;
      const posted = await api.post(`/v1/secrets/${q}`, {
        secrets: [
          { key: 'db_user', value: 'admin', comment: 'the user', tags: ['db'] },
          { key: 'DB_URL', value: 'postgres://${DB_USER}@${staging.DB_HOST}/app', path: '/backend' },
        ],
      });
      assert.equal(posted.status, 200, posted.text);
      assert.equal(posted.body[0].key, 'DB_USER');
      assert.equal(posted.body[0].version, 1);
      assert.match(posted.body[0].keyDigest, /^[0-9a-f]{64}$/);
      const staged = await api.post(`/v1/secrets/?app_id=${appId}&env=Staging`, { secrets: [{ key: 'DB_HOST', value: 'db.stg' }] });
      assert.equal(staged.status, 200, staged.text);

      const listed = await api.get(`/v1/secrets/${q}`);
      assert.equal(listed.status, 200, listed.text);
      const url = listed.body.find((s: any) => s.key === 'DB_URL');
      assert.equal(url.value, 'postgres://admin@db.stg/app');
      assert.equal(url.path, '/backend');
      assert.ok(url.folder);

      const byKey = await api.get(`/v1/secrets/${q}&key=db_user`);
      assert.equal(byKey.body.length, 1);
      assert.equal(byKey.body[0].comment, 'the user');

      const updated = await api.put(`/v1/secrets/${q}`, { secrets: [{ id: byKey.body[0].id, value: 'root' }] });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body[0].version, 2);
      assert.equal(updated.body[0].value, 'root');
      const reread = await api.get(`/v1/secrets/${q}&key=DB_USER`);
      assert.equal(reread.body[0].value, 'root');

      const deleted = await api.delete(`/v1/secrets/${q}`, { secrets: [byKey.body[0].id] });
      assert.deepEqual(deleted.body, { message: 'Deleted 1 secret' });
      const after = await api.get(`/v1/secrets/${q}`);
      assert.deepEqual(after.body.map((s: any) => s.key), ['DB_URL']);
    });
  });
}
