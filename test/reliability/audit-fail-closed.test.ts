// Fail-closed audit (docs/audit.md, DESIGN §5.6): when the audit trail cannot be written, reads
// return no secret (503) and writes change nothing; once it can be written again, everything works
// and the chain verifies. On PostgreSQL the fault is injected in the database (a trigger that
// refuses every insert into `events`). The embedded store keeps read events in a journal file
// first: there the trigger refuses writes while reads stay audited in the journal, and a journal
// that cannot be written refuses reads.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { randomBytes, randomUUID } from 'node:crypto';
import { masterKeyring } from '../../src/crypto/index.js';
import { AUDIT_UNAVAILABLE, EventChainer, ReadAuditWriter, WRITE_AUDIT_UNAVAILABLE } from '../../src/domain/audit.js';
import { LocalAuditTrail } from '../../src/domain/audit-local.js';
import { inTransaction } from '../../src/domain/transactions.js';
import { openStore } from '../../src/store/connect.js';
import { verifyAuditTrail } from '../../src/domain/audit-verify.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS, createEmptyPostgresDatabase } from '../helpers/stores.js';
import { createApp, secretEvents, secretsUrl, type CreatedApp } from '../helpers/world.js';

for (const target of STORE_TARGETS) {
  describe(`fail-closed audit on ${target.kind}`, () => {
    let server: TestServer;
    let database: { url: string; drop: () => Promise<void> } | undefined;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    before(async () => {
      // a database of its own: the trigger must not reach other suites
      database = target.kind === 'postgres' ? await createEmptyPostgresDatabase() : undefined;
      server = await startTestServer({ store: target.kind, env: { LOG_LEVEL: 'fatal' }, ...(database ? { databaseUrl: database.url } : {}) });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'audited');
    });
    after(async () => {
      await server.close();
      await database?.drop();
    });

    async function refuseAuditWrites(refuse: boolean): Promise<void> {
      if (refuse) {
        await sql`create or replace function refuse_audit_events() returns trigger language plpgsql as $$ begin raise exception 'audit storage unavailable'; end $$`.execute(server.store.db);
        await sql`create trigger refuse_audit_events before insert on events for each statement execute function refuse_audit_events()`.execute(server.store.db);
      } else {
        await sql`drop trigger refuse_audit_events on events`.execute(server.store.db);
      }
    }

    it('answers no secret and writes nothing while events cannot be stored, and recovers afterwards', async () => {
      const url = secretsUrl(app.id, 'development');
      const environment = app.env.development!.id;
      const value = 'fail-closed-value-81f3';
      assert.equal((await api.post(url, { secrets: [{ key: 'AUDITED', value }] })).status, 200);
      const eventsBefore = (await secretEvents(server.domain, owner.organisationId)).length;

      await refuseAuditWrites(true);
      try {
        const reads = [await api.get(url), await api.get(`${url}&key=AUDITED`), await api.get('/service/secrets/', { environment })];
        for (const read of reads) {
          if (target.kind === 'postgres') {
            assert.deepEqual({ status: read.status, body: read.body }, { status: 503, body: { error: AUDIT_UNAVAILABLE } });
            assert.ok(!read.text.includes(value) && !read.text.includes('ph:v1'), 'no secret in the refusal');
          } else {
            // Embedded store: the read's event is durable in the journal, so the read is answered.
            assert.equal(read.status, 200, read.text);
          }
        }
        const write = await api.post(url, { secrets: [{ key: 'UNAUDITED', value: 'x' }] });
        assert.deepEqual({ status: write.status, body: write.body }, { status: 503, body: { error: WRITE_AUDIT_UNAVAILABLE } }, 'an unaudited write is refused');
        if (target.kind === 'pglite') await assert.rejects(server.domain.deps.audit.sync(), 'journaled events wait while the database refuses them');
      } finally {
        await refuseAuditWrites(false);
      }

      const listed = await api.get(url);
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.map((s: any) => [s.key, s.value]), [['AUDITED', value]], 'the refused write left nothing behind');
      const expected = target.kind === 'postgres' ? eventsBefore + 1 : eventsBefore + 3 + 1;
      assert.equal((await secretEvents(server.domain, owner.organisationId)).length, expected, 'the answered reads were recorded, the refused write was not');
      const report = await verifyAuditTrail(server.store.db, server.domain.deps.masterKeyring, owner.organisationId);
      assert.equal(report.problem, undefined, 'the chain is intact after the outage');
    });
  });
}

describe('fail-closed audit of reads on the embedded store', () => {
  it('answers no read whose event cannot be written to the journal', async () => {
    const store = await openStore({ memory: true });
    const keyring = masterKeyring({ active: randomBytes(32) });
    // Every write to /dev/full fails (ENOSPC): a journal that cannot be written.
    const trail = new LocalAuditTrail(store.db, new EventChainer(keyring), '/dev/full');
    const writer = new ReadAuditWriter(trail);
    try {
      const org = randomUUID();
      await inTransaction(store.db, async ({ trx }) => {
        await trx.insertInto('organisations').values({ id: org, name: 'full', created_at: new Date(), updated_at: new Date() }).execute();
        await trail.startChain(trx, org);
      });
      const actor = { principal: { kind: 'member' as const, organisationId: org, memberId: randomUUID(), userId: randomUUID(), tokenId: null }, ip: null, userAgent: null };
      await assert.rejects(writer.record(org, actor, { kind: 'secret', action: 'read', secretIds: [] }), (error: Error) => error.message === AUDIT_UNAVAILABLE);
    } finally {
      await writer.close();
      await store.close();
    }
  });
});
