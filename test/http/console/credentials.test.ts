// Changing a password (POST /coffer/v1/me/password/) and recovering an account with a recovery
// phrase (POST /coffer/v1/auth/recover/), on both stores: what each stores, what it refuses, which
// sessions and tokens survive, and that a refused request changes nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  deriveDeviceKey,
  derivePasswordLoginHash,
  hashPassword,
  keyringFromMnemonic,
  signRecoveryStatement,
  TEST_KDF_FAST,
  toHex,
  unwrapRecoveryPhrase,
  unwrapUserKeyring,
  wrapRecoveryPhrase,
  wrapUserKeyring,
} from '../../../src/crypto/index.js';
import { apiClient } from '../../helpers/fixtures.js';
import { ownLoopbackAddress, request, requestFrom, startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS, TEST_DATABASE_URL } from '../../helpers/stores.js';
import { createAccount, invite, makeMaterial, signIn, uniqueEmail, type Account, type SignedIn } from './accounts.js';

interface KeyringView {
  organisationId: string;
  identityKey: string;
  wrappedKeyring: string;
  wrappedRecovery: string;
}

/** What the CLI does: each keyring opened with the current password, wrapped under the new one. */
async function rewrap(views: KeyringView[], email: string, current: string, next: string) {
  const currentKey = await deriveDeviceKey(current, email, TEST_KDF_FAST);
  const newKey = await deriveDeviceKey(next, email, TEST_KDF_FAST);
  return views.map((view) => ({
    organisationId: view.organisationId,
    wrappedKeyring: wrapUserKeyring(unwrapUserKeyring(view.wrappedKeyring, currentKey), newKey),
    wrappedRecovery: wrapRecoveryPhrase(unwrapRecoveryPhrase(view.wrappedRecovery, currentKey), newKey),
    kdfParams: { ...TEST_KDF_FAST },
  }));
}

/** A recovery request signed with the keyring `mnemonic` derives for `organisationId`. */
async function recoveryBody(mnemonic: string, organisationId: string, email: string, newPassword: string, issuedAt = new Date()) {
  const keyring = await keyringFromMnemonic(mnemonic, organisationId, TEST_KDF_FAST);
  const deviceKey = await deriveDeviceKey(newPassword, email, TEST_KDF_FAST);
  const loginHash = await derivePasswordLoginHash(newPassword, email, TEST_KDF_FAST);
  const wrapped = { wrappedKeyring: wrapUserKeyring(keyring, deviceKey), wrappedRecovery: wrapRecoveryPhrase(mnemonic, deviceKey), kdfParams: { ...TEST_KDF_FAST } };
  const statement = { organisationId, email, issuedAt: issuedAt.toISOString(), loginHash, ...wrapped };
  return { email, organisationId, issuedAt: statement.issuedAt, loginHash, keyring: wrapped, signature: signRecoveryStatement(keyring, statement), identityKey: toHex(keyring.publicKey) };
}

/**
 * Makes the account's password change (as a committed change leaves it: a new verifier) right
 * after `owner`'s next password check succeeds, before it goes on: the race between a request
 * checked against the old password and a change. `settled()` waits for the change; `restore()` undoes the hook.
 */
async function changePasswordAfterNextCheck(server: TestServer, owner: unknown, userId: string) {
  const guesses = (owner as { guesses: { begin(keys: string[]): { succeeded(): void } } }).guesses;
  const begin = guesses.begin;
  const verifier = await hashPassword('ef'.repeat(32));
  // PostgreSQL: the change is made now in a transaction of its own and committed when the check
  // succeeds. Until then every read still sees the old password, and the request's lock on the
  // credentials waits for the commit: the change lands between check and write every time (a
  // separate UPDATE started at that moment could lose the race to the request's transaction).
  // The embedded store runs statements in the order they are issued, so the plain UPDATE is enough.
  const held = server.store.kind === 'postgres' ? await uncommittedPasswordChange(verifier, userId) : undefined;
  let changed: Promise<unknown> | undefined;
  guesses.begin = (keys) => {
    const guess = begin.call(guesses, keys);
    return {
      succeeded() {
        guess.succeeded();
        changed = held ? held.commit() : server.store.db.updateTable('users').set({ login_hash: verifier }).where('id', '=', userId).execute();
      },
    };
  };
  return {
    settled: () => changed,
    restore: async () => {
      guesses.begin = begin;
      await held?.rollbackIfOpen();
    },
  };
}

