// Bulk loads with COPY on both stores (src/store/copy.ts, copy-binary.ts): events written in binary
// read back exactly as the same events written as COPY text (the embedded journal's form), awkward
// values included; a failing COPY stores nothing; bad values are refused before anything is sent.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { BinaryCopyWriter, joinCopyBinary } from '../../src/store/copy-binary.js';
import { copyFrom } from '../../src/store/copy.js';
import type { Store } from '../../src/store/connect.js';
import { copyEncodedEvents, copyJournaledEvents, copyNewEvents, eventCopyLine, eventsCopyBinary, insertChainHead, newestHeads, type EventInsert } from '../../src/store/events.js';
import { STORE_TARGETS } from '../helpers/stores.js';

const mac = () => randomBytes(32).toString('hex');

/** Events covering every column's null and non-null forms and the characters COPY text escapes. */
function awkwardEvents(organisationId: string): EventInsert[] {
  const base = {
    organisation_id: organisationId, kind: 'secret' as const, action: 'read', app_id: null, environment_id: null, environment_revision: null,
    secret_id: null, secret_ids: null, resource_id: null, snapshot: null, description: null, actor_member_id: null,
    actor_service_account_id: null, actor_token_id: null, ip: null, user_agent: null, prev_mac: mac(), mac: mac(),
  };
  return [
    { ...base, seq: 1, id: randomUUID(), created_at: new Date('2026-11-23T07:42:08.123Z') },
    {
      ...base, seq: 2, id: randomUUID(), kind: 'audit', action: 'secret.update', app_id: randomUUID(), environment_id: randomUUID(),
      environment_revision: 2 ** 40 + 7, secret_id: randomUUID(), secret_ids: [randomUUID(), randomUUID(), randomUUID()], resource_id: randomUUID(),
      snapshot: JSON.stringify({ value: 'ph:v1:ab:cd', note: 'tab\there, newline\nthere, back\\slash, \\N, ünïcödé 🔑', n: [1, 2.5, null] }),
      description: 'tab\there\nnewline\r\\N back\\slash ünïcödé 🔑 '.repeat(20), actor_member_id: randomUUID(), actor_service_account_id: randomUUID(),
      actor_token_id: randomUUID(), ip: '2001:db8::1', user_agent: 'agent/1.0 (x; \\y)\t', created_at: new Date('1999-12-31T23:59:59.999Z'),
    },
    { ...base, seq: 3, id: randomUUID(), secret_ids: [], description: '', ip: '', user_agent: '', created_at: new Date(0) },
  ];
}

async function newOrganisation(store: Store): Promise<string> {
  const id = randomUUID();
  const now = new Date();
  await store.db.insertInto('organisations').values({ id, name: 'copy test', created_at: now, updated_at: now }).execute();
  await insertChainHead(store.db, { organisation_id: id, seq: 0, mac: mac(), wrapped_key: 'unused' });
  return id;
}

async function storedEvents(store: Store, organisationId: string) {
  const rows = await store.db.selectFrom('events').selectAll().where('organisation_id', '=', organisationId).orderBy('seq').execute();
  return rows.map(({ organisation_id: _, ...row }) => row);
}

describe('COPY text lines of events (the embedded journal)', () => {
  it('writes each column as the per-field rules of earlier versions did, so old and new journals read alike', () => {
    // Those rules: NULL as \N, dates as ISO text, arrays as {a,b}, then backslash, tab, newline, CR escaped.
    const field = (value: unknown) => {
      if (value === null || value === undefined) return '\\N';
      const text = value instanceof Date ? value.toISOString() : Array.isArray(value) ? `{${value.join(',')}}` : String(value);
      return text.replace(/[\\\t\n\r]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch]!);
    };
    const columns = [
      'organisation_id', 'seq', 'id', 'kind', 'action', 'app_id', 'environment_id', 'environment_revision', 'secret_id', 'secret_ids', 'resource_id',
      'snapshot', 'description', 'actor_member_id', 'actor_service_account_id', 'actor_token_id', 'ip', 'user_agent', 'created_at', 'prev_mac', 'mac',
    ] as const;
    for (const event of awkwardEvents(randomUUID())) {
      assert.equal(eventCopyLine(event), `${columns.map((c) => field(event[c])).join('\t')}\n`);
    }
    // The time's text is kept between calls (a batch shares one time): a date changed in place is written anew.
    const [event] = awkwardEvents(randomUUID());
    assert.match(eventCopyLine(event!), /\t2026-11-23T07:42:08\.123Z\t/);
    event!.created_at.setTime(Date.UTC(2030, 4, 6, 7, 8, 9, 10));
    assert.match(eventCopyLine(event!), /\t2030-05-06T07:08:09\.010Z\t/);
  });
});

