// Reads stored per batch (src/domain/audit-read-batches.ts): one chained event per organisation
// and environment of a batch, read back as one event per read with every field it had, on both
// stores; the batch's MAC covers each read in it.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { masterKeyring } from '../../src/crypto/index.js';
import { EventChainer, type AppendEntry } from '../../src/domain/audit.js';
import { READS_PER_EVENT_MAX, READ_BATCH_ACTION, expandReadBatches, readBatchEntries } from '../../src/domain/audit-read-batches.js';
import { SharedAuditTrail } from '../../src/domain/audit-shared.js';
import { verifyAuditTrail } from '../../src/domain/audit-verify.js';
import type { Principal } from '../../src/domain/principal.js';
import type { Store } from '../../src/store/connect.js';
import type { EventRow } from '../../src/store/events.table.js';
import { STORE_TARGETS } from '../helpers/stores.js';

const member = (organisationId: string): Principal => ({ kind: 'member', organisationId, memberId: randomUUID(), userId: randomUUID(), tokenId: randomUUID() });
const serviceAccount = (organisationId: string): Principal => ({ kind: 'service_account', organisationId, serviceAccountId: randomUUID(), tokenId: randomUUID() });

const appOf = new Map<string, string>();

/** A read as secrets.ts records it, with an actor and a time of its own. */
function read(organisationId: string, environmentId: string, n: number, principal: Principal, secretIds: string[] | null): AppendEntry {
  return {
    organisationId,
    // Every character the stored form separates or escapes, and nulls.
    actor: { principal, ip: n % 4 === 1 ? `2001:db8::${n}` : `10.0.0.${n % 250}`, userAgent: n % 3 === 0 ? null : n % 3 === 1 ? `agent "${n}"\t\\ ünï 🔑` : `a,b;c%d+e%25 ${n}` },
    at: new Date(Date.UTC(2026, 10, 24, 12, 0, 0, n)),
    event: { kind: 'secret', action: 'read', appId: appOf.get(environmentId) ?? appOf.set(environmentId, randomUUID()).get(environmentId), environmentId, environmentRevision: n, secretIds, snapshot: { count: n, selection: secretIds ? 'filtered' : 'all' } },
  };
}

/** The event row a read would have had stored on its own (chain fields aside). */
function expected(entry: AppendEntry) {
  const principal = entry.actor!.principal;
  return {
    organisation_id: entry.organisationId,
    kind: entry.event.kind,
    action: entry.event.action,
    app_id: entry.event.appId,
    environment_id: entry.event.environmentId,
    environment_revision: entry.event.environmentRevision,
    secret_id: null,
    secret_ids: entry.event.secretIds,
    resource_id: null,
    snapshot: entry.event.snapshot,
    description: null,
    actor_member_id: principal.kind === 'member' ? principal.memberId : null,
    actor_service_account_id: principal.kind === 'service_account' ? principal.serviceAccountId : null,
    actor_token_id: principal.tokenId,
    ip: entry.actor!.ip,
    user_agent: entry.actor!.userAgent,
    created_at: entry.at,
  };
}

