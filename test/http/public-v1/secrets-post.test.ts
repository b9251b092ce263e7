// POST /v1/secrets/ (rest-api §4.3, §4.6) on every store: the created objects, every validation
// message in its order (with Python-literal rendering), duplicates (D-12), overrides (D-8), events.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyDigest } from '../../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { addMember, addServiceAccount, grantAccess } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, environmentRow, listSecrets, postSecrets, secretEvents, secretsUrl, TIMESTAMP, UUID_V4, type CreatedApp } from '../../helpers/world.js';

export const SECRET_FIELDS = ['id', 'key', 'value', 'comment', 'tags', 'override', 'type', 'lifecycle', 'path', 'keyDigest', 'version', 'createdAt', 'updatedAt', 'environment', 'folder'];
const TYPES = "Must be one of ['config', 'sealed', 'secret'].";

for (const target of STORE_TARGETS) {
  describe(`POST /v1/secrets/ (rest-api §4.3) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Post');
    });
    after(() => server.close());

    it('answers 200 with the created Secret objects in request order (§3.1 shape)', async () => {
      const envId = app.env.development!.id;
      const salt = (await server.domain.deps.keys.secretsOf(envId))!.saltHex;
      const res = await api.post(secretsUrl(app.id, 'development'), {
        secrets: [
          { key: 'db_name', value: 'postgres', comment: 'primary db name', type: 'config', tags: ['db'], path: '/backend', id: 'ignored' },
          { key: 'straße', value: '' },
          { key: ' spaced key ', value: 'v', comment: null, type: null, tags: null, path: null },
          { key: 'odd.key/with ${x} {y}', value: 'v2' },
        ],
      });
      assert.equal(res.status, 200, res.text);
      assert.ok(Array.isArray(res.body));
      assert.deepEqual(res.body.map((s: any) => s.key), ['DB_NAME', 'STRASSE', ' SPACED KEY ', 'ODD.KEY/WITH ${X} {Y}']);
      for (const secret of res.body) {
        assert.deepEqual(Object.keys(secret), SECRET_FIELDS);
        assert.match(secret.id, UUID_V4);
        assert.notEqual(secret.id, 'ignored');
        assert.equal(secret.lifecycle, 'static');
        assert.equal(secret.version, 1);
        assert.match(secret.createdAt, TIMESTAMP);
        assert.equal(secret.updatedAt, secret.createdAt);
        assert.equal(secret.environment, envId);
        assert.equal(secret.override, null);
        assert.match(secret.keyDigest, /^[0-9a-f]{64}$/);
        assert.equal(secret.keyDigest, keyDigest(secret.key, salt));
      }
      const [first, second, third] = res.body;
      assert.deepEqual(
        { value: first.value, comment: first.comment, type: first.type, tags: first.tags, path: first.path },
        { value: 'postgres', comment: 'primary db name', type: 'config', tags: ['db'], path: '/backend' },
      );
      assert.match(first.folder, UUID_V4);
      for (const s of [second, third]) {
        assert.deepEqual({ comment: s.comment, type: s.type, tags: s.tags, path: s.path, folder: s.folder }, { comment: '', type: 'secret', tags: [], path: '/', folder: null });
      }
      assert.equal(second.value, '');
      // GET returns the same objects, ordered by createdAt then id (§1.7)
      const byCreation = [...res.body].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
      assert.deepEqual(await listSecrets(api, app.id, 'development'), byCreation);
    });

    it('validates every entry in the order of §4.3 with the exact messages, writing nothing', async () => {
      const [existing] = await postSecrets(api, app.id, 'staging', [{ key: 'EXISTING', value: 'v', path: '/p' }]);
      assert.equal(existing.key, 'EXISTING');
      const ok = { key: 'NEW_ONE', value: 'v' };
      const long65 = 'x'.repeat(65);
      const cases: Array<[unknown, number, string]> = [
        // 1. the list
        [{}, 400, "'secrets' must be a non-empty list."],
        [{ secrets: null }, 400, "'secrets' must be a non-empty list."],
        [{ secrets: [] }, 400, "'secrets' must be a non-empty list."],
        [{ secrets: {} }, 400, "'secrets' must be a non-empty list."],
        [{ secrets: 'KEY=v' }, 400, "'secrets' must be a non-empty list."],
        // 2a–2e, entry by entry
        [{ secrets: [5] }, 400, "Each entry in 'secrets' must be an object."],
        [{ secrets: [ok, null] }, 400, "Each entry in 'secrets' must be an object."],
        [{ secrets: [[ok]] }, 400, "Each entry in 'secrets' must be an object."],
        [{ secrets: [{ value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: '', value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: ' \t\n', value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: '\u001c\u0085\u3000', value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: 5, value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: null, value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: 'K' }] }, 400, "Each secret requires a 'value' string."],
        [{ secrets: [{ key: 'K', value: null }] }, 400, "Each secret requires a 'value' string."],
        [{ secrets: [{ key: 'K', value: 5 }] }, 400, "Each secret requires a 'value' string."],
        [{ secrets: [{ key: 'K', value: ['v'] }] }, 400, "Each secret requires a 'value' string."],
        [{ secrets: [{ ...ok, type: 'foo' }] }, 400, `Invalid 'type': 'foo'. ${TYPES}`],
        [{ secrets: [{ ...ok, type: 'SECRET' }] }, 400, `Invalid 'type': 'SECRET'. ${TYPES}`],
        [{ secrets: [{ ...ok, type: '' }] }, 400, `Invalid 'type': ''. ${TYPES}`],
        [{ secrets: [{ ...ok, type: 5 }] }, 400, `Invalid 'type': 5. ${TYPES}`],
        [{ secrets: [{ ...ok, type: -2.5 }] }, 400, `Invalid 'type': -2.5. ${TYPES}`],
        [{ secrets: [{ ...ok, type: 0.00001 }] }, 400, `Invalid 'type': 1e-05. ${TYPES}`],
        [{ secrets: [{ ...ok, type: true }] }, 400, `Invalid 'type': True. ${TYPES}`],
        [{ secrets: [{ ...ok, type: false }] }, 400, `Invalid 'type': False. ${TYPES}`],
        [{ secrets: [{ ...ok, type: ['secret'] }] }, 400, `Invalid 'type': ['secret']. ${TYPES}`],
        [{ secrets: [{ ...ok, type: { a: null, b: [1, true] } }] }, 400, `Invalid 'type': {'a': None, 'b': [1, True]}. ${TYPES}`],
        [{ secrets: [{ ...ok, type: "it's" }] }, 400, `Invalid 'type': "it's". ${TYPES}`],
        [{ secrets: [{ ...ok, type: 'a"b\'c\\d' }] }, 400, `Invalid 'type': 'a"b\\'c\\\\d'. ${TYPES}`],
        [{ secrets: [{ ...ok, type: 'tab\there\nnew\u0000\u007f\u00a0' }] }, 400, `Invalid 'type': 'tab\\there\\nnew\\x00\\x7f\\xa0'. ${TYPES}`],
        [{ secrets: [{ ...ok, type: 'rtl\u200f\u202eé😀\u{e0001}\u2028' }] }, 400, `Invalid 'type': 'rtl\\u200f\\u202eé😀\\U000e0001\\u2028'. ${TYPES}`],
        [{ secrets: [{ ...ok, override: null }] }, 400, "'override' must be a JSON object."],
        [{ secrets: [{ ...ok, override: [] }] }, 400, "'override' must be a JSON object."],
        [{ secrets: [{ ...ok, override: 'x' }] }, 400, "'override' must be a JSON object."],
        [{ secrets: [{ ...ok, override: {} }] }, 400, "'override.value' must be a string."],
        [{ secrets: [{ ...ok, override: { value: 5, isActive: true } }] }, 400, "'override.value' must be a string."],
        [{ secrets: [{ ...ok, override: { value: 'o' } }] }, 400, "'override.isActive' must be a boolean."],
        [{ secrets: [{ ...ok, override: { value: 'o', isActive: 'true' } }] }, 400, "'override.isActive' must be a boolean."],
        [{ secrets: [{ ...ok, override: { value: 'o', isActive: 1 } }] }, 400, "'override.isActive' must be a boolean."],
        [{ secrets: [{ ...ok, override: { value: 'o', is_active: true } }] }, 400, "'override.isActive' must be a boolean."],
        // order inside an entry: key, value, type, override
        [{ secrets: [{ key: '', value: 5, type: 'x', override: null }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ key: 'K', value: 5, type: 'x', override: null }] }, 400, "Each secret requires a 'value' string."],
        [{ secrets: [{ key: 'K', value: 'v', type: 'x', override: null }] }, 400, `Invalid 'type': 'x'. ${TYPES}`],
        // an entry is checked completely before the next one
        [{ secrets: [{ ...ok, override: null }, 5] }, 400, "'override' must be a JSON object."],
        [{ secrets: [ok, { key: 'K2', value: 'v', type: 'bad' }, { value: 'v' }] }, 400, `Invalid 'type': 'bad'. ${TYPES}`],
        // 3. D-7 checks come after step 2 for every entry
        [{ secrets: [{ ...ok, comment: 5 }, { key: '', value: 'v' }] }, 400, "Each secret requires a non-empty 'key'."],
        [{ secrets: [{ ...ok, comment: 5 }] }, 400, "'comment' must be a string."],
        [{ secrets: [{ ...ok, comment: ['c'] }] }, 400, "'comment' must be a string."],
        [{ secrets: [{ ...ok, path: 5 }] }, 400, "'path' must be a string."],
        [{ secrets: [{ ...ok, path: ['/a'] }] }, 400, "'path' must be a string."],
        [{ secrets: [{ ...ok, tags: 'db' }] }, 400, "'tags' must be a list of strings."],
        [{ secrets: [{ ...ok, tags: { db: true } }] }, 400, "'tags' must be a list of strings."],
        [{ secrets: [{ ...ok, path: `/a/${long65}/b` }] }, 400, 'Folder names cannot exceed 64 characters.'],
        [{ secrets: [{ ...ok, path: `${'😀'.repeat(65)}` }] }, 400, 'Folder names cannot exceed 64 characters.'],
        // NUL cannot be stored in the plaintext path and tag columns (Phase crashes; Coffer messages)
        [{ secrets: [{ ...ok, path: '/a\u0000b' }] }, 400, 'Folder names cannot contain NUL (0x00) characters.'],
        [{ secrets: [{ ...ok, tags: ['ok', 'n\u0000l'] }] }, 400, 'Tag names cannot contain NUL (0x00) characters.'],
        [{ secrets: [{ ...ok, tags: ['n\u0000l'] }, { key: 'EXISTING', value: 'v', path: '/p' }] }, 400, 'Tag names cannot contain NUL (0x00) characters.'],
        // unpaired surrogates cannot be encrypted as UTF-8 unchanged (Phase crashes; Coffer messages)
        [{ secrets: [{ key: 'K\ud800', value: 'v' }] }, 400, "'key' must not contain unpaired surrogates."],
        [{ secrets: [{ key: 'K', value: 'v\udc00' }] }, 400, "'value' must not contain unpaired surrogates."],
        [{ secrets: [{ ...ok, comment: '\ud83d' }] }, 400, "'comment' must not contain unpaired surrogates."],
        [{ secrets: [{ ...ok, path: '/\ud800' }] }, 400, "'path' must not contain unpaired surrogates."],
        [{ secrets: [{ ...ok, override: { value: '\ud800x', isActive: true } }] }, 400, "'override.value' must not contain unpaired surrogates."],
        [{ secrets: [{ ...ok, tags: ['\udfff'] }] }, 400, "'tags' must not contain unpaired surrogates."],
        [{ secrets: [{ ...ok, comment: 5, path: 5 }] }, 400, "'comment' must be a string."],
        [{ secrets: [{ ...ok, path: 5, tags: 'x' }] }, 400, "'path' must be a string."],
        [{ secrets: [{ ...ok, tags: 'x', path: `/${long65}` }] }, 400, "'tags' must be a list of strings."],
        // 4. duplicates (after the D-7 checks of every entry), then 5. tag lengths
        [{ secrets: [{ key: 'existing', value: 'v', path: 'p/' }, { ...ok, comment: 5 }] }, 400, "'comment' must be a string."],
        [{ secrets: [{ key: 'existing', value: 'v', path: '/p' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [ok, { key: 'Existing', value: 'v', path: '//p/' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [ok, { key: 'new_one', value: 'other' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ key: 'a', value: '1', path: 'x/' }, { key: 'A', value: '2', path: '/x' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [{ ...ok, tags: [long65] }, { key: 'EXISTING', value: 'v', path: '/p' }] }, 409, 'Duplicate secret found'],
        [{ secrets: [ok, { key: 'K2', value: 'v', tags: ['fine', long65, 'y'.repeat(70)] }, { key: 'K3', value: 'v', tags: ['z'.repeat(80)] }] }, 400, `Tag name exceeds 64 characters: '${'x'.repeat(32)}'…`],
      ];
      const revision = (await environmentRow(server.domain, app.env.staging!.id))!.revision;
      const events = (await secretEvents(server.domain, owner.organisationId, undefined, { writes: true })).length;
      for (const [body, status, message] of cases) {
        assertError(await api.post(secretsUrl(app.id, 'staging'), body), status, message);
      }
      assert.deepEqual((await listSecrets(api, app.id, 'staging')).map((s) => s.key), ['EXISTING']);
      assert.equal((await environmentRow(server.domain, app.env.staging!.id))!.revision, revision);
      assert.equal((await secretEvents(server.domain, owner.organisationId, undefined, { writes: true })).length, events);
    });

    it('renders over-long tag names as Python literals of their first 32 code points (§5.4)', async () => {
      const cases: Array<[string, string]> = [
        [`${'t'.repeat(65)}`, `'${'t'.repeat(32)}'`],
        [`it's ${'q'.repeat(60)}`, `"it's ${'q'.repeat(27)}"`],
        [`it's "${'q'.repeat(60)}`, `'it\\'s "${'q'.repeat(26)}'`],
        [`back\\slash\ttab\nnl ${'b'.repeat(60)}`, `'back\\\\slash\\ttab\\nnl ${'b'.repeat(14)}'`],
        [`${'😀'.repeat(40)}${'e\u0301'.repeat(20)}`, `'${'😀'.repeat(32)}'`],
        [`\u05e9\u05dc\u05d5\u05dd\u200f ${'ם'.repeat(60)}`, `'\u05e9\u05dc\u05d5\u05dd\\u200f ${'ם'.repeat(26)}'`],
        [`   ${'w'.repeat(65)}   `, `'${'w'.repeat(32)}'`],
      ];
      for (const [tag, literal] of cases) {
        assertError(await api.post(secretsUrl(app.id, 'production'), { secrets: [{ key: 'TAGGED', value: 'v', tags: [tag] }] }), 400, `Tag name exceeds 64 characters: ${literal}…`);
      }
      // exactly 64 code points after trimming is fine
      const [fine] = await postSecrets(api, app.id, 'production', [{ key: 'TAGGED', value: 'v', tags: [`  ${'😀'.repeat(64)}  `] }]);
      assert.deepEqual(fine.tags, ['😀'.repeat(64)]);
    });

    it('processes tags: non-strings skipped, trimmed, empties skipped, duplicates collapsed, case-sensitive, created org-wide', async () => {
      const [secret] = await postSecrets(api, app.id, 'production', [{ key: 'TAGS', value: 'v', tags: [5, null, ' db ', 'DB', '', '   ', 'db', { x: 1 }, 'cache', 'DB'] }]);
      assert.deepEqual(secret.tags, ['db', 'DB', 'cache']);
      const rows = await server.domain.deps.db.selectFrom('tags').select(['name', 'color']).where('organisation_id', '=', owner.organisationId).where('name', 'in', ['db', 'DB', 'cache']).orderBy('name').execute();
      assert.deepEqual(rows, [{ name: 'DB', color: '' }, { name: 'cache', color: '' }, { name: 'db', color: '' }]);
      const other = await createApp(api, 'Other app');
      const [again] = await postSecrets(api, other.id, 'development', [{ key: 'T', value: 'v', tags: ['cache'] }]);
      assert.deepEqual(again.tags, ['cache']);
      assert.equal((await server.domain.deps.db.selectFrom('tags').select('id').where('organisation_id', '=', owner.organisationId).where('name', '=', 'cache').execute()).length, 1);
    });

    it('lets a deleted secret\'s key be reused and keys differ per path', async () => {
      const [first] = await postSecrets(api, app.id, 'production', [{ key: 'REUSED', value: '1' }]);
      assertError(await api.post(secretsUrl(app.id, 'production'), { secrets: [{ key: 'reused', value: '2' }] }), 409, 'Duplicate secret found');
      await postSecrets(api, app.id, 'production', [{ key: 'reused', value: '2', path: '/elsewhere' }]);
      assert.equal((await api.delete(secretsUrl(app.id, 'production'), { secrets: [first.id] })).status, 200);
      const [second] = await postSecrets(api, app.id, 'production', [{ key: 'Reused', value: '3' }]);
      assert.notEqual(second.id, first.id);
      assert.equal(second.keyDigest, first.keyDigest);
      assert.deepEqual((await listSecrets(api, app.id, 'production', '&key=reused')).map((s) => [s.path, s.value]), [['/elsewhere', '2'], ['/', '3']]);
    });

    it('creates the PAT caller\'s override with the given isActive (D-8); other callers see none', async () => {
      const [secret, plain] = await postSecrets(api, app.id, 'development', [
        { key: 'WITH_OVERRIDE', value: 'shared', override: { value: 'mine', isActive: false } },
        { key: 'NO_OVERRIDE', value: 'shared' },
      ]);
      assert.deepEqual(Object.keys(secret.override), ['id', 'value', 'isActive', 'createdAt', 'updatedAt']);
      assert.match(secret.override.id, UUID_V4);
      assert.deepEqual([secret.value, secret.override.value, secret.override.isActive], ['shared', 'mine', false]);
      assert.match(secret.override.createdAt, TIMESTAMP);
      assert.equal(plain.override, null);
      const listed = (await listSecrets(api, app.id, 'development', '&key=with_override'))[0];
      assert.deepEqual(listed.override, secret.override);
      const [active] = await postSecrets(api, app.id, 'development', [{ key: 'ACTIVE_OVERRIDE', value: 'shared', override: { value: 'mine', isActive: true } }]);
      assert.equal(active.override.isActive, true);

      const developer = await addMember(server.domain, owner.organisationId, 'Developer');
      await grantAccess(server.domain, developer, app.id, [app.env.development!.id]);
      const seen = await listSecrets(apiClient(server.url, developer.authorization), app.id, 'development', '&key=with_override');
      assert.equal(seen[0].override, null);
      assert.equal(seen[0].value, 'shared');

      const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
      await grantAccess(server.domain, sa, app.id, [app.env.development!.id]);
      const bot = apiClient(server.url, sa.authorization);
      const created = await bot.post(secretsUrl(app.id, 'development'), { secrets: [{ key: 'BOT_SECRET', value: 'b', override: { value: 'ignored', isActive: true } }] });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.body[0].override, null);
      assert.equal((await server.domain.deps.db.selectFrom('personal_overrides').select('id').where('secret_id', '=', created.body[0].id).execute()).length, 0);
      // the override is still validated for service accounts
      assertError(await bot.post(secretsUrl(app.id, 'development'), { secrets: [{ key: 'BOT2', value: 'b', override: { value: 1 } }] }), 400, "'override.value' must be a string.");
      assert.equal((await listSecrets(bot, app.id, 'development', '&key=with_override'))[0].override, null);
    });

    it('bumps the environment\'s updatedAt and revision once and records one create event per secret', async () => {
      const envId = app.env.production!.id;
      const before = (await environmentRow(server.domain, envId))!;
      const envBefore = (await api.get(`/v1/environments/${envId}/`)).body;
      const eventsBefore = await secretEvents(server.domain, owner.organisationId, envId);
      const created = await postSecrets(api, app.id, 'production', [
        { key: 'E1', value: '1' },
        { key: 'E2', value: '2' },
        { key: 'E3', value: '3' },
      ]);
      const afterRow = (await environmentRow(server.domain, envId))!;
      assert.equal(afterRow.revision, before.revision + 1);
      const envAfter = (await api.get(`/v1/environments/${envId}/`)).body;
      assert.ok(envAfter.updatedAt > envBefore.updatedAt);
      assert.equal(envAfter.updatedAt, created[0].createdAt);
      const { updatedAt: _a, ...restBefore } = envBefore;
      const { updatedAt: _b, ...restAfter } = envAfter;
      assert.deepEqual(restAfter, restBefore);
      const events = (await secretEvents(server.domain, owner.organisationId, envId)).slice(eventsBefore.length);
      assert.deepEqual(
        events.map((e) => [e.action, e.secret_id, e.environment_revision, e.actor_member_id, e.app_id]),
        created.map((s) => ['create', s.id, afterRow.revision, owner.memberId, app.id]),
      );
      // the app's own timestamps are not touched by secret writes
      assert.equal((await api.get(`/v1/apps/${app.id}/`)).body.updatedAt, app.body.updatedAt);
    });
  });
}
