// Revocation takes effect on the next request (rest-api §2.3): revoked and expired tokens get 401
// `Token expired or deleted`, a removed member's PAT gets 404 `User not found`, also after the
// credentials were used (and cached) just before.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { kxKeyPairOfIdentity, mintUserToken } from '../../../src/crypto/index.js';
import { apiClient, createOwner, ownerLoginHash, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { addApp, addMember, addServiceAccount } from '../accounts/helpers.js';

const EXPIRED = { error: 'Token expired or deleted' };

/** GETs over one kept-alive connection, saying whether each request reused it. */
function oneConnection(baseUrl: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string, authorization: string) =>
    new Promise<{ status: number; body: unknown; reused: boolean }>((resolve, reject) => {
      const request = http.get(new URL(path, baseUrl), { agent, headers: { authorization } }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text), reused: request.reusedSocket }));
      });
      request.on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

/**
 * A POST whose headers and first bytes go out at once and whose rest follows only after `meanwhile`
 * has run: what a slow upload looks like to the server.
 */
function postWithSlowBody(url: string, headers: Record<string, string>, body: unknown, meanwhile: () => Promise<void>) {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
    });
    request.on('error', reject);
    request.write(payload.subarray(0, 10));
    // The headers have been read (and the caller resolved) once the server is waiting for the rest.
    setTimeout(() => void meanwhile().then(() => request.end(payload.subarray(10)), reject), 200);
  });
}

async function waitUntil(instant: number): Promise<void> {
  while (Date.now() <= instant) await new Promise((resolve) => setTimeout(resolve, Math.max(5, instant - Date.now() + 5)));
}

