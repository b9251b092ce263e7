// The whole first-day flow through the CLI and HTTP only: `coffer setup`, an invite over the public
// API, `coffer invites accept`, a personal token with `coffer tokens create`, a service account
// over the public API, its token with `coffer tokens create --service-account`, and that token
// reading a secret. Nothing is made through the domain or the database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';
import { assertNotStored, dumpDatabase } from '../http/console/accounts.js';
import { cliUser, type CliUser } from './run.js';

const OWNER_PASSWORD = 'owner password, long enough';
const BOB_PASSWORD = 'bob has a password too';

for (const target of STORE_TARGETS) {
  describe(`setup -> invite -> accept -> token -> service account -> token on ${target.kind}`, () => {
    let server: TestServer;
    let drop: (() => Promise<void>) | undefined;
    let owner: CliUser;
    let bob: CliUser;
    before(async () => {
      let databaseUrl: string | undefined;
      if (target.kind === 'postgres') ({ url: databaseUrl, drop } = await createEmptyPostgresDatabase());
      server = await startTestServer({ store: target.kind, ...(databaseUrl ? { databaseUrl } : {}) });
      owner = await cliUser('owner');
      bob = await cliUser('bob');
    });
    after(async () => {
      await server.close();
      await drop?.();
      await owner.remove();
      await bob.remove();
    });

    it('works end to end', async () => {
      const line = server.logs.find((l) => l.includes('coffer setup'))!;
      const code = /--code ([0-9A-Z-]{23})/.exec(line)![1]!;
      const setup = await owner.json(['setup', '--url', server.url, '--code', code, '--email', 'owner@example.com', '--org', 'Acme', '--password-stdin'], { input: OWNER_PASSWORD });
      const ownerApi = apiClient(server.url, `Bearer ${setup.token}`);

      // An invite over the public API (rest-api §12.7, Coffer's inviteUrl).
      const roles = await ownerApi.get('/v1/roles/');
      assert.equal(roles.status, 200, roles.text);
      const roleId = (name: string) => roles.body.data.find((r: any) => r.name === name).id;
      const invite = await ownerApi.post('/v1/members/invites/', { email: 'Bob@Example.com', role_id: roleId('Developer') });
      assert.equal(invite.status, 201, invite.text);
      assert.match(invite.body.inviteUrl, /\/invites\/[0-9a-f]{64}$/);

      const joined = await bob.json(['invites', 'accept', invite.body.inviteUrl, '--email', 'bob@example.com', '--password-stdin'], { input: BOB_PASSWORD });
      assert.equal(joined.organisationId, setup.organisationId);
      assert.equal(joined.role, 'Developer');
      assert.equal(joined.recoveryPhrase.split(' ').length, 24);
      const reused = await bob.run(['invites', 'accept', invite.body.inviteUrl, '--password-stdin'], { input: BOB_PASSWORD });
      assert.equal(reused.code, 1);
      assert.match(reused.stderr, /This invite does not exist, was already used or has expired/);

      const members = await ownerApi.get('/v1/members/');
      assert.deepEqual(members.body.data.map((m: any) => [m.email, m.role.name]).sort(), [['bob@example.com', 'Developer'], ['owner@example.com', 'Owner']]);

      // Bob's own further token, minted by his CLI from his keyring.
      const laptop = await bob.json(['tokens', 'create', '--name', 'laptop', '--password-stdin'], { input: BOB_PASSWORD });
      const bobMe = await apiClient(server.url, `Bearer ${laptop.token}`).get('/coffer/v1/me/');
      assert.equal(bobMe.status, 200, bobMe.text);
      assert.equal(bobMe.body.user.email, 'bob@example.com');
      assert.equal(bobMe.body.memberships[0].role.name, 'Developer');

      // A service account with access to one environment, over the public API.
      const app = await ownerApi.post('/v1/apps/', { name: 'Shop' });
      assert.equal(app.status, 201, app.text);
      const production = app.body.environments.find((e: any) => e.name === 'Production');
      const written = await ownerApi.post(`/v1/secrets/?app_id=${app.body.id}&env=production`, { secrets: [{ key: 'DB_PASSWORD', value: 's3cr3t-value' }] });
      assert.equal(written.status, 200, written.text);
      const account = await ownerApi.post('/v1/service-accounts/', { name: 'deployer', role_id: roleId('Service') });
      assert.equal(account.status, 201, account.text);
      const access = await ownerApi.put(`/v1/service-accounts/${account.body.id}/access/`, { apps: [{ id: app.body.id, environments: [production.id] }] });
      assert.equal(access.status, 200, access.text);

      const deploy = await owner.json(['tokens', 'create', '--service-account', account.body.id, '--name', 'deploy', '--expires-in', '7d']);
      assert.match(deploy.token, /^pss_service:v2:/);
      assert.ok(new Date(deploy.expiresAt).getTime() > Date.now() + 6 * 86400_000);
      const deployApi = apiClient(server.url, `Bearer ${deploy.token}`);
      const read = await deployApi.get(`/v1/secrets/?app_id=${app.body.id}&env=production`);
      assert.equal(read.status, 200, read.text);
      assert.deepEqual(read.body.map((s: any) => [s.key, s.value]), [['DB_PASSWORD', 's3cr3t-value']]);
      const notStaging = await deployApi.get(`/v1/secrets/?app_id=${app.body.id}&env=staging`);
      assert.equal(notStaging.status, 401, 'only the granted environment');
      const bobCannot = await bob.run(['tokens', 'create', '--service-account', account.body.id]);
      assert.equal(bobCannot.code, 1, 'a Developer cannot mint service-account tokens');

      assertNotStored(await dumpDatabase(server.store.db), [
        OWNER_PASSWORD,
        BOB_PASSWORD,
        setup.token,
        setup.recoveryPhrase,
        joined.token,
        joined.recoveryPhrase,
        laptop.token,
        deploy.token,
        deploy.token.split(':')[2],
        invite.body.inviteUrl.split('/').pop(),
      ]);
    });
  });
}
