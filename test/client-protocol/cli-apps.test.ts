// `coffer apps create --e2ee` and `coffer apps enable-sse`, the real binary against a real server:
// the E2EE app's keys are made by the CLI, the official SDK uses them, and enabling SSE hands the
// app to the REST API with the SDK's secrets intact.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiClient, createOwner, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { cliUser, type CliUser } from '../cli/run.js';
import { createServiceAccount, Phase, SdkGuard } from './helpers.js';

for (const target of STORE_TARGETS) {
  describe(`coffer apps commands (${target.kind})`, { timeout: 120_000 }, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let user: CliUser;
    let env: Record<string, string>;
    const guard = new SdkGuard();

    before(async () => {
      guard.install();
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      user = await cliUser('apps');
      env = { COFFER_URL: server.url, COFFER_TOKEN: owner.token };
    });
    after(async () => {
      await server.close();
      await user.remove();
      guard.uninstall();
    });

    test('apps create --e2ee, the SDK on its keys, apps enable-sse, then the REST API', async () => {
      const sa = await createServiceAccount(server, owner, null);
      const created = await user.json(['apps', 'create', 'vault', '--e2ee', '--environments', 'Development,Production', '--service-account', sa.serviceAccountId], { env });
      assert.equal(created.encryption, 'e2ee');
      assert.equal(created.sseEnabled, false);
      assert.equal(created.url, server.url);
      assert.deepEqual(created.environments.map((e: any) => [e.name, e.envType, e.index]), [['Development', 'dev', 0], ['Production', 'prod', 1]]);
      assert.deepEqual(
        await server.domain.deps.db.selectFrom('server_environment_keys').select('environment_id').where('environment_id', 'in', created.environments.map((e: any) => e.id)).execute(),
        [],
      );

      const phase = new Phase(owner.token, server.url);
      await guard.run(phase.init());
      await guard.run(phase.create({ appId: created.id, envName: 'Production', secrets: [{ key: 'STRIPE_KEY', value: 'sk_live_cli', comment: '' }] }));

      // The service account given --service-account holds the keys too.
      const robot = new Phase(sa.token, server.url);
      await guard.run(robot.init());
      assert.deepEqual(robot.apps.find((a) => a.id === created.id)?.environments.map((e) => e.name), ['Development', 'Production']);
      assert.deepEqual((await guard.run(robot.get({ appId: created.id, envName: 'production' }))).map((s) => [s.key, s.value]), [['STRIPE_KEY', 'sk_live_cli']]);

      const rest = apiClient(server.url, owner.authorization);
      assert.equal((await rest.get(`/v1/secrets/?app_id=${created.id}&env=Production`)).status, 400);
      // One-way: without a terminal only --yes confirms it, and nothing changes without it.
      const unconfirmed = await user.run(['apps', 'enable-sse', 'vault'], { env });
      assert.equal(unconfirmed.code, 1);
      assert.match(unconfirmed.stderr, /^coffer: enabling SSE lets the server read vault's secrets from now on and cannot be undone$/m);
      assert.equal((await rest.get(`/v1/secrets/?app_id=${created.id}&env=Production`)).status, 400);
      const enabled = await user.json(['apps', 'enable-sse', 'vault', '--yes'], { env });
      assert.deepEqual(enabled, { url: server.url, id: created.id, name: 'vault', sseEnabled: true });
      const listed = await rest.get(`/v1/secrets/?app_id=${created.id}&env=Production`);
      assert.deepEqual(listed.body.map((s: any) => [s.key, s.value]), [['STRIPE_KEY', 'sk_live_cli']]);

      const again = await user.run(['apps', 'enable-sse', created.id], { env });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^coffer: vault already uses server-side encryption$/m);
      const unknown = await user.run(['apps', 'enable-sse', 'nope'], { env });
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^coffer: no app 'nope' is accessible with this token$/m);
    });

    test('apps create without --e2ee makes an SSE app; readable output without --json', async () => {
      const created = await user.json(['apps', 'create', 'shop', '--description', 'web shop'], { env });
      assert.deepEqual([created.encryption, created.sseEnabled, created.description, created.environments.length], ['sse', true, 'web shop', 3]);
      const plain = await user.run(['apps', 'create', 'vault-2', '--e2ee'], { env });
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /Created end-to-end encrypted app vault-2 \([0-9a-f-]{36}\)/);
      assert.match(plain.stdout, /Development\s+[0-9a-f-]{36}/);
      const misuse = await user.run(['apps', 'create', 'x', '--service-account', owner.memberId], { env });
      assert.equal(misuse.code, 1);
      assert.match(misuse.stderr, /--service-account is for --e2ee apps/);
    });
  });
}
