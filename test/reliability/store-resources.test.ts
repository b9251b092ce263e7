// The store refusing for want of resources (a full disk, no memory, no connection left) or while it
// restarts: a 503 that says so and that nothing was changed, not "Internal server error". The
// fault is injected in the database: a trigger raising the SQLSTATE a full disk raises.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { STORE_UNAVAILABLE } from '../../src/http/errors.js';
import { apiClient, createOwner, type ApiClient } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS, createEmptyPostgresDatabase } from '../helpers/stores.js';

for (const target of STORE_TARGETS) {
  describe(`a store out of resources on ${target.kind}`, () => {
    let server: TestServer;
    let database: { url: string; drop: () => Promise<void> } | undefined;
    let api: ApiClient;
    let url: string;
    before(async () => {
      // a database of its own: the trigger must not reach other suites
      database = target.kind === 'postgres' ? await createEmptyPostgresDatabase() : undefined;
      server = await startTestServer({ store: target.kind, env: { LOG_LEVEL: 'fatal' }, ...(database ? { databaseUrl: database.url } : {}) });
      const owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      const app = await api.post('/v1/apps/', { name: 'Resources' });
      url = `/v1/secrets/?app_id=${app.body.id}&env=development`;
    });
    after(async () => {
      await server.close();
      await database?.drop();
    });

    it('answers a write the store cannot take with 503, changes nothing, and works again afterwards', async () => {
      for (const code of ['53100', '53300', '57P01']) {
        await sql`create or replace function refuse_secrets() returns trigger language plpgsql as ${sql.lit(`begin raise exception 'injected' using errcode = '${code}'; end`)}`.execute(server.store.db);
        await sql`create trigger refuse_secrets before insert on secrets for each statement execute function refuse_secrets()`.execute(server.store.db);
        try {
          const refused = await api.post(url, { secrets: [{ key: 'FULL_DISK', value: 'never stored' }] });
          assert.deepEqual([refused.status, refused.body], [503, { error: STORE_UNAVAILABLE }], code);
        } finally {
          await sql`drop trigger refuse_secrets on secrets`.execute(server.store.db);
        }
      }
      assert.deepEqual((await api.get(url)).body, [], 'nothing was changed');
      const stored = await api.post(url, { secrets: [{ key: 'FULL_DISK', value: 'stored now' }] });
      assert.equal(stored.status, 200, stored.text);
    });
  });
}
