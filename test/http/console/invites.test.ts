// Accepting invites (rest-api OPEN-10). Invite rows are written here as POST /v1/members/invites/
// writes them (SHA-256 of a one-time hex token), so acceptance is tested on its own; the CLI
// end-to-end test goes through the invite endpoint.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../../helpers/fixtures.js';
import { request, startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertNotStored, clientSecrets, createAccount, dumpDatabase, invite, makeMaterial, signIn, uniqueEmail, type Account, type Material } from './accounts.js';


function acceptBody(material: Material, extra: Record<string, unknown> = {}) {
  return { email: material.email, loginHash: material.loginHash, keyring: material.keyringBody, token: material.pat.body, ...extra };
}

for (const target of STORE_TARGETS) {
  describe(`accepting invites on ${target.kind}`, () => {
    let server: TestServer;
    let owner: Account;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createAccount(server.domain, { orgName: 'Acme' });
    });
    after(() => server.close());

    it('shows the invite, then a new user joins with the role of the invite, once', async () => {
      const email = uniqueEmail('new');
      const token = await invite(server.store.db, owner.organisationId, email);
      const shown = await request(`${server.url}/coffer/v1/invites/${token}/`);
      assert.equal(shown.status, 200, shown.text);
      assert.equal(shown.body.organisationId, owner.organisationId);
      assert.equal(shown.body.organisationName, 'Acme');
      assert.equal(shown.body.email, email);
      assert.equal(shown.body.role.name, 'Developer');

      const material = await makeMaterial(owner.organisationId, email);
      const accepted = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: acceptBody(material, { fullName: 'Bob Builder' }) });
      assert.equal(accepted.status, 201, accepted.text);
      assert.equal(accepted.body.organisationId, owner.organisationId);
      assert.equal(accepted.body.role.name, 'Developer');

      // The new member's token works, the new user can sign in, and the owner sees the member.
      const me = await apiClient(server.url, material.pat.authorization).get('/coffer/v1/me/');
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.user.fullName, 'Bob Builder');
      assert.deepEqual(me.body.memberships.map((m: any) => [m.organisationName, m.role.name]), [['Acme', 'Developer']]);
      assert.equal((await apiClient(server.url, material.pat.authorization).get('/v1/apps/')).status, 200);
      await signIn(server.url, email, material.loginHash);
      const member = await server.store.db.selectFrom('members').select(['id', 'identity_key']).where('id', '=', accepted.body.memberId).executeTakeFirstOrThrow();
      assert.equal(member.identity_key, material.keyringBody.identityKey);

      const again = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: acceptBody(await makeMaterial(owner.organisationId, email)) });
      assert.equal(again.status, 404, 'an invite works once');
      assert.equal((await request(`${server.url}/coffer/v1/invites/${token}/`)).status, 404);
      assertNotStored(await dumpDatabase(server.store.db), [...clientSecrets(material), token]);
    });

    it('404s unknown and expired invites', async () => {
      const unknown = await request(`${server.url}/coffer/v1/invites/${randomBytes(32).toString('hex')}/`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error, 'This invite does not exist, was already used or has expired. Ask for a new invite.');
      const email = uniqueEmail('late');
      const expired = await invite(server.store.db, owner.organisationId, email, { expiresAt: new Date(Date.now() - 1000) });
      assert.equal((await request(`${server.url}/coffer/v1/invites/${expired}/`)).status, 404);
      const material = await makeMaterial(owner.organisationId, email);
      assert.equal((await request(`${server.url}/coffer/v1/invites/${expired}/accept/`, { method: 'POST', json: acceptBody(material) })).status, 404);
    });

    it('lets an existing user join with their password, or their session, and not with a wrong one', async () => {
      const elsewhere = await createAccount(server.domain, { orgName: 'Elsewhere' });
      const token = await invite(server.store.db, owner.organisationId, elsewhere.email);
      const wrong = await makeMaterial(owner.organisationId, elsewhere.email, 'not the right password');
      const refused = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: acceptBody(wrong) });
      assert.equal(refused.status, 403);
      assert.match(refused.body.error, /password does not match/);

      const right = await makeMaterial(owner.organisationId, elsewhere.email);
      const accepted = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: acceptBody(right) });
      assert.equal(accepted.status, 201, accepted.text);
      assert.equal(accepted.body.userId, elsewhere.userId, 'the existing user, not a new one');
      const session = await signIn(server.url, elsewhere.email, elsewhere.loginHash);
      assert.deepEqual(session.response.body.memberships.map((m: any) => m.organisationName).sort(), ['Acme', 'Elsewhere']);

      // Invited again elsewhere: signed in, the account still proves its password (the new keyring
      // is wrapped under the password the client used, which must be the current one).
      const third = await createAccount(server.domain, { orgName: 'Third' });
      const token3 = await invite(server.store.db, third.organisationId, elsewhere.email);
      const viaSession = await makeMaterial(third.organisationId, elsewhere.email);
      const { loginHash: _omitted, ...withoutHash } = acceptBody(viaSession);
      const sessionHeaders = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
      const noHash = await request(`${server.url}/coffer/v1/invites/${token3}/accept/`, { method: 'POST', json: withoutHash, headers: sessionHeaders });
      assert.deepEqual([noHash.status, noHash.body.error], [400, "'loginHash' is required: the account's password (its login hash) must be proved here."]);
      const withSession = await request(`${server.url}/coffer/v1/invites/${token3}/accept/`, { method: 'POST', json: acceptBody(viaSession), headers: sessionHeaders });
      assert.equal(withSession.status, 201, withSession.text);
    });

    // A removed member's token is refused everywhere; it must not prove who accepts either (it let
    // whoever held it and the new link take the membership with keys of their choosing).
    it("does not take a removed member's token as proof of who accepts a new invite", async () => {
      const email = uniqueEmail('rejoin');
      const first = await makeMaterial(owner.organisationId, email);
      const joined = await request(`${server.url}/coffer/v1/invites/${await invite(server.store.db, owner.organisationId, email)}/accept/`, { method: 'POST', json: acceptBody(first) });
      assert.equal(joined.status, 201, joined.text);
      assert.equal((await apiClient(server.url, owner.pat.authorization).delete(`/v1/members/${joined.body.memberId}/`)).status, 204);

      const token = await invite(server.store.db, owner.organisationId, email);
      const chosen = await makeMaterial(owner.organisationId, email, 'a password the person never chose');
      const { loginHash: _omitted, ...withoutHash } = acceptBody(chosen);
      const stale = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: withoutHash, headers: { authorization: first.pat.authorization } });
      assert.deepEqual([stale.status, stale.body], [404, { error: 'User not found' }]);
      assert.equal((await request(`${server.url}/coffer/v1/invites/${token}/`)).status, 200, 'the invite is still valid');
      const withPassword = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: acceptBody(await makeMaterial(owner.organisationId, email)) });
      assert.equal(withPassword.status, 201, withPassword.text);
    });

    it('refuses another address, a second membership, and bad material', async () => {
      const email = uniqueEmail('carol');
      const token = await invite(server.store.db, owner.organisationId, email);
      const material = await makeMaterial(owner.organisationId, email);
      const otherAddress = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: acceptBody(material, { email: 'someone@example.com' }) });
      assert.equal(otherAddress.status, 400);
      assert.equal(otherAddress.body.error, 'This invite is for a different email address.');
      const badKeys = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: { ...acceptBody(material), token: owner.pat.body } });
      assert.equal(badKeys.status, 400);
      assert.equal(badKeys.body.error, "'identityKey' is not this member's key-exchange public key.");
      assert.equal((await request(`${server.url}/coffer/v1/invites/${token}/`)).status, 200, 'a refused acceptance leaves the invite valid');
      const noHash = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, { method: 'POST', json: { ...acceptBody(material), loginHash: undefined } });
      assert.equal(noHash.status, 400);

      const ownerInvite = await invite(server.store.db, owner.organisationId, owner.email);
      const already = await request(`${server.url}/coffer/v1/invites/${ownerInvite}/accept/`, { method: 'POST', json: acceptBody(await makeMaterial(owner.organisationId, owner.email)) });
      assert.equal(already.status, 409);
      assert.equal(already.body.error, `'${owner.email}' is already a member of this organisation.`);
    });
  });
}
