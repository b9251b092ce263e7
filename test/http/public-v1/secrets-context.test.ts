// /v1/secrets/ before the handler does anything: context resolution (rest-api §2.5), principal checks
// (§2.6), the check order of §4.1, body parsing (§1.4) and the E2EE rejection (§7), on every store.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { createE2eeApp } from '../../helpers/e2ee.js';
import { addMember, addServiceAccount, addToApp, createCustomRole, grantAccess } from '../../helpers/principals.js';
import { request } from '../../helpers/server.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertError, createApp, postSecrets, secretsUrl, type CreatedApp } from '../../helpers/world.js';

const CONTEXT_REQUIRED = 'Environment context required. Supply `app_id` and `env` as query parameters.';
const SSE_400 = 'SSE is not enabled for this App';
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

/** A request with any method Node sends (fetch refuses TRACE); status and JSON body. */
function rawCall(base: string, method: string, path: string, authorization?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers: authorization ? { authorization } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end();
  });
}
const ACTION = { GET: 'read', POST: 'create', PUT: 'update', DELETE: 'delete' } as const;

for (const target of STORE_TARGETS) {
  describe(`secrets: context, principal checks and check order (rest-api §2.5, §2.6, §4.1) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    let devSecret: any;
    let stagingSecret: any;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Context');
      [devSecret] = await postSecrets(api, app.id, 'development', [{ key: 'WHERE', value: 'development' }]);
      [stagingSecret] = await postSecrets(api, app.id, 'staging', [{ key: 'WHERE', value: 'staging' }]);
    });
    after(() => server.close());

    const where = async (res: { status: number; body: any; text: string }) => {
      assert.equal(res.status, 200, res.text);
      return res.body.map((s: any) => s.value);
    };

    describe('authentication (§1.6, §2.2)', () => {
      it('answers 401 with WWW-Authenticate before anything else', async () => {
        for (const method of [...METHODS, 'PATCH']) {
          const res = await request(`${server.url}/v1/secrets/?app_id=nope&env=x`, { method, ...(method === 'GET' ? {} : { body: '{bad' }) });
          assertError(res, 401, 'Authentication credentials were not provided.');
          assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        }
        assertError(await apiClient(server.url, 'Bearer User').get(secretsUrl(app.id, 'development')), 401, 'Invalid token');
        assertError(await apiClient(server.url, 'Bearer Robot abc').get(secretsUrl(app.id, 'development')), 401, 'Invalid token');
        assertError(await apiClient(server.url, `Bearer User ${'0'.repeat(64)}`).get(secretsUrl(app.id, 'development')), 401, 'Token expired or deleted');
      });
    });

    describe('token case (crypto spec §1.2)', () => {
      it('reads a bearer written in upper-case hex as the same token, in both header forms', async () => {
        const upper = (text: string) => text.replace(/[0-9a-f]{64}/g, (hex) => hex.toUpperCase());
        assert.notEqual(upper(owner.authorization), owner.authorization);
        assert.deepEqual(await where(await apiClient(server.url, upper(owner.authorization)).get(secretsUrl(app.id, 'development'))), ['development']);
        assert.deepEqual(await where(await apiClient(server.url, `Bearer ${upper(owner.token)}`).get(secretsUrl(app.id, 'development'))), ['development']);
      });
    });

    describe('context resolution (§2.5)', () => {
      it('query mode: app_id + env (case-insensitive), camelCase names accepted', async () => {
        assert.deepEqual(await where(await api.get(secretsUrl(app.id, 'DEVELOPMENT'))), ['development']);
        assert.deepEqual(await where(await api.get(`/v1/secrets/?appId=${app.id}&env=staging`)), ['staging']);
        assert.deepEqual(await where(await api.get(`/v1/secrets/?app_id=${app.id}&env=Production&app_id=${app.id}`)), []);
      });

      it('query mode errors: unknown app, unknown environment (as given), app only', async () => {
        const unknown = '00000000-0000-4000-8000-000000000000';
        for (const method of [...METHODS, 'PATCH']) {
          assertError(await api.call(method, `/v1/secrets/?app_id=${unknown}&env=development`), 404, `App with ID ${unknown} not found`);
          assertError(await api.call(method, `/v1/secrets/?app_id=not-a-uuid&env=development`), 404, 'App with ID not-a-uuid not found');
          assertError(await api.call(method, `/v1/secrets/?app_id=${app.id}&env=QA%20env`), 404, `Environment 'QA env' not found in App ${app.id}`);
          assertError(await api.call(method, `/v1/secrets/?app_id=${app.id}&env=dev%00`), 404, `Environment 'dev\u0000' not found in App ${app.id}`);
          assertError(await api.call(method, `/v1/secrets/?app_id=${unknown}`), 404, `App with ID ${unknown} not found`);
        }
        // another organisation's app is unknown
        const other = await createApp(apiClient(server.url, (await createOwner(server.domain)).authorization), 'Other org');
        assertError(await api.get(secretsUrl(other.id, 'development')), 404, `App with ID ${other.id} not found`);
      });

      it('Environment header mode: an environment id, beating the query; unknown is 401', async () => {
        assert.deepEqual(await where(await api.get('/v1/secrets/', { environment: app.env.staging!.id })), ['staging']);
        assert.deepEqual(await where(await api.get(secretsUrl(app.id, 'development'), { environment: app.env.staging!.id })), ['staging']);
        for (const id of ['00000000-0000-4000-8000-000000000000', 'junk', app.env.staging!.id.toUpperCase().replace(/./, 'x')]) {
          const res = await api.get(secretsUrl(app.id, 'development'), { environment: id });
          assertError(res, 401, 'Environment not found');
          assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        }
        const created = await api.post('/v1/secrets/', { secrets: [{ key: 'BY_HEADER', value: 'x' }] }, { environment: app.env.production!.id });
        assert.equal(created.status, 200, created.text);
        assert.equal(created.body[0].environment, app.env.production!.id);
      });

      it('Secret-Id mode: the secret\'s environment (even deleted), beating header and query; not a filter', async () => {
        assert.deepEqual(await where(await api.get('/v1/secrets/', { 'secret-id': stagingSecret.id })), ['staging']);
        assert.deepEqual(await where(await api.get(`/v1/secrets/?secret_id=${stagingSecret.id}`)), ['staging']);
        assert.deepEqual(await where(await api.get(`/v1/secrets/?secretId=${stagingSecret.id}`)), ['staging']);
        assert.deepEqual(await where(await api.get(`${secretsUrl(app.id, 'development')}&secret_id=${stagingSecret.id}`, { environment: app.env.development!.id })), ['staging']);
        assert.deepEqual(await where(await api.get(`/v1/secrets/?secret_id=${devSecret.id}`, { 'secret-id': stagingSecret.id })), ['staging']);
        const [extra] = await postSecrets(api, app.id, 'staging', [{ key: 'EXTRA', value: 'staging too' }]);
        assert.deepEqual(await where(await api.get('/v1/secrets/', { 'secret-id': stagingSecret.id })), ['staging', 'staging too']);
        assert.deepEqual((await api.delete('/v1/secrets/', { secrets: [extra.id] }, { 'secret-id': extra.id })).body, { message: 'Deleted 1 secret' });
        assert.deepEqual(await where(await api.get('/v1/secrets/', { 'secret-id': extra.id })), ['staging']);
        for (const id of ['00000000-0000-4000-8000-000000000000', 'junk']) {
          for (const method of [...METHODS, 'PATCH']) assertError(await api.call(method, secretsUrl(app.id, 'development'), undefined, { 'secret-id': id }), 404, 'Secret not found');
        }
      });

      it('serves every prefix of §1.1 and no path without the trailing slash', async () => {
        for (const prefix of ['/public', '/service', '/service/public']) {
          assert.deepEqual(await where(await api.get(`${prefix}${secretsUrl(app.id, 'development')}`)), ['development']);
        }
        assertError(await api.get(`/v1/secrets?app_id=${app.id}&env=development`), 404, 'Not found.');
      });
    });

    describe('principal checks (§2.6)', () => {
      it('members: 403 without environment or app access, 404 once removed', async () => {
        const developer = await addMember(server.domain, owner.organisationId, 'Developer');
        const dev = apiClient(server.url, developer.authorization);
        for (const method of [...METHODS, 'PATCH']) {
          assertError(await dev.call(method, secretsUrl(app.id, 'development')), 403, 'User cannot access this environment');
          assertError(await dev.call(method, `/v1/secrets/?app_id=${app.id}`), 403, 'User cannot access this app');
        }
        assertError(await dev.get('/v1/secrets/', { environment: app.env.staging!.id }), 403, 'User cannot access this environment');
        assertError(await dev.get('/v1/secrets/', { 'secret-id': stagingSecret.id }), 403, 'User cannot access this environment');
        // resolution errors come before the principal check
        assertError(await dev.get(secretsUrl(app.id, 'nowhere')), 404, `Environment 'nowhere' not found in App ${app.id}`);
        await grantAccess(server.domain, developer, app.id, [app.env.development!.id]);
        assert.deepEqual(await where(await dev.get(secretsUrl(app.id, 'development'))), ['development']);
        assertError(await dev.get(secretsUrl(app.id, 'staging')), 403, 'User cannot access this environment');
        assertError(await dev.get(`/v1/secrets/?app_id=${app.id}`), 403, CONTEXT_REQUIRED);
        assert.equal((await api.delete(`/v1/members/${developer.memberId}/`)).status, 204);
        for (const path of [secretsUrl(app.id, 'development'), '/v1/secrets/', '/v1/apps/', `/v1/apps/${app.id}/`]) {
          assertError(await dev.get(path), 404, 'User not found');
        }
      });

      it('service accounts: 401 without environment or app access', async () => {
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        const bot = apiClient(server.url, sa.authorization);
        for (const method of [...METHODS, 'PATCH']) {
          const res = await bot.call(method, secretsUrl(app.id, 'development'));
          assertError(res, 401, 'Service account cannot access this environment');
          assert.equal(res.headers.get('www-authenticate'), 'Bearer');
          assertError(await bot.call(method, `/v1/secrets/?app_id=${app.id}`), 401, 'Service account cannot access this app');
        }
        await grantAccess(server.domain, sa, app.id, [app.env.staging!.id]);
        assert.deepEqual(await where(await bot.get('/v1/secrets/', { 'secret-id': stagingSecret.id })), ['staging']);
        assertError(await bot.get('/v1/secrets/', { environment: app.env.development!.id }), 401, 'Service account cannot access this environment');
      });
    });

    describe('check order of §4.1', () => {
      it('method (403 Unsupported HTTP method) before environment context, permission and body', async () => {
        for (const method of ['PATCH', 'OPTIONS']) {
          assertError(await api.call(method, secretsUrl(app.id, 'development'), '{bad'), 403, `Unsupported HTTP method: ${method}`);
          assertError(await api.call(method, '/v1/secrets/'), 403, `Unsupported HTTP method: ${method}`);
        }
        const res = await request(`${server.url}${secretsUrl(app.id, 'development')}`, { method: 'HEAD', headers: { authorization: owner.authorization } });
        assert.equal(res.status, 403);
        // Methods fetch will not send (TRACE) or that no route named (PROPFIND, M-SEARCH...) were 404.
        for (const method of ['TRACE', 'PROPFIND', 'M-SEARCH', 'PURGE']) {
          const authorized = await rawCall(server.url, method, secretsUrl(app.id, 'development'), owner.authorization);
          assert.deepEqual(authorized, { status: 403, body: { error: `Unsupported HTTP method: ${method}` } }, method);
          assert.equal((await rawCall(server.url, method, secretsUrl(app.id, 'development'))).status, 401, `${method} without credentials`);
          assert.deepEqual(await rawCall(server.url, method, '/v1/apps/', owner.authorization), { status: 405, body: { error: `Method "${method}" not allowed.` } }, method);
        }
      });

      it('environment context before permission and body', async () => {
        for (const method of METHODS) {
          assertError(await api.call(method, '/v1/secrets/', method === 'GET' ? undefined : '{bad'), 403, CONTEXT_REQUIRED);
          assertError(await api.call(method, `/v1/secrets/?app_id=${app.id}&env=`, method === 'GET' ? undefined : '{bad'), 403, CONTEXT_REQUIRED);
        }
      });

      it('role permission Secrets/<action> before the body', async () => {
        const readOnly = await createCustomRole(server.domain, owner.organisationId, 'Secret reader', { Apps: ['read'] }, { Secrets: ['read'] });
        const reader = await addMember(server.domain, owner.organisationId, { id: readOnly });
        await grantAccess(server.domain, reader, app.id, [app.env.development!.id]);
        const client = apiClient(server.url, reader.authorization);
        assert.deepEqual(await where(await client.get(secretsUrl(app.id, 'development'))), ['development']);
        for (const method of ['POST', 'PUT', 'DELETE'] as const) {
          assertError(await client.call(method, secretsUrl(app.id, 'development'), '{bad'), 403, `You don't have permission to ${ACTION[method]} secrets in this environment.`);
        }
        const none = await createCustomRole(server.domain, owner.organisationId, 'Secretless', { Apps: ['read'] }, { Environments: ['read'] });
        const member = await addMember(server.domain, owner.organisationId, { id: none });
        await grantAccess(server.domain, member, app.id, [app.env.development!.id]);
        for (const method of METHODS) {
          assertError(await apiClient(server.url, member.authorization).call(method, secretsUrl(app.id, 'development')), 403, `You don't have permission to ${ACTION[method]} secrets in this environment.`);
        }
      });

      it('E2EE apps: 400 without period, after the permission check and before the body', async () => {
        const sa = await addServiceAccount(server.domain, owner.organisationId, 'Service', { via: api });
        const readOnly = await createCustomRole(server.domain, owner.organisationId, 'E2EE reader', { Apps: ['read'] }, { Secrets: ['read'] });
        const reader = await addMember(server.domain, owner.organisationId, { id: readOnly });
        const e2ee = await createE2eeApp(server.domain, owner, 'E2EE secrets', ['Development'], [sa, reader]);
        for (const client of [api, apiClient(server.url, sa.authorization)]) {
          for (const method of METHODS) {
            assertError(await client.call(method, secretsUrl(e2ee.appId, 'development'), method === 'GET' ? undefined : ''), 400, SSE_400);
            assertError(await client.call(method, '/v1/secrets/', method === 'GET' ? undefined : '[]', { environment: e2ee.environments[0]!.id }), 400, SSE_400);
          }
          assertError(await client.get(`${secretsUrl(e2ee.appId, 'development')}&dynamic&lease_ttl=x`), 400, SSE_400);
          assertError(await client.call('PATCH', secretsUrl(e2ee.appId, 'development')), 403, 'Unsupported HTTP method: PATCH');
        }
        assertError(await apiClient(server.url, reader.authorization).post(secretsUrl(e2ee.appId, 'development'), ''), 403, "You don't have permission to create secrets in this environment.");
        assertError(await apiClient(server.url, reader.authorization).get(secretsUrl(e2ee.appId, 'development')), 400, SSE_400);
      });

      it('GET /v1/secrets/dynamic/ (§15): the checks of a read, then 404, as Coffer has no dynamic secrets', async () => {
        const dynamic = (appId: string, env: string) => `/v1/secrets/dynamic/?app_id=${appId}&env=${env}`;
        assertError(await request(`${server.url}${dynamic(app.id, 'development')}`), 401, 'Authentication credentials were not provided.');
        for (const prefix of ['', '/public', '/service']) {
          assertError(await api.get(prefix + dynamic(app.id, 'development')), 404, 'No dynamic secrets found');
        }
        const unknown = '00000000-0000-4000-8000-000000000000';
        assertError(await api.get(dynamic(unknown, 'development')), 404, `App with ID ${unknown} not found`);
        assertError(await api.get('/v1/secrets/dynamic/'), 403, CONTEXT_REQUIRED);
        assertError(await api.call('PATCH', dynamic(app.id, 'development')), 403, 'Unsupported HTTP method: PATCH');
        assertError(await api.call('POST', dynamic(app.id, 'development'), '{}'), 403, 'Unsupported HTTP method: POST');
        const none = await createCustomRole(server.domain, owner.organisationId, 'Dynamic-less', { Apps: ['read'] }, { Environments: ['read'] });
        const member = await addMember(server.domain, owner.organisationId, { id: none });
        await grantAccess(server.domain, member, app.id, [app.env.development!.id]);
        assertError(await apiClient(server.url, member.authorization).get(dynamic(app.id, 'development')), 403, "You don't have permission to read secrets in this environment.");
        const e2ee = await createE2eeApp(server.domain, owner, 'E2EE dynamic', ['Development'], []);
        assertError(await api.get(dynamic(e2ee.appId, 'development')), 400, SSE_400);
      });

      it('body: required, valid JSON, an object; whatever the Content-Type', async () => {
        const url = `${server.url}${secretsUrl(app.id, 'development')}`;
        const cases: Array<[string, string]> = [
          ['', 'Request body is required.'],
          ['{"secrets": [', 'Request body must be valid JSON.'],
          ['key=value', 'Request body must be valid JSON.'],
          ['[]', 'Request body must be a JSON object.'],
          ['"text"', 'Request body must be a JSON object.'],
          ['null', 'Request body must be a JSON object.'],
          ['5', 'Request body must be a JSON object.'],
        ];
        for (const method of ['POST', 'PUT', 'DELETE']) {
          for (const contentType of [undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded']) {
            for (const [body, message] of cases) {
              const headers: Record<string, string> = { authorization: owner.authorization, ...(contentType ? { 'content-type': contentType } : {}) };
              assertError(await request(url, { method, headers, body }), 400, message);
            }
          }
        }
        // JSON labelled as something else is still read (the Node SDK sends it that way)
        const res = await request(url, { method: 'POST', headers: { authorization: owner.authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: JSON.stringify({ secrets: [{ key: 'FORM', value: 'ok' }] }) });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body[0].key, 'FORM');        // A value that is not UTF-8 (Latin-1 é) is refused, not stored with U+FFFD in its place.
        const latin1 = Buffer.from(JSON.stringify({ secrets: [{ key: 'LATIN1', value: 'caf\xe9' }] }), 'latin1');
        assertError(await request(url, { method: 'POST', headers: { authorization: owner.authorization, 'content-type': 'application/json' }, body: latin1 }), 400, 'Request body must be valid JSON.');
        const listed = await apiClient(server.url, owner.authorization).get(secretsUrl(app.id, 'development'));
        assert.ok(!listed.body.some((s: any) => s.key === 'LATIN1'), 'nothing stored');
      });
    });
  });
}
