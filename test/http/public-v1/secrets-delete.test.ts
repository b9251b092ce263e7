// DELETE /v1/secrets/ (rest-api §4.5, §5.11, D-11) on every store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, environmentRow, listSecrets, postSecrets, secretEvents, secretsUrl, sleep, type CreatedApp } from '../../helpers/world.js';

const LIST = "'secrets' must be a non-empty list of secret IDs.";

for (const target of STORE_TARGETS) {
  describe(`DELETE /v1/secrets/ (rest-api §4.5) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    let url: string;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Delete');
      url = secretsUrl(app.id, 'development');
    });
    after(() => server.close());

    it('validates the list (D-11) and names every missing id in request order, deleting nothing', async () => {
      const [a, b] = await postSecrets(api, app.id, 'development', [{ key: 'DEL_A', value: 'a' }, { key: 'DEL_B', value: 'b' }]);
      const [gone] = await postSecrets(api, app.id, 'development', [{ key: 'DEL_GONE', value: 'g' }]);
      assert.deepEqual((await api.delete(url, { secrets: [gone.id] })).body, { message: 'Deleted 1 secret' });
      const [elsewhere] = await postSecrets(api, app.id, 'staging', [{ key: 'DEL_ELSEWHERE', value: 'e' }]);
      const unknown = '00000000-0000-4000-8000-000000000000';
      const cases: Array<[unknown, number, string]> = [
        [{}, 400, LIST],
        [{ secrets: null }, 400, LIST],
        [{ secrets: [] }, 400, LIST],
        [{ secrets: a.id }, 400, LIST],
        [{ secrets: { id: a.id } }, 400, LIST],
        [{ secrets: [5] }, 400, LIST],
        [{ secrets: [a.id, null] }, 400, LIST],
        [{ secrets: [a.id, { id: b.id }] }, 400, LIST],
        [{ secrets: [[a.id]] }, 400, LIST],
        [{ secrets: [a.id, unknown] }, 404, `Secret(s) not found in this environment: ${unknown}`],
        [{ secrets: [gone.id] }, 404, `Secret(s) not found in this environment: ${gone.id}`],
        [{ secrets: [elsewhere.id, a.id, 'junk', unknown, 'junk', b.id.toUpperCase(), ''] }, 404, `Secret(s) not found in this environment: ${elsewhere.id}, junk, ${unknown}, junk, `],
      ];
      const env = app.env.development!.id;
      const revision = (await environmentRow(server.domain, env))!.revision;
      const writes = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length;
      for (const [body, status, message] of cases) assertError(await api.delete(url, body), status, message);
      assert.deepEqual((await listSecrets(api, app.id, 'development')).map((s) => s.id).sort(), [a.id, b.id].sort());
      assert.equal((await environmentRow(server.domain, env))!.revision, revision);
      assert.equal((await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length, writes);
    });

    it('soft-deletes: "Deleted N secret(s)" counting distinct ids, one event per secret, identity freed', async () => {
      const env = app.env.production!.id;
      const prodUrl = secretsUrl(app.id, 'production');
      const created = await postSecrets(api, app.id, 'production', [
        { key: 'P1', value: '1' },
        { key: 'P2', value: '2' },
        { key: 'P3', value: '3', path: '/f' },
        { key: 'P4', value: '4' },
      ]);
      const [p1, p2, p3, p4] = created;
      const envBefore = (await api.get(`/v1/environments/${env}/`)).body;
      const row = (await environmentRow(server.domain, env))!;
      const writes = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length;
      await sleep(2);
      const res = await api.delete(prodUrl, { secrets: [p2.id, p3.id.toUpperCase(), p2.id] });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { message: 'Deleted 2 secrets' });
      assert.deepEqual((await listSecrets(api, app.id, 'production')).map((s) => s.key).sort(), ['P1', 'P4']);
      const afterRow = (await environmentRow(server.domain, env))!;
      assert.equal(afterRow.revision, row.revision + 1);
      assert.ok((await api.get(`/v1/environments/${env}/`)).body.updatedAt > envBefore.updatedAt);
      const events = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).slice(writes);
      assert.deepEqual(events.map((e) => [e.action, e.secret_id, e.environment_revision]).sort(), [['delete', p2.id, afterRow.revision], ['delete', p3.id, afterRow.revision]].sort());
      // the rows remain (soft deletion) with their versions; the identity is free again
      const rows = await server.domain.deps.db.selectFrom('secrets').select(['id', 'version', 'deleted_at']).where('id', 'in', [p2.id, p3.id]).execute();
      assert.equal(rows.length, 2);
      assert.ok(rows.every((r) => r.deleted_at !== null && r.version === 1));
      const [again] = await postSecrets(api, app.id, 'production', [{ key: 'p3', value: 'again', path: 'f' }]);
      assert.equal(again.folder, p3.folder);
      // a repeated DELETE of the same id is a 404; plural for every N ≠ 1
      assertError(await api.delete(prodUrl, { secrets: [p2.id] }), 404, `Secret(s) not found in this environment: ${p2.id}`);
      assert.deepEqual((await api.delete(prodUrl, { secrets: [p1.id] })).body, { message: 'Deleted 1 secret' });
      assert.deepEqual((await api.delete(prodUrl, { secrets: [p4.id, again.id] })).body, { message: 'Deleted 2 secrets' });
      assert.deepEqual(await listSecrets(api, app.id, 'production'), []);
      // versions are unchanged by DELETE; PUT on a deleted id is a 404 (D-10)
      assertError(await api.put(prodUrl, { secrets: [{ id: p1.id }] }), 404, `Secret not found: ${p1.id}`);
    });
  });
}
