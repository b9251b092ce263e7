// An end-to-end encrypted app through the CLI, on both stores: `coffer apps create --e2ee`, then
// secrets set/get/list/import/export/delete and `coffer run` (also --watch) through the client
// protocol, decrypted in the CLI. The server's tables never hold a name or value in clear, personal
// overrides apply when active, a member who joined later gets its keys with `coffer apps grant`, and
// the app can be deleted.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PhaseSession } from '../../src/client/index.js';
import { apiClient } from '../helpers/fixtures.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { assertNotStored, dumpDatabase } from '../http/console/accounts.js';
import { startDeployment, type Deployment } from './fixture.js';
import { cliUser } from './run.js';

const NODE = process.execPath;
const PRINT_ENV = `console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((k) => [k, process.env[k] ?? null]))))`;

for (const target of STORE_TARGETS) {
  describe(`an E2EE app through the CLI on ${target.kind}`, { timeout: 300_000 }, () => {
    let d: Deployment;
    let vault: any;
    const dev = (...args: string[]) => [...args, '--app', 'vault', '--env', 'development'];
    const run = (...args: string[]) => ['run', '--app', 'vault', '--env', 'development', ...args];
    const plaintexts = ['sk_live_e2ee_value', 'VAULT_SECRET_NAME', 'line ünïcode', 'imported-e2ee-value', 'override-e2ee-value', 'watched-e2ee-'];

    before(async () => {
      d = await startDeployment(target.kind);
    });
    after(() => d.close());

    it('creates the app with --e2ee and writes and reads its secrets through the client protocol', async () => {
      vault = await d.owner.json(['apps', 'create', 'vault', '--e2ee', '--environments', 'Development,Production']);
      assert.deepEqual([vault.encryption, vault.sseEnabled], ['e2ee', false]);
      const apps = await d.owner.json(['apps', 'list']);
      assert.deepEqual(apps.data.map((a: any) => [a.name, a.encryption]), [['vault', 'e2ee']]);
      assert.deepEqual((await d.owner.json(['envs', 'list', '--app', 'vault'])).data.map((e: any) => e.name), ['Development', 'Production']);

      const set = await d.owner.json(dev('secrets', 'set', 'vault_secret_name=sk_live_e2ee_value', 'REF=${VAULT_SECRET_NAME}/suffix', '--comment', 'from the CLI', '--tags', 'payments'));
      assert.deepEqual([set.encryption, set.created], ['e2ee', ['VAULT_SECRET_NAME', 'REF']]);
      assert.deepEqual((await d.owner.json(dev('secrets', 'set', 'MULTI'), { input: 'multi\nline ünïcode\n' })).created, ['MULTI']);
      assert.deepEqual((await d.owner.json(dev('secrets', 'set', 'REF=${VAULT_SECRET_NAME}!'))).updated, ['REF']);

      assert.equal((await d.owner.run(dev('secrets', 'get', 'ref'))).rawStdout, 'sk_live_e2ee_value!');
      assert.equal((await d.owner.json(dev('secrets', 'get', 'REF', '--raw'))).value, '${VAULT_SECRET_NAME}!');
      assert.equal((await d.owner.run(dev('secrets', 'get', 'MULTI'))).rawStdout, 'multi\nline ünïcode');
      const listed = await d.owner.json(dev('secrets', 'list', '--show'));
      assert.deepEqual(
        listed.data.map((s: any) => [s.key, s.value, s.tags, s.comment]),
        [['MULTI', 'multi\nline ünïcode', [], ''], ['REF', 'sk_live_e2ee_value!', ['payments'], 'from the CLI'], ['VAULT_SECRET_NAME', 'sk_live_e2ee_value', ['payments'], 'from the CLI']],
      );
      const masked = await d.owner.run(dev('secrets', 'list'));
      assert.ok(!masked.stdout.includes('sk_live'), 'masked');

      const result = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'VAULT_SECRET_NAME', 'REF', 'MULTI'));
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { VAULT_SECRET_NAME: 'sk_live_e2ee_value', REF: 'sk_live_e2ee_value!', MULTI: 'multi\nline ünïcode' });

      // The REST API cannot serve it, and the server holds no plaintext.
      assertNotStored(await dumpDatabase(d.server.store.db), plaintexts.slice(0, 3));
    });

    it('applies an active personal override (also inside references, as the Node SDK does)', async () => {
      const session = await PhaseSession.open({ host: d.server.url, token: d.setup.token });
      try {
        const env = session.environment(vault.id, 'development');
        const [secret] = await session.list(env, { key: 'VAULT_SECRET_NAME' });
        await session.update(env, [{ id: secret!.id, override: { value: 'override-e2ee-value', isActive: true } }]);
      } finally {
        session.close();
      }
      const result = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'VAULT_SECRET_NAME', 'REF'));
      assert.deepEqual(JSON.parse(result.stdout), { VAULT_SECRET_NAME: 'override-e2ee-value', REF: 'override-e2ee-value!' });
      const got = await d.owner.json(dev('secrets', 'get', 'VAULT_SECRET_NAME'));
      assert.deepEqual([got.value, got.overridden], ['override-e2ee-value', true]);
    });

    it('leaves a value past the bounds on reference expansion verbatim, with a warning naming it, and resolves the rest', async () => {
      const many = '${REF}'.repeat(10_001); // one reference more than a value may hold
      assert.deepEqual((await d.owner.json(dev('secrets', 'set', 'MANY'), { input: many })).created, ['MANY']);
      const result = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'MANY', 'REF'));
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { MANY: many, REF: 'override-e2ee-value!' });
      assert.match(result.stderr, /^warning: MANY: references left unresolved: expanding them passes Coffer's bounds on reference expansion$/m);
      assert.deepEqual((await d.owner.json(dev('secrets', 'delete', 'MANY'))).deleted.map((s: any) => s.key), ['MANY']);
    });

    it('imports and exports through the client protocol, and deletes', async () => {
      const file = path.join(d.dir, 'e2ee.env');
      await fs.writeFile(file, 'IMPORTED="imported-e2ee-value"\n# comment\nexport SECOND=two\n');
      const imported = await d.owner.json(['secrets', 'import', file, '--app', 'vault', '--env', 'production']);
      assert.deepEqual(imported.created, ['IMPORTED', 'SECOND']);
      const exported = await d.owner.run(['secrets', 'export', '--app', 'vault', '--env', 'production', '--format', 'json']);
      assert.deepEqual(JSON.parse(exported.rawStdout), { IMPORTED: 'imported-e2ee-value', SECOND: 'two' });
      const again = await d.owner.run(['secrets', 'import', file, '--app', 'vault', '--env', 'production']);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^coffer: 2 of the 2 names already exist in vault \/ Production \(\/\)/m);
      assert.deepEqual((await d.owner.json(['secrets', 'delete', 'second', '--app', 'vault', '--env', 'production'])).deleted.map((s: any) => s.key), ['SECOND']);
      assert.deepEqual((await d.owner.json(['secrets', 'list', '--app', 'vault', '--env', 'production'])).data.map((s: any) => s.key), ['IMPORTED']);

      const fixed = await d.owner.run(['envs', 'create', 'qa', '--app', 'vault']);
      assert.equal(fixed.code, 1);
      assert.match(fixed.stderr, /^coffer: vault is end-to-end encrypted: its environments are fixed when it is created, so they cannot be added$/m);
    });

    it('--watch restarts the child when an E2EE secret changes', async () => {
      await d.owner.json(dev('secrets', 'set', 'WATCHED=watched-e2ee-1'));
      const child = d.owner.spawn(run('--watch', '--interval', '1', '--', NODE, '-e', "console.log('ready ' + process.env.WATCHED); setInterval(() => {}, 1000)"));
      try {
        await child.waitFor(/^ready watched-e2ee-1$/, 60_000);
        await d.owner.json(dev('secrets', 'set', 'WATCHED=watched-e2ee-2'));
        await child.waitFor(/^ready watched-e2ee-2$/, 60_000);
      } finally {
        child.child.kill('SIGTERM');
      }
      assert.equal(await child.exited, 128 + 15);
      assertNotStored(await dumpDatabase(d.server.store.db), plaintexts);
    });

    it('grants the app to a member who joined later: wrapped by the owner CLI, read by the member CLI', async () => {
      const ownerApi = apiClient(d.server.url, `Bearer ${d.setup.token}`);
      const roles = await ownerApi.get('/v1/roles/');
      const developerRole = roles.body.data.find((r: any) => r.name === 'Developer').id;
      const invite = await ownerApi.post('/v1/members/invites/', { email: 'dana@example.com', role_id: developerRole });
      assert.equal(invite.status, 201, invite.text);
      const dana = await cliUser('dana');
      try {
        await dana.json(['invites', 'accept', invite.body.inviteUrl, '--email', 'dana@example.com', '--password-stdin'], { input: 'dana has a long password' });
        const before = await dana.run(dev('secrets', 'get', 'VAULT_SECRET_NAME'));
        assert.equal(before.code, 1, 'no key of the app yet');

        const unknown = await d.owner.run(['apps', 'grant', 'vault', '--member', 'nobody@example.com']);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /^coffer: no member nobody@example\.com in this organisation$/m);
        const both = await d.owner.run(['apps', 'grant', 'vault', '--member', 'dana@example.com', '--service-account', 'ci']);
        assert.equal(both.code, 1);
        assert.match(both.stderr, /^coffer: name one recipient: --member EMAIL or --service-account NAME$/m);

        const granted = await d.owner.json(['apps', 'grant', 'vault', '--member', 'Dana@Example.com', '--env', 'development']);
        assert.deepEqual([granted.appId, granted.recipient.type, granted.environmentsGranted.length, granted.environmentsAlreadyHeld], [vault.id, 'member', 1, []]);
        // Dana reads the shared value (the owner's override is the owner's own).
        assert.equal((await dana.run(dev('secrets', 'get', 'VAULT_SECRET_NAME'))).rawStdout, 'sk_live_e2ee_value');
        const production = await dana.run(['secrets', 'get', 'IMPORTED', '--app', 'vault', '--env', 'production']);
        assert.equal(production.code, 1, 'only the environment named');
        const again = await d.owner.run(['apps', 'grant', 'vault', '--member', 'dana@example.com', '--env', 'development']);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /already held every environment named; nothing changed/);

        // Taken back: Dana leaves the app (also the repair for keys wrapped wrongly: revoke, grant again).
        const revoked = await d.owner.json(['apps', 'revoke', 'vault', '--member', 'dana@example.com']);
        assert.deepEqual([revoked.appId, revoked.recipient.id, revoked.environmentsRevoked.length], [vault.id, granted.recipient.id, 1]);
        assert.equal((await dana.run(dev('secrets', 'get', 'VAULT_SECRET_NAME'))).code, 1);
      } finally {
        await dana.remove();
      }
    });

    it('deletes the E2EE app', async () => {
      assert.deepEqual((await d.owner.json(['apps', 'delete', 'vault', '--yes'])).deleted, { id: vault.id, name: 'vault' });
      assert.deepEqual((await d.owner.json(['apps', 'list'])).data, []);
    });
  });
}
