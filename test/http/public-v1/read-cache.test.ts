// The cached read path (DESIGN §5) keeps its promises: a write is visible to the very next read on
// the same node (and, on PostgreSQL, on another node), while a repeated read serves the cached
// snapshot — on the embedded store without any query but the audit write.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { addMember, grantAccess, grantEnvironments } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { createApp, listSecrets, postSecrets, secretEvents, secretsUrl, valuesByKey, type CreatedApp } from '../../helpers/world.js';

/** SQL statements the server ran while `work` was in flight (trace-level query log). */
async function queriesDuring(server: TestServer, work: () => Promise<unknown>): Promise<string[]> {
  const mark = server.logs.length;
  await work();
  return server.logs
    .slice(mark)
    .map((line) => JSON.parse(line) as { msg?: string; sql?: string })
    .filter((entry) => entry.msg === 'query' && typeof entry.sql === 'string')
    .map((entry) => entry.sql!);
}

const touches = (statements: string[], table: string) => statements.some((s) => new RegExp(`from "${table}"|from ${table}\\b|join "${table}"`).test(s));

for (const target of STORE_TARGETS) {
  describe(`read-path caching (DESIGN §5) on ${target.kind}`, () => {
    const masterKey = randomBytes(32).toString('hex');
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    before(async () => {
      server = await startTestServer({ store: target.kind, env: { LOG_LEVEL: 'trace', COFFER_MASTER_KEY: masterKey } });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Cache');
      await postSecrets(api, app.id, 'staging', [{ key: 'UPSTREAM', value: 'u1' }]);
      await postSecrets(api, app.id, 'development', [
        { key: 'A', value: 'a1', override: { value: 'mine', isActive: true } },
        { key: 'REF', value: '${staging.UPSTREAM}' },
      ]);
    });
    after(() => server.close());

    it('every kind of write is seen by the next read, filtered or not', async () => {
      const read = async (extra = '') => valuesByKey(await listSecrets(api, app.id, 'development', extra));
      const [a] = await listSecrets(api, app.id, 'development', '&key=a');
      // warm every cache, twice
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(await read(), { A: 'a1', REF: 'u1' });
        assert.deepEqual(await read('&key=a'), { A: 'a1' });
      }
      await api.put(secretsUrl(app.id, 'development'), { secrets: [{ id: a.id, value: 'a2' }] });
      assert.deepEqual(await read('&key=a'), { A: 'a2' });
      assert.deepEqual(await read(), { A: 'a2', REF: 'u1' });
      await api.put(secretsUrl(app.id, 'development'), { secrets: [{ id: a.id, override: { value: 'mine 2', isActive: false } }] });
      assert.equal((await listSecrets(api, app.id, 'development', '&key=a'))[0].override.value, 'mine 2');
      const [b] = await postSecrets(api, app.id, 'development', [{ key: 'B', value: 'b1' }]);
      assert.deepEqual(await read(), { A: 'a2', REF: 'u1', B: 'b1' });
      await api.delete(secretsUrl(app.id, 'development'), { secrets: [b.id] });
      assert.deepEqual(await read(), { A: 'a2', REF: 'u1' });
      // a write to a referenced environment reaches the referring one
      const [upstream] = await listSecrets(api, app.id, 'staging');
      await api.put(secretsUrl(app.id, 'staging'), { secrets: [{ id: upstream.id, value: 'u2' }] });
      assert.deepEqual(await read(), { A: 'a2', REF: 'u2' });
      // as do access changes, per caller
      const developer = await addMember(server.domain, owner.organisationId, 'Developer');
      await grantAccess(server.domain, developer, app.id, [app.env.development!.id]);
      const dev = apiClient(server.url, developer.authorization);
      assert.equal(valuesByKey(await listSecrets(dev, app.id, 'development')).REF, '${staging.UPSTREAM}');
      await grantEnvironments(server.domain, developer, [app.env.staging!.id]);
      assert.equal(valuesByKey(await listSecrets(dev, app.id, 'development')).REF, 'u2');
      assert.deepEqual(await read(), { A: 'a2', REF: 'u2' });
    });

    it('a repeated read serves the cached snapshot; a write makes the next read reload it', async () => {
      await listSecrets(api, app.id, 'development');
      await listSecrets(api, app.id, 'development');
      const cached = await queriesDuring(server, () => listSecrets(api, app.id, 'development'));
      assert.ok(!touches(cached, 'secrets') && !touches(cached, 'personal_overrides'), `a cached read reloaded the snapshot:\n${cached.join('\n')}`);
      if (target.kind === 'pglite') {
        // The embedded store is authoritative in-process and journals read events: no query at all.
        assert.deepEqual(cached, []);
      } else {
        // One round trip: the audit append, which also confirms the cached revisions (no separate check).
        assert.equal(cached.filter((s) => s.includes('prepared:append-chained-events')).length, 1, `the read is audited once: ${cached.join('\n')}`);
        assert.ok(!cached.some((s) => s.includes('prepared:find-revisions')), `a cached read needs no revision query: ${cached.join('\n')}`);
      }
      const events = await secretEvents(server.domain, owner.organisationId, app.env.development!.id);
      assert.equal(events.at(-1)?.action, 'read', 'the read is in the audit trail');
      // a write bumps the revision: the snapshot is loaded again (by the write's own response or the next read)
      const [a] = await listSecrets(api, app.id, 'development', '&key=a');
      const reloaded = await queriesDuring(server, async () => {
        await api.put(secretsUrl(app.id, 'development'), { secrets: [{ id: a.id, comment: 'reload' }] });
        assert.equal((await listSecrets(api, app.id, 'development', '&key=a'))[0].comment, 'reload');
      });
      assert.ok(reloaded.some((s) => /from "secrets" as "s"/.test(s) && /"s"\."deleted_at" is null/.test(s) && !/"s"\."id" in/.test(s)), `no snapshot reload:\n${reloaded.join('\n')}`);
      const again = await queriesDuring(server, () => listSecrets(api, app.id, 'development', '&key=a'));
      assert.ok(!touches(again, 'secrets'), `the reloaded snapshot is cached again:\n${again.join('\n')}`);
    });

    if (target.kind === 'postgres') {
      it('a write on another node is seen by this node\'s next read', async () => {
        const other = await startTestServer({ store: 'postgres', env: { COFFER_MASTER_KEY: masterKey } });
        try {
          const there = apiClient(other.url, owner.authorization);
          const read = async () => valuesByKey(await listSecrets(api, app.id, 'development'));
          const before = await read();
          await read();
          const [c] = await postSecrets(there, app.id, 'development', [{ key: 'FROM_OTHER_NODE', value: 'c1' }]);
          assert.deepEqual(await read(), { ...before, FROM_OTHER_NODE: 'c1' });
          await there.put(secretsUrl(app.id, 'development'), { secrets: [{ id: c.id, value: 'c2' }] });
          assert.equal((await read()).FROM_OTHER_NODE, 'c2');
          const [upstream] = await listSecrets(there, app.id, 'staging');
          await there.put(secretsUrl(app.id, 'staging'), { secrets: [{ id: upstream.id, value: 'u3' }] });
          assert.equal((await read()).REF, 'u3');
          await there.delete(secretsUrl(app.id, 'development'), { secrets: [c.id] });
          assert.equal((await read()).FROM_OTHER_NODE, undefined);
        } finally {
          await other.close();
        }
      });
    }
  });
}
