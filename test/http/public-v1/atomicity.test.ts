// Batch atomicity (rest-api §4.7, DEVIATION D-16) on every store: a POST, PUT or DELETE batch with one
// bad entry, wherever it sits, changes nothing: no secret, version, override, tag, folder, event,
// environment revision or updatedAt moves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { createApp, environmentRow, postSecrets, secretEvents, secretsUrl, type CreatedApp } from '../../helpers/world.js';

const LONG_TAG = 't'.repeat(65);

for (const target of STORE_TARGETS) {
  describe(`batch atomicity (D-16) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    let envId: string;
    let url: string;
    let existing: any[];
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Atomic');
      envId = app.env.development!.id;
      url = secretsUrl(app.id, 'development');
      existing = await postSecrets(api, app.id, 'development', [
        { key: 'E0', value: 'v0', tags: ['keep'] },
        { key: 'E1', value: 'v1', path: '/dir' },
        { key: 'E2', value: 'v2', type: 'sealed' },
        { key: 'E3', value: 'v3', override: { value: 'o3', isActive: true } },
      ]);
    });
    after(() => server.close());

    /** Everything a batch could change, read back through the API and the store. */
    async function state() {
      const db = server.domain.deps.db;
      const listed = (await api.get(url)).body;
      const env = await environmentRow(server.domain, envId);
      const envView = (await api.get(`/v1/environments/${envId}/`)).body;
      const writes = await secretEvents(server.domain, owner.organisationId, envId, { writes: true });
      const folders = await db.selectFrom('folders').select(['id', 'path', 'name']).where('environment_id', '=', envId).orderBy('id').execute();
      const tags = await db.selectFrom('tags').select('name').where('organisation_id', '=', owner.organisationId).orderBy('name').execute();
      const overrides = await db.selectFrom('personal_overrides').select(['id', 'secret_id', 'value', 'is_active', 'updated_at']).where('organisation_id', '=', owner.organisationId).orderBy('id').execute();
      const rows = await db.selectFrom('secrets').select(['id', 'version', 'key', 'value', 'deleted_at', 'updated_at']).where('environment_id', '=', envId).orderBy('id').execute();
      return { listed, revision: env!.revision, envUpdatedAt: envView.updatedAt, writes: writes.length, folders, tags, overrides, rows };
    }

    async function assertUnchanged(label: string, request: () => Promise<{ status: number; body: any; text: string }>, status: number, message: string) {
      const before = await state();
      const res = await request();
      assert.deepEqual({ status: res.status, body: res.body }, { status, body: { error: message } }, `${label}: ${res.text}`);
      const after = await state();
      assert.deepEqual(after, before, label);
    }

    it('POST: a bad entry first, in the middle or last creates nothing', async () => {
      const good = (i: number) => ({ key: `NEW_${i}`, value: `n${i}`, path: `/new/${i}`, tags: [`new-tag-${i}`], override: { value: 'o', isActive: true } });
      const bad: Array<[string, unknown, number, string]> = [
        ['step 2 (value)', { key: 'BAD', value: 5 }, 400, "Each secret requires a 'value' string."],
        ['step 3 (folder)', { key: 'BAD', value: 'v', path: `/${'f'.repeat(65)}` }, 400, 'Folder names cannot exceed 64 characters.'],
        ['step 4 (stored duplicate)', { key: 'e1', value: 'v', path: 'dir' }, 409, 'Duplicate secret found'],
        ['step 4 (duplicate in the request)', { key: 'new_1', value: 'v', path: '/new/1/' }, 409, 'Duplicate secret found'],
        ['step 5 (over-long tag)', { key: 'BAD', value: 'v', tags: ['fine', LONG_TAG] }, 400, `Tag name exceeds 64 characters: '${'t'.repeat(32)}'…`],
      ];
      for (const [label, entry, status, message] of bad) {
        for (const position of [0, 1, 2]) {
          const secrets: unknown[] = [good(0), good(1)];
          secrets.splice(position, 0, entry);
          // a request-internal duplicate needs its twin in the batch
          if (label.includes('in the request') && position === 0) continue;
          await assertUnchanged(`${label} at ${position}`, () => api.post(url, { secrets }), status, message);
        }
      }
    });

    it('PUT: a bad entry first, in the middle or last updates nothing', async () => {
      const [e0, e1, e2, e3] = existing;
      const good = [
        { id: e0.id, value: 'changed', tags: ['changed-tag'], path: '/moved/here' },
        { id: e3.id, key: 'e3_renamed', override: { value: 'o-changed', isActive: false } },
        { id: e1.id, comment: 'changed' },
      ];
      const missing = '00000000-0000-4000-8000-000000000000';
      const bad: Array<[string, unknown, number, string]> = [
        ['step 2 (id)', { value: 'x' }, 400, 'Secret ID not provided'],
        ['step 3 (D-13)', { id: e1.id, key: ' ' }, 400, "Each secret requires a non-empty 'key'."],
        ['step 4 (duplicate)', { id: e2.id, key: 'E0' }, 409, 'Duplicate secret found'],
        ['step 5 (404 id)', { id: missing, value: 'x' }, 404, `Secret not found: ${missing}`],
        ['step 5 (unseal)', { id: e2.id, type: 'secret' }, 400, 'Sealed secrets cannot be unsealed. Delete and recreate the secret instead.'],
        ['step 5 (over-long tag)', { id: e1.id, tags: [LONG_TAG] }, 400, `Tag name exceeds 64 characters: '${'t'.repeat(32)}'…`],
      ];
      for (const [label, entry, status, message] of bad) {
        for (const position of [0, 2, 3]) {
          const secrets: unknown[] = [...good];
          secrets.splice(position, 0, entry);
          await assertUnchanged(`${label} at ${position}`, () => api.put(url, { secrets }), status, message);
        }
      }
    });

    it('DELETE: one unknown id anywhere deletes nothing', async () => {
      const ids = existing.map((s) => s.id);
      for (const position of [0, 2, 4]) {
        const secrets = [...ids];
        secrets.splice(position, 0, 'missing-id');
        await assertUnchanged(`missing at ${position}`, () => api.delete(url, { secrets }), 404, 'Secret(s) not found in this environment: missing-id');
      }
      await assertUnchanged('non-string id', () => api.delete(url, { secrets: [...ids, 7] }), 400, "'secrets' must be a non-empty list of secret IDs.");
    });

    it('concurrent batches racing for one key: exactly one wins, the others leave nothing behind', async () => {
      const racers = 6;
      const results = await Promise.all(
        Array.from({ length: racers }, (_, i) =>
          api.post(url, { secrets: [{ key: `RACE_ONLY_${i}`, value: `${i}` }, { key: 'RACE_SHARED', value: `${i}` }] }),
        ),
      );
      const winners = results.filter((r) => r.status === 200);
      assert.equal(winners.length, 1, results.map((r) => r.text).join('\n'));
      for (const loser of results.filter((r) => r.status !== 200)) assert.deepEqual({ status: loser.status, body: loser.body }, { status: 409, body: { error: 'Duplicate secret found' } });
      const listed = (await api.get(url)).body.map((s: any) => s.key).filter((k: string) => k.startsWith('RACE_'));
      const winner = winners[0]!.body[0].key as string;
      assert.deepEqual(listed.sort(), [winner, 'RACE_SHARED'].sort());
    });
  });
}