describe('binary COPY inputs joined (the embedded journal imports its writes as one)', () => {
  it('are the bytes of one input holding all their rows, in order', () => {
    const events = awkwardEvents(randomUUID());
    const parts = events.map((event) => eventsCopyBinary([event]));
    assert.deepEqual(Buffer.from(joinCopyBinary(parts)), Buffer.from(eventsCopyBinary(events)));
    assert.deepEqual(Buffer.from(joinCopyBinary([parts[0]!, eventsCopyBinary(events.slice(1))])), Buffer.from(eventsCopyBinary(events)));
    assert.deepEqual(Buffer.from(joinCopyBinary([])), Buffer.from(eventsCopyBinary([])));
  });
});

for (const target of STORE_TARGETS) {
  describe(`COPY on ${target.kind}`, () => {
    let store: Store;
    before(async () => {
      store = await target.open();
    });
    after(() => store.close());

    it('stores events in binary exactly as their COPY text lines, and moves the head to the newest', async () => {
      const binaryOrg = await newOrganisation(store);
      const textOrg = await newOrganisation(store);
      const events = awkwardEvents(binaryOrg);
      await store.db.transaction().execute((trx) => copyNewEvents(trx, events));
      const asText = events.map((e) => ({ ...e, organisation_id: textOrg }));
      await copyJournaledEvents(store.db, asText.map((e) => ({ organisation_id: textOrg, seq: e.seq, mac: e.mac, line: eventCopyLine(e) })));

      const binary = await storedEvents(store, binaryOrg);
      assert.deepEqual(binary, await storedEvents(store, textOrg));
      assert.equal(binary.length, 3);
      assert.equal(binary[1]!.description, events[1]!.description);
      assert.deepEqual(binary[1]!.snapshot, JSON.parse(events[1]!.snapshot!));
      assert.deepEqual(binary[1]!.secret_ids, events[1]!.secret_ids);
      assert.deepEqual(binary[2]!.secret_ids, []);
      assert.equal(new Date(binary[1]!.created_at).toISOString(), '1999-12-31T23:59:59.999Z');
      assert.equal(binary[1]!.environment_revision, 2 ** 40 + 7);
      const head = await store.db.selectFrom('audit_heads').select(['seq', 'mac']).where('organisation_id', '=', binaryOrg).executeTakeFirstOrThrow();
      assert.deepEqual(head, { seq: 3, mac: events[2]!.mac });
    });

    it('stores inputs encoded one write at a time and joined as the same events in one COPY, and moves the head to the newest', async () => {
      const org = await newOrganisation(store);
      const events = awkwardEvents(org);
      const joined = joinCopyBinary([eventsCopyBinary(events.slice(0, 1)), eventsCopyBinary(events.slice(1))]);
      await store.db.transaction().execute((trx) => copyEncodedEvents(trx, joined, newestHeads(events)));
      const stored = await storedEvents(store, org);
      assert.deepEqual(stored.map((e) => [e.seq, e.id, e.mac]), events.map((e) => [e.seq, e.id, e.mac]));
      assert.equal(stored[1]!.description, events[1]!.description);
      const head = await store.db.selectFrom('audit_heads').select(['seq', 'mac']).where('organisation_id', '=', org).executeTakeFirstOrThrow();
      assert.deepEqual(head, { seq: 3, mac: events[2]!.mac });
    });

    it('leaves out journaled events that are already stored (an import repeated after a crash)', async () => {
      const org = await newOrganisation(store);
      const lines = awkwardEvents(org).map((e) => ({ organisation_id: org, seq: e.seq, mac: e.mac, line: eventCopyLine(e) }));
      await copyJournaledEvents(store.db, lines.slice(0, 2));
      await copyJournaledEvents(store.db, lines);
      assert.deepEqual((await storedEvents(store, org)).map((e) => e.seq), [1, 2, 3]);
    });

    it('rolls back with its transaction, and a failing COPY stores nothing', async () => {
      const org = await newOrganisation(store);
      const events = awkwardEvents(org);
      await assert.rejects(
        store.db.transaction().execute(async (trx) => {
          await copyNewEvents(trx, events.slice(0, 2));
          throw new Error('roll back');
        }),
        /roll back/,
      );
      await copyNewEvents(store.db, events.slice(0, 1));
      // The same sequence number again violates the primary key: the whole statement fails.
      await assert.rejects(copyNewEvents(store.db, events), (error: { code?: string }) => error.code === '23505');
      assert.deepEqual((await storedEvents(store, org)).map((e) => e.seq), [1]);
    });

    it('refuses a value that is not of its column type before anything is sent', () => {
      const out = new BinaryCopyWriter();
      out.row(1);
      for (const bad of ['', 'not-a-uuid', `${randomUUID()}0`, randomUUID().replace(/-/g, '_'), randomUUID().replace('a', 'g').replace('b', 'g'), 'é'.repeat(36)]) {
        assert.throws(() => out.uuid(bad), /is not a uuid/, bad);
      }
      assert.throws(() => out.int8(1.5), /not an integer/);
      assert.throws(() => out.int8(2 ** 53), /not an integer/);
      assert.throws(() => out.int4(2 ** 31), /32-bit/);
      assert.throws(() => out.timestamptz(new Date(Number.NaN)), /invalid date/);
    });

    it('keeps its connection usable when the statement fails before the input is read, or in the middle of it', async () => {
      // On PostgreSQL the input travels right behind the statement (one round trip): whatever
      // PostgreSQL has not read when it fails must not be taken for the next statement.
      const rows = (count: number, duplicateAt?: number) => {
        const out = new BinaryCopyWriter();
        for (let i = 0; i < count; i++) {
          out.row(2);
          out.int8(i === duplicateAt ? 0 : i);
          out.text(`row ${i} ${'y'.repeat(200)}`);
        }
        return out.finish();
      };
      await store.db.connection().execute(async (conn) => {
        await sql`create temporary table copy_trip (n bigint primary key, t text)`.execute(conn);
        await assert.rejects(copyFrom(conn, 'copy_trip_missing (n, t)', rows(10), 'binary'), (error: { code?: string }) => error.code === '42P01');
        assert.deepEqual((await sql<{ one: number }>`select 1 as one`.execute(conn)).rows, [{ one: 1 }]);
        await assert.rejects(copyFrom(conn, 'copy_trip (n, t)', rows(20_000, 10_000), 'binary'), (error: { code?: string }) => error.code === '23505');
        assert.deepEqual((await sql<{ count: string }>`select count(*)::text as count from copy_trip`.execute(conn)).rows, [{ count: '0' }]);
        await copyFrom(conn, 'copy_trip (n, t)', rows(20_000), 'binary');
        assert.deepEqual((await sql<{ count: string }>`select count(*)::text as count from copy_trip`.execute(conn)).rows, [{ count: '20000' }]);
        await sql`begin`.execute(conn);
        await assert.rejects(sql`select 1/0`.execute(conn));
        await assert.rejects(copyFrom(conn, 'copy_trip (n, t)', rows(5), 'binary'), (error: { code?: string }) => error.code === '25P02');
        await sql`rollback`.execute(conn);
        assert.deepEqual((await sql<{ one: number }>`select 1 as one`.execute(conn)).rows, [{ one: 1 }]);
        await sql`drop table copy_trip`.execute(conn);
      });
    });

    it('grows its buffer for rows larger than the size hint', async () => {
      const out = new BinaryCopyWriter(64);
      const long = 'x'.repeat(10_000);
      const ids = Array.from({ length: 50 }, () => randomUUID());
      for (const [i, id] of ids.entries()) {
        out.row(3);
        out.uuid(id);
        out.text(`${i}${long}`);
        out.int8(-i * 2 ** 33 - 1);
      }
      await store.db.transaction().execute(async (trx) => {
        await sql`create temporary table copy_growth (a uuid, b text, c bigint) on commit drop`.execute(trx);
        await copyFrom(trx, 'copy_growth (a, b, c)', out.finish(), 'binary');
        const rows = (await sql<{ a: string; b: string; c: number }>`select a, b, c from copy_growth order by c desc`.execute(trx)).rows;
        assert.deepEqual(rows.map((r) => r.a), ids);
        assert.deepEqual(rows.map((r) => r.b.length), ids.map((_, i) => String(i).length + 10_000));
        assert.deepEqual(rows.map((r) => r.c), ids.map((_, i) => -i * 2 ** 33 - 1));
      });
    });
  });
}