async function uncommittedPasswordChange(verifier: string, userId: string) {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query('begin');
  await client.query('update users set login_hash = $1 where id = $2', [verifier, userId]);
  let open = true;
  const finish = async (statement: 'commit' | 'rollback') => {
    if (!open) return;
    open = false;
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  return { commit: () => finish('commit'), rollbackIfOpen: () => finish('rollback') };
}

for (const target of STORE_TARGETS) {
  describe(`password change and account recovery on ${target.kind}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ store: target.kind });
    });
    after(() => server.close());

    const post = (path: string, json: unknown, session?: SignedIn, headers: Record<string, string> = {}) =>
      request(`${server.url}${path}`, {
        method: 'POST',
        json,
        headers: { ...(session ? { cookie: session.cookie, 'x-csrf-token': session.csrfToken } : {}), ...headers },
      });
    const keyringOf = async (session: SignedIn, organisationId: string): Promise<KeyringView> => {
      const view = await request(`${server.url}/coffer/v1/me/keyring/?organisation_id=${organisationId}`, { headers: { cookie: session.cookie } });
      assert.equal(view.status, 200, view.text);
      return view.body;
    };
    const loginStatus = async (email: string, loginHash: string) =>
      (await request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email, loginHash } })).status;

    /** An owner of one organisation who also joined a second one by invite (one account, two keyrings). */
    async function twoOrganisations(): Promise<{ account: Account; second: { organisationId: string; mnemonic: string } }> {
      const account = await createAccount(server.domain, { email: uniqueEmail('two') });
      const other = await createAccount(server.domain, { orgName: 'Second' });
      const token = await invite(server.store.db, other.organisationId, account.email);
      const joined = await makeMaterial(other.organisationId, account.email, account.password);
      const accepted = await post(`/coffer/v1/invites/${token}/accept/`, { loginHash: account.loginHash, keyring: joined.keyringBody, token: joined.pat.body });
      assert.equal(accepted.status, 201, accepted.text);
      return { account, second: { organisationId: other.organisationId, mnemonic: joined.mnemonic } };
    }

    it('rewraps every keyring under the new password, ends the other sessions, keeps tokens and the caller\'s session', async () => {
      const { account, second } = await twoOrganisations();
      const session = await signIn(server.url, account.email, account.loginHash);
      const otherSession = await signIn(server.url, account.email, account.loginHash);
      const views = [await keyringOf(session, account.organisationId), await keyringOf(session, second.organisationId)];
      const next = 'a new and better password';
      const newLoginHash = await derivePasswordLoginHash(next, account.email, TEST_KDF_FAST);
      const keyrings = await rewrap(views, account.email, account.password, next);

      const changed = await post('/coffer/v1/me/password/', { currentLoginHash: account.loginHash, loginHash: newLoginHash, keyrings }, session);
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(changed.body, { organisations: 2, sessionsEnded: 1 });

      assert.equal(await loginStatus(account.email, account.loginHash), 401, 'the old password no longer signs in');
      assert.equal(await loginStatus(account.email, newLoginHash), 200);
      const ended = await request(`${server.url}/coffer/v1/me/`, { headers: { cookie: otherSession.cookie } });
      assert.equal(ended.status, 401, 'another session of the account ended');
      const own = await request(`${server.url}/coffer/v1/me/`, { headers: { cookie: session.cookie } });
      assert.equal(own.status, 200, "the caller's session goes on");
      assert.equal((await apiClient(server.url, account.pat.authorization).get('/v1/apps/')).status, 200, 'tokens keep working');

      // Both keyrings now open with the new password only, and are the same keys.
      const newKey = await deriveDeviceKey(next, account.email, TEST_KDF_FAST);
      const oldKey = await deriveDeviceKey(account.password, account.email, TEST_KDF_FAST);
      for (const view of views) {
        const stored = await keyringOf(session, view.organisationId);
        assert.equal(toHex(unwrapUserKeyring(stored.wrappedKeyring, newKey).publicKey), view.identityKey);
        assert.equal(unwrapRecoveryPhrase(stored.wrappedRecovery, newKey), unwrapRecoveryPhrase(view.wrappedRecovery, oldKey));
        assert.throws(() => unwrapUserKeyring(stored.wrappedKeyring, oldKey));
      }
      // One event in each organisation's trail.
      for (const [organisationId, authorization] of [[account.organisationId, account.pat.authorization]] as const) {
        const events = await apiClient(server.url, authorization).get('/coffer/v1/audit/events/?limit=500');
        assert.equal(events.status, 200, events.text);
        const changes = events.body.data.filter((e: { action: string }) => e.action === 'account.password_change');
        assert.equal(changes.length, 1, organisationId);
      }
    });

    it('refuses a wrong current password, a missing or extra organisation and malformed keyrings, changing nothing', async () => {
      const { account, second } = await twoOrganisations();
      const session = await signIn(server.url, account.email, account.loginHash);
      const views = [await keyringOf(session, account.organisationId), await keyringOf(session, second.organisationId)];
      const next = 'another new password';
      const newLoginHash = await derivePasswordLoginHash(next, account.email, TEST_KDF_FAST);
      const keyrings = await rewrap(views, account.email, account.password, next);
      const change = (body: Record<string, unknown>) => post('/coffer/v1/me/password/', { currentLoginHash: account.loginHash, loginHash: newLoginHash, keyrings, ...body }, session);

      const wrong = await change({ currentLoginHash: 'ab'.repeat(32) });
      assert.deepEqual([wrong.status, wrong.body], [403, { error: 'Incorrect password.' }]);
      const missing = await change({ keyrings: keyrings.slice(0, 1) });
      assert.equal(missing.status, 409);
      assert.match(missing.body.error, new RegExp(`no keyring for Second \\(${second.organisationId}\\)`));
      const stranger = randomUUID();
      const extra = await change({ keyrings: [...keyrings, { ...keyrings[0]!, organisationId: stranger }] });
      assert.equal(extra.status, 409);
      assert.match(extra.body.error, new RegExp(`not a member of ${stranger}`));
      const twice = await change({ keyrings: [...keyrings, keyrings[0]] });
      assert.deepEqual([twice.status, twice.body.error], [400, `'keyrings' names organisation ${account.organisationId} twice.`]);
      for (const [body, error] of [
        [{ currentLoginHash: undefined }, "'currentLoginHash' is required: changing the password needs the current one."],
        [{ loginHash: 'short' }, "'loginHash' must be 64 hexadecimal characters."],
        [{ keyrings: 'all' }, "'keyrings' must be an array: your keyring of every organisation you belong to, wrapped under the new password."],
        [{ keyrings: [{ ...keyrings[0], organisationId: 'nope' }] }, "'keyrings[0].organisationId' must be a UUID."],
        [{ keyrings: [{ ...keyrings[0], wrappedKeyring: 'zz' }] }, "'wrappedKeyring' must be hexadecimal text."],
        [{ keyrings: [{ ...keyrings[0], kdfParams: { opsLimit: 0, memLimit: 1 } }] }, undefined],
      ] as const) {
        const refused = await change(body);
        assert.equal(refused.status, 400, JSON.stringify(body));
        if (error) assert.equal(refused.body.error, error);
      }
      const noCsrf = await request(`${server.url}/coffer/v1/me/password/`, { method: 'POST', json: { currentLoginHash: account.loginHash, loginHash: newLoginHash, keyrings }, headers: { cookie: session.cookie } });
      assert.equal(noCsrf.status, 403, 'a session needs its CSRF token');

      assert.equal(await loginStatus(account.email, account.loginHash), 200, 'nothing changed');
      assert.deepEqual(await keyringOf(session, second.organisationId), views[1]);
      // A token may change the password too (it proves the current one like a session).
      const byToken = await post('/coffer/v1/me/password/', { currentLoginHash: account.loginHash, loginHash: newLoginHash, keyrings }, undefined, { authorization: account.pat.authorization });
      assert.equal(byToken.status, 200, byToken.text);
      assert.equal(byToken.body.sessionsEnded, 2, "every session ends when a token changes the password (including this test's two)");
    });

    it('lets exactly one of two changes made at once win; the stored keyrings open with the password that signs in', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('race') });
      const session = await signIn(server.url, account.email, account.loginHash);
      const view = await keyringOf(session, account.organisationId);
      const attempts = await Promise.all(
        ['first racing password', 'second racing password'].map(async (next) => {
          const body = { currentLoginHash: account.loginHash, loginHash: await derivePasswordLoginHash(next, account.email, TEST_KDF_FAST), keyrings: await rewrap([view], account.email, account.password, next) };
          return { next, body };
        }),
      );
      const answers = await Promise.all(attempts.map((a) => post('/coffer/v1/me/password/', a.body, undefined, { authorization: account.pat.authorization })));
      const statuses = answers.map((a) => a.status).sort();
      assert.equal(statuses.filter((s) => s === 200).length, 1, JSON.stringify(answers.map((a) => a.body)));
      assert.ok(statuses.every((s) => s === 200 || s === 403 || s === 409), JSON.stringify(statuses));
      const winner = attempts[answers.findIndex((a) => a.status === 200)]!;
      assert.equal(await loginStatus(account.email, winner.body.loginHash), 200);
      const fresh = await signIn(server.url, account.email, winner.body.loginHash);
      const stored = await keyringOf(fresh, account.organisationId);
      assert.equal(toHex(unwrapUserKeyring(stored.wrappedKeyring, await deriveDeviceKey(winner.next, account.email, TEST_KDF_FAST)).publicKey), view.identityKey);
    });

    it('recovers with the phrase: a new password, this keyring rewrapped, every session ended, the other organisations named', async () => {
      const { account, second } = await twoOrganisations();
      const session = await signIn(server.url, account.email, account.loginHash);
      const secondBefore = await keyringOf(session, second.organisationId);
      const next = 'recovered password';
      const body = await recoveryBody(account.mnemonic, account.organisationId, account.email, next);
      const { identityKey: _identity, ...request_ } = body;
      const recovered = await post('/coffer/v1/auth/recover/', request_);
      assert.equal(recovered.status, 200, recovered.text);
      assert.equal(recovered.body.organisationId, account.organisationId);
      assert.equal(recovered.body.userId, account.userId);
      assert.equal(recovered.body.memberId, account.memberId);
      assert.deepEqual(recovered.body.otherOrganisations, [{ organisationId: second.organisationId, organisationName: 'Second' }]);
      assert.equal(recovered.body.sessionsEnded, 1);
      assert.equal(recovered.headers.get('cache-control'), 'no-store');

      assert.equal((await request(`${server.url}/coffer/v1/me/`, { headers: { cookie: session.cookie } })).status, 401, 'the session ended');
      assert.equal(await loginStatus(account.email, account.loginHash), 401);
      assert.equal(await loginStatus(account.email, body.loginHash), 200);
      assert.equal((await apiClient(server.url, account.pat.authorization).get('/v1/apps/')).status, 200, 'tokens keep working');
      const fresh = await signIn(server.url, account.email, body.loginHash);
      const newKey = await deriveDeviceKey(next, account.email, TEST_KDF_FAST);
      const stored = await keyringOf(fresh, account.organisationId);
      assert.equal(toHex(unwrapUserKeyring(stored.wrappedKeyring, newKey).publicKey), account.keyringBody.identityKey);
      assert.equal(unwrapRecoveryPhrase(stored.wrappedRecovery, newKey), account.mnemonic);
      assert.deepEqual(await keyringOf(fresh, second.organisationId), secondBefore, "the other organisation's keyring is left as it was");

      // The same request again is refused: its time is not after the last change.
      const replay = await post('/coffer/v1/auth/recover/', request_);
      assert.deepEqual([replay.status, replay.body.error], [409, 'This recovery request was already used, or is older than the last change of the password. Run the recovery again.']);
      // The second organisation recovers with its own phrase, to the same password.
      const secondBody = await recoveryBody(second.mnemonic, second.organisationId, account.email, next, new Date(Date.now() + 1000));
      const { identityKey: _second, ...secondRequest } = secondBody;
      const again = await post('/coffer/v1/auth/recover/', secondRequest);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body.otherOrganisations, [{ organisationId: account.organisationId, organisationName: 'Acme' }]);
      const both = await signIn(server.url, account.email, body.loginHash);
      assert.equal(toHex(unwrapUserKeyring((await keyringOf(both, second.organisationId)).wrappedKeyring, newKey).publicKey), secondBody.identityKey);
    });

    it('refuses a wrong phrase, an unknown address, a stranger organisation and a tampered request alike, changing nothing', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('recover') });
      const stranger = await createAccount(server.domain);
      const next = 'the attacker wants this';
      const good = await recoveryBody(account.mnemonic, account.organisationId, account.email, next);
      const { identityKey: _identity, ...goodRequest } = good;
      const otherPhrase = await recoveryBody(stranger.mnemonic, account.organisationId, account.email, next);
      const { identityKey: _other, ...wrongPhrase } = otherPhrase;
      const refusal = 'Recovery refused: the recovery phrase does not belong to an account with this e-mail address in this organisation.';
      const cases: Array<[string, Record<string, unknown>]> = [
        ['a phrase of another account', wrongPhrase],
        ['an unknown address', { ...goodRequest, email: uniqueEmail('nobody') }],
        ['an organisation the account is not in', { ...goodRequest, organisationId: stranger.organisationId }],
        ['a login hash other than the signed one', { ...goodRequest, loginHash: 'cd'.repeat(32) }],
        ['a keyring other than the signed one', { ...goodRequest, keyring: { ...good.keyring, wrappedKeyring: stranger.keyringBody.wrappedKeyring } }],
        ['a signature of the wrong length', { ...goodRequest, signature: 'ab' }],
      ];
      const from = ownLoopbackAddress();
      for (const [what, body] of cases) {
        const refused = await requestFrom(from, `${server.url}/coffer/v1/auth/recover/`, { method: 'POST', json: body });
        assert.deepEqual([refused.status, refused.body.error], [401, refusal], what);
      }
      const stale = await recoveryBody(account.mnemonic, account.organisationId, account.email, next, new Date(Date.now() - 6 * 60_000));
      const { identityKey: _stale, ...staleRequest } = stale;
      const late = await post('/coffer/v1/auth/recover/', staleRequest);
      assert.equal(late.status, 400);
      assert.match(late.body.error, /^'issuedAt' is more than 5 minutes from the server's clock/);
      for (const [body, error] of [
        [{ ...goodRequest, organisationId: 'x' }, "'organisationId' must be a UUID: the organisation whose recovery phrase this is."],
        [{ ...goodRequest, issuedAt: 'yesterday' }, "'issuedAt' must be an ISO-8601 date-time with an offset, such as 2030-01-31T12:00:00.000Z."],
        [{ ...goodRequest, keyring: 'none' }, "'keyring' must be an object with wrappedKeyring, wrappedRecovery and kdfParams."],
      ] as const) {
        const refused = await post('/coffer/v1/auth/recover/', body);
        assert.deepEqual([refused.status, refused.body.error], [400, error]);
      }
      assert.equal(await loginStatus(account.email, account.loginHash), 200, 'nothing changed');
      // Failed recoveries count against a budget of their own: the address is refused after ten.
      for (let i = cases.length; i < 10; i++) await requestFrom(from, `${server.url}/coffer/v1/auth/recover/`, { method: 'POST', json: wrongPhrase });
      const throttled = await requestFrom(from, `${server.url}/coffer/v1/auth/recover/`, { method: 'POST', json: goodRequest });
      assert.equal(throttled.status, 429);
      const elsewhere = await post('/coffer/v1/auth/recover/', goodRequest);
      assert.equal(elsewhere.status, 200, 'the right phrase from another address still works');
    });

    it('keeps a change from being undone by replaying an earlier recovery made with a fast clock', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('clock') });
      const recovery = await recoveryBody(account.mnemonic, account.organisationId, account.email, 'recovered ahead of time', new Date(Date.now() + 4 * 60_000));
      const { identityKey: _identity, ...recoveryRequest } = recovery;
      assert.equal((await post('/coffer/v1/auth/recover/', recoveryRequest)).status, 200);
      const session = await signIn(server.url, account.email, recovery.loginHash);
      const next = 'changed after the recovery';
      const change = {
        currentLoginHash: recovery.loginHash,
        loginHash: await derivePasswordLoginHash(next, account.email, TEST_KDF_FAST),
        keyrings: await rewrap([await keyringOf(session, account.organisationId)], account.email, 'recovered ahead of time', next),
      };
      assert.equal((await post('/coffer/v1/me/password/', change, session)).status, 200);
      const replay = await post('/coffer/v1/auth/recover/', recoveryRequest);
      assert.equal(replay.status, 409, 'the change is not undone');
      assert.equal(await loginStatus(account.email, change.loginHash), 200);
    });

    it('ends a sign-in with the old password that was being checked while the password changed', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('late') });
      const race = await changePasswordAfterNextCheck(server, server.domain.sessions, account.userId);
      try {
        const late = await request(`${server.url}/coffer/v1/auth/login/`, { method: 'POST', json: { email: account.email, loginHash: account.loginHash } });
        await race.settled();
        assert.deepEqual([late.status, late.body.error], [401, 'Incorrect email or password.']);
        assert.equal(late.headers.get('set-cookie'), null);
      } finally {
        await race.restore();
      }
      const sessions = await server.store.db.selectFrom('sessions').select('id_hash').where('user_id', '=', account.userId).execute();
      assert.equal(sessions.length, 0, 'no session was stored');
    });

    it('refuses a new organisation whose keyring is wrapped under a password that is not, or no longer, the current one', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('orgs') });
      const owner = (json: unknown) => post('/coffer/v1/organisations/', json, undefined, { authorization: account.pat.authorization });
      const material = await makeMaterial(randomUUID(), account.email, account.password);
      const body = { organisation: { id: material.organisationId, name: 'Next' }, keyring: material.keyringBody, token: material.pat.body };
      assert.deepEqual((await owner(body)).body, { error: "'loginHash' is required: the account's password (its login hash) must be proved here." });
      assert.deepEqual((await owner({ ...body, loginHash: 'ab'.repeat(32) })).body, { error: 'Incorrect password.' });
      const race = await changePasswordAfterNextCheck(server, server.domain.users, account.userId);
      try {
        const stale = await owner({ ...body, loginHash: account.loginHash });
        await race.settled();
        assert.deepEqual([stale.status, stale.body.error], [409, 'The password of this account changed meanwhile. Sign in with the new password and try again.']);
      } finally {
        await race.restore();
      }
      const created = await server.store.db.selectFrom('organisations').select('id').where('id', '=', material.organisationId).execute();
      assert.equal(created.length, 0, 'nothing was created');
    });

    it('names the field of a malformed current password, and lets an account with no organisation left change its password', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('alone') });
      const session = await signIn(server.url, account.email, account.loginHash);
      const typed = await post('/coffer/v1/me/password/', { currentLoginHash: 5, loginHash: 'ab'.repeat(32), keyrings: [] }, session);
      assert.deepEqual([typed.status, typed.body.error], [400, "'currentLoginHash' must be 64 hexadecimal characters."]);
      await server.store.db.updateTable('members').set({ deleted_at: new Date() }).where('id', '=', account.memberId).execute();
      const next = await derivePasswordLoginHash('alone but changed', account.email, TEST_KDF_FAST);
      const changed = await post('/coffer/v1/me/password/', { currentLoginHash: account.loginHash, loginHash: next, keyrings: [] }, session);
      assert.deepEqual([changed.status, changed.body], [200, { organisations: 0, sessionsEnded: 0 }]);
      assert.equal(await loginStatus(account.email, next), 200);
    });

    it('refuses an invite accepted with a password that changed after it was checked', async () => {
      const account = await createAccount(server.domain, { email: uniqueEmail('invitee') });
      const other = await createAccount(server.domain, { orgName: 'Elsewhere' });
      const token = await invite(server.store.db, other.organisationId, account.email);
      const joined = await makeMaterial(other.organisationId, account.email, account.password);
      // The password changes (as a committed change leaves it) right after the acceptance checked the
      // old one and before its transaction: its keyring, wrapped under the old password, must not be stored.
      const race = await changePasswordAfterNextCheck(server, server.domain.inviteAcceptance, account.userId);
      try {
        const accepted = await post(`/coffer/v1/invites/${token}/accept/`, { loginHash: account.loginHash, keyring: joined.keyringBody, token: joined.pat.body });
        await race.settled();
        assert.deepEqual([accepted.status, accepted.body.error], [409, 'The password of this account changed meanwhile. Sign in with the new password and try again.']);
      } finally {
        await race.restore();
      }
      const members = await server.store.db.selectFrom('members').select('id').where('organisation_id', '=', other.organisationId).where('user_id', '=', account.userId).execute();
      assert.equal(members.length, 0, 'no membership was stored');
    });
  });
}