describe('read batches', () => {
  it('groups a batch by organisation and environment, keeps a lone read as it is and arrival order within a group', () => {
    const [orgA, orgB, env1, env2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const entries = [
      read(orgA, env1, 1, member(orgA), null),
      read(orgA, env2, 2, member(orgA), [randomUUID()]),
      read(orgB, env1, 3, serviceAccount(orgB), null),
      read(orgA, env1, 4, serviceAccount(orgA), [randomUUID(), randomUUID()]),
      read(orgA, env1, 5, member(orgA), null),
    ];
    const stored = readBatchEntries(entries);
    assert.equal(stored.length, 3);
    assert.equal(stored[0]!.event.action, READ_BATCH_ACTION);
    assert.equal(stored[0]!.organisationId, orgA);
    assert.equal(stored[0]!.event.environmentId, env1);
    assert.equal(stored[0]!.actor, null);
    const records = (stored[0]!.event.snapshot as { reads: string }).reads.split(';');
    assert.deepEqual(records.map((r) => r.split(',')[7]), ['1', '4', '5'], 'one record per read, in arrival order');
    assert.equal(stored[1], entries[1], 'a lone read is stored as its own event');
    assert.equal(stored[2], entries[2]);
    assert.deepEqual(readBatchEntries([entries[0]!]), [entries[0]]);
  });

  it(`stores at most ${READS_PER_EVENT_MAX} reads per event`, () => {
    const [org, env] = [randomUUID(), randomUUID()];
    const principal = member(org);
    const entries = Array.from({ length: 2 * READS_PER_EVENT_MAX + 1 }, (_, n) => read(org, env, n, principal, null));
    const stored = readBatchEntries(entries);
    assert.deepEqual(
      stored.map((e) => (e.event.action === READ_BATCH_ACTION ? (e.event.snapshot as { reads: string }).reads.split(';').length : e.event.action)),
      [READS_PER_EVENT_MAX, READS_PER_EVENT_MAX, 'read'],
    );
    assert.equal(stored[2], entries.at(-1));
  });

  it('stores a lone surrogate as a text column would, U+FFFD, instead of failing the batch', () => {
    const [org, env] = [randomUUID(), randomUUID()];
    const odd = read(org, env, 1, member(org), null);
    const entries = [{ ...odd, actor: { ...odd.actor!, userAgent: 'cut \uD83D here, pair \uD83D\uDD11 kept' } }, read(org, env, 2, member(org), null)];
    const [batch] = readBatchEntries(entries);
    const row = { organisation_id: org, seq: 1, id: randomUUID(), app_id: null, environment_id: env, created_at: new Date(), prev_mac: 'p', mac: 'm', action: batch!.event.action, snapshot: batch!.event.snapshot } as unknown as EventRow;
    assert.deepEqual(expandReadBatches([row]).map((e) => e.user_agent), ['cut \uFFFD here, pair \uD83D\uDD11 kept', entries[1]!.actor!.userAgent]);
  });

  it('leaves out a record it did not write (a malformed escape, a wrong field count, a bad time) instead of failing', () => {
    const [org, env] = [randomUUID(), randomUUID()];
    const [batch] = readBatchEntries([read(org, env, 1, member(org), [randomUUID()]), read(org, env, 2, member(org), null)]);
    const good = (batch!.event.snapshot as { reads: string }).reads.split(';');
    const fields = good[0]!.split(',');
    const broken = [
      [...fields.slice(0, 8), '%ZZ', ...fields.slice(9)].join(','),
      [...fields.slice(0, 6), '%E0%A4%A', ...fields.slice(7)].join(','),
      fields.slice(1).join(','),
      [fields[0], 'yesterday', ...fields.slice(2)].join(','),
    ];
    const row = { organisation_id: org, seq: 1, id: randomUUID(), app_id: null, environment_id: env, created_at: new Date(), prev_mac: 'p', mac: 'm', action: READ_BATCH_ACTION, snapshot: { reads: [...broken, good[1]].join(';') } } as unknown as EventRow;
    assert.deepEqual(expandReadBatches([row]).map((e) => e.environment_revision), [2]);
  });

  it("records each read's own caller, address and user agent when neighbours differ in one of them only", () => {
    const [org, env] = [randomUUID(), randomUUID()];
    const alice = member(org);
    const aliceOtherToken: Principal = { ...alice, tokenId: randomUUID() };
    const robot = serviceAccount(org);
    const robotAsMember = { kind: 'member', organisationId: org, memberId: robot.kind === 'service_account' ? robot.serviceAccountId : '', userId: randomUUID(), tokenId: robot.tokenId } as Principal;
    const base = read(org, env, 1, alice, null);
    const variants: AppendEntry[] = [
      base,
      { ...base, actor: { ...base.actor!, principal: { ...alice } } }, // equal, another object
      { ...base, actor: { ...base.actor!, ip: '10.9.9.9' } },
      { ...base, actor: { ...base.actor!, ip: '10.9.9.9', userAgent: 'other agent' } },
      { ...base, actor: { ...base.actor!, ip: '10.9.9.9', userAgent: 'other agent', principal: aliceOtherToken } },
      { ...base, actor: { principal: robot, ip: '10.9.9.9', userAgent: 'other agent' } },
      { ...base, actor: { principal: robotAsMember, ip: '10.9.9.9', userAgent: 'other agent' } },
      { ...base, actor: { principal: alice, ip: null, userAgent: null } },
      base,
    ].map((entry, n) => ({ ...entry, at: new Date(Date.UTC(2026, 10, 24, 12, 0, 0, n)) }));
    const [batch] = readBatchEntries(variants);
    const row = { organisation_id: org, seq: 1, id: randomUUID(), app_id: base.event.appId, environment_id: env, created_at: new Date(), prev_mac: 'p', mac: 'm', action: READ_BATCH_ACTION, snapshot: batch!.event.snapshot } as unknown as EventRow;
    const actorFields = (e: { actor_member_id: unknown; actor_service_account_id: unknown; actor_token_id: unknown; ip: unknown; user_agent: unknown }) => [e.actor_member_id, e.actor_service_account_id, e.actor_token_id, e.ip, e.user_agent];
    assert.deepEqual(
      expandReadBatches([row]).map(actorFields),
      variants.map((entry) => actorFields(expected(entry))),
    );
  });

  it('stores an event that is not a plain secret read as itself', () => {
    const [org, env] = [randomUUID(), randomUUID()];
    const plain = read(org, env, 1, member(org), null);
    const described = { ...read(org, env, 2, member(org), null), event: { ...plain.event, description: 'why' } };
    const otherSnapshot = { ...read(org, env, 3, member(org), null), event: { ...plain.event, snapshot: { count: 1, selection: 'all', more: true } } };
    const notRead = { ...read(org, env, 4, member(org), null), event: { ...plain.event, action: 'create' } };
    const oddRevision = { ...read(org, env, 6, member(org), null), event: { ...plain.event, environmentRevision: 1.5 } };
    const stored = readBatchEntries([plain, described, otherSnapshot, notRead, oddRevision, read(org, env, 5, member(org), [])]);
    assert.deepEqual(stored.slice(0, 4), [described, otherSnapshot, notRead, oddRevision]);
    assert.equal(stored[4]!.event.action, READ_BATCH_ACTION);
    assert.equal(stored.length, 5);
  });
});

for (const target of STORE_TARGETS) {
  describe(`read batches stored on ${target.kind}`, () => {
    let store: Store;
    const keyring = masterKeyring({ active: randomBytes(32) });
    before(async () => {
      store = await target.open();
    });
    after(() => store.close());

    it('reads back one event per read with every field it had; the batch MAC covers each read', async () => {
      const trail = new SharedAuditTrail(store.db, new EventChainer(keyring));
      const org = randomUUID();
      const now = new Date();
      await store.db.insertInto('organisations').values({ id: org, name: 'batches', created_at: now, updated_at: now }).execute();
      await trail.startChain(store.db, org);
      const [env1, env2] = [randomUUID(), randomUUID()];
      const entries = Array.from({ length: 12 }, (_, n) =>
        read(org, n % 4 === 3 ? env2 : env1, n + 1, n % 2 ? serviceAccount(org) : member(org), n % 5 === 0 ? null : [randomUUID()]),
      );
      const refused = await trail.appendReads(readBatchEntries(entries));
      assert.equal(refused.size, 0);

      const rows = await store.db.selectFrom('events').selectAll().where('organisation_id', '=', org).orderBy('seq').execute();
      assert.deepEqual(rows.map((r) => [r.seq, r.action, r.environment_id]), [[1, READ_BATCH_ACTION, env1], [2, READ_BATCH_ACTION, env2]]);
      // A batch names the secrets of its reads as one read would (a secret's history filters on it): null if one read was unfiltered.
      const env2Ids = entries.filter((e) => e.event.environmentId === env2).flatMap((e) => e.event.secretIds!);
      assert.deepEqual([rows[0]!.secret_ids, [...rows[1]!.secret_ids!].sort()], [null, env2Ids.sort()]);
      const events = expandReadBatches(rows);
      const byGroup = [...entries.filter((e) => e.event.environmentId === env1), ...entries.filter((e) => e.event.environmentId === env2)];
      assert.deepEqual(
        events.map(({ id: _id, seq: _seq, prev_mac: _prev, mac: _mac, ...fields }) => fields),
        byGroup.map(expected),
      );
      assert.equal(new Set(events.map((e) => e.id)).size, entries.length, 'every read has an id of its own');
      for (const event of events) {
        const row = rows.find((r) => r.seq === event.seq)!;
        assert.deepEqual([event.prev_mac, event.mac], [row.prev_mac, row.mac]);
      }
      assert.deepEqual(await verifyAuditTrail(store.db, keyring, org), { organisations: 1, events: 2, problem: undefined });

      // Changing one read inside a stored batch breaks the batch's MAC.
      const tampered = await sql`update events set snapshot = jsonb_build_object('reads', replace(snapshot->>'reads', ',10.0.0.2,', ',192.0.2.1,'))
                                 where organisation_id = ${org} and seq = 1 and snapshot->>'reads' like '%,10.0.0.2,%'`.execute(store.db);
      assert.equal(tampered.numAffectedRows, 1n);
      const report = await verifyAuditTrail(store.db, keyring, org);
      assert.equal(report.problem?.kind, 'altered');
      assert.equal(report.problem?.seq, 1);
    });
  });
}
