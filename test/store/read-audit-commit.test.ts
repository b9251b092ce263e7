// Read events on PostgreSQL are appended through connections of their own (Store.readAuditDb); the
// statement commits without waiting for the WAL flush (test/store/audit.test.ts), a setting of its
// transaction that never stays on a connection. The embedded store has no such connections: its
// reads go to the journal (audit-local.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/connect.js';
import { apiClient, createOwner } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';
import { createApp, secretsUrl } from '../helpers/world.js';

async function setting(db: Store['db'], name: 'synchronous_commit' | 'application_name'): Promise<string> {
  const { rows } = await sql<{ value: string }>`select current_setting(${name}) as value`.execute(db);
  return rows[0]!.value;
}

describe('read-audit connections', () => {
  it('the embedded store has none', async () => {
    const store = await openStore({ memory: true });
    try {
      assert.equal(store.readAuditDb, undefined);
    } finally {
      await store.close();
    }
  });

  for (const target of STORE_TARGETS.filter((t) => t.kind === 'postgres')) {
    describe('on PostgreSQL', () => {
      let database: { url: string; drop: () => Promise<void> };
      let server: TestServer;
      before(async () => {
        database = await createEmptyPostgresDatabase();
        server = await startTestServer({ store: target.kind, databaseUrl: database.url, env: { LOG_LEVEL: 'warn' } });
      });
      after(async () => {
        await server.close();
        await database.drop();
      });

      it('are named in pg_stat_activity and keep synchronous commits as their setting', async () => {
        const store = await openStore({ databaseUrl: database.url, migrate: false });
        try {
          assert.ok(store.readAuditDb);
          assert.equal(await setting(store.readAuditDb, 'synchronous_commit'), 'on');
          assert.equal(await setting(store.readAuditDb, 'application_name'), 'coffer-read-audit');
          assert.equal(await setting(store.db, 'synchronous_commit'), 'on');
          assert.equal(await setting(store.db, 'application_name'), 'coffer');
        } finally {
          await store.close();
        }
      });

      it('store the events of reads, and only those: a write appends its events in its own transaction', async () => {
        const owner = await createOwner(server.domain);
        const api = apiClient(server.url, owner.authorization);
        const app = await createApp(api, 'read-audit');
        const written = await api.post(secretsUrl(app.id, 'development'), { secrets: [{ key: 'A', value: '1' }] });
        assert.equal(written.status, 200, written.text);
        const activity = () =>
          sql<{ query: string }>`select query from pg_stat_activity where datname = current_database() and application_name = 'coffer-read-audit'`.execute(server.store.db);
        assert.deepEqual((await activity()).rows, [], 'a write used no read-audit connection');

        const read = await api.get(secretsUrl(app.id, 'development'));
        assert.equal(read.status, 200, read.text);
        const queries = (await activity()).rows.map((row) => row.query);
        assert.ok(queries.length > 0, 'a read-audit connection was opened');
        assert.ok(queries.some((query) => /insert into events/.test(query)), `the read's event went through it: ${queries.join(' | ')}`);
        const { rows } = await sql<{ action: string }>`select action from events where organisation_id = ${owner.organisationId} and kind = 'secret' order by seq`.execute(server.store.db);
        assert.deepEqual(rows.map((row) => row.action).slice(-2), ['create', 'read']);
      });
    });
  }
});
