// Reading the audit trail: a secret's history (GET /v1/secrets/{id}/history/) and the
// organisation's events (GET /coffer/v1/audit/events/, keyset pagination), on both stores.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HISTORY_READS_MAX, HISTORY_WRITES_MAX, SNAPSHOT_BYTES_PER_ANSWER } from '../../src/domain/audit-log.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { addMember, createCustomRole } from '../helpers/principals.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';

for (const target of STORE_TARGETS) {
  describe(`audit trail API on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let appId: string;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization, );
      appId = (await api.post('/v1/apps/', { name: 'History' })).body.id;
    });
    after(() => server.close());

    it("shows a secret's writes with the value of each version and the reads that returned it", async () => {
      const q = `?app_id=${appId}&env=development`;
      const created = await api.post(`/v1/secrets/${q}`, { secrets: [{ key: 'API_KEY', value: 'v1', comment: 'first' }, { key: 'OTHER', value: 'o' }] }, { 'user-agent': 'history-test/1.0' });
      const id = created.body[0].id;
      const other = created.body[1].id;
      await api.get(`/v1/secrets/${q}`);
      await api.put(`/v1/secrets/${q}`, { secrets: [{ id, value: 'v2' }] });
      await api.get(`/v1/secrets/${q}&key=OTHER`);
      await api.get(`/v1/secrets/${q}&key=api_key`);
      await api.delete(`/v1/secrets/${q}`, { secrets: [id] });
      await api.get(`/v1/secrets/${q}`);

      const history = await api.get(`/v1/secrets/${id}/history/`);
      assert.equal(history.status, 200, history.text);
      const actions = history.body.data.map((e: any) => [e.action, e.version, e.value]);
      // The unfiltered read before the update, the key-filtered read of this secret; not the read of OTHER, not the read after deletion.
      assert.deepEqual(actions, [
        ['create', 1, 'v1'],
        ['read', null, null],
        ['update', 2, 'v2'],
        ['read', null, null],
        ['delete', 2, 'v2'],
      ]);
      const first = history.body.data[0];
      assert.equal(first.key, 'API_KEY');
      assert.equal(first.comment, 'first');
      assert.deepEqual(first.actor, { type: 'member', id: owner.memberId, tokenId: first.actor.tokenId });
      assert.ok(first.actor.tokenId);
      assert.equal(first.userAgent, 'history-test/1.0');
      assert.equal(first.ip, '127.0.0.1');
      assert.ok(history.body.data.every((e: any, i: number, all: any[]) => i === 0 || e.seq > all[i - 1].seq));
      assert.equal(history.body.truncated, false);
      assert.notEqual((await api.get(`/v1/secrets/${other}/history/`)).body.data.length, 0);

      // The history holds every version's plaintext: reading it is itself an event (it was none),
      // stored before the answer, and not one of the secret's versions in the next history.
      await server.domain.deps.audit.sync();
      const recorded = await server.store.db.selectFrom('events').select(['action', 'secret_id', 'actor_member_id']).where('secret_id', '=', id).where('action', '=', 'history').execute();
      assert.equal(recorded.length, 1);
      const again = await api.get(`/v1/secrets/${id}/history/`);
      assert.deepEqual(again.body.data.map((e: any) => e.action), history.body.data.map((e: any) => e.action));
    });

    it('pages through the organisation trail by sequence number', async () => {
      const all: any[] = [];
      let after = 0;
      for (;;) {
        const page = await api.get(`/coffer/v1/audit/events/?after=${after}&limit=3`);
        assert.equal(page.status, 200, page.text);
        assert.ok(page.body.data.length <= 3);
        all.push(...page.body.data);
        if (page.body.next === null) break;
        assert.equal(page.body.next, page.body.data.at(-1).seq);
        after = page.body.next;
      }
      assert.deepEqual(all.map((e) => e.seq), all.map((_e, i) => i + 1));
      assert.equal(all[0].action, 'organisation.create');
      for (let i = 1; i < all.length; i++) assert.equal(all[i].prevMac, all[i - 1].mac);
      assert.ok(all.some((e) => e.action === 'app.create'));
      const bad = await api.get('/coffer/v1/audit/events/?limit=5000');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { error: "'limit' must be an integer from 1 to 500." });
    });

    it(`ends a page early, and keeps a history to its newest versions, within ${SNAPSHOT_BYTES_PER_ANSWER / 1024 / 1024} MiB of snapshots`, async () => {
      const q = `?app_id=${appId}&env=production`;
      const big = (n: number) => `${n}:${'v'.repeat(2_000_000)}`;
      const created = await api.post(`/v1/secrets/${q}`, { secrets: [{ key: 'BIG', value: big(0) }] });
      assert.equal(created.status, 200, created.text.slice(0, 200));
      const id = created.body[0].id;
      const updates = 16; // 17 versions of about 2.7 MB of ciphertext each: past one answer's budget
      for (let n = 1; n <= updates; n++) assert.equal((await api.put(`/v1/secrets/${q}`, { secrets: [{ id, value: big(n) }] })).status, 200);

      const history = await api.get(`/v1/secrets/${id}/history/`);
      assert.equal(history.status, 200, history.text.slice(0, 200));
      const versions = history.body.data.map((e: any) => e.version);
      assert.ok(versions.length > 1 && versions.length < updates + 1, `history holds ${versions.length} versions`);
      assert.deepEqual(versions, versions.map((_: unknown, i: number) => updates + 2 - versions.length + i), 'the newest versions, in order');
      assert.equal(history.body.data.at(-1).value, big(updates));
      assert.equal(history.body.truncated, true);

      const seqs: number[] = [];
      let after = 0;
      let short = false;
      for (;;) {
        const page = await api.get(`/coffer/v1/audit/events/?after=${after}&limit=100`);
        assert.equal(page.status, 200, page.text.slice(0, 200));
        seqs.push(...page.body.data.map((e: any) => e.seq));
        if (page.body.next === null) break;
        if (page.body.data.length < 100) short = true;
        after = page.body.next;
      }
      assert.ok(short, 'a page ended before its limit');
      assert.deepEqual(seqs, seqs.map((_e, i) => i + 1), 'no event skipped or repeated across pages');
    });

    it(`keeps a history to its newest ${HISTORY_WRITES_MAX} versions and ${HISTORY_READS_MAX} reads`, async () => {
      const q = `?app_id=${appId}&env=staging`;
      const created = await api.post(`/v1/secrets/${q}`, { secrets: [{ key: 'READ_OFTEN', value: 'v1' }] });
      const id = created.body[0].id;
      const extraReads = 3;
      const readsWanted = HISTORY_READS_MAX + extraReads;
      for (let done = 0; done < readsWanted; done += 25) {
        const batch = Array.from({ length: Math.min(25, readsWanted - done) }, () => api.get(`/v1/secrets/${q}&key=READ_OFTEN`));
        for (const read of await Promise.all(batch)) assert.equal(read.status, 200, read.text);
      }
      const readHistory = await api.get(`/v1/secrets/${id}/history/`);
      assert.equal(readHistory.status, 200, readHistory.text.slice(0, 200));
      const reads = readHistory.body.data.filter((e: any) => e.action === 'read');
      assert.equal(reads.length, HISTORY_READS_MAX);
      assert.equal(readHistory.body.data[0].action, 'create', 'every version is still there');
      assert.equal(readHistory.body.truncated, true);
      const trail: any[] = [];
      for (let after = 0; ; ) {
        const page = await api.get(`/coffer/v1/audit/events/?after=${after}&limit=500`);
        trail.push(...page.body.data.filter((e: any) => e.action === 'read' && e.environmentId === readHistory.body.data[0].environmentId));
        if (page.body.next === null) break;
        after = page.body.next;
      }
      assert.deepEqual(reads.map((e: any) => e.seq), trail.slice(extraReads).map((e) => e.seq), 'the newest reads, oldest first');

      const updates = HISTORY_WRITES_MAX;
      for (let n = 2; n <= updates + 1; n++) {
        const put = await api.put(`/v1/secrets/${q}`, { secrets: [{ id, value: `v${n}` }] });
        assert.equal(put.status, 200, put.text);
      }
      const writeHistory = await api.get(`/v1/secrets/${id}/history/`);
      const versions = writeHistory.body.data.filter((e: any) => e.action !== 'read').map((e: any) => e.version);
      assert.equal(versions.length, HISTORY_WRITES_MAX);
      assert.deepEqual(versions, versions.map((_: unknown, i: number) => updates + 2 - HISTORY_WRITES_MAX + i), 'the newest versions, in order');
      assert.equal(writeHistory.body.data.at(-1).value, `v${updates + 1}`);
      assert.equal(writeHistory.body.truncated, true);
    });

    it('shows each of many concurrent reads as an event of its own, however they were stored', async () => {
      const q = `?app_id=${appId}&env=development`;
      const created = await api.post(`/v1/secrets/${q}`, { secrets: [{ key: 'BATCHED', value: 'b' }, { key: 'NOT_THIS_ONE', value: 'n' }] });
      assert.equal(created.status, 200, created.text);
      const id = created.body[0].id;
      const agents = Array.from({ length: 30 }, (_, i) => `batch-reader/${i}`);
      const otherAgents = Array.from({ length: 10 }, (_, i) => `other-reader/${i}`);
      const reads = await Promise.all([
        ...agents.map((agent, i) => api.get(`/v1/secrets/${q}${i % 3 === 0 ? '' : '&key=BATCHED'}`, { 'user-agent': agent })),
        ...otherAgents.map((agent) => api.get(`/v1/secrets/${q}&key=NOT_THIS_ONE`, { 'user-agent': agent })),
      ]);
      for (const res of reads) assert.equal(res.status, 200, res.text);

      const history = await api.get(`/v1/secrets/${id}/history/`);
      const historyReads = history.body.data.filter((e: any) => e.action === 'read' && agents.includes(e.userAgent));
      assert.deepEqual(historyReads.map((e: any) => e.userAgent).sort(), [...agents].sort());
      assert.ok(history.body.data.every((e: any) => !otherAgents.includes(e.userAgent)), 'reads of another secret stored in the same batch are not in its history');
      for (const e of historyReads) {
        assert.deepEqual(e.actor, { type: 'member', id: owner.memberId, tokenId: e.actor.tokenId });
        assert.deepEqual(e.secretIds, agents.indexOf(e.userAgent) % 3 === 0 ? null : [id]);
      }

      // Pages of one chain link each: a link's reads come together and no read is repeated or lost.
      const trail: any[] = [];
      for (let after = 0; ; ) {
        const page = await api.get(`/coffer/v1/audit/events/?after=${after}&limit=1`);
        assert.equal(page.status, 200, page.text);
        assert.equal(new Set(page.body.data.map((e: any) => e.seq)).size, 1);
        trail.push(...page.body.data);
        if (page.body.next === null) break;
        after = page.body.next;
      }
      assert.equal(trail.filter((e) => otherAgents.includes(e.userAgent)).length, otherAgents.length);
      const trailReads = trail.filter((e) => e.action === 'read' && agents.includes(e.userAgent));
      assert.deepEqual(trailReads.map((e) => e.userAgent).sort(), [...agents].sort());
      assert.equal(new Set(trailReads.map((e) => e.id)).size, agents.length, 'every read has an id of its own');
      assert.deepEqual(trailReads.map((e) => e.id).sort(), historyReads.map((e: any) => e.id).sort());
      assert.ok(trail.every((e) => e.action !== 'reads'), 'stored batches are shown as their reads');
      // A batch's reads of one environment are chained as one event.
      assert.ok(new Set(trailReads.map((e) => e.seq)).size < agents.length, 'concurrent reads were stored together');
    });

    it("lists an account's events only for the apps and environments it holds, and stops when it loses them", async () => {
      const events = async (client: ApiClient) => {
        const all: any[] = [];
        for (let after = 0; ; ) {
          const page = await client.get(`/coffer/v1/audit/events/?after=${after}&limit=500`);
          assert.equal(page.status, 200, page.text);
          all.push(...page.body.data);
          if (page.body.next === null) return all;
          after = page.body.next;
        }
      };
      const shop = (await api.post('/v1/apps/', { name: 'Scoped' })).body;
      const envOf = (name: string) => shop.environments.find((e: any) => e.name === name).id;
      const elsewhere = (await api.post('/v1/apps/', { name: 'Elsewhere' })).body;
      const developer = await addMember(server.domain, owner.organisationId, 'Developer');
      const dev = apiClient(server.url, developer.authorization);
      const granted = await api.put(`/v1/members/${developer.memberId}/access/`, { apps: [{ id: shop.id, environments: [envOf('Development')] }] });
      assert.equal(granted.status, 200, granted.text);
      const write = async (app: string, env: string, key: string) => {
        const res = await api.post(`/v1/secrets/?app_id=${app}&env=${env}`, { secrets: [{ key, value: `${key}-value` }] });
        assert.equal(res.status, 200, res.text);
        return res.body[0].id as string;
      };
      const held = await write(shop.id, 'development', 'HELD');
      const notHeld = await write(shop.id, 'production', 'NOT_HELD');
      const otherApp = await write(elsewhere.id, 'development', 'OTHER_APP');

      const seen = await events(dev);
      const secretIds = new Set(seen.map((e) => e.secretId).filter(Boolean));
      assert.ok(secretIds.has(held), 'the environment it holds');
      assert.ok(!secretIds.has(notHeld) && !secretIds.has(otherApp), 'nothing of environments or apps it does not hold');
      assert.ok(seen.every((e) => e.environmentId === null || e.environmentId === envOf('Development')));
      assert.ok(seen.every((e) => e.appId === null || e.appId === shop.id));
      assert.ok(seen.some((e) => e.action === 'organisation.create'), "the organisation's own events");
      assert.ok(seen.some((e) => e.action === 'app.create' && e.appId === shop.id), "its app's events");
      const everything = await events(api);
      assert.ok(everything.some((e) => e.secretId === notHeld) && everything.some((e) => e.secretId === otherApp), 'global access sees all');

      // A role that reads the organisation's logs but no app's: the organisation's events only.
      const orgLogsOnly = await createCustomRole(server.domain, owner.organisationId, 'Org logs', { Logs: ['read'] }, { Secrets: ['read'] });
      const auditor = await addMember(server.domain, owner.organisationId, { id: orgLogsOnly });
      assert.equal((await api.put(`/v1/members/${auditor.memberId}/access/`, { apps: [{ id: shop.id, environments: [envOf('Development')] }] })).status, 200);
      const orgOnly = await events(apiClient(server.url, auditor.authorization));
      assert.ok(orgOnly.length > 0 && orgOnly.every((e) => e.appId === null && e.environmentId === null));

      // A role that reads an app's logs but not its secrets sees that a write happened, not what was
      // written: the snapshot holds the ciphertexts its environment grant would open.
      assert.ok(seen.some((e) => e.secretId === held && e.action === 'create' && typeof e.snapshot?.value === 'string'), 'Secrets/read: the write with its ciphertexts');
      const logsOnly = await createCustomRole(server.domain, owner.organisationId, 'App logs', { Logs: ['read'] }, { Logs: ['read'], Environments: ['read'] });
      const reviewer = await addMember(server.domain, owner.organisationId, { id: logsOnly });
      assert.equal((await api.put(`/v1/members/${reviewer.memberId}/access/`, { apps: [{ id: shop.id, environments: [envOf('Development')] }] })).status, 200);
      const reviewed = await events(apiClient(server.url, reviewer.authorization));
      const heldWrite = reviewed.find((e) => e.secretId === held && e.action === 'create');
      assert.ok(heldWrite, 'the write is listed');
      assert.equal(heldWrite.snapshot, null, 'without its ciphertexts, path or tags');
      assert.ok(reviewed.some((e) => e.action === 'app.create' && e.snapshot !== null), 'other events keep their snapshots');

      // Access taken away: the environment's events, old and new, are no longer listed.
      assert.equal((await api.put(`/v1/members/${developer.memberId}/access/`, { apps: [] })).status, 200);
      const after = await write(shop.id, 'development', 'AFTER_REVOKE');
      const now = await events(dev);
      assert.ok(now.every((e) => e.appId === null && e.environmentId === null), 'only organisation events remain');
      assert.ok(!now.some((e) => e.secretId === held || e.secretId === after));
    });

    it('keeps other organisations out', async () => {
      const intruder = await createOwner(server.domain, { name: 'Other' });
      const theirs = apiClient(server.url, intruder.authorization);
      const mine = await api.post(`/v1/secrets/?app_id=${appId}&env=staging`, { secrets: [{ key: 'MINE', value: 'private' }] });
      const res = await theirs.get(`/v1/secrets/${mine.body[0].id}/history/`);
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { error: 'Secret not found' });
      const events = await theirs.get('/coffer/v1/audit/events/');
      assert.ok(events.body.data.every((e: any) => !JSON.stringify(e).includes(owner.organisationId)));
      assert.doesNotMatch(events.text, /MINE|private/);
    });
  });
}
