// PostgreSQL connections that fail or stall under a running server (PostgreSQL only: the embedded
// store has no connections). A connection terminated while the server holds it (a restart, a
// failover, pg_terminate_backend) fails what ran on it and nothing else: it used to be an unhandled
// 'error' event that ended the process. A lock held on the audit trail makes reads answer 503 after
// the read-audit deadline, leaving no event, instead of waiting as long as the lock is held.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { READ_AUDIT_STATEMENT_DEADLINE_MS } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';

const postgres = STORE_TARGETS.some((t) => t.kind === 'postgres');

describe('PostgreSQL connection faults under a running server', { skip: !postgres && 'PostgreSQL only (set TEST_DATABASE_URL)', timeout: 120_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let server: TestServer;
  let owner: OwnerFixture;
  let api: ApiClient;
  let query: string;
  let admin: pg.Client;

  before(async () => {
    database = await createEmptyPostgresDatabase();
    server = await startTestServer({ store: 'postgres', databaseUrl: database.url });
    owner = await createOwner(server.domain);
    api = apiClient(server.url, owner.authorization);
    const app = await api.post('/v1/apps/', { name: 'Faults' });
    query = `/v1/secrets/?app_id=${app.body.id}&env=development`;
    assert.equal((await api.post(query, { secrets: [{ key: 'DB_URL', value: 'postgres://db' }] })).status, 200);
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await server?.close();
    await database?.drop();
  });

  const backendPid = async (db: Kysely<Database>) => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;
  const terminate = (pid: number) => admin.query('select pg_terminate_backend($1)', [pid]);

  it('a connection terminated while the server holds it fails its own work only, in both pools', async () => {
    const readAuditDb = server.store.readAuditDb!;
    for (const db of [server.store.db, readAuditDb]) {
      // Lent out and idle between two statements: the termination arrives as the client's 'error' event.
      await db.connection().execute(async (connection) => {
        await terminate(await backendPid(connection));
        await sleep(300);
      });
      // Inside a transaction: its commit fails, nothing else does.
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await terminate(await backendPid(trx));
          await sleep(300);
          await sql`select 1`.execute(trx);
        }),
      );
    }
    // The process is still up, and the pools replaced what they lost.
    for (let i = 0; i < 5; i++) {
      const read = await api.get(`${query}&key=DB_URL`);
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body[0].value, 'postgres://db');
    }
  });

  it('a lock held on the audit trail makes reads answer 503 after the deadline, leaving no event; they recover when it goes', async () => {
    const readEvents = async () => {
      const page = await api.get('/coffer/v1/audit/events/?after=0&limit=500');
      assert.equal(page.status, 200, page.text);
      return page.body.data.filter((e: any) => e.action === 'read').length;
    };
    assert.equal((await api.get(`${query}&key=DB_URL`)).status, 200, 'cached, confirmed by its audit statement');
    const before = await readEvents();
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table events in access exclusive mode');
      const started = Date.now();
      const refused = await api.get(`${query}&key=DB_URL`);
      const waited = Date.now() - started;
      assert.equal(refused.status, 503, refused.text);
      assert.deepEqual(refused.body, { error: 'The audit trail could not be written; nothing was returned. Please retry.' });
      assert.ok(waited >= READ_AUDIT_STATEMENT_DEADLINE_MS - 100, `refused after the deadline, not at once (${waited} ms)`);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
    const read = await api.get(`${query}&key=DB_URL`);
    assert.equal(read.status, 200, read.text);
    // The refused read left no event (its statement was cancelled and rolled back); the two answered ones did.
    assert.equal(await readEvents(), before + 1);
  });
});
