// PUT /v1/secrets/ (rest-api §4.4, §4.6, §5.6, §5.8, §5.10) on every store: field semantics, null
// handling (D-7), validation order, D-10, D-13, D-15, sealed secrets, versions per entry, overrides.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyDigest } from '../../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { addServiceAccount, grantAccess } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, environmentRow, listSecrets, postSecrets, secretEvents, secretsUrl, sleep, type CreatedApp } from '../../helpers/world.js';

const TYPES = "Must be one of ['config', 'sealed', 'secret'].";
const UNSEAL = 'Sealed secrets cannot be unsealed. Delete and recreate the secret instead.';

for (const target of STORE_TARGETS) {
  describe(`PUT /v1/secrets/ (rest-api §4.4) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    let url: string;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Put');
      url = secretsUrl(app.id, 'development');
    });
    after(() => server.close());

    const put = async (secrets: unknown[]) => {
      const res = await api.put(url, { secrets });
      assert.equal(res.status, 200, res.text);
      return res.body as any[];
    };
    const get = async (id: string) => (await listSecrets(api, app.id, 'development')).find((s) => s.id === id);

    it('an entry with only an id changes nothing but version (+1) and updatedAt', async () => {
      const [secret] = await postSecrets(api, app.id, 'development', [{ key: 'ONLY_ID', value: 'v', comment: 'c', tags: ['t'], path: '/p', type: 'config' }]);
      await sleep(2);
      const [updated] = await put([{ id: secret.id }]);
      const { version, updatedAt, ...rest } = updated;
      const { version: v0, updatedAt: u0, ...rest0 } = secret;
      assert.deepEqual(rest, rest0);
      assert.equal(version, v0 + 1);
      assert.ok(updatedAt > u0);
      assert.deepEqual(await get(secret.id), updated);
    });

    it('present fields replace, absent and null ones (key, value, comment, type, path) leave them unchanged', async () => {
      const salt = (await server.domain.deps.keys.secretsOf(app.env.development!.id))!.saltHex;
      const [secret] = await postSecrets(api, app.id, 'development', [{ key: 'FIELDS', value: 'v1', comment: 'c1', tags: ['a', 'b'], path: '/one', type: 'secret' }]);
      const [nulls] = await put([{ id: secret.id, key: null, value: null, comment: null, type: null, path: null }]);
      assert.deepEqual([nulls.key, nulls.value, nulls.comment, nulls.type, nulls.path, nulls.tags, nulls.version], ['FIELDS', 'v1', 'c1', 'secret', '/one', ['a', 'b'], 2]);
      const [renamed] = await put([{ id: secret.id, key: 'fields_renamed' }]);
      assert.deepEqual([renamed.key, renamed.keyDigest, renamed.path], ['FIELDS_RENAMED', keyDigest('FIELDS_RENAMED', salt), '/one']);
      assert.notEqual(renamed.keyDigest, secret.keyDigest);
      const [changed] = await put([{ id: secret.id, value: 'v2', comment: '', type: 'config', tags: ['b', ' c ', 'b'], path: 'two//three/' }]);
      assert.deepEqual(
        [changed.value, changed.comment, changed.type, changed.tags, changed.path, changed.keyDigest, changed.version],
        ['v2', '', 'config', ['b', 'c'], '/two/three', renamed.keyDigest, 4],
      );
      assert.notEqual(changed.folder, secret.folder);
      const [untagged] = await put([{ id: secret.id, tags: [] }]);
      assert.deepEqual(untagged.tags, []);
      await put([{ id: secret.id, tags: ['x'] }]);
      const [nullTags] = await put([{ id: secret.id, tags: null }]);
      assert.deepEqual(nullTags.tags, []);
      const [root] = await put([{ id: secret.id, path: '' }]);
      assert.deepEqual([root.path, root.folder], ['/', null]);
      assert.deepEqual(await get(secret.id), root);
      assert.equal(root.createdAt, secret.createdAt);
    });

    // rest-api §1.7: tags in the order first assigned. A PUT keeps the tags that remain where they
    // were and adds the new ones after them (as Phase's tags.set()); they came back in the PUT's order.
    it('keeps the tags that remain in the order first assigned, new ones after them', async () => {
      const [secret] = await postSecrets(api, app.id, 'development', [{ key: 'TAG_ORDER', value: 'v', tags: ['b', 'a'] }]);
      const [changed] = await put([{ id: secret.id, tags: ['c', 'a'] }]);
      assert.deepEqual(changed.tags, ['a', 'c']);
      assert.deepEqual((await get(secret.id)).tags, ['a', 'c']);
      const [again] = await put([{ id: secret.id, tags: ['d', 'c', 'b', 'a'] }]);
      assert.deepEqual(again.tags, ['a', 'c', 'd', 'b']);
      assert.deepEqual((await get(secret.id)).tags, ['a', 'c', 'd', 'b']);
    });

    it('validates in the order of §4.4 with the exact messages, writing nothing', async () => {
      const [a, b, sealed] = await postSecrets(api, app.id, 'staging', [
        { key: 'A', value: 'a' },
        { key: 'B', value: 'b', path: '/sub' },
        { key: 'SEALED', value: 's', type: 'sealed' },
      ]);
      const [deleted] = await postSecrets(api, app.id, 'staging', [{ key: 'DELETED', value: 'd' }]);
      assert.equal((await api.delete(secretsUrl(app.id, 'staging'), { secrets: [deleted.id] })).status, 200);
      const [elsewhere] = await postSecrets(api, app.id, 'production', [{ key: 'ELSEWHERE', value: 'e' }]);
      const unknown = '00000000-0000-4000-8000-000000000000';
      const long = 'l'.repeat(65);
      const cases: Array<[unknown, number, string]> = [
        [{}, 400, "'secrets' must be a non-empty list."],
        [{ secrets: [] }, 400, "'secrets' must be a non-empty list."],
        [{ secrets: { id: a.id } }, 400, "'secrets' must be a non-empty list."],
        // 2. per entry: id, type, override
        [{ secrets: [5] }, 400, 'Secret ID not provided'],
        [{ secrets: [{ id: a.id }, null] }, 400, 'Secret ID not provided'],
        [{ secrets: [{ key: 'A', type: 'x' }] }, 400, 'Secret ID not provided'],
        [{ secrets: [{ id: a.id, type: 'x', override: null }] }, 400, `Invalid 'type': 'x'. ${TYPES}`],
        [{ secrets: [{ id: a.id, type: 3 }] }, 400, `Invalid 'type': 3. ${TYPES}`],
        [{ secrets: [{ id: a.id, override: null }] }, 400, "'override' must be a JSON object."],
        [{ secrets: [{ id: a.id, override: { value: 'o' } }] }, 400, "'override.isActive' must be a boolean."],
        [{ secrets: [{ id: a.id, override: { isActive: true } }] }, 400, "'override.value' must be a string."],
        [{ secrets: [{ id: a.id, override: null }, {}] }, 400, "'override' must be a JSON object."],
        // 3. D-7 types and D-13, after step 2 for every entry
        [{ secrets: [{ id: a.id, key: 5 }, {}] }, 400, 'Secret ID not provided'],
        [{ secrets: [{ id: a.id, key: 5 }] }, 400, "'key' must be a string."],
        [{ secrets: [{ id: a.id, value: 5 }] }, 400, "'value' must be a string."],
        [{ secrets: [{ id: a.id, value: { v: 1 } }] }, 400, "'value' must be a string."],
        [{ secrets: [{ id: a.id, comment: true }] }, 400, "'comment' must be a string."],
        [{ secrets: [{ id: a.id, path: 1 }] }, 400, "'path' must be a string."],
        [{ secrets: [{ id: a.id, tags: 'x' }] }, 400, "'tags' must be a list of strings."],
        [{ secrets: [{ id: a.id, path: `/ok/${long}` }] }, 400, 'Folder names cannot exceed 64 characters.'],
        [{ secrets: [{ id: a.id, path: '\u0000' }] }, 400, 'Folder names cannot contain NUL (0x00) characters.'],
        [{ secrets: [{ id: a.id, tags: ['\u0000'] }] }, 400, 'Tag names cannot contain NUL (0x00) characters.'],
        [{ secrets: [{ id: a.id, value: 'half \ud83d' }] }, 400, "'value' must not contain unpaired surrogates."],
        [{ secrets: [{ id: a.id, override: { value: '\ude00', isActive: false } }] }, 400, "'override.value' must not contain unpaired surrogates."],
        [{ secrets: [{ id: a.id, key: '' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ id: a.id, key: ' \u3000\u001f' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ id: unknown, key: '' }] }, 400, "Each secret requires a non-empty 'key'."],
        // 4. duplicates (D-15), before existence
        [{ secrets: [{ id: a.id, key: 'sealed' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: b.id, path: '/' , key: 'a' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: b.id, path: '/' }, { id: a.id, key: 'b' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: a.id, key: 'NEW' }, { id: sealed.id, key: 'new' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: a.id, key: 'SEALED' }, { id: sealed.id, key: 'A' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: unknown, key: 'a' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: unknown, key: 'b', path: 'sub' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: 'junk', key: 'A' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ id: a.id, key: 'FRESH', tags: [long] }, { id: unknown, key: 'sealed' }] }, 409, 'Duplicate secret found'],
        // 5. per entry: existence (D-10), sealed, tags
        [{ secrets: [{ id: unknown, key: 'b' }] }, 404, `Secret not found: ${unknown}`],
        [{ secrets: [{ id: a.id }, { id: unknown }] }, 404, `Secret not found: ${unknown}`],
        [{ secrets: [{ id: unknown.toUpperCase() }] }, 404, `Secret not found: ${unknown.toUpperCase()}`],
        [{ secrets: [{ id: deleted.id, value: 'revived' }] }, 404, `Secret not found: ${deleted.id}`],
        [{ secrets: [{ id: elsewhere.id }] }, 404, `Secret not found: ${elsewhere.id}`],
        [{ secrets: [{ id: 'not-a-uuid' }] }, 404, 'Secret not found: not-a-uuid'],
        [{ secrets: [{ id: '' }] }, 404, 'Secret not found: '],
        [{ secrets: [{ id: 42 }] }, 404, 'Secret not found: 42'],
        [{ secrets: [{ id: null }] }, 404, 'Secret not found: None'],
        [{ secrets: [{ id: true }] }, 404, 'Secret not found: True'],
        [{ secrets: [{ id: [a.id] }] }, 404, `Secret not found: ['${a.id}']`],
        [{ secrets: [{ id: sealed.id, type: 'secret' }] }, 400, UNSEAL],
        [{ secrets: [{ id: sealed.id, type: 'config', tags: [long] }] }, 400, UNSEAL],
        [{ secrets: [{ id: unknown, tags: [long] }] }, 404, `Secret not found: ${unknown}`],
        [{ secrets: [{ id: a.id, tags: [long] }, { id: unknown }] }, 400, `Tag name exceeds 64 characters: '${'l'.repeat(32)}'…`],
        [{ secrets: [{ id: a.id }, { id: unknown }, { id: b.id, tags: [long] }] }, 404, `Secret not found: ${unknown}`],
        [{ secrets: [{ id: a.id, type: 'sealed' }, { id: a.id, type: 'secret' }] }, 400, UNSEAL],
      ];
      const env = app.env.staging!.id;
      const before = await listSecrets(api, app.id, 'staging');
      const revision = (await environmentRow(server.domain, env))!.revision;
      const writes = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length;
      for (const [body, status, message] of cases) assertError(await api.put(secretsUrl(app.id, 'staging'), body), status, message);
      assert.deepEqual(await listSecrets(api, app.id, 'staging'), before);
      assert.equal((await environmentRow(server.domain, env))!.revision, revision);
      assert.equal((await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length, writes);
    });

    it('duplicates are judged on the effective (path, key) of each entry (D-15)', async () => {
      const [a, b, gone] = await postSecrets(api, app.id, 'production', [
        { key: 'DUP_A', value: 'a', path: '/x' },
        { key: 'DUP_B', value: 'b' },
        { key: 'DUP_GONE', value: 'g' },
      ]);
      // Phase would compare with "/" and refuse this; the effective identity (/x, DUP_B) is free.
      const [renamed] = (await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: a.id, key: 'dup_b' }] })).body;
      assert.deepEqual([renamed.key, renamed.path], ['DUP_B', '/x']);
      // a move with path only is checked (Phase misses it)
      assertError(await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: a.id, path: '/' }] }), 409, 'Duplicate secret found');
      // own key in another case, and a deleted secret's key, are fine
      assert.equal((await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: b.id, key: 'Dup_B' }] })).status, 200);
      assert.equal((await api.delete(secretsUrl(app.id, 'production'), { secrets: [gone.id] })).status, 200);
      assert.equal((await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: b.id, key: 'dup_gone' }] })).body[0].key, 'DUP_GONE');
      // two entries of the same secret may move it twice
      const twice = (await api.put(secretsUrl(app.id, 'production'), { secrets: [{ id: a.id, path: '/y' }, { id: a.id, path: '/z', key: 'DUP_Z' }] })).body;
      assert.deepEqual(twice.map((s: any) => [s.key, s.path, s.version]), [['DUP_B', '/y', 3], ['DUP_Z', '/z', 4]]);
    });

    it('applies repeated ids one after another: one element and one version per entry', async () => {
      const env = app.env.development!.id;
      const [secret] = await postSecrets(api, app.id, 'development', [{ key: 'REPEATED', value: 'v0' }]);
      const revision = (await environmentRow(server.domain, env))!.revision;
      const writes = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length;
      const res = await put([{ id: secret.id, value: 'v1' }, { id: secret.id, comment: 'c' }, { id: secret.id }, { id: secret.id, value: 'v4', key: 'repeated_4' }]);
      assert.deepEqual(res.map((s) => [s.key, s.value, s.comment, s.version]), [
        ['REPEATED', 'v1', '', 2],
        ['REPEATED', 'v1', 'c', 3],
        ['REPEATED', 'v1', 'c', 4],
        ['REPEATED_4', 'v4', 'c', 5],
      ]);
      assert.ok(res.every((s) => s.id === secret.id && s.updatedAt === res[0].updatedAt));
      assert.deepEqual(await get(secret.id), res[3]);
      assert.equal((await environmentRow(server.domain, env))!.revision, revision + 1);
      const events = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).slice(writes);
      assert.deepEqual(events.map((e) => [e.action, e.secret_id, (e.snapshot as any).version]), [2, 3, 4, 5].map((v) => ['update', secret.id, v]));
    });

    it('sealed secrets: PUT values are discarded (still +1), never unsealed, plaintext still returned (§5.6)', async () => {
      const [secret] = await postSecrets(api, app.id, 'development', [{ key: 'TO_SEAL', value: 'before' }]);
      const [sealed] = await put([{ id: secret.id, type: 'sealed', value: 'sealed-value' }]);
      assert.deepEqual([sealed.type, sealed.value, sealed.version], ['sealed', 'sealed-value', 2]);
      const [kept] = await put([{ id: secret.id, value: 'ignored', comment: 'applies', type: 'sealed' }]);
      assert.deepEqual([kept.value, kept.comment, kept.version], ['sealed-value', 'applies', 3]);
      const [typeNull] = await put([{ id: secret.id, type: null, key: 'still_sealed' }]);
      assert.deepEqual([typeNull.type, typeNull.key, typeNull.version], ['sealed', 'STILL_SEALED', 4]);
      assertError(await api.put(url, { secrets: [{ id: secret.id, type: 'config' }] }), 400, UNSEAL);
      const listed = await get(secret.id);
      assert.deepEqual([listed.value, listed.type, listed.version], ['sealed-value', 'sealed', 4]);
      // within one request, sealing applies to the entries after the one that seals
      const [other] = await postSecrets(api, app.id, 'development', [{ key: 'SEAL_IN_BATCH', value: 'a' }]);
      const batch = await put([{ id: other.id, type: 'sealed' }, { id: other.id, value: 'b' }]);
      assert.deepEqual(batch.map((s) => [s.value, s.version]), [['a', 2], ['a', 3]]);
      // created sealed
      const [born] = await postSecrets(api, app.id, 'development', [{ key: 'BORN_SEALED', value: 'plain', type: 'sealed' }]);
      assert.equal(born.value, 'plain');
      assert.equal((await put([{ id: born.id, value: 'nope' }]))[0].value, 'plain');
    });

    it('PAT callers create and update their override (version +1, id and createdAt kept); service accounts are ignored', async () => {
      const [secret] = await postSecrets(api, app.id, 'development', [{ key: 'OVERRIDDEN', value: 'shared' }]);
      const [created] = await put([{ id: secret.id, override: { value: 'mine', isActive: true } }]);
      assert.equal(created.version, 2);
      assert.equal(created.value, 'shared');
      assert.deepEqual([created.override.value, created.override.isActive], ['mine', true]);
      await sleep(2);
      const [updated] = await put([{ id: secret.id, override: { value: 'mine 2', isActive: false } }]);
      assert.equal(updated.version, 3);
      assert.deepEqual([updated.override.id, updated.override.createdAt], [created.override.id, created.override.createdAt]);
      assert.deepEqual([updated.override.value, updated.override.isActive], ['mine 2', false]);
      assert.ok(updated.override.updatedAt > created.override.updatedAt);
      // an update without override keeps and shows it
      const [plain] = await put([{ id: secret.id, value: 'shared 2' }]);
      assert.deepEqual(plain.override, updated.override);
      assert.deepEqual((await get(secret.id)).override, updated.override);

      const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
      await grantAccess(server.domain, sa, app.id, [app.env.development!.id]);
      const bot = apiClient(server.url, sa.authorization);
      const res = await bot.put(url, { secrets: [{ id: secret.id, override: { value: 'bot', isActive: true } }] });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual([res.body[0].override, res.body[0].version], [null, 5]);
      assert.deepEqual((await get(secret.id)).override, updated.override);
      assert.equal((await server.domain.deps.db.selectFrom('personal_overrides').select('id').where('secret_id', '=', secret.id).execute()).length, 1);
    });

    it('bumps the environment once per batch and records one update event per entry', async () => {
      const env = app.env.development!.id;
      const [x, y] = await postSecrets(api, app.id, 'development', [{ key: 'EV_X', value: 'x' }, { key: 'EV_Y', value: 'y' }]);
      const envBefore = (await api.get(`/v1/environments/${env}/`)).body;
      const row = (await environmentRow(server.domain, env))!;
      const writes = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).length;
      await sleep(2);
      const res = await put([{ id: y.id, value: 'y2' }, { id: x.id, tags: ['t'] }]);
      const envAfter = (await api.get(`/v1/environments/${env}/`)).body;
      assert.equal(envAfter.updatedAt, res[0].updatedAt);
      assert.ok(envAfter.updatedAt > envBefore.updatedAt);
      assert.equal((await environmentRow(server.domain, env))!.revision, row.revision + 1);
      const events = (await secretEvents(server.domain, owner.organisationId, env, { writes: true })).slice(writes);
      assert.deepEqual(events.map((e) => [e.action, e.secret_id, e.environment_revision]), [['update', y.id, row.revision + 1], ['update', x.id, row.revision + 1]]);
    });
  });
}
