// The account commands of the real `coffer` binary against a real server: setup, whoami, tokens
// create/list/revoke, orgs create, logout, login (password and token), environment overrides,
// and the errors a user sees.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';
import { assertNotStored, dumpDatabase } from '../http/console/accounts.js';
import { cliUser, type CliUser } from './run.js';

const PASSWORD = 'a long and lovely password';

function loggedCode(server: TestServer): string {
  const line = server.logs.find((l) => l.includes('coffer setup'));
  const match = line ? /--code ([0-9A-Z-]{23})/.exec(line) : null;
  assert.ok(match, 'the server logged a setup code');
  return match[1]!;
}

for (const target of STORE_TARGETS) {
  describe(`coffer account commands on ${target.kind}`, () => {
    let server: TestServer;
    let drop: (() => Promise<void>) | undefined;
    let alice: CliUser;
    /** Acme's recovery phrase, as setup showed it. */
    let alicePhrase = '';
    before(async () => {
      let databaseUrl: string | undefined;
      if (target.kind === 'postgres') ({ url: databaseUrl, drop } = await createEmptyPostgresDatabase());
      server = await startTestServer({ store: target.kind, ...(databaseUrl ? { databaseUrl } : {}) });
      alice = await cliUser('alice');
    });
    after(async () => {
      await server.close();
      await drop?.();
      await alice.remove();
    });

    it('runs the account lifecycle from setup to logout and back', async () => {
      const email = 'Alice@Example.com';
      const secrets: string[] = [PASSWORD];

      const wrongCode = await alice.run(['setup', '--url', server.url, '--code', 'AAAAA-AAAAA-AAAAA-AAAAA', '--email', email, '--org', 'Acme', '--password-stdin'], { input: PASSWORD });
      assert.equal(wrongCode.code, 1);
      assert.match(wrongCode.stderr, /^coffer: Wrong setup code\./m);

      const setup = await alice.json(['setup', '--url', server.url, '--code', loggedCode(server), '--email', email, '--org', 'Acme', '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.equal(setup.organisationName, 'Acme');
      assert.equal(setup.email, 'alice@example.com');
      assert.equal(setup.url, server.url);
      assert.match(setup.token, /^pss_user:v1:[0-9a-f]{64}(:[0-9a-f]{64}){3}$/);
      assert.equal(setup.recoveryPhrase.split(' ').length, 24);
      for (const field of ['organisationId', 'userId', 'memberId', 'tokenId']) assert.match(setup[field], /^[0-9a-f-]{36}$/);
      secrets.push(setup.token, setup.recoveryPhrase);
      alicePhrase = setup.recoveryPhrase;
      const stat = await fs.stat(alice.credentialsFile);
      assert.equal(stat.mode & 0o777, 0o600, 'credentials are readable by their owner only');
      assert.equal((await apiClient(server.url, `Bearer ${setup.token}`).get('/v1/apps/')).status, 200);

      const again = await alice.run(['setup', '--url', server.url, '--code', loggedCode(server), '--email', email, '--org', 'Acme', '--password-stdin'], { input: PASSWORD });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /setup has already been completed/);

      const who = await alice.json(['whoami']);
      assert.equal(who.user.email, 'alice@example.com');
      assert.equal(who.organisation.organisationId, setup.organisationId);
      assert.equal(who.organisation.role.name, 'Owner');
      assert.equal(who.tokenId, setup.tokenId);
      // The phrase again, opened here with the password (the server holds it only wrapped).
      const shown = await alice.json(['account', 'phrase', '--password-stdin'], { input: PASSWORD });
      assert.deepEqual(shown, { organisationId: setup.organisationId, organisationName: 'Acme', recoveryPhrase: setup.recoveryPhrase });
      const notShown = await alice.run(['account', 'phrase', '--password-stdin'], { input: 'not my password' });
      assert.equal(notShown.code, 1);
      assert.match(notShown.stderr, /coffer: wrong password for alice@example\.com/);
      assert.ok(!(notShown.stdout + notShown.stderr).includes(setup.recoveryPhrase));
      const human = await alice.run(['whoami']);
      assert.equal(human.code, 0);
      assert.match(human.stdout, /alice@example\.com/);
      assert.match(human.stdout, /Owner/);

      const ci = await alice.json(['tokens', 'create', '--name', 'ci', '--expires-in', '30d', '--password-stdin'], { input: PASSWORD });
      assert.equal(ci.name, 'ci');
      assert.ok(new Date(ci.expiresAt).getTime() > Date.now() + 29 * 86400_000);
      secrets.push(ci.token);
      const ciApi = apiClient(server.url, `Bearer ${ci.token}`);
      assert.equal((await ciApi.get('/v1/apps/')).status, 200);

      const wrongPassword = await alice.run(['tokens', 'create', '--password-stdin'], { input: 'not my password' });
      assert.equal(wrongPassword.code, 1);
      assert.match(wrongPassword.stderr, /coffer: wrong password for alice@example\.com/);

      const listed = await alice.json(['tokens', 'list']);
      assert.deepEqual(listed.data.map((t: any) => t.name).sort(), ['ci', listed.data.find((t: any) => t.id === setup.tokenId).name].sort());
      const table = await alice.run(['tokens', 'list']);
      assert.match(table.stdout, /^ID\s+NAME\s+CREATED\s+EXPIRES\s+LAST USED$/m);
      assert.match(table.stdout, /\(this login\)/);

      const revoke = await alice.run(['tokens', 'revoke', ci.id]);
      assert.equal(revoke.code, 0, revoke.stderr);
      const refused = await ciApi.get('/v1/apps/');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'Token expired or deleted');

      const labs = await alice.json(['orgs', 'create', '--name', 'Acme Labs', '--password-stdin'], { input: PASSWORD });
      assert.equal(labs.organisationName, 'Acme Labs');
      assert.equal(labs.userId, setup.userId);
      assert.notEqual(labs.organisationId, setup.organisationId);
      assert.notEqual(labs.recoveryPhrase, setup.recoveryPhrase);
      secrets.push(labs.token, labs.recoveryPhrase);
      const labsMe = await apiClient(server.url, `Bearer ${labs.token}`).get('/coffer/v1/me/');
      assert.deepEqual(labsMe.body.memberships.map((m: any) => m.organisationName), ['Acme Labs']);
      const wrongForOrg = await alice.run(['orgs', 'create', '--name', 'Nope', '--password-stdin'], { input: 'wrong password!' });
      assert.equal(wrongForOrg.code, 1);
      assert.match(wrongForOrg.stderr, /wrong password/);

      const logout = await alice.run(['logout']);
      assert.equal(logout.code, 0, logout.stderr);
      assert.match(logout.stdout, /the token was revoked/);
      await assert.rejects(fs.stat(alice.credentialsFile), { code: 'ENOENT' });
      assert.equal((await apiClient(server.url, `Bearer ${setup.token}`).get('/v1/apps/')).status, 401);
      const notSignedIn = await alice.run(['whoami']);
      assert.equal(notSignedIn.code, 1);
      assert.match(notSignedIn.stderr, /^coffer: you are not signed in\n {2}run `coffer login/m);

      const ambiguous = await alice.run(['login', '--url', server.url, '--email', email, '--password-stdin'], { input: PASSWORD });
      assert.equal(ambiguous.code, 1);
      assert.match(ambiguous.stderr, /you belong to 2 organisations/);
      assert.match(ambiguous.stderr, /--org/);
      const badLogin = await alice.run(['login', '--url', server.url, '--email', email, '--password-stdin', '--org', 'Acme Labs'], { input: 'wrong password!' });
      assert.equal(badLogin.code, 1);
      assert.match(badLogin.stderr, /^coffer: Incorrect email or password\./m);
      assert.match(badLogin.stderr, /check the e-mail address and password/);
      assert.doesNotMatch(badLogin.stderr, /COFFER_TOKEN/, 'the token hint does not fit a refused password');
      const login = await alice.json(['login', '--url', server.url, '--email', email, '--password-stdin', '--org', 'acme labs'], { input: PASSWORD });
      assert.equal(login.organisationId, labs.organisationId);
      const stored = JSON.parse(await fs.readFile(alice.credentialsFile, 'utf8'));
      secrets.push(stored.token);
      assert.equal((await alice.json(['whoami'])).organisation.organisationName, 'Acme Labs');

      // A token given on the command line, and COFFER_URL + COFFER_TOKEN overriding the stored login.
      const byToken = await alice.json(['login', '--url', server.url, '--token', labs.token]);
      assert.equal(byToken.organisationId, labs.organisationId);
      // The login it replaced held a token this CLI minted, which nothing else holds: revoked.
      assert.equal((await apiClient(server.url, `Bearer ${stored.token}`).get('/v1/apps/')).status, 401);
      // A token given with --token may be used elsewhere: replacing that login leaves it valid.
      await alice.json(['login', '--url', server.url, '--email', email, '--password-stdin', '--org', 'Acme Labs'], { input: PASSWORD });
      assert.equal((await apiClient(server.url, `Bearer ${labs.token}`).get('/v1/apps/')).status, 200);
      secrets.push(JSON.parse(await fs.readFile(alice.credentialsFile, 'utf8')).token);
      await alice.json(['login', '--url', server.url, '--token', labs.token]);
      const env = await alice.json(['whoami'], { env: { COFFER_URL: server.url, COFFER_TOKEN: labs.token } });
      assert.equal(env.source, 'environment');

      assertNotStored(await dumpDatabase(server.store.db), secrets);
      assert.ok(!server.logs.some((line) => secrets.some((s) => line.includes(s))), 'no secret in the server log');
    });

    it('explains what went wrong and how to fix it', async () => {
      const bob = await cliUser('bob');
      try {
        const unreachable = await bob.run(['login', '--url', `http://127.0.0.1:${await freePort()}`, '--token', 'pss_user:v1:' + Array(4).fill('ab'.repeat(32)).join(':')]);
        assert.equal(unreachable.code, 1);
        assert.match(unreachable.stderr, /^coffer: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused\n {2}check --url/m);
        const badToken = await bob.run(['login', '--url', server.url, '--token', 'pss_user:v1:abc']);
        assert.equal(badToken.code, 1);
        assert.match(badToken.stderr, /--token is not a Coffer token/);
        const noPassword = await bob.run(['login', '--url', server.url, '--email', 'bob@example.com', '--password-stdin'], { input: '' });
        assert.equal(noPassword.code, 1);
        assert.match(noPassword.stderr, /no password on standard input/);
        const noTerminal = await bob.run(['login', '--url', server.url, '--email', 'bob@example.com']);
        assert.equal(noTerminal.code, 1);
        assert.match(noTerminal.stderr, /--password-stdin/);
        const missing = await bob.run(['setup', '--url', server.url, '--password-stdin'], { input: PASSWORD });
        assert.equal(missing.code, 1);
        const badUrl = await bob.run(['whoami', '--url', 'ftp://x'], { env: { COFFER_TOKEN: 'pss_user:v1:' + Array(4).fill('ab'.repeat(32)).join(':') } });
        assert.equal(badUrl.code, 1);
        assert.match(badUrl.stderr, /not an http:\/\/ or https:\/\/ URL/);
        // An unset shell variable as the lifetime is refused, not taken as "never expires".
        const emptyLifetime = await bob.run(['tokens', 'create', '--expires-in', '', '--service-account', '00000000-0000-4000-8000-000000000000'], { env: { COFFER_URL: server.url, COFFER_TOKEN: 'pss_user:v1:' + Array(4).fill('ab'.repeat(32)).join(':') } });
        assert.equal(emptyLifetime.code, 1);
        assert.match(emptyLifetime.stderr, /^coffer: '' is not a duration$/m);
        const help = await bob.run(['tokens', 'create', '--help']);
        assert.equal(help.code, 0);
        assert.match(help.stdout, /Examples:/);
      } finally {
        await bob.remove();
      }
    });

    it('changes the password across organisations, and recovers a forgotten one with the recovery phrase', async () => {
      // alice (from the lifecycle above) belongs to Acme and Acme Labs, signed in to Acme Labs by token.
      const email = 'alice@example.com';
      const next = 'an even lovelier password';
      const labs = JSON.parse(await fs.readFile(alice.credentialsFile, 'utf8'));
      const wrong = await alice.run(['account', 'password', '--password-stdin'], { input: `not my password\n${next}\n` });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^coffer: Incorrect email or password\./m);
      const oneLine = await alice.run(['account', 'password', '--password-stdin'], { input: PASSWORD });
      assert.equal(oneLine.code, 1);
      assert.match(oneLine.stderr, /--password-stdin expects the current password on the first line of standard input and the new password on the second/);
      const weak = await alice.run(['account', 'password', '--password-stdin'], { input: `${PASSWORD}\nshort\n` });
      assert.equal(weak.code, 1);
      assert.match(weak.stderr, /the new password on standard input is too weak/);

      const changed = await alice.json(['account', 'password', '--password-stdin'], { input: `${PASSWORD}\n${next}\n` });
      assert.deepEqual(changed, { email, organisations: 2, sessionsEnded: 0 });
      // Both keyrings open with the new password (a token is minted from each), not with the old one.
      const old = await alice.run(['tokens', 'create', '--password-stdin'], { input: PASSWORD });
      assert.equal(old.code, 1);
      assert.match(old.stderr, /wrong password/);
      assert.match((await alice.json(['tokens', 'create', '--name', 'labs', '--password-stdin'], { input: next })).token, /^pss_user:v1:/);
      const acme = await alice.json(['login', '--url', server.url, '--email', email, '--org', 'Acme', '--password-stdin'], { input: next });
      assert.equal(acme.organisationName, 'Acme');
      assert.equal((await apiClient(server.url, `Bearer ${labs.token}`).get('/v1/apps/')).status, 200, 'the earlier token still works');

      // Forgotten: Acme's phrase sets a third password; Acme Labs is named as still under the second.
      const recoveryPhrase = alicePhrase;
      const third = 'the third password, recovered';
      const badPhrase = await alice.run(['account', 'recover', '--url', server.url, '--email', email, '--org', acme.organisationId, '--stdin'], { input: `${'abandon '.repeat(23)}art\n${third}\n` });
      assert.equal(badPhrase.code, 1);
      assert.match(badPhrase.stderr, /^coffer: Recovery refused:/m);
      const recovered = await alice.json(['account', 'recover', '--url', server.url, '--email', email, '--org', acme.organisationId, '--stdin'], { input: `${recoveryPhrase}\n${third}\n` });
      assert.equal(recovered.organisationId, acme.organisationId);
      assert.deepEqual(recovered.otherOrganisations.map((o: { organisationName: string }) => o.organisationName), ['Acme Labs']);
      const human = await alice.run(['account', 'recover', '--url', server.url, '--email', email, '--org', acme.organisationId, '--stdin'], { input: `not a phrase\n${third}\n` });
      assert.equal(human.code, 1);
      assert.match(human.stderr, /that is not a valid recovery phrase/);
      const afterRecovery = await alice.json(['login', '--url', server.url, '--email', email, '--org', 'Acme', '--password-stdin'], { input: third });
      assert.equal(afterRecovery.organisationName, 'Acme');
      // Acme Labs' keyring is still under the second password: a password change says which to recover.
      const stuck = await alice.run(['account', 'password', '--password-stdin'], { input: `${third}\nyet another password\n` });
      assert.equal(stuck.code, 1);
      assert.match(stuck.stderr, /your current password does not unlock your keyring of Acme Labs/);
      assert.match(stuck.stderr, /coffer account recover --email alice@example\.com --org /);
    });
  });
}
