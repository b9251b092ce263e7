// Personal access tokens through /coffer/v1/tokens/: register a client-minted token, list (never
// secrets), revoke (the next request with it gets 401), and the checks on what is registered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../../helpers/fixtures.js';
import { joinMember } from '../../helpers/principals.js';
import { ownLoopbackAddress, requestFrom, startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { TOKEN_NEEDS_PASSWORD, WRONG_PASSWORD } from '../../../src/domain/users.js';
import { assertNotStored, clientSecrets, createAccount, dumpDatabase, mintPat, type Account } from './accounts.js';

for (const target of STORE_TARGETS) {
  describe(`personal access tokens on ${target.kind}`, () => {
    let server: TestServer;
    let account: Account;
    let other: Account;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      account = await createAccount(server.domain);
      other = await createAccount(server.domain);
    });
    after(() => server.close());

    it('registers, lists and revokes; a revoked token gets 401 on its next request', async () => {
      const owner = apiClient(server.url, account.pat.authorization);
      const expiresAt = new Date(Date.now() + 30 * 86400_000).toISOString();
      const second = mintPat(account.keyring, 'laptop', expiresAt);
      const created = await owner.post('/coffer/v1/tokens/', { ...second.body, loginHash: account.loginHash });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(Object.keys(created.body).sort(), ['createdAt', 'expiresAt', 'id', 'lastUsed', 'name']);
      assert.equal(created.body.name, 'laptop');
      assert.equal(created.body.expiresAt, expiresAt);

      // The full token string works as a bearer too (DESIGN §1).
      const viaFull = apiClient(server.url, `Bearer ${second.token}`);
      assert.equal((await viaFull.get('/v1/apps/')).status, 200);

      // Use is recorded off the request path: wait for it rather than for a fixed time.
      let listed = await owner.get('/coffer/v1/tokens/');
      while (listed.body.data.find((t: any) => t.name === 'laptop').lastUsed === null) {
        await new Promise((resolve) => setImmediate(resolve));
        listed = await owner.get('/coffer/v1/tokens/');
      }
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.data.map((t: any) => t.name), ['laptop', 'first'], 'newest first');
      for (const token of listed.body.data) {
        assert.deepEqual(Object.keys(token).sort(), ['createdAt', 'expiresAt', 'id', 'lastUsed', 'name'], 'nothing secret is listed');
      }

      const revoked = await owner.delete(`/coffer/v1/tokens/${created.body.id}/`);
      assert.equal(revoked.status, 204, revoked.text);
      const afterRevoke = await viaFull.get('/v1/apps/');
      assert.equal(afterRevoke.status, 401);
      assert.equal(afterRevoke.body.error, 'Token expired or deleted');
      const onCoffer = await apiClient(server.url, second.authorization).get('/coffer/v1/me/');
      assert.equal(onCoffer.status, 401);
      assert.equal(onCoffer.body.error, 'Token expired or deleted');
      assert.deepEqual((await owner.get('/coffer/v1/tokens/')).body.data.map((t: any) => t.name), ['first']);
      assert.equal((await owner.delete(`/coffer/v1/tokens/${created.body.id}/`)).status, 404, 'revoking twice: gone');
    });

    it("cannot see or revoke another member's tokens, nor register a token for another key", async () => {
      const owner = apiClient(server.url, account.pat.authorization);
      const theirs = (await apiClient(server.url, other.pat.authorization).get('/coffer/v1/tokens/')).body.data[0];
      const attempt = await owner.delete(`/coffer/v1/tokens/${theirs.id}/`);
      assert.equal(attempt.status, 404);
      assert.equal(attempt.body.error, 'Token not found.');
      assert.equal((await apiClient(server.url, other.pat.authorization).get('/v1/apps/')).status, 200);
      assert.equal((await owner.delete('/coffer/v1/tokens/not-a-uuid/')).status, 404);

      const foreignKey = mintPat(other.keyring, 'not mine');
      const refused = await owner.post('/coffer/v1/tokens/', { ...foreignKey.body, loginHash: account.loginHash });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, "'identityKey' is not this member's key-exchange public key.");
      const otherOrg = await owner.get(`/coffer/v1/tokens/?organisation_id=${other.organisationId}`);
      assert.equal(otherOrg.status, 404, 'a token acts in its own organisation only');
    });

    it('validates the registered parts', async () => {
      const owner = apiClient(server.url, account.pat.authorization);
      const fresh = mintPat(account.keyring, 'x');
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...fresh.body, name: '' }, 'Missing required field: name'],
        [{ ...fresh.body, bearerHash: 'AB'.repeat(32) }, "'bearerHash' must be 64 lower-case hexadecimal characters."],
        [{ ...fresh.body, wrappedKeyShare: 'ab' }, "'wrappedKeyShare' must be 208 hexadecimal characters."],
        [{ ...fresh.body, expiresAt: '2001-01-01T00:00:00Z' }, "'expiresAt' must be in the future."],
        [{ ...fresh.body, expiresAt: 'tomorrow' }, "'expiresAt' must be an ISO-8601 date-time such as 2030-01-31T12:00:00Z, or null."],
      ];
      for (const [body, message] of cases) {
        const response = await owner.post('/coffer/v1/tokens/', { ...body, loginHash: account.loginHash });
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.error, message);
      }
      const duplicate = await owner.post('/coffer/v1/tokens/', { ...account.pat.body, loginHash: account.loginHash });
      assert.equal(duplicate.status, 409, 'a bearer registered twice is a conflict, not a server fault');
      assert.equal(duplicate.body.error, 'This token is already registered; mint a new one.');
    });

    it("a token registers another token only with the account's password, so a leaked token cannot outlive its revocation", async () => {
      const holder = await createAccount(server.domain);
      const parent = apiClient(server.url, holder.pat.authorization);
      const lasting = mintPat(holder.keyring, 'lasting', null);
      const missing = await parent.post('/coffer/v1/tokens/', lasting.body);
      assert.deepEqual([missing.status, missing.body], [400, { error: TOKEN_NEEDS_PASSWORD }]);
      const wrong = await parent.post('/coffer/v1/tokens/', { ...lasting.body, loginHash: 'ab'.repeat(32) });
      assert.deepEqual([wrong.status, wrong.body], [403, { error: WRONG_PASSWORD }]);
      const malformed = await parent.post('/coffer/v1/tokens/', { ...lasting.body, loginHash: 'not hex' });
      assert.deepEqual([malformed.status, malformed.body], [400, { error: "'loginHash' must be 64 hexadecimal characters." }]);
      assert.equal((await apiClient(server.url, lasting.authorization).get('/v1/apps/')).status, 401, 'nothing was registered');
      assert.deepEqual((await parent.get('/coffer/v1/tokens/')).body.data.map((t: any) => t.name), ['first']);

      const proved = await parent.post('/coffer/v1/tokens/', { ...lasting.body, loginHash: holder.loginHash });
      assert.equal(proved.status, 201, proved.text);
      assert.equal((await apiClient(server.url, lasting.authorization).get('/v1/apps/')).status, 200);

      // Wrong passwords here count against the sign-in budget of the address and the e-mail address.
      for (let i = 1; i < 10; i++) {
        const again = await parent.post('/coffer/v1/tokens/', { ...mintPat(holder.keyring, `guess ${i}`).body, loginHash: 'cd'.repeat(32) });
        assert.equal(again.status, 403);
      }
      const limited = await parent.post('/coffer/v1/tokens/', { ...mintPat(holder.keyring, 'one more').body, loginHash: holder.loginHash });
      assert.equal(limited.status, 429, limited.text);
    });

    it('counts wrong passwords by the real address, not one the client wrote in X-Real-IP or X-Forwarded-For', async () => {
      const holder = await createAccount(server.domain);
      const from = ownLoopbackAddress();
      for (let i = 0; i < 10; i++) {
        const wrong = await requestFrom(from, `${server.url}/coffer/v1/tokens/`, {
          method: 'POST',
          json: { ...mintPat(holder.keyring, `guess ${i}`).body, loginHash: 'ef'.repeat(32) },
          headers: { authorization: holder.pat.authorization, 'x-real-ip': '10.9.9.9', 'x-forwarded-for': '10.9.9.9' },
        });
        assert.equal(wrong.status, 403, wrong.text);
      }
      // This address has used its budget: a sign-in from it to another account is refused.
      const bystander = await createAccount(server.domain);
      const fromSame = await requestFrom(from, `${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: bystander.email, loginHash: bystander.loginHash } });
      assert.equal(fromSame.status, 429, fromSame.text);
    });

    it("a removed member's tokens stay refused here after the person is invited again", async () => {
      const owner = apiClient(server.url, account.pat.authorization);
      const developer = (await owner.get('/v1/roles/')).body.data.find((r: any) => r.name === 'Developer').id;
      const first = await joinMember(server.domain, account.organisationId, { roleId: developer });
      const oldToken = apiClient(server.url, first.authorization);
      assert.equal((await oldToken.get('/coffer/v1/me/')).status, 200);
      assert.equal((await owner.delete(`/v1/members/${first.memberId}/`)).status, 204);
      const again = await joinMember(server.domain, account.organisationId, { roleId: developer, email: first.email });
      assert.equal(again.userId, first.userId, 'the same person, a new membership');
      assert.equal((await apiClient(server.url, again.authorization).get('/coffer/v1/me/')).status, 200);
      for (const path of ['/coffer/v1/me/', '/coffer/v1/me/keyring/', '/coffer/v1/tokens/']) {
        const refused = await oldToken.get(path);
        assert.deepEqual([refused.status, refused.body], [404, { error: 'User not found' }], path);
      }
      assert.deepEqual((await oldToken.post('/coffer/v1/tokens/', mintPat(again.keyring, 'sneaky').body)).status, 404);
      assert.equal((await oldToken.get('/v1/apps/')).status, 404, 'as on the public API');
    });

    it('refuses service-account tokens and missing credentials', async () => {
      const owner = apiClient(server.url, account.pat.authorization);
      const roles = await owner.get('/v1/roles/');
      const serviceRole = roles.body.data.find((r: any) => r.name === 'Service').id;
      const created = await owner.post('/v1/service-accounts/', { name: 'bot', role_id: serviceRole });
      assert.equal(created.status, 201, created.text);
      const bot = apiClient(server.url, `Bearer ${created.body.initialToken.bearerToken}`);
      const refused = await bot.get('/coffer/v1/tokens/');
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'This endpoint needs a console session or a personal access token (Bearer User ...).');
      const anonymous = await apiClient(server.url, undefined).get('/coffer/v1/tokens/');
      assert.equal(anonymous.status, 401);
      const garbage = await apiClient(server.url, 'Bearer User 0000').get('/coffer/v1/tokens/');
      assert.equal(garbage.status, 401);
      assert.equal(garbage.body.error, 'Token expired or deleted');
    });

    it('stores no bearer or client secret', async () => {
      assertNotStored(await dumpDatabase(server.store.db), [...clientSecrets(account), ...clientSecrets(other)]);
    });
  });
}
