// Service accounts (rest-api §10): every rule of create, detail, update, delete, access and tokens,
// with Phase's statuses, messages and check order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseToken } from '../../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { addApp, addMember, addServiceAccount, roleId } from './helpers.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

for (const target of STORE_TARGETS) {
  describe(`service accounts (§10) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let serviceRole: string;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      serviceRole = await roleId(server, owner.organisationId, 'Service');
    });
    after(() => server.close());

    it('creates an account with its initial token, lists newest first and shows the detail', async () => {
      const created = await api.post('/v1/service-accounts/', { name: '  <b>deploy</b>-bot ', role_id: serviceRole });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(Object.keys(created.body), ['id', 'name', 'role', 'createdAt', 'updatedAt', 'initialToken']);
      assert.equal(created.body.name, 'deploy-bot');
      assert.deepEqual(created.body.role, { id: serviceRole, name: 'Service' });
      const initial = created.body.initialToken;
      assert.deepEqual(Object.keys(initial), ['id', 'name', 'createdAt', 'expiresAt', 'token', 'bearerToken']);
      assert.equal(initial.name, 'Default');
      assert.equal(initial.expiresAt, null);
      const parsed = parseToken(initial.token);
      assert.equal(parsed.authType, 'ServiceAccount');
      assert.equal(initial.bearerToken, `ServiceAccount ${parsed.bearer}`);
      assert.match(created.body.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

      const second = await api.post('/v1/service-accounts/', { name: 'second', role_id: serviceRole, token_name: 'CI' });
      assert.equal(second.status, 201);
      assert.equal(second.body.initialToken.name, 'CI');

      // The new token authenticates (the Service role may read service accounts).
      const asAccount = apiClient(server.url, `Bearer ${initial.bearerToken}`);
      const listed = await asAccount.get('/v1/service-accounts/');
      assert.equal(listed.status, 200, listed.text);
      const names = listed.body.data.map((s: any) => s.name);
      assert.deepEqual(names.slice(0, 2), ['second', 'deploy-bot']);
      // The full token string is accepted as a bearer too (DESIGN §1).
      assert.equal((await apiClient(server.url, `Bearer ${initial.token}`).get('/v1/service-accounts/')).status, 200);

      const detail = await api.get(`/v1/service-accounts/${created.body.id}/`);
      assert.equal(detail.status, 200);
      assert.deepEqual(Object.keys(detail.body), ['id', 'name', 'role', 'createdAt', 'updatedAt', 'tokens', 'apps']);
      assert.deepEqual(detail.body.tokens, [{ id: initial.id, name: 'Default', createdAt: initial.createdAt, expiresAt: null }]);
      assert.deepEqual(detail.body.apps, []);
      assert.ok(!detail.text.includes(parsed.bearer), 'the detail never shows token material');
    });

    it('validates creation in Phase order', async () => {
      const cases: Array<[unknown, number, string]> = [
        [{ role_id: serviceRole }, 400, 'Missing required field: name'],
        [{ name: '   ', role_id: serviceRole }, 400, 'Missing required field: name'],
        [{ name: '<i></i>', role_id: serviceRole }, 400, 'Missing required field: name'],
        [{ name: 5, role_id: serviceRole }, 400, "'name' must be a string."],
        [{ name: 'x'.repeat(65), role_id: serviceRole }, 400, "'name' cannot exceed 64 characters."],
        [{ name: 'a', token_name: null, role_id: serviceRole }, 400, 'Missing required field: token_name'],
        [{ name: 'a', token_name: ' ', role_id: serviceRole }, 400, 'Missing required field: token_name'],
        [{ name: 'a', token_name: 'y'.repeat(65), role_id: serviceRole }, 400, "'token_name' cannot exceed 64 characters."],
        [{ name: 'x'.repeat(65), token_name: null }, 400, "'name' cannot exceed 64 characters."],
        [{ name: 'a', token_name: null }, 400, 'Missing required field: token_name'],
        [{ name: 'a' }, 400, 'Missing required field: role_id'],
        [{ name: 'a', role_id: '' }, 400, 'Missing required field: role_id'],
        [{ name: 'a', role_id: 'nope' }, 404, 'Role not found.'],
        [{ name: 'a', role_id: UNKNOWN }, 404, 'Role not found.'],
        [{ name: 'a', role_id: UNKNOWN, team_id: UNKNOWN }, 404, 'Role not found.'],
        [{ name: 'a', role_id: serviceRole, team_id: UNKNOWN }, 404, 'Team not found.'],
        [{ name: 'a', role_id: serviceRole, team_id: 'x' }, 404, 'Team not found.'],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.post('/v1/service-accounts/', body);
        assert.equal(res.status, status, `${JSON.stringify(body)} -> ${res.text}`);
        assert.deepEqual(res.body, { error }, JSON.stringify(body));
      }
      for (const name of ['Owner', 'Admin']) {
        const res = await api.post('/v1/service-accounts/', { name: 'a', role_id: await roleId(server, owner.organisationId, name) });
        assert.equal(res.status, 400);
        assert.deepEqual(res.body, { error: `Service accounts cannot be assigned the '${name}' role.` });
      }
      const teamFirst = await api.post('/v1/service-accounts/', { name: 'a', role_id: await roleId(server, owner.organisationId, 'Admin'), team_id: UNKNOWN });
      assert.deepEqual([teamFirst.status, teamFirst.body.error], [404, 'Team not found.']);
      const notObject = await api.post('/v1/service-accounts/', '[1]');
      assert.deepEqual([notObject.status, notObject.body.error], [400, 'Request body must be a JSON object.']);
    });

    it('checks the permission after the method, and hides other organisations', async () => {
      const developer = await addMember(server, owner.organisationId, 'Developer');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      assert.deepEqual((await developer.api.get('/v1/service-accounts/')).body, { error: "You don't have permission to read service accounts." });
      assert.deepEqual((await developer.api.post('/v1/service-accounts/', {})).body, { error: "You don't have permission to create service accounts." });
      assert.equal((await developer.api.get(`/v1/service-accounts/${sa.id}/`)).status, 403);
      assert.deepEqual((await developer.api.put(`/v1/service-accounts/${sa.id}/`, {})).body, { error: "You don't have permission to update service accounts." });
      assert.deepEqual((await developer.api.delete(`/v1/service-accounts/${sa.id}/`)).body, { error: "You don't have permission to delete service accounts." });
      const patch = await developer.api.call('PATCH', '/v1/service-accounts/');
      assert.deepEqual([patch.status, patch.body], [405, { error: 'Method "PATCH" not allowed.' }]);
      // The access and token endpoints check the permission first, then the method.
      assert.deepEqual((await developer.api.get(`/v1/service-accounts/${sa.id}/access/`)).body, { error: "You don't have permission to update service accounts." });
      assert.deepEqual((await developer.api.get(`/v1/service-accounts/${sa.id}/tokens/`)).body, { error: "You don't have permission to create service account tokens." });
      assert.deepEqual((await developer.api.get(`/v1/service-accounts/${sa.id}/tokens/${sa.tokenId}/`)).body, { error: "You don't have permission to delete service account tokens." });
      assert.deepEqual((await api.get(`/v1/service-accounts/${sa.id}/access/`)).body, { error: 'Method "GET" not allowed.' });
      assert.equal((await api.get(`/v1/service-accounts/${sa.id}/tokens/`)).status, 405);
      assert.equal((await api.put(`/v1/service-accounts/${sa.id}/tokens/${sa.tokenId}/`, {})).status, 405);

      const other = await createOwner(server.domain);
      const otherApi = apiClient(server.url, other.authorization);
      for (const res of [
        await otherApi.get(`/v1/service-accounts/${sa.id}/`),
        await otherApi.put(`/v1/service-accounts/${sa.id}/`, { name: 'x' }),
        await otherApi.delete(`/v1/service-accounts/${sa.id}/`),
        await otherApi.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [] }),
        await otherApi.post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'x' }),
        await otherApi.delete(`/v1/service-accounts/${sa.id}/tokens/${sa.tokenId}/`),
      ]) {
        assert.deepEqual([res.status, res.body], [404, { error: 'Service account not found.' }]);
      }
      assert.ok(!(await otherApi.get('/v1/service-accounts/')).body.data.some((s: any) => s.id === sa.id));
      assert.equal((await api.get('/v1/service-accounts/not-a-uuid/')).status, 404);
    });

    it('updates the name and role with Phase messages', async () => {
      const sa = await addServiceAccount(server, api, owner.organisationId, { name: 'before' });
      const url = `/v1/service-accounts/${sa.id}/`;
      const cases: Array<[unknown, number, string]> = [
        [{}, 400, "At least one of 'name' or 'role_id' must be provided."],
        [{ name: null, role_id: null }, 400, "At least one of 'name' or 'role_id' must be provided."],
        [{ name: ' ' }, 400, 'Missing required field: name'],
        [{ name: 'x'.repeat(65), role_id: UNKNOWN }, 400, "'name' cannot exceed 64 characters."],
        [{ role_id: UNKNOWN }, 404, 'Role not found.'],
        [{ role_id: await roleId(server, owner.organisationId, 'Admin') }, 400, "Service accounts cannot be assigned the 'Admin' role."],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.put(url, body);
        assert.deepEqual([res.status, res.body], [status, { error }], JSON.stringify(body));
      }
      assert.deepEqual((await api.put(`/v1/service-accounts/${UNKNOWN}/`, {})).body, { error: 'Service account not found.' });
      const developerRole = await roleId(server, owner.organisationId, 'Developer');
      const updated = await api.put(url, { name: 'after', role_id: developerRole });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.name, 'after');
      assert.deepEqual(updated.body.role, { id: developerRole, name: 'Developer' });
      assert.equal(updated.body.tokens.length, 1);
      // The role change applies at once: Developer may not read service accounts.
      assert.equal((await sa.api.get('/v1/service-accounts/')).status, 403);
    });

    it('takes an access declaration that lists one app thousands of times, or names thousands of unknown environments, in one pass', async () => {
      const app = await addApp(api, 'ManyEntries');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const url = `/v1/service-accounts/${sa.id}/access/`;
      const entries = Array.from({ length: 20_000 }, (_, i) => ({ id: app.id, environments: [i % 2 ? app.environments.Development : app.environments.Staging] }));
      const granted = await api.put(url, { apps: entries });
      assert.equal(granted.status, 200, granted.text.slice(0, 200));
      // The later entry wins (§10.6): Development only.
      assert.equal((await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=Development`)).status, 200);
      assert.notEqual((await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=Staging`)).status, 200);
      const unknown = Array.from({ length: 100_000 }, (_, i) => `e${i % 50_000}`);
      const refused = await api.put(url, { apps: [{ id: app.id, environments: unknown }] });
      assert.equal(refused.status, 404);
      assert.equal(refused.body.error, `Environment(s) not found in app 'ManyEntries': ${unknown.slice(0, 50_000).join(', ')}`);
    });

    it('deletes an account: its tokens stop working and its access is gone', async () => {
      const app = await addApp(api, 'DeleteMe');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const granted = await api.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [{ id: app.id, environments: [app.environments.Development] }] });
      assert.equal(granted.status, 200, granted.text);
      assert.equal((await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=Development`)).status, 200);
      const deleted = await api.delete(`/v1/service-accounts/${sa.id}/`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      const after = await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=Development`);
      assert.deepEqual([after.status, after.body], [401, { error: 'Token expired or deleted' }]);
      assert.equal((await api.get(`/v1/service-accounts/${sa.id}/`)).status, 404);
      const rows = await server.store.db.selectFrom('environment_keys').select('id').where('service_account_id', '=', sa.id).execute();
      assert.equal(rows.length, 0);
      const tokens = await server.store.db.selectFrom('service_account_tokens').select('deleted_at').where('service_account_id', '=', sa.id).execute();
      assert.ok(tokens.every((t) => t.deleted_at !== null));
    });

    it('sets access declaratively and validates every entry in order (§10.6)', async () => {
      const app = await addApp(api, 'Access');
      const other = await addApp(api, 'Other');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const url = `/v1/service-accounts/${sa.id}/access/`;
      const dev = app.environments.Development!;
      const cases: Array<[unknown, number, string]> = [
        [{}, 400, 'Missing required field: apps'],
        [{ apps: null }, 400, 'Missing required field: apps'],
        [{ apps: {} }, 400, "'apps' must be a list."],
        [{ apps: ['x'] }, 400, "Each entry in 'apps' must be an object with 'id' and 'environments'."],
        [{ apps: [{ environments: [dev] }] }, 400, "Each app entry must have an 'id' field."],
        [{ apps: [{ id: '', environments: [dev] }] }, 400, "Each app entry must have an 'id' field."],
        [{ apps: [{ id: UNKNOWN, environments: [dev] }] }, 404, `App not found: ${UNKNOWN}`],
        [{ apps: [{ id: 'abc' }] }, 404, 'App not found: abc'],
        [{ apps: [{ id: app.id }] }, 400, "Each app entry must have an 'environments' list of environment IDs."],
        [{ apps: [{ id: app.id, environments: 'x' }] }, 400, "Each app entry must have an 'environments' list of environment IDs."],
        [{ apps: [{ id: app.id, environments: [] }] }, 400, `'environments' for app '${app.id}' must not be empty. To revoke all access, remove the app from the list.`],
        [{ apps: [{ id: app.id, environments: [dev, UNKNOWN, 'zz', other.environments.Staging] }] }, 404, `Environment(s) not found in app 'Access': ${UNKNOWN}, zz, ${other.environments.Staging}`],
        [{ apps: [{ id: app.id, environments: [dev] }, 5] }, 400, "Each entry in 'apps' must be an object with 'id' and 'environments'."],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.put(url, body);
        assert.deepEqual([res.status, res.body], [status, { error }], JSON.stringify(body));
      }
      assert.deepEqual((await api.put(`/v1/service-accounts/${UNKNOWN}/access/`, { apps: [] })).body, { error: 'Service account not found.' });

      // Grant Development and Staging of one app, then narrow to Staging, add the other app, then clear.
      const first = await api.put(url, { apps: [{ id: app.id, environments: [dev, app.environments.Staging] }] });
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(first.body.apps, [{ id: app.id, name: 'Access', environments: [{ id: dev, name: 'Development', envType: 'dev' }, { id: app.environments.Staging, name: 'Staging', envType: 'staging' }] }]);
      assert.equal((await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=development`)).status, 200);
      assert.deepEqual((await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=Production`)).body, { error: 'Service account cannot access this environment' });

      const second = await api.put(url, { apps: [{ id: app.id, environments: [dev] }, { id: other.id, environments: [other.environments.Production] }, { id: app.id, environments: [app.environments.Staging] }] });
      assert.equal(second.status, 200, second.text);
      assert.deepEqual(second.body.apps.map((a: any) => [a.name, a.environments.map((e: any) => e.name)]), [['Other', ['Production']], ['Access', ['Staging']]]);
      assert.equal((await sa.api.get(`/v1/secrets/?app_id=${app.id}&env=development`)).status, 401);
      assert.equal((await sa.api.get(`/v1/secrets/?app_id=${other.id}&env=production`)).status, 200);

      const cleared = await api.put(url, { apps: [] });
      assert.deepEqual(cleared.body.apps, []);
      assert.deepEqual((await sa.api.get(`/v1/apps/${other.id}/`)).body, { error: 'Service account cannot access this app' });
    });

    it('lets a non-global caller pass on only the access it holds', async () => {
      const manager = await addMember(server, owner.organisationId, 'Manager');
      const app = await addApp(api, 'Guarded');
      const sa = await addServiceAccount(server, manager.api, owner.organisationId);
      const url = `/v1/service-accounts/${sa.id}/access/`;
      const noApp = await manager.api.put(url, { apps: [{ id: app.id, environments: [app.environments.Development] }] });
      assert.deepEqual([noApp.status, noApp.body], [403, { error: "You don't have access to app 'Guarded'." }]);
      // Give the manager the app and one environment; the others stay out of reach.
      const granted = await api.put(`/v1/members/${manager.memberId}/access/`, { apps: [{ id: app.id, environments: [app.environments.Development] }] });
      assert.equal(granted.status, 200, granted.text);
      const noEnv = await manager.api.put(url, { apps: [{ id: app.id, environments: [app.environments.Development, app.environments.Production] }] });
      assert.deepEqual([noEnv.status, noEnv.body], [403, { error: "You don't have access to one or more environments in app 'Guarded'." }]);
      const ok = await manager.api.put(url, { apps: [{ id: app.id, environments: [app.environments.Development] }] });
      assert.equal(ok.status, 200, ok.text);
    });

    it('mints tokens with expiry rules (§10.7) and only within the minting scope', async () => {
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const url = `/v1/service-accounts/${sa.id}/tokens/`;
      const AT_TYPE = "'expires_at' must be an ISO-8601 datetime string with timezone (e.g. '2026-12-31T23:59:59Z').";
      const AT_PARSE = "'expires_at' is not a valid ISO-8601 datetime.";
      const AT_TZ = "'expires_at' must include a timezone offset (e.g. 'Z' or '+00:00').";
      const AT_PAST = "'expires_at' must be in the future.";
      const IN = "'expires_in' must be a positive integer (seconds).";
      const EXPIRY = "Unknown field 'expiry'. Use 'expires_at' (ISO-8601 with timezone) or 'expires_in' (positive integer seconds).";
      const cases: Array<[string, number, string]> = [
        ['{}', 400, 'Missing required field: name'],
        ['{"name": "t", "expiry": null}', 400, EXPIRY],
        ['{"expiry": 5}', 400, 'Missing required field: name'],
        ['{"name": "t", "expires_at": 5}', 400, AT_TYPE],
        ['{"name": "t", "expires_at": "soon"}', 400, AT_PARSE],
        ['{"name": "t", "expires_at": "2099-01-01t00:00:00Z"}', 400, AT_PARSE],
        ['{"name": "t", "expires_at": "2099-01-01T00:00:00z"}', 400, AT_PARSE],
        ['{"name": "t", "expires_at": "2099-02-30T00:00:00Z"}', 400, AT_PARSE],
        ['{"name": "t", "expires_at": "2099-01-01T00:00:00"}', 400, AT_TZ],
        ['{"name": "t", "expires_at": "2099-01-01"}', 400, AT_TZ],
        ['{"name": "t", "expires_at": "2001-01-01T00:00:00Z"}', 400, AT_PAST],
        ['{"name": "t", "expires_at": "2001-01-01T00:00:00Z", "expires_in": "x"}', 400, AT_PAST],
        ['{"name": "t", "expires_in": 0}', 400, IN],
        ['{"name": "t", "expires_in": -5}', 400, IN],
        ['{"name": "t", "expires_in": 1.5}', 400, IN],
        ['{"name": "t", "expires_in": 3600.0}', 400, IN],
        ['{"name": "t", "expires_in": 36e2}', 400, IN],
        ['{"name": "t", "expires_in": "3600"}', 400, IN],
        ['{"name": "t", "expires_in": true}', 400, IN],
        ['{"name": "t", "expires_at": null, "expires_in": 3600.5}', 400, IN],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.post(url, body);
        assert.deepEqual([res.status, res.body], [status, { error }], body);
      }
      const accepted: Array<[unknown, string | null]> = [
        [{ name: 'never' }, null],
        [{ name: 'offset', expires_at: '2099-06-30T12:00:00+02:00' }, '2099-06-30T10:00:00.000000Z'],
        [{ name: 'compact', expires_at: '20990101T000000Z' }, '2099-01-01T00:00:00.000000Z'],
        [{ name: 'space', expires_at: '2099-01-01 00:00:00.5-0130' }, '2099-01-01T01:30:00.500000Z'],
        [{ name: 'week', expires_at: '2099-W01-1T00:00:00+00' }, '2098-12-29T00:00:00.000000Z'],
      ];
      for (const [body, expiresAt] of accepted) {
        const res = await api.post(url, body);
        assert.equal(res.status, 201, res.text);
        assert.equal(res.body.expiresAt, expiresAt, JSON.stringify(body));
        assert.equal(res.body.bearerToken, `ServiceAccount ${parseToken(res.body.token).bearer}`);
      }
      const inOneHour = await api.post(url, { name: 'hour', expires_in: 3600 });
      assert.equal(inOneHour.status, 201);
      const delta = Date.parse(inOneHour.body.expiresAt) - Date.parse(inOneHour.body.createdAt);
      assert.ok(Math.abs(delta - 3_600_000) < 1000, `expires one hour after creation (${delta})`);
      const detail = await api.get(`/v1/service-accounts/${sa.id}/`);
      assert.equal(detail.body.tokens[0].name, 'hour');
      assert.equal(detail.body.tokens.length, 1 + accepted.length + 1);

      // Minting scope: a Manager (no global access) is told the account does not exist; an account
      // mints for itself only.
      const manager = await addMember(server, owner.organisationId, 'Manager');
      assert.deepEqual((await manager.api.post(url, { name: 'x' })).body, { error: 'Service account not found.' });
      const customRole = await api.post('/v1/roles/', { name: 'Minter', permissions: { permissions: { ServiceAccountTokens: ['create', 'delete'] }, app_permissions: {} } });
      assert.equal(customRole.status, 201, customRole.text);
      const minter = await addServiceAccount(server, api, owner.organisationId, { name: 'minter' });
      assert.equal((await api.put(`/v1/service-accounts/${minter.id}/`, { role_id: customRole.body.id })).status, 200);
      assert.equal((await minter.api.post(`/v1/service-accounts/${minter.id}/tokens/`, { name: 'self' })).status, 201);
      assert.deepEqual((await minter.api.post(url, { name: 'x' })).body, { error: 'Service account not found.' });
      assert.deepEqual((await minter.api.delete(`/v1/service-accounts/${sa.id}/tokens/${sa.tokenId}/`)).body, { error: 'Service account not found.' });
    });

    it('minted tokens reconstruct the account key and open its environments (crypto §3.6)', async () => {
      const app = await addApp(api, 'Crypto');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      assert.equal((await api.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [{ id: app.id, environments: [app.environments.Production] }] })).status, 200);
      const minted = await api.post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'sdk' });
      const { reconstructTokenKeyPair, verifyEnvironmentGrant, bearerHash } = await import('../../../src/crypto/index.js');
      const parsed = parseToken(minted.body.token);
      const row = await server.store.db.selectFrom('service_account_tokens').selectAll().where('bearer_hash', '=', bearerHash(parsed.bearer)).executeTakeFirstOrThrow();
      const keyPair = reconstructTokenKeyPair(parsed, row.wrapped_key_share);
      const grants = await server.store.db.selectFrom('environment_keys').selectAll().where('service_account_id', '=', sa.id).execute();
      assert.equal(grants.length, 1);
      const env = await server.store.db.selectFrom('environments').select('identity_key').where('id', '=', app.environments.Production!).executeTakeFirstOrThrow();
      assert.equal(grants[0]!.identity_key, env.identity_key);
      verifyEnvironmentGrant({ identityKey: grants[0]!.identity_key, wrappedSeed: grants[0]!.wrapped_seed, wrappedSalt: grants[0]!.wrapped_salt }, keyPair);
      // Every token of one account carries the account's key pair.
      assert.equal(parsed.publicKeyHex, parseToken(sa.token).publicKeyHex);
    });

    it('revokes a token: 404s in order, then the token is refused', async () => {
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const other = await addServiceAccount(server, api, owner.organisationId);
      const base = `/v1/service-accounts/${sa.id}/tokens`;
      assert.deepEqual((await api.delete(`/v1/service-accounts/${UNKNOWN}/tokens/${sa.tokenId}/`)).body, { error: 'Service account not found.' });
      assert.deepEqual((await api.delete(`${base}/${UNKNOWN}/`)).body, { error: 'Token not found.' });
      assert.deepEqual((await api.delete(`${base}/not-a-uuid/`)).body, { error: 'Token not found.' });
      assert.deepEqual((await api.delete(`${base}/${other.tokenId}/`)).body, { error: 'Token not found.' });
      assert.equal((await sa.api.get('/v1/service-accounts/')).status, 200);
      const revoked = await api.delete(`${base}/${sa.tokenId}/`);
      assert.equal(revoked.status, 204);
      assert.deepEqual((await sa.api.get('/v1/service-accounts/')).body, { error: 'Token expired or deleted' });
      assert.deepEqual((await api.delete(`${base}/${sa.tokenId}/`)).body, { error: 'Token not found.' });
      assert.deepEqual((await api.get(`/v1/service-accounts/${sa.id}/`)).body.tokens, []);
      assert.equal((await other.api.get('/v1/service-accounts/')).status, 200);
    });
  });
}
