// The hash-chained audit trail on both stores: appends from several writers stay one valid chain,
// and altering, inserting or deleting an event is detected.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { masterKeyring } from '../../src/crypto/index.js';
import { EventChainer, type AuditTrail } from '../../src/domain/audit.js';
import { expandReadBatches } from '../../src/domain/audit-read-batches.js';
import { SharedAuditTrail } from '../../src/domain/audit-shared.js';
import { verifyAuditTrail } from '../../src/domain/audit-verify.js';
import type { Store } from '../../src/store/connect.js';
import type { Executor } from '../../src/store/database.js';
import { STORE_TARGETS } from '../helpers/stores.js';

async function newOrganisation(store: Store, trail: AuditTrail): Promise<string> {
  const id = randomUUID();
  const now = new Date();
  await store.db.insertInto('organisations').values({ id, name: 'audit test', created_at: now, updated_at: now }).execute();
  await trail.startChain(store.db, id);
  return id;
}

const actor = { principal: { kind: 'member' as const, organisationId: '', memberId: randomUUID(), userId: randomUUID(), tokenId: null }, ip: '127.0.0.1', userAgent: 'test' };

for (const target of STORE_TARGETS) {
  describe(`audit trail on ${target.kind}`, () => {
    let store: Store;
    const keyring = masterKeyring({ active: randomBytes(32) });
    before(async () => {
      store = await target.open();
    });
    after(() => store.close());

    it('keeps one valid chain when two writers (two nodes) append concurrently', async () => {
      const first = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const second = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const org = await newOrganisation(store, first);
      const appends = Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? first : second).appendReads([
          { organisationId: org, actor, event: { kind: 'audit', action: 'test.event', description: `event ${i}`, snapshot: { i, nested: { b: 1, a: [1, 'x'] } } } },
          { organisationId: org, actor: null, event: { kind: 'secret', action: 'read', secretIds: [randomUUID(), randomUUID()], environmentRevision: i } },
        ]),
      );
      await Promise.all(appends);
      const report = await verifyAuditTrail(store.db, keyring, org);
      assert.equal(report.problem, undefined);
      assert.equal(report.events, 60);
    });

    it('stores a write\'s events as prepared while the chain stays put, and chains them again once it moved here or on another node', async () => {
      const here = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const otherNode = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const org = await newOrganisation(store, here);
      const write = (n: number) => Array.from({ length: 3 }, (_, i) => ({ organisationId: org, actor, event: { kind: 'secret' as const, action: 'create', secretId: randomUUID(), environmentRevision: n, snapshot: { i } } }));
      const read = () => [{ organisationId: org, actor, event: { kind: 'secret' as const, action: 'read', secretIds: [randomUUID()] } }];
      const storedIds = async () => (await store.db.selectFrom('events').select('id').where('organisation_id', '=', org).orderBy('seq').execute()).map((e) => e.id);
      await here.appendReads(read()); // `here` learns the head

      const first = write(1);
      const unchanged = here.prepare(first);
      assert.ok(unchanged);
      await store.db.transaction().execute((trx) => here.append(trx, first, unchanged));
      assert.deepEqual((await storedIds()).slice(1), unchanged.rows.map((r) => r.id), 'stored as prepared');

      const second = write(2);
      const overtakenHere = here.prepare(second)!;
      await here.appendReads(read());
      await store.db.transaction().execute((trx) => here.append(trx, second, overtakenHere));

      const third = write(3);
      const overtakenElsewhere = here.prepare(third)!;
      await otherNode.appendReads(read());
      await store.db.transaction().execute((trx) => here.append(trx, third, overtakenElsewhere));

      const ids = await storedIds();
      assert.equal(ids.length, 1 + 3 + 1 + 3 + 1 + 3);
      for (const stale of [overtakenHere, overtakenElsewhere]) assert.ok(stale.rows.every((r) => !ids.includes(r.id)), 'chained again, not stored as prepared');
      const report = await verifyAuditTrail(store.db, keyring, org);
      assert.equal(report.problem, undefined);
      assert.equal(report.events, ids.length);
      assert.equal(new SharedAuditTrail(store.db, new EventChainer(keyring)).prepare(write(4)), undefined, 'a trail that has not read the head prepares nothing');
    });

    it('commits read events without waiting for the WAL flush, in their own transaction only; a write\'s events wait for it', async () => {
      const synchronousCommit = async (db: Executor) => (await sql<{ value: string }>`select current_setting('synchronous_commit') as value`.execute(db)).rows[0]!.value;
      const org = await newOrganisation(store, new SharedAuditTrail(store.db, new EventChainer(keyring)));
      const event = (action: string) => ({ organisationId: org, actor, event: { kind: 'audit' as const, action } });
      await store.db.transaction().execute(async (trx) => {
        // The trail appends reads on its own; given the transaction, it appends them there.
        const reads = new SharedAuditTrail(trx, new EventChainer(keyring));
        assert.equal(await synchronousCommit(trx), 'on');
        await reads.appendReads([event('test.read')]);
        assert.equal(await synchronousCommit(trx), 'off', 'the read append set it for its transaction');
      });
      assert.equal(await synchronousCommit(store.db), 'on', 'and for no other');
      await store.db.transaction().execute(async (trx) => {
        await new SharedAuditTrail(store.db, new EventChainer(keyring)).append(trx, [event('test.write')]);
        assert.equal(await synchronousCommit(trx), 'on', 'a write commits synchronously');
      });
      assert.equal((await verifyAuditTrail(store.db, keyring, org)).events, 2);
    });

    it('stores a guarded read only while the revisions it served are current; the rest of its batch is stored', async () => {
      const trail = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const org = await newOrganisation(store, trail);
      const app = randomUUID();
      const environment = randomUUID();
      await sql`insert into apps (id, organisation_id, name, sse_enabled, created_at, updated_at) values (${app}, ${org}, 'a', true, now(), now())`.execute(store.db);
      await sql`insert into environments (id, organisation_id, app_id, name, env_type, index, identity_key, revision, created_at, updated_at)
                values (${environment}, ${org}, ${app}, 'dev', 'dev', 0, 'k', 7, now(), now())`.execute(store.db);
      const read = (revision: number, guarded: boolean) => ({
        organisationId: org,
        actor,
        event: { kind: 'secret' as const, action: 'read', environmentId: environment, environmentRevision: revision },
        ...(guarded ? { guard: new Map([[environment, revision]]) } : {}),
      });
      const current = read(7, true);
      assert.equal((await trail.appendReads([current])).size, 0);

      const stale = read(6, true);
      const gone = { ...read(7, true), guard: new Map([[environment, 7], [randomUUID(), 1]]) };
      const plain = read(7, false);
      const refused = await trail.appendReads([stale, plain, gone, read(7, true)]);
      assert.deepEqual(new Set(refused), new Set([stale, gone]), 'the read of an old revision and the read of a deleted environment are refused');

      const stored = await store.db.selectFrom('events').selectAll().where('organisation_id', '=', org).orderBy('seq').execute();
      assert.deepEqual(
        expandReadBatches(stored).map((e) => [e.seq, e.environment_revision]),
        [[1, 7], [2, 7], [2, 7]],
        'the first read, then the unguarded and the current guarded one (stored together)',
      );
      const report = await verifyAuditTrail(store.db, keyring, org);
      assert.equal(report.problem, undefined);
      assert.equal(report.events, 2);
    });

    it('reports the first altered, inserted or deleted event', async () => {
      const trail = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const org = await newOrganisation(store, trail);
      for (let i = 0; i < 6; i++) await trail.appendReads([{ organisationId: org, actor, event: { kind: 'audit', action: 'test.event', description: `event ${i}` } }]);
      assert.equal((await verifyAuditTrail(store.db, keyring, org)).problem, undefined);

      await sql`update events set description = 'forged' where organisation_id = ${org} and seq = 3`.execute(store.db);
      assert.deepEqual((await verifyAuditTrail(store.db, keyring, org)).problem, { kind: 'altered', organisationId: org, seq: 3, eventId: (await store.db.selectFrom('events').select('id').where('organisation_id', '=', org).where('seq', '=', 3).executeTakeFirstOrThrow()).id });
      await sql`update events set description = 'event 2' where organisation_id = ${org} and seq = 3`.execute(store.db);
      assert.equal((await verifyAuditTrail(store.db, keyring, org)).problem, undefined);

      await sql`delete from events where organisation_id = ${org} and seq = 4`.execute(store.db);
      const deleted = (await verifyAuditTrail(store.db, keyring, org)).problem;
      assert.equal(deleted?.kind, 'deleted');
      assert.equal(deleted?.seq, 4);

      const other = await newOrganisation(store, trail);
      for (let i = 0; i < 3; i++) await trail.appendReads([{ organisationId: other, actor, event: { kind: 'audit', action: 'test.event', description: `e${i}` } }]);
      await sql`delete from events where organisation_id = ${other} and seq = 3`.execute(store.db);
      assert.equal((await verifyAuditTrail(store.db, keyring, other)).problem?.kind, 'truncated');

      const third = await newOrganisation(store, trail);
      for (let i = 0; i < 3; i++) await trail.appendReads([{ organisationId: third, actor, event: { kind: 'audit', action: 'test.event', description: `e${i}` } }]);
      // A forged event squeezed in with a made-up MAC.
      await sql`update events set seq = seq + 1 where organisation_id = ${third} and seq = 3`.execute(store.db);
      await sql`insert into events (organisation_id, seq, id, kind, action, created_at, prev_mac, mac)
                select organisation_id, 3, ${randomUUID()}, 'audit', 'forged', now(), mac, repeat('a', 64) from events where organisation_id = ${third} and seq = 2`.execute(store.db);
      const inserted = (await verifyAuditTrail(store.db, keyring, third)).problem;
      assert.ok(inserted?.kind === 'altered' || inserted?.kind === 'inserted', JSON.stringify(inserted));
      assert.equal(inserted?.seq, 3);
    });
  });
}
