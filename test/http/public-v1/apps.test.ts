// rest-api §8 (apps), with the text rule of Appendix B and the E2EE rejections of §7, on every store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { createE2eeApp } from '../../helpers/e2ee.js';
import { addMember, addServiceAccount, createCustomRole, grantAccess } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, postSecrets, secretsUrl, sleep, TIMESTAMP, UUID_V4 } from '../../helpers/world.js';

const APP_FIELDS = ['id', 'name', 'description', 'sseEnabled', 'createdAt', 'updatedAt'];
const ENV_FIELDS = ['id', 'name', 'envType', 'index', 'createdAt', 'updatedAt'];
const SSE_403 = 'SSE is not enabled for this App.';

function assertAppShape(app: any): void {
  assert.deepEqual(Object.keys(app), APP_FIELDS);
  assert.match(app.id, UUID_V4);
  assert.match(app.createdAt, TIMESTAMP);
  assert.match(app.updatedAt, TIMESTAMP);
}

for (const target of STORE_TARGETS) {
  describe(`apps (rest-api §8) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(() => server.close());

    describe('POST /v1/apps/ (§8.2)', () => {
      it('creates an SSE app with Development, Staging and Production (201)', async () => {
        const res = await api.post('/v1/apps/', { name: 'My New App', description: 'A new application' });
        assert.equal(res.status, 201, res.text);
        assert.deepEqual(Object.keys(res.body), [...APP_FIELDS, 'environments']);
        const { environments, ...app } = res.body;
        assertAppShape(app);
        assert.equal(app.name, 'My New App');
        assert.equal(app.description, 'A new application');
        assert.equal(app.sseEnabled, true);
        assert.deepEqual(environments.map((e: any) => [e.name, e.envType, e.index]), [
          ['Development', 'dev', 0],
          ['Staging', 'staging', 1],
          ['Production', 'prod', 2],
        ]);
        for (const env of environments) {
          assert.deepEqual(Object.keys(env), ENV_FIELDS);
          assert.match(env.id, UUID_V4);
          assert.match(env.createdAt, TIMESTAMP);
        }
        // Each environment has the shape of GET /v1/environments/{id}/.
        const detail = await api.get(`/v1/environments/${environments[1].id}/`);
        assert.deepEqual(detail.body, environments[1]);
      });

      it('creates the custom environments given, trimmed, in request order, as custom with indexes 0, 1, 2', async () => {
        const res = await api.post('/v1/apps/', { name: 'Custom', environments: [' qa ', 'Prod-EU', 'load_test'] });
        assert.equal(res.status, 201, res.text);
        assert.deepEqual(res.body.environments.map((e: any) => [e.name, e.envType, e.index]), [
          ['qa', 'custom', 0],
          ['Prod-EU', 'custom', 1],
          ['load_test', 'custom', 2],
        ]);
        const listed = await api.get(`/v1/environments/?app_id=${res.body.id}`);
        assert.deepEqual(listed.body.data, res.body.environments);
      });

      it('treats environments: null as absent (the defaults)', async () => {
        const res = await api.post('/v1/apps/', { name: 'Nulls', environments: null, description: null });
        assert.equal(res.status, 201, res.text);
        assert.equal(res.body.description, null);
        assert.deepEqual(res.body.environments.map((e: any) => e.name), ['Development', 'Staging', 'Production']);
      });

      it('names are not unique', async () => {
        const a = await createApp(api, 'Twin');
        const b = await createApp(api, 'Twin');
        assert.notEqual(a.id, b.id);
      });

      it('applies the text rule of Appendix B to name and description', async () => {
        const cases: Array<[unknown, unknown, string, string | null]> = [
          ['  <b>My</b> App\u0007 ', undefined, 'My App', null],
          ['A\u0000B\u0008C\u000bD\u000cE\u000eF\u001fG\u007fH\u0080I\u009fJ', undefined, 'ABCDEFGHIJ', null],
          ['Tab\there', 'line\nfeed\r\nkept', 'Tab\there', 'line\nfeed\r\nkept'],
          ['<!-- c -->Doc<!DOCTYPE html><?xml version="1.0"?>', undefined, 'Doc', null],
          ['R&amp;D &lt;team&gt;', undefined, 'R&amp;D &lt;team&gt;', null],
          ['<<b>b>x', undefined, 'x', null],
          ['a < b > c', undefined, 'a < b > c', null],
          ['ok', '   ', 'ok', null],
          ['ok', '<p></p>', 'ok', ''],
          ['ok', '  <i>described</i>  ', 'ok', 'described'],
          // "whitespace" is Python's: U+001C–U+001F and U+0085 are, U+FEFF is not
          ['ok', '\u001c\u0085 ', 'ok', null],
          ['BOM\ufeff\u2003', undefined, 'BOM\ufeff', null],
        ];
        for (const [name, description, storedName, storedDescription] of cases) {
          const res = await api.post('/v1/apps/', { name, ...(description === undefined ? {} : { description }) });
          assert.equal(res.status, 201, `${JSON.stringify(name)}: ${res.text}`);
          assert.equal(res.body.name, storedName);
          assert.equal(res.body.description, storedDescription, JSON.stringify(description));
          const fetched = await api.get(`/v1/apps/${res.body.id}/`);
          assert.equal(fetched.body.name, storedName);
          assert.equal(fetched.body.description, storedDescription);
        }
      });

      it('measures lengths after cleaning, in code points', async () => {
        const ok: unknown[] = ['a'.repeat(64), '😀'.repeat(64), `<b>${'n'.repeat(64)}</b>`, `  ${'e\u0301'.repeat(32)}  `];
        for (const name of ok) {
          const res = await api.post('/v1/apps/', { name });
          assert.equal(res.status, 201, res.text);
        }
        const long = await api.post('/v1/apps/', { name: 'ok', description: 'd'.repeat(10000) });
        assert.equal(long.status, 201, long.text);
        assert.equal(long.body.description.length, 10000);
      });

      it('rejects invalid bodies with the messages of §8.2 in check order, creating nothing', async () => {
        const before = (await api.get('/v1/apps/')).body.data.length;
        const cases: Array<[unknown, string]> = [
          [[], 'Request body must be a JSON object.'],
          ['"x"', 'Request body must be a JSON object.'],
          ['5', 'Request body must be a JSON object.'],
          [{}, 'Missing required field: name'],
          [{ name: null }, 'Missing required field: name'],
          [{ name: '   ' }, 'Missing required field: name'],
          [{ name: '<b></b>' }, 'Missing required field: name'],
          [{ name: '\u0007\u0008' }, 'Missing required field: name'],
          [{ name: 5 }, "'name' must be a string."],
          [{ name: ['a'] }, "'name' must be a string."],
          [{ name: 'a'.repeat(65) }, "'name' cannot exceed 64 characters."],
          [{ name: '😀'.repeat(65) }, "'name' cannot exceed 64 characters."],
          // name is checked before description, description before environments
          [{ name: 5, description: 5, environments: 'x' }, "'name' must be a string."],
          [{ name: 'ok', description: 5, environments: 'x' }, "'description' must be a string."],
          [{ name: 'ok', description: 'd'.repeat(10001) }, "'description' cannot exceed 10000 characters."],
          [{ name: 'ok', description: `<b>${'d'.repeat(10001)}</b>` }, "'description' cannot exceed 10000 characters."],
          [{ name: 'ok', environments: 'Development' }, "'environments' must be a list of environment names."],
          [{ name: 'ok', environments: { a: 1 } }, "'environments' must be a list of environment names."],
          [{ name: 'ok', environments: [] }, "'environments' must not be empty."],
          [{ name: 'ok', environments: ['dev', 5] }, 'Each environment name must be a non-empty string.'],
          [{ name: 'ok', environments: ['dev', '  '] }, 'Each environment name must be a non-empty string.'],
          [{ name: 'ok', environments: ['dev', ''] }, 'Each environment name must be a non-empty string.'],
          [{ name: 'ok', environments: ['dev', null] }, 'Each environment name must be a non-empty string.'],
          [{ name: 'ok', environments: ['dev', '\u001f\u0085'] }, 'Each environment name must be a non-empty string.'],
          [{ name: '\u001c' }, 'Missing required field: name'],
          [{ name: 'ok', environments: [' Dev ', 'qa', 'dev'] }, "Duplicate environment name: 'dev'."],
          // the duplicate check runs before the name rule
          [{ name: 'ok', environments: ['bad name', 'x', 'BAD NAME'] }, "Duplicate environment name: 'BAD NAME'."],
          // a later invalid element still fails the element check before duplicates are looked at
          [{ name: 'ok', environments: ['a', 'a', 7] }, 'Each environment name must be a non-empty string.'],
          [{ name: 'ok', environments: ['never_created', 'bad name'] }, 'Environment name is invalid. Only letters, numbers, hyphens and underscores are allowed (max 64 characters).'],
          [{ name: 'ok', environments: ['never_created', 'x'.repeat(65)] }, 'Environment name is invalid. Only letters, numbers, hyphens and underscores are allowed (max 64 characters).'],
          [{ name: 'ok', environments: ['never_created', 'é'] }, 'Environment name is invalid. Only letters, numbers, hyphens and underscores are allowed (max 64 characters).'],
        ];
        for (const [body, message] of cases) {
          const res = await api.post('/v1/apps/', body);
          assertError(res, 400, message);
        }
        assert.equal((await api.get('/v1/apps/')).body.data.length, before);
        const envCount = await server.domain.deps.db
          .selectFrom('environments')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('organisation_id', '=', owner.organisationId)
          .where('name', 'in', ['never_created', 'bad name'])
          .executeTakeFirstOrThrow();
        assert.equal(Number(envCount.n), 0);
      });

      it('needs Apps/create: a Developer gets 403', async () => {
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        const res = await apiClient(server.url, developer.authorization).post('/v1/apps/', { name: 'nope' });
        assertError(res, 403, "You don't have permission to create apps.");
        // the permission check precedes the body
        const bad = await apiClient(server.url, developer.authorization).post('/v1/apps/', '[');
        assertError(bad, 403, "You don't have permission to create apps.");
      });

      it('a service account (Service role) can create apps; it and the Owner/Admins become members with every environment', async () => {
        const admin = await addMember(server.domain, owner.organisationId, 'Admin');
        const manager = await addMember(server.domain, owner.organisationId, 'Manager');
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        const saApi = apiClient(server.url, sa.authorization);
        const created = await saApi.post('/v1/apps/', { name: 'Bot app' });
        assert.equal(created.status, 201, created.text);
        const appId = created.body.id;
        for (const client of [saApi, api, apiClient(server.url, admin.authorization)]) {
          assert.ok((await client.get('/v1/apps/')).body.data.some((a: any) => a.id === appId));
          const envs = await client.get(`/v1/environments/?app_id=${appId}`);
          assert.deepEqual(envs.body.data.map((e: any) => e.name), ['Development', 'Staging', 'Production']);
          const secrets = await client.get(secretsUrl(appId, 'production'));
          assert.equal(secrets.status, 200, secrets.text);
        }
        const managerApi = apiClient(server.url, manager.authorization);
        assert.ok(!(await managerApi.get('/v1/apps/')).body.data.some((a: any) => a.id === appId));
        assertError(await managerApi.get(`/v1/apps/${appId}/`), 403, 'User cannot access this app');
      });

      it('answers 405 for other methods on /v1/apps/', async () => {
        for (const method of ['PUT', 'DELETE', 'PATCH']) {
          assertError(await api.call(method, '/v1/apps/'), 405, `Method "${method}" not allowed.`);
        }
      });
    });

    describe('GET /v1/apps/ (§8.1)', () => {
      it('lists the apps the caller is a member of, newest first, E2EE apps included', async () => {
        const org = await createOwner(server.domain);
        const client = apiClient(server.url, org.authorization);
        const first = await createApp(client, 'First');
        await sleep(2);
        const e2ee = await createE2eeApp(server.domain, org, 'Imported');
        await sleep(2);
        const third = await createApp(client, 'Third');
        const res = await client.get('/v1/apps/');
        assert.equal(res.status, 200);
        assert.deepEqual(Object.keys(res.body), ['data']);
        assert.deepEqual(res.body.data.map((a: any) => [a.name, a.sseEnabled]), [
          ['Third', true],
          ['Imported', false],
          ['First', true],
        ]);
        res.body.data.forEach(assertAppShape);
        assert.deepEqual(res.body.data.map((a: any) => a.id), [third.id, e2ee.appId, first.id]);
        // other organisations' apps are never listed
        assert.ok(!(await api.get('/v1/apps/')).body.data.some((a: any) => a.id === first.id));
      });

      it('shows a non-global member only the apps they were added to; a global-access member only apps created after they joined', async () => {
        const org = await createOwner(server.domain);
        const client = apiClient(server.url, org.authorization);
        const before = await createApp(client, 'Before');
        const developer = await addMember(server.domain, org.organisationId, 'Developer');
        const admin = await addMember(server.domain, org.organisationId, 'Admin');
        const later = await createApp(client, 'Later');
        const devApi = apiClient(server.url, developer.authorization);
        assert.deepEqual((await devApi.get('/v1/apps/')).body.data, []);
        await grantAccess(server.domain, developer, before.id, []);
        assert.deepEqual((await devApi.get('/v1/apps/')).body.data.map((a: any) => a.id), [before.id]);
        assert.deepEqual((await apiClient(server.url, admin.authorization).get('/v1/apps/')).body.data.map((a: any) => a.id), [later.id]);
      });

      it('resolves a context from query parameters like every endpoint (§2.5)', async () => {
        const app = await createApp(api, 'Context on list');
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        const dev = apiClient(server.url, developer.authorization);
        assertError(await dev.get(`/v1/apps/?app_id=${app.id}`), 403, 'User cannot access this app');
        assertError(await dev.get(`/v1/apps/?app_id=${app.id}&env=staging`), 403, 'User cannot access this environment');
        assertError(await api.get('/v1/apps/?app_id=00000000-0000-4000-8000-000000000000'), 404, 'App with ID 00000000-0000-4000-8000-000000000000 not found');
        assert.equal((await api.get(`/v1/apps/?app_id=${app.id}`)).status, 200);
      });

      it('needs Apps/read', async () => {
        const roleId = await createCustomRole(server.domain, owner.organisationId, 'No apps', {}, { Secrets: ['read'] });
        const member = await addMember(server.domain, owner.organisationId, { id: roleId });
        assertError(await apiClient(server.url, member.authorization).get('/v1/apps/'), 403, "You don't have permission to read apps.");
      });
    });

    describe('GET/PUT/DELETE /v1/apps/{id}/ (§8.3–§8.5)', () => {
      it('GET returns the App object without environments', async () => {
        const app = await createApp(api, 'Detail', { description: 'desc' });
        const res = await api.get(`/v1/apps/${app.id}/`);
        assert.equal(res.status, 200);
        const { environments: _e, ...expected } = app.body;
        assert.deepEqual(res.body, expected);
        // every prefix of §1.1
        for (const prefix of ['/public', '/service', '/service/public']) {
          assert.deepEqual((await api.get(`${prefix}/v1/apps/${app.id}/`)).body, expected);
        }
      });

      it('answers 404 for unknown, malformed and foreign ids, and an empty one is no route', async () => {
        const foreign = await createApp(apiClient(server.url, (await createOwner(server.domain)).authorization), 'Foreign');
        for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', foreign.id]) {
          for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
            assertError(await api.call(method, `/v1/apps/${id}/`), 404, `App with ID ${id} not found`);
          }
        }
        // '' is `/v1/apps//`, no route at all (rest-api §1.2; it once reached the handler with no target: 500).
        assertError(await api.get('/v1/apps//'), 404, 'Not found.');
      });

      it('resolves the app from the URL only (D-5): ?app_id= never retargets', async () => {
        const a = await createApp(api, 'URL app');
        const b = await createApp(api, 'Query app');
        const res = await api.put(`/v1/apps/${a.id}/?app_id=${b.id}`, { name: 'Renamed A' });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.id, a.id);
        assert.equal((await api.get(`/v1/apps/${b.id}/`)).body.name, 'Query app');
        assert.equal((await api.get(`/v1/apps/${a.id}/?app_id=not-a-uuid`)).status, 200);
      });

      it('checks access: member without access 403, service account 401', async () => {
        const app = await createApp(api, 'Private');
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
          assertError(await apiClient(server.url, developer.authorization).call(method, `/v1/apps/${app.id}/`), 403, 'User cannot access this app');
          const saRes = await apiClient(server.url, sa.authorization).call(method, `/v1/apps/${app.id}/`);
          assertError(saRes, 401, 'Service account cannot access this app');
          assert.equal(saRes.headers.get('www-authenticate'), 'Bearer');
        }
      });

      it('checks method before role permission, and the org-level Apps permission per action', async () => {
        const app = await createApp(api, 'Perms');
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        await grantAccess(server.domain, developer, app.id, []);
        const dev = apiClient(server.url, developer.authorization);
        assert.equal((await dev.get(`/v1/apps/${app.id}/`)).status, 200);
        assertError(await dev.call('PATCH', `/v1/apps/${app.id}/`), 405, 'Method "PATCH" not allowed.');
        assertError(await dev.put(`/v1/apps/${app.id}/`, { name: 'x' }), 403, "You don't have permission to update apps.");
        assertError(await dev.put(`/v1/apps/${app.id}/`, '{bad'), 403, "You don't have permission to update apps.");
        assertError(await dev.delete(`/v1/apps/${app.id}/`), 403, "You don't have permission to delete apps.");
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        await grantAccess(server.domain, sa, app.id, []);
        const saApi = apiClient(server.url, sa.authorization);
        assert.equal((await saApi.put(`/v1/apps/${app.id}/`, { description: 'by bot' })).status, 200);
        assertError(await saApi.delete(`/v1/apps/${app.id}/`), 403, "You don't have permission to delete apps.");
        // a role without Apps/read cannot read an app it is a member of
        const roleId = await createCustomRole(server.domain, owner.organisationId, 'Secrets only', {}, { Secrets: ['read'] });
        const member = await addMember(server.domain, owner.organisationId, { id: roleId });
        await grantAccess(server.domain, member, app.id, []);
        assertError(await apiClient(server.url, member.authorization).get(`/v1/apps/${app.id}/`), 403, "You don't have permission to read apps.");
      });

      it('PUT updates name and/or description and always sets updatedAt', async () => {
        const app = await createApp(api, 'Old', { description: 'old desc' });
        await sleep(2);
        const renamed = await api.put(`/v1/apps/${app.id}/`, { name: '  <b>New</b> ' });
        assert.equal(renamed.status, 200, renamed.text);
        assertAppShape(renamed.body);
        assert.equal(renamed.body.name, 'New');
        assert.equal(renamed.body.description, 'old desc');
        assert.equal(renamed.body.createdAt, app.body.createdAt);
        assert.ok(renamed.body.updatedAt > app.body.updatedAt);
        await sleep(2);
        const same = await api.put(`/v1/apps/${app.id}/`, { name: 'New', description: null });
        assert.equal(same.body.description, 'old desc');
        assert.ok(same.body.updatedAt > renamed.body.updatedAt, 'updatedAt is set even if nothing changed');
        const described = await api.put(`/v1/apps/${app.id}/`, { description: 'new desc' });
        assert.deepEqual([described.body.name, described.body.description], ['New', 'new desc']);
        const cleared = await api.put(`/v1/apps/${app.id}/`, { description: ' \n ' });
        assert.equal(cleared.body.description, null);
        const markup = await api.put(`/v1/apps/${app.id}/`, { description: '<br/>' });
        assert.equal(markup.body.description, '');
        const fetched = await api.get(`/v1/apps/${app.id}/`);
        assert.deepEqual(fetched.body, markup.body);
        // the apps list shows the change too
        assert.deepEqual((await api.get('/v1/apps/')).body.data.find((a: any) => a.id === app.id), markup.body);
      });

      it('PUT validates in the order of §8.4 and saves nothing on failure', async () => {
        const app = await createApp(api, 'Stable', { description: 'kept' });
        const cases: Array<[unknown, string]> = [
          [[], 'Request body must be a JSON object.'],
          [{}, "At least one of 'name' or 'description' must be provided."],
          [{ name: null }, "At least one of 'name' or 'description' must be provided."],
          [{ name: null, description: null, other: 1 }, "At least one of 'name' or 'description' must be provided."],
          [{ name: '' }, 'Missing required field: name'],
          [{ name: '  ' }, 'Missing required field: name'],
          [{ name: '<i></i>', description: 5 }, 'Missing required field: name'],
          [{ name: 5 }, "'name' must be a string."],
          [{ name: 'n'.repeat(65) }, "'name' cannot exceed 64 characters."],
          [{ name: 'Changed', description: 5 }, "'description' must be a string."],
          [{ name: 'Changed', description: 'd'.repeat(10001) }, "'description' cannot exceed 10000 characters."],
        ];
        for (const [body, message] of cases) assertError(await api.put(`/v1/apps/${app.id}/`, body), 400, message);
        const fetched = await api.get(`/v1/apps/${app.id}/`);
        const { environments: _e, ...expected } = app.body;
        assert.deepEqual(fetched.body, expected);
      });

      it('DELETE answers 204 and removes the app and everything under it', async () => {
        const app = await createApp(api, 'Doomed');
        const other = await createApp(api, 'Survivor');
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        await grantAccess(server.domain, developer, app.id, [app.env.development!.id]);
        const [secret] = await postSecrets(api, app.id, 'development', [
          { key: 'KEY', value: 'v', tags: ['doomed-tag'], path: '/a/b', override: { value: 'mine', isActive: true } },
        ]);
        await postSecrets(api, other.id, 'development', [{ key: 'REF', value: '${doomed::development./a/b/KEY}' }]);
        assert.equal((await api.get(secretsUrl(other.id, 'development'))).body[0].value, 'v');

        const res = await api.delete(`/v1/apps/${app.id}/`);
        assert.equal(res.status, 204);
        assert.equal(res.text, '');
        assertError(await api.get(`/v1/apps/${app.id}/`), 404, `App with ID ${app.id} not found`);
        assert.ok(!(await api.get('/v1/apps/')).body.data.some((a: any) => a.id === app.id));
        assertError(await api.get(`/v1/environments/${app.env.development!.id}/`), 404, 'Environment not found');
        assertError(await api.get(`/v1/environments/?app_id=${app.id}`), 404, `App with ID ${app.id} not found`);
        assertError(await api.get(secretsUrl(app.id, 'development')), 404, `App with ID ${app.id} not found`);
        assertError(await api.get('/v1/secrets/', { 'secret-id': secret.id }), 404, 'Secret not found');
        assert.deepEqual((await apiClient(server.url, developer.authorization).get('/v1/apps/')).body.data, []);
        // references into the deleted app stop resolving
        assert.equal((await api.get(secretsUrl(other.id, 'development'))).body[0].value, '${doomed::development./a/b/KEY}');

        const db = server.domain.deps.db;
        const envIds = app.environments.map((e) => e.id);
        const count = async (table: 'environments' | 'secrets' | 'folders' | 'environment_keys' | 'server_environment_keys', column: 'id' | 'environment_id') =>
          Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where(column, 'in', envIds).executeTakeFirstOrThrow()).n);
        assert.equal(await count('environments', 'id'), 0);
        assert.equal(await count('secrets', 'environment_id'), 0);
        assert.equal(await count('folders', 'environment_id'), 0);
        assert.equal(await count('environment_keys', 'environment_id'), 0);
        assert.equal(await count('server_environment_keys', 'environment_id'), 0);
        assert.equal((await db.selectFrom('personal_overrides').select('id').where('secret_id', '=', secret.id).execute()).length, 0);
        assert.equal((await db.selectFrom('app_members').select('app_id').where('app_id', '=', app.id).execute()).length, 0);
        // members and organisation-wide tags remain
        assert.equal((await db.selectFrom('members').select('id').where('id', '=', developer.memberId).where('deleted_at', 'is', null).execute()).length, 1);
        assert.equal((await db.selectFrom('tags').select('id').where('organisation_id', '=', owner.organisationId).where('name', '=', 'doomed-tag').execute()).length, 1);
      });
    });

    describe('E2EE apps (§7)', () => {
      it('are listed but refused on the detail endpoint with 403 (with period), before method and permission checks', async () => {
        const e2ee = await createE2eeApp(server.domain, owner, 'Sealed app');
        const listed = (await api.get('/v1/apps/')).body.data.find((a: any) => a.id === e2ee.appId);
        assert.equal(listed.sseEnabled, false);
        for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
          assertError(await api.call(method, `/v1/apps/${e2ee.appId}/`, method === 'PUT' ? { name: 'x' } : undefined), 403, SSE_403);
        }
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        await grantAccess(server.domain, developer, e2ee.appId, []);
        assertError(await apiClient(server.url, developer.authorization).delete(`/v1/apps/${e2ee.appId}/`), 403, SSE_403);
        assert.equal((await server.domain.deps.db.selectFrom('apps').select('id').where('id', '=', e2ee.appId).execute()).length, 1);
      });
    });
  });
}
