// rest-api §9 (environments) and the E2EE rejections of §7, on every store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { createE2eeApp } from '../../helpers/e2ee.js';
import { addMember, addServiceAccount, addToApp, createCustomRole, grantAccess, grantEnvironments } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, listSecrets, postSecrets, secretsUrl, sleep, TIMESTAMP, UUID_V4 } from '../../helpers/world.js';

const INVALID_NAME = 'Environment name is invalid. Only letters, numbers, hyphens and underscores are allowed (max 64 characters).';
const SSE_403 = 'SSE is not enabled for this App.';

for (const target of STORE_TARGETS) {
  describe(`environments (rest-api §9) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(() => server.close());

    describe('GET /v1/environments/?app_id= (§9.2)', () => {
      it('lists the environments of the app ordered by index, as {data: [...]}', async () => {
        const app = await createApp(api, 'List');
        const res = await api.get(`/v1/environments/?app_id=${app.id}`);
        assert.equal(res.status, 200);
        assert.deepEqual(Object.keys(res.body), ['data']);
        assert.deepEqual(res.body.data, app.environments);
        // camelCase query names are accepted (§1.11)
        assert.deepEqual((await api.get(`/v1/environments/?appId=${app.id}`)).body.data, app.environments);
      });

      it('needs an app: 403 Could not resolve app from request. (an app_id in the body is not read)', async () => {
        assertError(await api.get('/v1/environments/'), 403, 'Could not resolve app from request.');
        const app = await createApp(api, 'Body app');
        assertError(await api.post('/v1/environments/', { name: 'qa', app_id: app.id }), 403, 'Could not resolve app from request.');
        assert.equal((await api.get(`/v1/environments/?app_id=${app.id}`)).body.data.length, 3);
      });

      it('resolves the app per §2.5: unknown app 404, member without access 403, service account 401', async () => {
        const app = await createApp(api, 'Guarded');
        for (const id of ['00000000-0000-4000-8000-000000000000', 'nope']) {
          assertError(await api.get(`/v1/environments/?app_id=${id}`), 404, `App with ID ${id} not found`);
          assertError(await api.post(`/v1/environments/?app_id=${id}`, { name: 'x' }), 404, `App with ID ${id} not found`);
        }
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        assertError(await apiClient(server.url, developer.authorization).get(`/v1/environments/?app_id=${app.id}`), 403, 'User cannot access this app');
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        assertError(await apiClient(server.url, sa.authorization).post(`/v1/environments/?app_id=${app.id}`, { name: 'x' }), 401, 'Service account cannot access this app');
      });

      it('shows only the environments the caller holds a grant for', async () => {
        const app = await createApp(api, 'Grants');
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        const dev = apiClient(server.url, developer.authorization);
        await addToApp(server.domain, developer, app.id);
        assert.deepEqual((await dev.get(`/v1/environments/?app_id=${app.id}`)).body.data, []);
        await grantEnvironments(server.domain, developer, [app.env.staging!.id]);
        assert.deepEqual((await dev.get(`/v1/environments/?app_id=${app.id}`)).body.data, [app.env.staging]);
      });

      it('needs Environments/read (app map)', async () => {
        const app = await createApp(api, 'No env read');
        const roleId = await createCustomRole(server.domain, owner.organisationId, 'Blind', { Apps: ['read'] }, { Secrets: ['read'] });
        const member = await addMember(server.domain, owner.organisationId, { id: roleId });
        await grantAccess(server.domain, member, app.id, [app.env.development!.id]);
        const client = apiClient(server.url, member.authorization);
        assertError(await client.get(`/v1/environments/?app_id=${app.id}`), 403, "You don't have permission to read environments.");
        assertError(await client.post(`/v1/environments/?app_id=${app.id}`, { name: 'qa' }), 403, "You don't have permission to create environments.");
        assertError(await client.call('PATCH', `/v1/environments/?app_id=${app.id}`), 405, 'Method "PATCH" not allowed.');
      });
    });

    describe('POST /v1/environments/?app_id= (§9.3)', () => {
      it('creates a custom environment with the next index (201)', async () => {
        const app = await createApp(api, 'Create');
        const res = await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'QA-eu_1' });
        assert.equal(res.status, 201, res.text);
        assert.deepEqual(Object.keys(res.body), ['id', 'name', 'envType', 'index', 'createdAt', 'updatedAt']);
        assert.match(res.body.id, UUID_V4);
        assert.match(res.body.createdAt, TIMESTAMP);
        assert.deepEqual([res.body.name, res.body.envType, res.body.index], ['QA-eu_1', 'custom', 3]);
        assert.deepEqual((await api.get(`/v1/environments/${res.body.id}/`)).body, res.body);
        // usable right away, by name and case-insensitively
        await postSecrets(api, app.id, 'qa-EU_1', [{ key: 'K', value: 'v' }]);
        assert.equal((await listSecrets(api, app.id, 'QA-EU_1'))[0].value, 'v');
        const max = await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'x'.repeat(64) });
        assert.equal(max.status, 201, max.text);
        assert.equal(max.body.index, 4);
      });

      it('leaves index gaps: highest existing index + 1, never renumbered', async () => {
        const app = await createApp(api, 'Gaps');
        assert.equal((await api.delete(`/v1/environments/${app.env.staging!.id}/`)).status, 204);
        const qa = await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'qa' });
        assert.equal(qa.body.index, 3);
        assert.equal((await api.delete(`/v1/environments/${qa.body.id}/`)).status, 204);
        const uat = await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'uat' });
        assert.equal(uat.body.index, 3);
        const listed = await api.get(`/v1/environments/?app_id=${app.id}`);
        assert.deepEqual(listed.body.data.map((e: any) => [e.name, e.index]), [['Development', 0], ['Production', 2], ['uat', 3]]);
        // an app without environments starts again at 0
        const empty = await createApp(api, 'Empty', { environments: ['only'] });
        assert.equal((await api.delete(`/v1/environments/${empty.env.only!.id}/`)).status, 204);
        assert.equal((await api.post(`/v1/environments/?app_id=${empty.id}`, { name: 'again' })).body.index, 0);
      });

      it('validates the name in the order of §9.3', async () => {
        const app = await createApp(api, 'Names');
        const cases: Array<[unknown, number, string]> = [
          [[], 400, 'Request body must be a JSON object.'],
          [{}, 400, 'Missing required field: name'],
          [{ name: null }, 400, 'Missing required field: name'],
          [{ name: '' }, 400, 'Missing required field: name'],
          [{ name: false }, 400, 'Missing required field: name'],
          [{ name: 0 }, 400, 'Missing required field: name'],
          [{ name: [] }, 400, 'Missing required field: name'],
          [{ name: {} }, 400, 'Missing required field: name'],
          [{ name: 'a b' }, 400, INVALID_NAME],
          [{ name: ' qa' }, 400, INVALID_NAME],
          [{ name: 'qa.1' }, 400, INVALID_NAME],
          [{ name: 'qa\n' }, 400, INVALID_NAME],
          [{ name: 'é' }, 400, INVALID_NAME],
          [{ name: 'x'.repeat(65) }, 400, INVALID_NAME],
          [{ name: 5 }, 400, INVALID_NAME],
          [{ name: true }, 400, INVALID_NAME],
          [{ name: ['qa'] }, 400, INVALID_NAME],
          [{ name: 'development' }, 400, "An environment named 'development' already exists in this app."],
          [{ name: 'STAGING' }, 400, "An environment named 'STAGING' already exists in this app."],
        ];
        for (const [body, status, message] of cases) assertError(await api.post(`/v1/environments/?app_id=${app.id}`, body), status, message);
        assert.equal((await api.get(`/v1/environments/?app_id=${app.id}`)).body.data.length, 3);
      });

      it('grants the new environment to the creator, global-access members and the app\'s service accounts only', async () => {
        const app = await createApp(api, 'New env grants');
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        await grantAccess(server.domain, developer, app.id, [app.env.development!.id]);
        const admin = await addMember(server.domain, owner.organisationId, 'Admin');
        await addToApp(server.domain, admin, app.id);
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        await addToApp(server.domain, sa, app.id);
        const created = await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'fresh' });
        assert.equal(created.status, 201);
        const names = async (client: ApiClient) => (await client.get(`/v1/environments/?app_id=${app.id}`)).body.data.map((e: any) => e.name);
        assert.deepEqual(await names(apiClient(server.url, developer.authorization)), ['Development']);
        assert.ok((await names(apiClient(server.url, admin.authorization))).includes('fresh'));
        assert.deepEqual(await names(apiClient(server.url, sa.authorization)), ['fresh']);
        assertError(await apiClient(server.url, developer.authorization).get(secretsUrl(app.id, 'fresh')), 403, 'User cannot access this environment');
        // a service account creating an environment gets it too
        const byBot = await apiClient(server.url, sa.authorization).post(`/v1/environments/?app_id=${app.id}`, { name: 'bot-env' });
        assert.equal(byBot.status, 201, byBot.text);
        assert.deepEqual(await names(apiClient(server.url, sa.authorization)), ['fresh', 'bot-env']);
        assert.ok((await names(api)).includes('bot-env'));
      });
    });

    describe('GET/PUT/DELETE /v1/environments/{id}/ (§9.4–§9.6)', () => {
      it('answers 404 Environment not found for unknown, malformed and foreign ids, and an empty one is no route', async () => {
        const foreign = await createApp(apiClient(server.url, (await createOwner(server.domain)).authorization), 'Foreign');
        for (const id of ['00000000-0000-4000-8000-000000000000', 'xyz', foreign.env.development!.id]) {
          for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
            assertError(await api.call(method, `/v1/environments/${id}/`), 404, 'Environment not found');
          }
        }
        assertError(await api.get('/v1/environments//'), 404, 'Not found.'); // no route (rest-api §1.2)
      });

      it('resolves from the URL only (D-5)', async () => {
        const a = await createApp(api, 'D5 a');
        const b = await createApp(api, 'D5 b');
        const res = await api.put(`/v1/environments/${a.env.staging!.id}/?app_id=${b.id}&env=Staging`, { name: 'Stage' });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.id, a.env.staging!.id);
        assert.deepEqual((await api.get(`/v1/environments/?app_id=${b.id}`)).body.data.map((e: any) => e.name), ['Development', 'Staging', 'Production']);
      });

      it('checks in the order of §9.4: app access, method, permission, environment access', async () => {
        const app = await createApp(api, 'Detail checks');
        const envId = app.env.production!.id;
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        const dev = apiClient(server.url, developer.authorization);
        assertError(await dev.get(`/v1/environments/${envId}/`), 403, 'User cannot access this app');
        await addToApp(server.domain, developer, app.id);
        assertError(await dev.call('PATCH', `/v1/environments/${envId}/`), 405, 'Method "PATCH" not allowed.');
        assertError(await dev.delete(`/v1/environments/${envId}/`), 403, "You don't have permission to delete environments.");
        assertError(await dev.get(`/v1/environments/${envId}/`), 403, "You don't have access to this environment.");
        assertError(await dev.put(`/v1/environments/${envId}/`, { name: 'x' }), 403, "You don't have access to this environment.");
        await grantEnvironments(server.domain, developer, [envId]);
        assert.equal((await dev.get(`/v1/environments/${envId}/`)).status, 200);
        assertError(await dev.delete(`/v1/environments/${envId}/`), 403, "You don't have permission to delete environments.");

        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        const bot = apiClient(server.url, sa.authorization);
        assertError(await bot.get(`/v1/environments/${envId}/`), 401, 'Service account cannot access this app');
        await addToApp(server.domain, sa, app.id);
        assertError(await bot.get(`/v1/environments/${envId}/`), 403, "Service account doesn't have access to this environment.");
        await grantEnvironments(server.domain, sa, [envId]);
        assert.equal((await bot.get(`/v1/environments/${envId}/`)).status, 200);

        const roleId = await createCustomRole(server.domain, owner.organisationId, 'Env-less', { Apps: ['read'] }, {});
        const member = await addMember(server.domain, owner.organisationId, { id: roleId });
        await addToApp(server.domain, member, app.id);
        assertError(await apiClient(server.url, member.authorization).get(`/v1/environments/${envId}/`), 403, "You don't have permission to read environments.");
      });

      it('PUT renames: name rule, 409 on another environment\'s name, own name in another case allowed', async () => {
        const app = await createApp(api, 'Rename');
        const url = `/v1/environments/${app.env.development!.id}/`;
        const cases: Array<[unknown, number, string]> = [
          [[], 400, 'Request body must be a JSON object.'],
          [{}, 400, 'Missing required field: name'],
          [{ name: null }, 400, 'Missing required field: name'],
          [{ name: '' }, 400, 'Missing required field: name'],
          [{ name: [] }, 400, 'Missing required field: name'],
          [{ name: 'dev env' }, 400, INVALID_NAME],
          [{ name: 'dev\n' }, 400, INVALID_NAME],
          [{ name: 'd'.repeat(65) }, 400, INVALID_NAME],
          [{ name: 7 }, 400, INVALID_NAME],
          [{ name: 'staging' }, 409, "An environment named 'staging' already exists in this app."],
          [{ name: 'PRODUCTION' }, 409, "An environment named 'PRODUCTION' already exists in this app."],
        ];
        for (const [body, status, message] of cases) assertError(await api.put(url, body), status, message);
        assert.deepEqual((await api.get(url)).body, app.env.development);

        await sleep(2);
        const recased = await api.put(url, { name: 'DEVELOPMENT' });
        assert.equal(recased.status, 200, recased.text);
        const renamed = await api.put(url, { name: 'dev' });
        assert.equal(renamed.status, 200);
        const { name: _n, updatedAt: _u, ...unchanged } = app.env.development!;
        const { name, updatedAt, ...rest } = renamed.body;
        assert.deepEqual(rest, unchanged);
        assert.equal(name, 'dev');
        assert.equal(renamed.body.envType, 'dev');
        assert.ok(updatedAt > app.env.development!.updatedAt);
      });

      it('a rename changes what env= and references address', async () => {
        const app = await createApp(api, 'Renamed refs');
        await postSecrets(api, app.id, 'staging', [{ key: 'HOST', value: 'stg' }]);
        await postSecrets(api, app.id, 'development', [{ key: 'REF', value: '${staging.HOST}' }]);
        assert.equal((await listSecrets(api, app.id, 'development'))[0].value, 'stg');
        assert.equal((await api.put(`/v1/environments/${app.env.staging!.id}/`, { name: 'stage' })).status, 200);
        assertError(await api.get(secretsUrl(app.id, 'staging')), 404, `Environment 'staging' not found in App ${app.id}`);
        assert.equal((await listSecrets(api, app.id, 'stage'))[0].key, 'HOST');
        assert.equal((await listSecrets(api, app.id, 'development'))[0].value, '${staging.HOST}');
      });

      it('DELETE answers 204 and removes the environment with its secrets, folders, overrides and grants', async () => {
        const app = await createApp(api, 'Delete env');
        const envId = app.env.staging!.id;
        const [secret] = await postSecrets(api, app.id, 'staging', [{ key: 'GONE', value: 'v', path: '/f', override: { value: 'o', isActive: false } }]);
        await postSecrets(api, app.id, 'development', [{ key: 'REF', value: '${staging./f/GONE}' }]);
        assert.equal((await listSecrets(api, app.id, 'development'))[0].value, 'v');
        const res = await api.delete(`/v1/environments/${envId}/`);
        assert.equal(res.status, 204);
        assert.equal(res.text, '');
        assertError(await api.get(`/v1/environments/${envId}/`), 404, 'Environment not found');
        assertError(await api.get(secretsUrl(app.id, 'staging')), 404, `Environment 'staging' not found in App ${app.id}`);
        assertError(await api.get('/v1/secrets/', { environment: envId }), 401, 'Environment not found');
        assertError(await api.get('/v1/secrets/', { 'secret-id': secret.id }), 404, 'Secret not found');
        assert.equal((await listSecrets(api, app.id, 'development'))[0].value, '${staging./f/GONE}');
        const db = server.domain.deps.db;
        for (const table of ['secrets', 'folders', 'environment_keys', 'server_environment_keys'] as const) {
          assert.equal((await db.selectFrom(table).select('environment_id').where('environment_id', '=', envId).execute()).length, 0, table);
        }
        assert.equal((await db.selectFrom('personal_overrides').select('id').where('secret_id', '=', secret.id).execute()).length, 0);
        // any environment may go, including the last one
        for (const env of ['development', 'production']) assert.equal((await api.delete(`/v1/environments/${app.env[env]!.id}/`)).status, 204);
        assert.deepEqual((await api.get(`/v1/environments/?app_id=${app.id}`)).body.data, []);
        assert.equal((await api.get(`/v1/apps/${app.id}/`)).status, 200);
      });
    });

    describe('E2EE apps (§7)', () => {
      it('answer 403 SSE is not enabled for this App. on every environment endpoint, before method and permission', async () => {
        const e2ee = await createE2eeApp(server.domain, owner, 'E2EE envs');
        const envId = e2ee.environments[0]!.id;
        assertError(await api.get(`/v1/environments/?app_id=${e2ee.appId}`), 403, SSE_403);
        assertError(await api.post(`/v1/environments/?app_id=${e2ee.appId}`, { name: 'qa' }), 403, SSE_403);
        assertError(await api.call('PATCH', `/v1/environments/?app_id=${e2ee.appId}`), 403, SSE_403);
        for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
          assertError(await api.call(method, `/v1/environments/${envId}/`, method === 'PUT' ? { name: 'x' } : undefined), 403, SSE_403);
        }
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        await addToApp(server.domain, developer, e2ee.appId);
        assertError(await apiClient(server.url, developer.authorization).delete(`/v1/environments/${envId}/`), 403, SSE_403);
        assert.equal((await server.domain.deps.db.selectFrom('environments').select('id').where('app_id', '=', e2ee.appId).execute()).length, 3);
      });
    });
  });
}
