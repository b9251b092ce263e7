// The everyday commands of the real `coffer` binary against a live server, on both stores: login on
// a second machine, apps list/delete, init (a linked directory), envs list/create/rename/delete,
// secrets set/get/list/delete with paths, tags, types, references and personal overrides, the
// COFFER_APP/COFFER_ENV variables, and the errors a user sees.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../helpers/fixtures.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { OWNER_EMAIL, OWNER_PASSWORD, startDeployment, type Deployment } from './fixture.js';
import { cliUser, type CliUser } from './run.js';

for (const target of STORE_TARGETS) {
  describe(`coffer secrets, envs, apps and init on ${target.kind}`, { timeout: 300_000 }, () => {
    let d: Deployment;
    let laptop: CliUser;
    let project: string;

    before(async () => {
      d = await startDeployment(target.kind);
      laptop = await cliUser('laptop');
      project = path.join(d.dir, 'shop');
      await fs.mkdir(path.join(project, 'src', 'deep'), { recursive: true });
    });
    after(async () => {
      await laptop.remove();
      await d.close();
    });

    it('login on a second machine, apps create/list, init, and the linked directory', async () => {
      const login = await laptop.json(['login', '--url', d.server.url, '--email', OWNER_EMAIL, '--password-stdin'], { input: OWNER_PASSWORD });
      assert.deepEqual([login.email, login.organisationId], [OWNER_EMAIL, d.setup.organisationId]);
      assert.notEqual(login.tokenId, d.setup.tokenId, 'a new token was minted on this machine');
      assert.equal((await laptop.json(['whoami'])).user.email, OWNER_EMAIL);

      // Before any app: the list of usable apps is empty, which may also mean none is shared with you.
      const before = await laptop.run(['init', '--app', 'shop', '--env', 'dev'], { cwd: project });
      assert.equal(before.code, 1);
      assert.match(before.stderr, /^coffer: no app 'shop' is accessible with this token$/m);

      const shop = await laptop.json(['apps', 'create', 'shop']);
      const listed = await laptop.json(['apps', 'list']);
      assert.deepEqual(
        listed.data.map((a: any) => [a.name, a.id, a.encryption]),
        [['shop', shop.id, 'sse']],
      );

      // Without a terminal, init says which flag is missing.
      const noApp = await laptop.run(['init'], { cwd: project });
      assert.equal(noApp.code, 1);
      assert.match(noApp.stderr, /^coffer: missing --app$/m);
      const badEnv = await laptop.run(['init', '--app', 'shop', '--env', 'nope'], { cwd: project });
      assert.equal(badEnv.code, 1);
      assert.match(badEnv.stderr, /^coffer: no environment 'nope' in shop is accessible with this token$/m);
      assert.match(badEnv.stderr, /its environments: Development, Staging, Production/);

      const linked = await laptop.json(['init', '--app', 'SHOP', '--env', 'dev'], { cwd: project });
      assert.deepEqual([linked.appId, linked.appName, linked.env, linked.path], [shop.id, 'shop', 'Development', null]);
      const file = await fs.readFile(path.join(project, '.coffer.json'), 'utf8');
      assert.deepEqual(JSON.parse(file), { version: 1, appId: shop.id, appName: 'shop', env: 'Development' });
      assert.ok(!file.includes('pss_'), 'no token in the project file');

      // From a subdirectory, with nothing but the project file.
      const set = await laptop.json(['secrets', 'set', 'DB_HOST=localhost', 'greeting=hello world'], { cwd: path.join(project, 'src', 'deep') });
      assert.deepEqual([set.app.name, set.environment.name, set.path, set.created, set.updated], ['shop', 'Development', '/', ['DB_HOST', 'GREETING'], []]);
      const human = await laptop.run(['secrets', 'get', 'greeting'], { cwd: project });
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.rawStdout, 'hello world', 'exactly the value when stdout is not a terminal');
    });

    it('set, get, list and delete, with paths, tags, types, comments and references', async () => {
      const run = (args: string[], input?: string) => laptop.run(args, { cwd: project, ...(input !== undefined ? { input } : {}) });
      const json = (args: string[], input?: string) => laptop.json(args, { cwd: project, ...(input !== undefined ? { input } : {}) });

      const second = await json(['secrets', 'set', 'DB_HOST=db.internal', 'DB_PORT=5432', '--comment', 'primary database', '--tags', 'db,infra']);
      assert.deepEqual([second.created, second.updated], [['DB_PORT'], ['DB_HOST']]);

      // A multi-line value on stdin; one trailing newline is removed.
      const cert = '-----BEGIN CERTIFICATE-----\nMIIB\u00e9\u4e2d=\n-----END CERTIFICATE-----';
      assert.deepEqual((await json(['secrets', 'set', 'TLS_CERT'], `${cert}\n`)).created, ['TLS_CERT']);
      assert.equal((await run(['secrets', 'get', 'tls_cert'])).rawStdout, cert);

      // Paths: the same name at two paths needs --path to read.
      await json(['secrets', 'set', 'DB_HOST=backend-db', '--path', 'backend/']);
      const ambiguous = await run(['secrets', 'get', 'DB_HOST']);
      assert.equal(ambiguous.code, 1);
      assert.match(ambiguous.stderr, /^coffer: DB_HOST exists at several paths in shop \/ Development: \/, \/backend$/m);
      assert.match(ambiguous.stderr, /pass --path/);
      assert.equal((await run(['secrets', 'get', 'DB_HOST', '--path', '/backend'])).rawStdout, 'backend-db');
      assert.equal((await run(['secrets', 'get', 'DB_HOST', '--path', '/'])).rawStdout, 'db.internal');

      // References are resolved (by the server for SSE apps); --raw shows them as stored.
      await json(['secrets', 'set', 'DATABASE_URL=postgres://${DB_HOST}:${DB_PORT}/shop']);
      assert.equal((await run(['secrets', 'get', 'DATABASE_URL'])).rawStdout, 'postgres://db.internal:5432/shop');
      const raw = await json(['secrets', 'get', 'DATABASE_URL', '--raw']);
      assert.deepEqual([raw.value, raw.raw], ['postgres://${DB_HOST}:${DB_PORT}/shop', true]);

      // Listings: masked unless --show, in the table and in JSON.
      const masked = await run(['secrets', 'list']);
      assert.equal(masked.code, 0, masked.stderr);
      assert.match(masked.stdout, /^KEY\s+VALUE\s+PATH\s+TYPE\s+TAGS\s+COMMENT$/m);
      assert.match(masked.stdout, /^DB_PORT\s+\*{8}\s+\/\s+secret\s+db,infra\s+primary database$/m);
      for (const value of ['db.internal', '5432', 'hello world', 'MIIB', 'backend-db']) assert.ok(!masked.stdout.includes(value), `${value} is masked`);
      const listed = await json(['secrets', 'list']);
      assert.deepEqual(
        listed.data.map((s: any) => [s.path, s.key]),
        [['/', 'DATABASE_URL'], ['/', 'DB_HOST'], ['/', 'DB_PORT'], ['/', 'GREETING'], ['/', 'TLS_CERT'], ['/backend', 'DB_HOST']],
      );
      assert.ok(listed.data.every((s: any) => !('value' in s)), 'no values in JSON without --show');
      const shown = await json(['secrets', 'list', '--show', '--path', '/']);
      assert.deepEqual(Object.fromEntries(shown.data.map((s: any) => [s.key, s.value])), {
        DATABASE_URL: 'postgres://db.internal:5432/shop',
        DB_HOST: 'db.internal',
        DB_PORT: '5432',
        GREETING: 'hello world',
        TLS_CERT: cert,
      });
      const tagged = await json(['secrets', 'list', '--tags', 'infra']);
      assert.deepEqual(tagged.data.map((s: any) => [s.key, s.tags, s.comment]), [['DB_HOST', ['db', 'infra'], 'primary database'], ['DB_PORT', ['db', 'infra'], 'primary database']]);
      const visible = await run(['secrets', 'list', '--show', '--path', '/']);
      assert.match(visible.stdout, /^TLS_CERT\s+-----BEGIN CERTIFICATE-----⏎MIIB/m);

      // Sealed secrets cannot change value; types are checked.
      await json(['secrets', 'set', 'SIGNING_KEY=k1', '--type', 'sealed']);
      const sealed = await run(['secrets', 'set', 'SIGNING_KEY=k2']);
      assert.equal(sealed.code, 1);
      assert.match(sealed.stderr, /^coffer: SIGNING_KEY in shop \/ Development \(\/\) is sealed: its value can no longer change$/m);
      const badType = await run(['secrets', 'set', 'X=1', '--type', 'password']);
      assert.equal(badType.code, 1);
      assert.match(badType.stderr, /^coffer: 'password' is not a secret type$/m);
      const twice = await run(['secrets', 'set', 'x=1', 'X=2']);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /names X more than once/);

      // Delete: all named or nothing.
      const missing = await run(['secrets', 'delete', 'DB_PORT', 'NOPE']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^coffer: not found in shop \/ Development: NOPE; nothing was deleted$/m);
      const deleted = await json(['secrets', 'delete', 'db_port', 'GREETING', '--path', '/']);
      assert.deepEqual(deleted.deleted.map((s: any) => s.key), ['DB_PORT', 'GREETING']);
      const after = await json(['secrets', 'list', '--path', '/']);
      assert.deepEqual(after.data.map((s: any) => s.key), ['DATABASE_URL', 'DB_HOST', 'SIGNING_KEY', 'TLS_CERT']);
      // The reference to a deleted secret stays as text (rest-api §6).
      assert.equal((await run(['secrets', 'get', 'DATABASE_URL'])).rawStdout, 'postgres://db.internal:${DB_PORT}/shop');
    });

    it('personal overrides are applied when active', async () => {
      const listed = await laptop.json(['secrets', 'list', '--path', '/'], { cwd: project });
      const dbHost = listed.data.find((s: any) => s.key === 'DB_HOST');
      const api = apiClient(d.server.url, `Bearer ${d.setup.token}`);
      const shopId = listed.app.id;
      const put = await api.put(`/v1/secrets/?app_id=${shopId}&env=development`, { secrets: [{ id: dbHost.id, override: { value: 'my-laptop-db', isActive: true } }] });
      assert.equal(put.status, 200, put.text);
      const got = await laptop.json(['secrets', 'get', 'DB_HOST', '--path', '/'], { cwd: project });
      assert.deepEqual([got.value, got.overridden], ['my-laptop-db', true]);
      // The server resolves references of SSE apps with shared values (rest-api §6.5); only the
      // override's own secret changes.
      assert.equal((await laptop.run(['secrets', 'get', 'DATABASE_URL'], { cwd: project })).rawStdout, 'postgres://db.internal:${DB_PORT}/shop');
      const table = await laptop.run(['secrets', 'list', '--show', '--path', '/'], { cwd: project });
      assert.match(table.stdout, /^DB_HOST\s+my-laptop-db \(override\)/m);
      const off = await api.put(`/v1/secrets/?app_id=${shopId}&env=development`, { secrets: [{ id: dbHost.id, override: { value: 'my-laptop-db', isActive: false } }] });
      assert.equal(off.status, 200, off.text);
      assert.equal((await laptop.json(['secrets', 'get', 'DB_HOST', '--path', '/'], { cwd: project })).value, 'db.internal');
    });

    it('--app/--env and COFFER_APP/COFFER_ENV without a linked directory; flags win over the project file', async () => {
      const elsewhere = d.dir; // no .coffer.json here or above
      const none = await laptop.run(['secrets', 'list'], { cwd: elsewhere });
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^coffer: no app given$/m);
      assert.match(none.stderr, /pass --app \(id or name\), set COFFER_APP, or link this directory with `coffer init`/);
      const noEnv = await laptop.run(['secrets', 'list', '--app', 'shop'], { cwd: elsewhere });
      assert.equal(noEnv.code, 1);
      assert.match(noEnv.stderr, /^coffer: no environment given for shop$/m);

      await laptop.json(['secrets', 'set', 'STAGE=staging-1', '--app', 'shop', '--env', 'Staging'], { cwd: elsewhere });
      const viaEnv = await laptop.run(['secrets', 'get', 'STAGE'], { cwd: elsewhere, env: { COFFER_APP: 'shop', COFFER_ENV: 'staging' } });
      assert.equal(viaEnv.rawStdout, 'staging-1', viaEnv.stderr);
      // In the linked directory, --env overrides the project's environment.
      assert.equal((await laptop.run(['secrets', 'get', 'STAGE', '--env', 'staging'], { cwd: project })).rawStdout, 'staging-1');
      // The project's app named in another case is still the project's app, with its environment.
      assert.equal((await laptop.run(['secrets', 'get', 'STAGE', '--app', 'SHOP', '--env', 'staging'], { cwd: project })).rawStdout, 'staging-1');
      assert.equal((await laptop.run(['secrets', 'list', '--app', 'SHOP', '--json'], { cwd: project })).code, 0);
      // Another app in the linked directory does not take the project's environment, and says so.
      const otherApp = await laptop.run(['secrets', 'list', '--app', 'nope'], { cwd: project });
      assert.equal(otherApp.code, 1);
      assert.match(otherApp.stderr, /^coffer: no environment given for nope; this directory's environment \(Development\) applies to its app shop only$/m);
      const notInDev = await laptop.run(['secrets', 'get', 'STAGE'], { cwd: project });
      assert.equal(notInDev.code, 1);
      assert.match(notInDev.stderr, /^coffer: there is no secret STAGE in shop \/ Development$/m);

      const unknownApp = await laptop.run(['secrets', 'list', '--app', 'nope', '--env', 'dev'], { cwd: elsewhere });
      assert.equal(unknownApp.code, 1);
      assert.match(unknownApp.stderr, /^coffer: no app 'nope' is accessible with this token$/m);
      // A CI job with nothing but variables: a URL and a token.
      const ci = await laptop.run(['secrets', 'get', 'STAGE'], {
        cwd: elsewhere,
        env: { XDG_CONFIG_HOME: path.join(elsewhere, 'no-config'), COFFER_URL: d.server.url, COFFER_TOKEN: d.setup.token, COFFER_APP: 'shop', COFFER_ENV: 'Staging' },
      });
      assert.equal(ci.rawStdout, 'staging-1', ci.stderr);
    });

    it('envs list/create/rename/delete and apps delete', async () => {
      const json = (args: string[]) => laptop.json(args, { cwd: project });
      assert.deepEqual((await json(['envs', 'list'])).data.map((e: any) => [e.name, e.envType]), [['Development', 'dev'], ['Staging', 'staging'], ['Production', 'prod']]);
      const preview = await json(['envs', 'create', 'preview']);
      assert.deepEqual([preview.name, preview.envType, preview.app.name], ['preview', 'custom', 'shop']);
      const taken = await laptop.run(['envs', 'create', 'Preview'], { cwd: project });
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, /^coffer: An environment named 'Preview' already exists in this app\.$/m);
      await json(['secrets', 'set', 'P=1', '--env', 'preview']);
      const renamed = await json(['envs', 'rename', 'preview', 'qa']);
      assert.deepEqual([renamed.previousName, renamed.name], ['preview', 'qa']);
      assert.equal((await laptop.run(['secrets', 'get', 'P', '--env', 'qa'], { cwd: project })).rawStdout, '1');
      const unconfirmed = await laptop.run(['envs', 'delete', 'qa'], { cwd: project });
      assert.equal(unconfirmed.code, 1);
      assert.match(unconfirmed.stderr, /^coffer: deleting qa removes all its secrets for good$/m);
      assert.match(unconfirmed.stderr, /pass --yes to confirm/);
      assert.deepEqual((await json(['envs', 'delete', 'qa', '--yes'])).deleted.name, 'qa');
      assert.deepEqual((await json(['envs', 'list'])).data.map((e: any) => e.name), ['Development', 'Staging', 'Production']);

      const old = await json(['apps', 'create', 'old-shop']);
      const refused = await laptop.run(['apps', 'delete', 'old-shop'], { cwd: project });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /pass --yes to confirm/);
      assert.deepEqual((await json(['apps', 'delete', 'old-shop', '--yes'])).deleted, { id: old.id, name: 'old-shop' });
      assert.deepEqual((await json(['apps', 'list'])).data.map((a: any) => a.name), ['shop']);
      const gone = await laptop.run(['apps', 'delete', old.id, '--yes'], { cwd: project });
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /^coffer: no app '[0-9a-f-]{36}' is accessible with this token$/m);

      // Deleting and renaming take the whole name (a prefix deleted Production), and a linked
      // directory whose environment is gone does not fall to another that starts the same.
      for (const args of [['envs', 'delete', 'prod', '--yes'], ['envs', 'rename', 'prod', 'live']]) {
        const guessed = await laptop.run(args, { cwd: project });
        assert.equal(guessed.code, 1, args.join(' '));
        assert.match(guessed.stderr, /^coffer: no environment 'prod' in shop is accessible with this token$/m);
        assert.match(guessed.stderr, /give the whole name or the id here/);
      }
      assert.deepEqual((await json(['envs', 'list'])).data.map((e: any) => e.name), ['Development', 'Staging', 'Production']);
      await json(['envs', 'create', 'pre']);
      await json(['envs', 'create', 'preview']);
      const linked = await fs.mkdtemp(path.join(d.dir, 'linked-'));
      assert.equal((await laptop.run(['init', '--app', 'shop', '--env', 'pre'], { cwd: linked })).code, 0);
      await json(['envs', 'delete', 'pre', '--yes']);
      const orphan = await laptop.run(['secrets', 'set', 'LINKED=1'], { cwd: linked });
      assert.equal(orphan.code, 1);
      assert.match(orphan.stderr, /^coffer: no environment 'pre' in shop is accessible with this token$/m);
      assert.equal((await json(['secrets', 'list', '--env', 'preview'])).data.length, 0, 'nothing went to preview');
      assert.equal((await laptop.run(['secrets', 'list', '--env', 'prev'], { cwd: project })).code, 0, 'a prefix typed for a read still works');
      await json(['envs', 'delete', 'preview', '--yes']);
    });

    it('every command has --help with examples', async () => {
      const commands = [
        ['init'], ['apps', 'list'], ['apps', 'delete'], ['envs', 'list'], ['envs', 'create'], ['envs', 'rename'], ['envs', 'delete'],
        ['secrets', 'list'], ['secrets', 'get'], ['secrets', 'set'], ['secrets', 'delete'], ['secrets', 'import'], ['secrets', 'export'],
        ['run'], ['admin', 'backup'], ['admin', 'restore'],
      ];
      for (const command of commands) {
        const help = await laptop.run([...command, '--help']);
        assert.equal(help.code, 0, command.join(' '));
        assert.match(help.stdout, new RegExp(`^Usage: coffer ${command.join(' ')}`, 'm'));
        assert.match(help.stdout, /^Examples:\n {2}\S*.*coffer /m, `${command.join(' ')} has examples`);
      }
    });
  });
}
