// More organisations: a signed-in person (token or session) creates one with a keyring made on the
// client for its id; the new token works there and only there; organisations share nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../../helpers/fixtures.js';
import { request, startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertNotStored, clientSecrets, createAccount, dumpDatabase, makeMaterial, signIn, type Account, type Material } from './accounts.js';

function body(material: Material, name: string) {
  return { organisation: { id: material.organisationId, name }, keyring: material.keyringBody, token: material.pat.body, loginHash: material.loginHash };
}

for (const target of STORE_TARGETS) {
  describe(`creating organisations on ${target.kind}`, () => {
    let server: TestServer;
    let account: Account;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      account = await createAccount(server.domain, { orgName: 'First' });
    });
    after(() => server.close());

    it('creates an organisation owned by the caller, with a token that works there only', async () => {
      const material = await makeMaterial(randomUUID(), account.email);
      const created = await apiClient(server.url, account.pat.authorization).post('/coffer/v1/organisations/', body(material, 'Second'));
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.organisationId, material.organisationId);
      assert.equal(created.body.organisationName, 'Second');
      assert.equal(created.body.userId, account.userId, 'the same person');
      assert.notEqual(created.body.memberId, account.memberId, 'a new membership');

      const second = apiClient(server.url, material.pat.authorization);
      const me = await second.get('/coffer/v1/me/');
      assert.deepEqual(me.body.memberships.map((m: any) => [m.organisationName, m.role.name]), [['Second', 'Owner']]);
      const firstApp = await apiClient(server.url, account.pat.authorization).post('/v1/apps/', { name: 'Only in First' });
      assert.equal(firstApp.status, 201, firstApp.text);
      const apps = await second.get('/v1/apps/');
      assert.equal(apps.status, 200);
      assert.deepEqual(apps.body.data, [], 'organisations share nothing');
      assert.equal((await second.get(`/v1/apps/${firstApp.body.id}/`)).status, 404);

      const session = await signIn(server.url, account.email, account.loginHash);
      assert.deepEqual(session.response.body.memberships.map((m: any) => m.organisationName), ['First', 'Second']);
    });

    it('creates one with a session (CSRF required) too', async () => {
      const session = await signIn(server.url, account.email, account.loginHash);
      const material = await makeMaterial(randomUUID(), account.email);
      const url = `${server.url}/coffer/v1/organisations/`;
      const noCsrf = await request(url, { method: 'POST', json: body(material, 'Third'), headers: { cookie: session.cookie } });
      assert.equal(noCsrf.status, 403);
      const created = await request(url, { method: 'POST', json: body(material, 'Third'), headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } });
      assert.equal(created.status, 201, created.text);
      assert.equal((await apiClient(server.url, material.pat.authorization).get('/v1/apps/')).status, 200);
    });

    it('refuses a reused id, a token for another key, and bad material, creating nothing', async () => {
      const owner = apiClient(server.url, account.pat.authorization);
      const reused = await makeMaterial(account.organisationId, account.email);
      const conflict = await owner.post('/coffer/v1/organisations/', body(reused, 'Again'));
      assert.equal(conflict.status, 409);
      assert.match(conflict.body.error, /already exists/);

      const material = await makeMaterial(randomUUID(), account.email);
      const mismatched = await owner.post('/coffer/v1/organisations/', { ...body(material, 'Mismatch'), token: account.pat.body });
      assert.equal(mismatched.status, 400);
      assert.equal(mismatched.body.error, "'identityKey' is not this member's key-exchange public key.");
      const exists = await server.store.db.selectFrom('organisations').select('id').where('id', '=', material.organisationId).executeTakeFirst();
      assert.equal(exists, undefined, 'rolled back');

      const cases: Array<[unknown, string]> = [
        [{ ...body(material, 'X'), organisation: { id: 'nope', name: 'X' } }, "'organisation.id' must be a UUID chosen by the client."],
        [{ ...body(material, ''), organisation: { id: material.organisationId, name: '' } }, 'Missing required field: name'],
        [{ ...body(material, 'X'), keyring: { ...material.keyringBody, identityKey: 'zz' } }, "'identityKey' must be 64 hexadecimal characters."],
        [{ ...body(material, 'X'), keyring: undefined }, "'keyring' must be an object with identityKey, wrappedKeyring, wrappedRecovery and kdfParams."],
      ];
      for (const [payload, message] of cases) {
        const response = await owner.post('/coffer/v1/organisations/', payload);
        assert.equal(response.status, 400, JSON.stringify(payload).slice(0, 80));
        assert.equal(response.body.error, message);
      }
      const anonymous = await apiClient(server.url, undefined).post('/coffer/v1/organisations/', body(material, 'X'));
      assert.equal(anonymous.status, 401);
      assertNotStored(await dumpDatabase(server.store.db), [...clientSecrets(account), ...clientSecrets(material)]);
    });
  });
}