for (const target of STORE_TARGETS) {
  describe(`revocation on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: { id: string; environments: Record<string, string> };
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await addApp(api, 'Revocable');
    });
    after(() => server.close());

    async function grantedServiceAccount() {
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const res = await api.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [{ id: app.id, environments: [app.environments.Development] }] });
      assert.equal(res.status, 200, res.text);
      return sa;
    }

    it('refuses a revoked service-account token on the next request', async () => {
      const sa = await grantedServiceAccount();
      const minted = await api.post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'short-lived' });
      const client = apiClient(server.url, `Bearer ${minted.body.bearerToken}`);
      const secrets = `/v1/secrets/?app_id=${app.id}&env=Development`;
      assert.equal((await client.get(secrets)).status, 200);
      // The whole token where its bearer belongs is that token; under another type, an invalid one.
      assert.equal((await apiClient(server.url, `Bearer ServiceAccount ${minted.body.token}`).get(secrets)).status, 200);
      assert.deepEqual((await apiClient(server.url, `Bearer User ${minted.body.token}`).get(secrets)).body, { error: 'Invalid token' });
      assert.equal((await api.delete(`/v1/service-accounts/${sa.id}/tokens/${minted.body.id}/`)).status, 204);
      const refused = await client.get(secrets);
      assert.deepEqual([refused.status, refused.body], [401, EXPIRED]);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await sa.api.get(secrets)).status, 200, "the account's other tokens still work");
      // The full token string is refused as well.
      assert.deepEqual((await apiClient(server.url, `Bearer ${minted.body.token}`).get(secrets)).body, EXPIRED);
      assert.deepEqual((await apiClient(server.url, `Bearer ServiceAccount ${minted.body.token}`).get(secrets)).body, EXPIRED);
    });

    it('refuses a write whose token, grant or account was revoked while its body was still arriving', async () => {
      const secrets = `${server.url}/v1/secrets/?app_id=${app.id}&env=Development`;
      const written = async (key: string) => (await api.get(`/v1/secrets/?app_id=${app.id}&env=Development&key=${key}`)).body.length;
      const cases: Array<[string, (sa: Awaited<ReturnType<typeof grantedServiceAccount>>) => Promise<unknown>, number, unknown]> = [
        ['token revoked', (sa) => api.delete(`/v1/service-accounts/${sa.id}/tokens/${sa.tokenId}/`), 401, EXPIRED],
        ['account deleted', (sa) => api.delete(`/v1/service-accounts/${sa.id}/`), 401, EXPIRED],
        ['access removed', (sa) => api.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [] }), 401, { error: 'Service account cannot access this environment' }],
      ];
      for (const [what, revoke, status, error] of cases) {
        const sa = await grantedServiceAccount();
        const key = `SLOW_${what.replace(/ /g, '_').toUpperCase()}`;
        const answer = await postWithSlowBody(secrets, { authorization: sa.authorization }, { secrets: [{ key, value: 'late' }] }, async () => {
          await revoke(sa);
        });
        assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`);
        if (error) assert.deepEqual(answer.body, error, what);
        assert.equal(await written(key), 0, `${what}: nothing was written`);
      }
      // A personal access token revoked mid-upload, on Coffer's own API: the token it was registering is refused too.
      const minted = mintUserToken(kxKeyPairOfIdentity(owner.keyring));
      const registered = await api.post('/coffer/v1/tokens/', { name: 'doomed', identityKey: minted.identityKey, bearerHash: minted.bearerHash, wrappedKeyShare: minted.wrappedKeyShare, loginHash: await ownerLoginHash(server.domain, owner) });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const another = mintUserToken(kxKeyPairOfIdentity(owner.keyring));
      const late = await postWithSlowBody(`${server.url}/coffer/v1/tokens/`, { authorization: `Bearer User ${minted.bearer}` }, { name: 'late', identityKey: another.identityKey, bearerHash: another.bearerHash, wrappedKeyShare: another.wrappedKeyShare, loginHash: await ownerLoginHash(server.domain, owner) }, async () => {
        assert.equal((await api.delete(`/coffer/v1/tokens/${registered.body.id}/`)).status, 204);
      });
      assert.deepEqual([late.status, late.body], [401, EXPIRED]);
      assert.equal((await apiClient(server.url, `Bearer User ${another.bearer}`).get('/v1/apps/')).status, 401, 'the late token was not registered');
    });

    it('authenticates each request on a kept-alive connection by its own header', async () => {
      const granted = await grantedServiceAccount();
      const minted = await api.post(`/v1/service-accounts/${granted.id}/tokens/`, { name: 'revoked on a live connection' });
      const ungranted = await addServiceAccount(server, api, owner.organisationId);
      const secrets = `/v1/secrets/?app_id=${app.id}&env=Development`;
      const connection = oneConnection(server.url);
      try {
        const first = await connection.get(secrets, `Bearer ${minted.body.bearerToken}`);
        assert.equal(first.status, 200);
        // Another account's token on the same connection is that account, not the first one.
        const other = await connection.get(secrets, ungranted.authorization);
        assert.deepEqual([other.status, other.body, other.reused], [401, { error: 'Service account cannot access this environment' }, true]);
        assert.equal((await connection.get(secrets, `Bearer ${minted.body.bearerToken}`)).status, 200);
        const garbled = await connection.get(secrets, `Bearer ${minted.body.bearerToken}x`);
        assert.deepEqual([garbled.status, garbled.body, garbled.reused], [401, EXPIRED, true]);
        // Revoked while the connection that used it stays open: refused on it too.
        assert.equal((await connection.get(secrets, `Bearer ${minted.body.bearerToken}`)).status, 200);
        assert.equal((await api.delete(`/v1/service-accounts/${granted.id}/tokens/${minted.body.id}/`)).status, 204);
        const revoked = await connection.get(secrets, `Bearer ${minted.body.bearerToken}`);
        assert.deepEqual([revoked.status, revoked.body, revoked.reused], [401, EXPIRED, true]);
      } finally {
        connection.close();
      }
    });

    it('refuses every token of a deleted service account', async () => {
      const sa = await grantedServiceAccount();
      const second = await api.post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'second' });
      const clients = [sa.api, apiClient(server.url, `Bearer ${second.body.bearerToken}`)];
      for (const client of clients) assert.equal((await client.get('/v1/service-accounts/')).status, 200);
      assert.equal((await api.delete(`/v1/service-accounts/${sa.id}/`)).status, 204);
      for (const client of clients) assert.deepEqual((await client.get('/v1/service-accounts/')).body, EXPIRED);
    });

    it('refuses a service-account token once it has expired', async () => {
      const sa = await grantedServiceAccount();
      const expiresAt = Date.now() + 1500;
      const minted = await api.post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'expiring', expires_at: new Date(expiresAt).toISOString() });
      assert.equal(minted.status, 201, minted.text);
      const client = apiClient(server.url, `Bearer ${minted.body.bearerToken}`);
      assert.equal((await client.get('/v1/service-accounts/')).status, 200);
      await waitUntil(expiresAt);
      assert.deepEqual((await client.get('/v1/service-accounts/')).body, EXPIRED);
      // An expired token is still listed (not revoked), as Phase does.
      assert.ok((await api.get(`/v1/service-accounts/${sa.id}/`)).body.tokens.some((t: any) => t.id === minted.body.id));
    });

    it('refuses an expired personal access token', async () => {
      const member = await addMember(server, owner.organisationId, 'Developer');
      const minted = mintUserToken(kxKeyPairOfIdentity(member.keyring));
      await server.domain.personalTokens.register(owner.organisationId, member.memberId, {
        name: 'old',
        identityKey: minted.identityKey,
        bearerHash: minted.bearerHash,
        wrappedKeyShare: minted.wrappedKeyShare,
        expiresAt: new Date(Date.now() - 1000),
      });
      assert.deepEqual((await apiClient(server.url, `Bearer User ${minted.bearer}`).get('/v1/members/')).body, EXPIRED);
      assert.equal((await member.api.get('/v1/members/')).status, 200);
    });

    it("answers a removed member's PAT with 404 User not found", async () => {
      const member = await addMember(server, owner.organisationId, 'Developer');
      assert.equal((await api.put(`/v1/members/${member.memberId}/access/`, { apps: [{ id: app.id, environments: [app.environments.Development] }] })).status, 200);
      assert.equal((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Development`)).status, 200);
      assert.equal((await api.delete(`/v1/members/${member.memberId}/`)).status, 204);
      for (const path of ['/v1/members/', `/v1/secrets/?app_id=${app.id}&env=Development`, `/v1/apps/${app.id}/`]) {
        const res = await member.api.get(path);
        assert.deepEqual([res.status, res.body], [404, { error: 'User not found' }], path);
      }
    });

    it('applies a narrowed grant and a demotion on the next request', async () => {
      const sa = await grantedServiceAccount();
      const secrets = `/v1/secrets/?app_id=${app.id}&env=Development`;
      assert.equal((await sa.api.get(secrets)).status, 200);
      assert.equal((await api.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [{ id: app.id, environments: [app.environments.Staging] }] })).status, 200);
      assert.deepEqual((await sa.api.get(secrets)).body, { error: 'Service account cannot access this environment' });
      const manager = await addMember(server, owner.organisationId, 'Manager');
      assert.equal((await manager.api.get('/v1/service-accounts/')).status, 200);
      const developerRole = (await api.get('/v1/roles/')).body.data.find((r: any) => r.name === 'Developer').id;
      assert.equal((await api.put(`/v1/members/${manager.memberId}/`, { role_id: developerRole })).status, 200);
      assert.deepEqual((await manager.api.get('/v1/service-accounts/')).body, { error: "You don't have permission to read service accounts." });
    });
  });
}
