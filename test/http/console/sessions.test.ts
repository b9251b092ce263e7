// Console sessions: login with the client's login hash, the cookie's flags, CSRF on state-changing
// calls, /me/ and the wrapped keyring (which the client can open), logout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deriveDeviceKey, TEST_KDF_FAST, toHex, unwrapRecoveryPhrase, unwrapUserKeyring } from '../../../src/crypto/index.js';
import { apiClient } from '../../helpers/fixtures.js';
import { ownLoopbackAddress, request, requestFrom, startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { assertNotStored, clientSecrets, createAccount, dumpDatabase, mintPat, signIn, uniqueEmail, type Account } from './accounts.js';

for (const target of STORE_TARGETS) {
  describe(`console sessions on ${target.kind}`, () => {
    let server: TestServer;
    let account: Account;
    let other: Account;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      account = await createAccount(server.domain, { orgName: 'Acme' });
      other = await createAccount(server.domain, { orgName: 'Other' });
    });
    after(() => server.close());

    it('refuses a wrong password and an unknown address with the same 401', async () => {
      const wrong = await request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: account.email, loginHash: 'ab'.repeat(32) } });
      const unknown = await request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: uniqueEmail('nobody'), loginHash: account.loginHash } });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.equal(wrong.body.error, 'Incorrect email or password.');
      assert.equal(unknown.body.error, wrong.body.error);
      assert.equal(wrong.headers.get('set-cookie'), null);
      const raw = await request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: account.email, loginHash: 'not a hash' } });
      assert.equal(raw.status, 400);
      for (const [email, error] of [[{ a: 1 }, "'email' must be a string."], [5, "'email' must be a string."], [null, 'Missing required field: email']] as const) {
        const typed = await request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email, loginHash: account.loginHash } });
        assert.deepEqual([typed.status, typed.body], [400, { error }], JSON.stringify(email));
      }
      const form = await request(`${server.url}/coffer/v1/auth/login/`, {
        method: 'POST',
        body: `email=${encodeURIComponent(account.email)}&loginHash=${account.loginHash}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 415, 'a cross-site form cannot sign anyone in');
    });

    it('counts guesses sent at the same moment: the eleventh gets 429, not a password check', async () => {
      const target = await createAccount(server.domain);
      const from = ownLoopbackAddress();
      const answers = await Promise.all(
        Array.from({ length: 15 }, () => requestFrom(from, `${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: target.email, loginHash: 'ab'.repeat(32) } })),
      );
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(5).fill(429)]);
      // The right password from this address is refused too until the window passes.
      const right = await requestFrom(from, `${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: target.email, loginHash: target.loginHash } });
      assert.equal(right.status, 429);
    });

    it('sets an HttpOnly, SameSite=Strict cookie; Secure only over TLS', async () => {
      const { setCookie, response } = await signIn(server.url, account.email.toUpperCase(), account.loginHash);
      assert.match(setCookie, /^coffer_session=[A-Za-z0-9_-]{43}; /);
      const attributes = setCookie.split('; ').slice(1);
      assert.ok(attributes.includes('HttpOnly'));
      assert.ok(attributes.includes('SameSite=Strict'));
      assert.ok(attributes.includes('Path=/'));
      assert.ok(attributes.some((a) => /^Max-Age=\d+$/.test(a)));
      assert.ok(!attributes.includes('Secure'), 'plain http: no Secure flag');
      assert.match(response.body.csrfToken, /^[0-9a-f]{64}$/);
      assert.equal(response.body.user.email, account.email);
      assert.deepEqual(response.body.memberships.map((m: any) => [m.organisationName, m.role.name]), [['Acme', 'Owner']]);
      // Without TRUST_PROXY a forwarded scheme is ignored.
      const forwarded = await signIn(server.url, account.email, account.loginHash, { 'x-forwarded-proto': 'https' });
      assert.ok(!forwarded.setCookie.split('; ').includes('Secure'));
    });

    it('reads /me/ and the keyring, which the client opens with its device key', async () => {
      const session = await signIn(server.url, account.email, account.loginHash);
      const headers = { cookie: session.cookie };
      const me = await request(`${server.url}/coffer/v1/me/`, { headers });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.via, 'session');
      assert.equal(me.body.user.id, account.userId);
      assert.deepEqual(me.body.memberships.map((m: any) => m.memberId), [account.memberId]);

      const missing = await request(`${server.url}/coffer/v1/me/keyring/`, { headers });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error, 'Missing required parameter: organisation_id');
      const foreign = await request(`${server.url}/coffer/v1/me/keyring/?organisation_id=${other.organisationId}`, { headers });
      assert.equal(foreign.status, 404, 'another organisation looks like none');

      const keyring = await request(`${server.url}/coffer/v1/me/keyring/?organisation_id=${account.organisationId}`, { headers });
      assert.equal(keyring.status, 200, keyring.text);
      assert.equal(keyring.headers.get('cache-control'), 'no-store');
      assert.deepEqual(keyring.body.kdfParams, { ...TEST_KDF_FAST });
      const deviceKey = await deriveDeviceKey(account.password, account.email, keyring.body.kdfParams);
      const opened = unwrapUserKeyring(keyring.body.wrappedKeyring, deviceKey);
      assert.equal(toHex(opened.publicKey), toHex(account.keyring.publicKey));
      assert.equal(toHex(opened.publicKey), keyring.body.identityKey);
      assert.equal(unwrapRecoveryPhrase(keyring.body.wrappedRecovery, deviceKey), account.mnemonic);

      // The same keyring with a token: its own organisation, no parameter needed.
      const byToken = await apiClient(server.url, account.pat.authorization).get('/coffer/v1/me/keyring/');
      assert.equal(byToken.status, 200);
      assert.equal(byToken.body.wrappedKeyring, keyring.body.wrappedKeyring);
      const crossOrg = await apiClient(server.url, account.pat.authorization).get(`/coffer/v1/me/keyring/?organisation_id=${other.organisationId}`);
      assert.equal(crossOrg.status, 404);
    });

    it('requires X-CSRF-Token on state-changing session calls', async () => {
      const session = await signIn(server.url, account.email, account.loginHash);
      const url = `${server.url}/coffer/v1/tokens/?organisation_id=${account.organisationId}`;
      const pat = mintPat(account.keyring, 'from the console');
      const none = await request(url, { method: 'POST', json: pat.body, headers: { cookie: session.cookie } });
      assert.equal(none.status, 403);
      assert.match(none.body.error, /X-CSRF-Token/);
      const wrong = await request(url, { method: 'POST', json: pat.body, headers: { cookie: session.cookie, 'x-csrf-token': 'ab'.repeat(32) } });
      assert.equal(wrong.status, 403);
      const otherSession = await signIn(server.url, other.email, other.loginHash);
      const borrowed = await request(url, { method: 'POST', json: pat.body, headers: { cookie: session.cookie, 'x-csrf-token': otherSession.csrfToken } });
      assert.equal(borrowed.status, 403, "another session's CSRF token does not count");
      assert.equal((await apiClient(server.url, pat.authorization).get('/v1/apps/')).status, 401, 'nothing was registered');

      const ok = await request(url, { method: 'POST', json: pat.body, headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } });
      assert.equal(ok.status, 201, ok.text);
      assert.equal((await apiClient(server.url, pat.authorization).get('/v1/apps/')).status, 200);
      // Reads need no CSRF token.
      const list = await request(url, { headers: { cookie: session.cookie } });
      assert.equal(list.status, 200);
      assert.ok(list.body.data.some((t: any) => t.name === 'from the console'));
    });

    it('logs out: the cookie is cleared and the session is gone', async () => {
      const session = await signIn(server.url, account.email, account.loginHash);
      const noCsrf = await request(`${server.url}/coffer/v1/auth/logout/`, { method: 'POST', headers: { cookie: session.cookie } });
      assert.equal(noCsrf.status, 403);
      const out = await request(`${server.url}/coffer/v1/auth/logout/`, { method: 'POST', headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } });
      assert.equal(out.status, 204);
      assert.match(out.headers.get('set-cookie') ?? '', /^coffer_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
      const me = await request(`${server.url}/coffer/v1/me/`, { headers: { cookie: session.cookie } });
      assert.equal(me.status, 401);
      assert.match(me.body.error, /Sign in again/);
      const anonymous = await request(`${server.url}/coffer/v1/me/`);
      assert.equal(anonymous.status, 401);
    });

    it('stores only hashes of sessions, and no client secret anywhere', async () => {
      const session = await signIn(server.url, account.email, account.loginHash);
      const sessionId = session.cookie.slice('coffer_session='.length);
      const dump = await dumpDatabase(server.store.db);
      assertNotStored(dump, [...clientSecrets(account), ...clientSecrets(other), sessionId, session.csrfToken]);
    });
  });
}

describe('console sessions behind a TLS proxy', () => {
  let server: TestServer;
  let account: Account;
  before(async () => {
    server = await startTestServer({ store: 'pglite', env: { TRUST_PROXY: 'true' } });
    account = await createAccount(server.domain);
  });
  after(() => server.close());

  it('marks the cookie Secure when X-Forwarded-Proto says https', async () => {
    const viaTls = await signIn(server.url, account.email, account.loginHash, { 'x-forwarded-proto': 'https' });
    assert.ok(viaTls.setCookie.split('; ').includes('Secure'));
    const plain = await signIn(server.url, account.email, account.loginHash);
    assert.ok(!plain.setCookie.split('; ').includes('Secure'));
  });

  it('counts failed sign-ins by the address the proxy appended, not the one the client wrote', async () => {
    const failures = [];
    for (let i = 0; i < 11; i++) {
      failures.push(
        await request(`${server.url}/coffer/v1/auth/login/`, {
          method: 'POST',
          // Each attempt names a new address of its own in front of the one the proxy saw.
          headers: { 'x-forwarded-for': `10.9.${i}.1, 203.0.113.7` },
          json: { email: uniqueEmail(), loginHash: 'ab'.repeat(32) },
        }),
      );
    }
    assert.deepEqual(failures.map((f) => f.status), [...Array(10).fill(401), 429]);
  });
});
