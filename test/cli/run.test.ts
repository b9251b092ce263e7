// `coffer run` with the real binary against a live server, on both stores: the child gets the
// secrets (references resolved, active personal overrides applied), its exit code and the signals
// pass through, `--watch` restarts it when the secrets change, a service-account token works in
// CI, and `--fallback` runs from the encrypted offline cache when the server is gone (and only then).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../helpers/fixtures.js';
import { FIXTURES } from '../helpers/process.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { eventually, startDeployment, type Deployment } from './fixture.js';

const NODE = process.execPath;
/** A child that prints the variables named on its command line as one JSON line. */
const PRINT_ENV = `console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((k) => [k, process.env[k] ?? null]))))`;
/** A child that prints `ready VALUE` and stays until a signal. */
const STAY = (handled: string) =>
  `${handled}; console.log('ready ' + process.env.WATCHED); setInterval(() => {}, 1000);`;

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

/** Whether `signal` waits, not yet delivered, for the process (Linux: /proc/PID/status). */
async function signalPending(pid: number, signal: NodeJS.Signals): Promise<boolean> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const bit = 1n << BigInt(os.constants.signals[signal] - 1);
  return [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((m) => (BigInt(`0x${m[1]}`) & bit) !== 0n);
}

for (const target of STORE_TARGETS) {
  describe(`coffer run on ${target.kind}`, { timeout: 300_000 }, () => {
    let d: Deployment;
    let shopId: string;
    const shop = (...args: string[]) => [...args, '--app', 'shop', '--env', 'development'];
    /** `coffer run` options must come before the command: everything after it is the command's. */
    const run = (...args: string[]) => ['run', '--app', 'shop', '--env', 'development', ...args];

    before(async () => {
      d = await startDeployment(target.kind);
      shopId = (await d.owner.json(['apps', 'create', 'shop'])).id;
      await d.owner.json(shop('secrets', 'set', 'DB_HOST=db.internal', 'DB_URL=postgres://${DB_HOST}/shop', 'PRESET=from coffer', 'EMPTY=', `MULTI=line one\nline "two" = ünïcode`));
    });
    after(() => d.close());

    it('injects the secrets, references resolved and overrides applied; secrets win over the environment', async () => {
      const result = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'DB_HOST', 'DB_URL', 'PRESET', 'EMPTY', 'MULTI', 'KEPT'), { env: { PRESET: 'from the shell', KEPT: 'kept' } });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), {
        DB_HOST: 'db.internal',
        DB_URL: 'postgres://db.internal/shop',
        PRESET: 'from coffer',
        EMPTY: '',
        MULTI: 'line one\nline "two" = ünïcode',
        KEPT: 'kept',
      });

      const listed = await d.owner.json(shop('secrets', 'list'));
      const dbHost = listed.data.find((s: any) => s.key === 'DB_HOST');
      const api = apiClient(d.server.url, `Bearer ${d.setup.token}`);
      const put = await api.put(`/v1/secrets/?app_id=${shopId}&env=development`, { secrets: [{ id: dbHost.id, override: { value: 'localhost', isActive: true } }] });
      assert.equal(put.status, 200, put.text);
      const overridden = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'DB_HOST'));
      assert.deepEqual(JSON.parse(overridden.stdout), { DB_HOST: 'localhost' });
      await api.put(`/v1/secrets/?app_id=${shopId}&env=development`, { secrets: [{ id: dbHost.id, override: { value: 'localhost', isActive: false } }] });

      // Options after the command belong to the command.
      const passed = await d.owner.run(run(NODE, '-e', 'console.log(process.argv.slice(1).join(" "))', '--', '--env', 'x', '--help'));
      assert.equal(passed.code, 0, passed.stderr);
      assert.equal(passed.stdout, '--env x --help');
    });

    // The server leaves a reference it cannot expand as it is, silently (rest-api §6.2); the CLI names it.
    it('names references the server left unresolved on stderr, once each; the value is injected as it is', async () => {
      await d.owner.json(shop('secrets', 'set', 'BROKEN=${staging.NOPE}-${NOPE}-${staging.NOPE}', 'RAILWAY=${{RAILWAY_VAR}}'));
      try {
        const result = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'BROKEN', 'RAILWAY', 'DB_URL'));
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(JSON.parse(result.stdout), { BROKEN: '${staging.NOPE}-${NOPE}-${staging.NOPE}', RAILWAY: '${{RAILWAY_VAR}}', DB_URL: 'postgres://db.internal/shop' });
        assert.equal(result.stderr, 'warning: BROKEN: references ${staging.NOPE}, ${NOPE} left unresolved (no such secret, a reference cycle, or no access to its environment)');
        // Writes read the stored values, not expanded ones: nothing to warn about.
        const set = await d.owner.run(shop('secrets', 'set', 'RAILWAY=${{RAILWAY_VAR}}'));
        assert.equal(set.code, 0, set.stderr);
        assert.doesNotMatch(set.stderr, /unresolved/);
      } finally {
        await d.owner.json(shop('secrets', 'delete', 'BROKEN', 'RAILWAY'));
      }
    });

    it('exits with the child\'s exit code; 127 when the command does not exist', async () => {
      const seven = await d.owner.run(run('--', NODE, '-e', 'process.exit(7)'));
      assert.equal(seven.code, 7);
      assert.equal(seven.stderr, '');
      const missing = await d.owner.run(run('--', 'no-such-command-here'));
      assert.equal(missing.code, 127);
      assert.match(missing.stderr, /^coffer: command not found: no-such-command-here$/m);
      const none = await d.owner.run(run());
      assert.equal(none.code, 1);
      assert.match(none.stderr, /error: missing required argument 'command'/);
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`forwards ${signal} to the child and exits with its code`, async () => {
        const handled = `process.on('${signal}', () => { console.log('child got ${signal}'); process.exit(${signal === 'SIGTERM' ? 42 : 3}); })`;
        const child = d.owner.spawn(run('--', NODE, '-e', STAY(handled)));
        await child.waitFor(/^ready/, 60_000);
        child.child.kill(signal);
        assert.equal(await child.exited, signal === 'SIGTERM' ? 42 : 3);
        assert.ok(child.stdout.includes(`child got ${signal}`), child.stdout.join('\n'));
      });
    }

    it('exits with 128 + the signal when the signal ends the child', async () => {
      const child = d.owner.spawn(run('--', NODE, '-e', STAY('0')));
      await child.waitFor(/^ready/, 60_000);
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 128 + 15);
    });

    it('--watch restarts the child when the secrets change, and only then', async () => {
      await d.owner.json(shop('secrets', 'set', 'WATCHED=one'));
      const child = d.owner.spawn(run('--watch', '--interval', '1', '--', NODE, '-e', STAY("process.on('SIGTERM', () => { console.log('stopping ' + process.env.WATCHED); process.exit(0); })")));
      try {
        await child.waitFor(/^ready one$/, 60_000);
        // Another app's secrets are not this child's: no restart for them.
        await d.owner.json(['apps', 'create', 'other']);
        await d.owner.json(['secrets', 'set', 'WATCHED=elsewhere', '--app', 'other', '--env', 'development']);
        await d.owner.json(shop('secrets', 'set', 'WATCHED=two'));
        await child.waitFor(/^ready two$/, 60_000);
        assert.ok(child.stdout.includes('stopping one'), 'the old child was stopped with SIGTERM');
        assert.match(child.stderr.join('\n'), /coffer: the secrets of shop \/ Development changed; restarting /);
        // Setting the same value again bumps the version but not the child's environment: no restart.
        await d.owner.json(shop('secrets', 'set', 'WATCHED=two'));
        await d.owner.json(shop('secrets', 'set', 'WATCHED=three'));
        await child.waitFor(/^ready three$/, 60_000);
        assert.deepEqual(child.stdout.filter((l) => l.startsWith('ready')), ['ready one', 'ready two', 'ready three']);
      } finally {
        child.child.kill('SIGTERM');
        await child.exited;
      }
      assert.equal(await child.exited, 0, 'the child handled SIGTERM and exited 0');
    });

    it('refuses secrets an environment variable cannot hold: one line naming the key, never the value, no stack', async () => {
      await d.owner.json(['apps', 'create', 'odd']);
      const odd = (env: string, ...args: string[]) => ['run', '--app', 'odd', '--env', env, ...args];
      const importJson = async (env: string, secrets: Record<string, string>) => {
        const file = path.join(d.dir, `odd-${env}.json`);
        await fs.writeFile(file, JSON.stringify(secrets));
        await d.owner.json(['secrets', 'import', file, '--format', 'json', '--app', 'odd', '--env', env, '--overwrite']);
      };
      const noLeak = (result: { stderr: string; stdout: string }, ...parts: string[]) => {
        for (const part of parts) assert.ok(!result.stderr.includes(part) && !result.stdout.includes(part), `the output does not contain ${part}`);
        assert.doesNotMatch(result.stderr, /\n\s+at |TypeError|ERR_|unexpected error/, 'no stack trace');
      };

      await importJson('development', { NULVAL: 'secret-left\u0000secret-right', FINE: 'fine' });
      const nul = await d.owner.run(odd('development', '--', NODE, '-e', 'console.log("ran")'));
      assert.equal(nul.code, 1, nul.stderr);
      assert.match(nul.stderr, /^coffer: cannot start .*: the value of NULVAL contains a NUL byte/m);
      assert.equal(nul.stdout, '', 'the command did not run');
      noLeak(nul, 'secret-left', 'secret-right');

      const big = 'B'.repeat(200 * 1024);
      await importJson('staging', { BIGVAL: big });
      const e2big = await d.owner.run(odd('staging', '--', NODE, '-e', 'console.log("ran")'));
      assert.equal(e2big.code, 1, e2big.stderr);
      assert.match(e2big.stderr, /^coffer: cannot start .*: the value of BIGVAL is longer than one environment variable can be/m);
      noLeak(e2big, 'BBBBBBBB');

      const empty = await d.owner.run(run('--', ''));
      assert.equal(empty.code, 127, empty.stderr);
      assert.match(empty.stderr, /^coffer: command not found: ''$/m);
      noLeak(empty, 'db.internal');
    });

    it('skips secrets whose names are not environment variable names, with one warning line; export keeps them', async () => {
      await d.owner.json(['apps', 'create', 'names']);
      const file = path.join(d.dir, 'names.json');
      const odd = ['MY KEY', '1ST', 'WITH-DASH', 'A.B', 'É', 'ESC\u001bNAME', 'NL\nX'];
      await fs.writeFile(file, JSON.stringify({ GOOD_ONE: 'good', _UNDER: 'under', ...Object.fromEntries(odd.map((k) => [k, `value of ${k}`])) }));
      await d.owner.json(['secrets', 'import', file, '--format', 'json', '--app', 'names', '--env', 'development']);

      const result = await d.owner.run(['run', '--app', 'names', '--env', 'development', '--', NODE, '-e', PRINT_ENV, 'GOOD_ONE', '_UNDER', ...odd]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { GOOD_ONE: 'good', _UNDER: 'under', ...Object.fromEntries(odd.map((k) => [k, null])) });
      const lines = result.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /^coffer: warning: skipped 7 secrets whose names are not environment variable names \(letters, digits and _, not starting with a digit\): /);
      for (const shown of ["'MY KEY'", "'1ST'", "'WITH-DASH'", "'A.B'", "'É'", "'ESC\\x1bNAME'", "'NL\\x0aX'"]) assert.ok(lines[0]!.includes(shown), `${shown} in ${lines[0]}`);
      assert.ok(!result.stderr.includes('\u001b') && !result.stderr.includes('value of'), 'no raw control character, no value');

      const exported = await d.owner.run(['secrets', 'export', '--format', 'json', '--app', 'names', '--env', 'development']);
      assert.equal(exported.code, 0, exported.stderr);
      assert.deepEqual(Object.keys(JSON.parse(exported.rawStdout)).sort(), ['GOOD_ONE', '_UNDER', ...odd].sort());
    });

    it('--watch keeps the child when the new secrets cannot be passed; a failed restart ends the run', async () => {
      await d.owner.json(['apps', 'create', 'watched']);
      const at = (...args: string[]) => [...args, '--app', 'watched', '--env', 'development'];
      await d.owner.json(at('secrets', 'set', 'WATCHED=one'));
      const stay = STAY("process.on('SIGTERM', () => { console.log('stopping ' + process.env.WATCHED); process.exit(5); })");
      const child = d.owner.spawn(['run', '--watch', '--interval', '1', ...at(), '--', NODE, '-e', stay]);
      try {
        await child.waitFor(/^ready one$/, 60_000);
        const file = path.join(d.dir, 'watched.json');
        await fs.writeFile(file, JSON.stringify({ WATCHED: 'nul-left\u0000nul-right' }));
        await d.owner.json(['secrets', 'import', file, '--format', 'json', '--overwrite', ...at()]);
        await child.waitFor(/coffer: the secrets of .* changed, but the value of WATCHED contains a NUL byte/, 60_000);
        assert.ok(!child.stdout.some((l) => l.startsWith('stopping')), 'the old child was not stopped');
        assert.ok(!child.stderr.join('\n').includes('nul-left'), 'the value is not printed');
        child.child.kill('SIGTERM');
        assert.equal(await child.exited, 5, 'SIGTERM reached the child that kept running');
        assert.ok(child.stdout.includes('stopping one'));
      } finally {
        child.child.kill('SIGKILL');
      }

      // A restart that cannot start the command (here: it was deleted) ends coffer run.
      await d.owner.json(at('secrets', 'set', 'WATCHED=one'));
      const script = path.join(d.dir, 'vanishing.sh');
      await fs.writeFile(script, '#!/bin/sh\necho "ready $WATCHED"\nexec sleep 600\n', { mode: 0o755 });
      const vanishing = d.owner.spawn(['run', '--watch', '--interval', '1', ...at(), '--', script]);
      try {
        await vanishing.waitFor(/^ready one$/, 60_000);
        await fs.rm(script);
        await d.owner.json(at('secrets', 'set', 'WATCHED=two'));
        assert.equal(await vanishing.exited, 127, vanishing.stderr.join('\n'));
        assert.match(vanishing.stderr.join('\n'), /coffer: command not found: .*vanishing\.sh/);
      } finally {
        vanishing.child.kill('SIGKILL');
      }
    });

    it('forwards SIGUSR1 to the child and does not open the Node inspector', async () => {
      const marker = path.join(d.dir, 'usr1-marker');
      const handled = `process.on('SIGUSR1', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'usr1'); console.log('child got SIGUSR1'); })`;
      const child = d.owner.spawn(run('--', NODE, '-e', STAY(handled)));
      try {
        await child.waitFor(/^ready/, 60_000);
        child.child.kill('SIGUSR1');
        await child.waitFor(/^child got SIGUSR1$/, 60_000);
        assert.equal(await fs.readFile(marker, 'utf8'), 'usr1');
        child.child.kill('SIGTERM');
        assert.equal(await child.exited, 128 + 15);
      } finally {
        child.child.kill('SIGKILL');
      }
      assert.doesNotMatch(child.stderr.join('\n'), /Debugger listening|inspector/i);
    });

    it('keeps the Node inspector closed when SIGUSR1 comes while Node is still loading the CLI', async () => {
      // A module hook holds the loading of the CLI's main module (a slow disk, made deterministic).
      const gate = await fs.mkdtemp(path.join(d.dir, 'load-gate-'));
      const hook = pathToFileURL(path.join(FIXTURES, 'slow-cli-load.js')).href;
      const child = d.owner.spawn(run('--', 'sh', '-c', 'echo "ran with $DB_HOST"'), { env: { NODE_OPTIONS: `--import=${hook}`, COFFER_TEST_LOAD_GATE: gate } });
      try {
        await eventually(async () => (await exists(path.join(gate, 'stalled'))) || undefined, 'the CLI to be held while loading');
        child.child.kill('SIGUSR1');
        await eventually(async () => (await signalPending(child.child.pid!, 'SIGUSR1')) ? undefined : true, 'SIGUSR1 to be delivered');
        await fs.writeFile(path.join(gate, 'release'), '');
        assert.equal(await child.exited, 0, child.stderr.join('\n'));
      } finally {
        child.child.kill('SIGKILL');
      }
      assert.deepEqual(child.stdout, ['ran with db.internal']);
      assert.doesNotMatch(child.stderr.join('\n'), /Debugger listening|inspector/i);
    });

    it('--interval is at most a day', async () => {
      const long = await d.owner.run(run('--watch', '--interval', '3000000', '--', NODE, '-e', 'console.log("ran")'));
      assert.equal(long.code, 1);
      assert.match(long.stderr, /^coffer: --interval 3000000 is more than 86400 seconds/m);
      assert.equal(long.stdout, '');
      assert.doesNotMatch(long.stderr, /TimeoutOverflowWarning/);
    });

    it('works with a service-account token and no stored login (CI)', async () => {
      const api = apiClient(d.server.url, `Bearer ${d.setup.token}`);
      const roles = await api.get('/v1/roles/');
      const account = await api.post('/v1/service-accounts/', { name: 'ci', role_id: roles.body.data.find((r: any) => r.name === 'Service').id });
      assert.equal(account.status, 201, account.text);
      const envs = await api.get(`/v1/environments/?app_id=${shopId}`);
      const development = envs.body.data.find((e: any) => e.name === 'Development');
      assert.equal((await api.put(`/v1/service-accounts/${account.body.id}/access/`, { apps: [{ id: shopId, environments: [development.id] }] })).status, 200);
      const token = (await d.owner.json(['tokens', 'create', '--service-account', account.body.id])).token;
      const ci = await d.owner.run(['run', '--', NODE, '-e', PRINT_ENV, 'DB_URL'], {
        cwd: d.dir,
        env: { XDG_CONFIG_HOME: path.join(d.dir, 'ci-config'), COFFER_URL: d.server.url, COFFER_TOKEN: token, COFFER_APP: shopId, COFFER_ENV: 'development' },
      });
      assert.equal(ci.code, 0, ci.stderr);
      assert.deepEqual(JSON.parse(ci.stdout), { DB_URL: 'postgres://db.internal/shop' });
      const denied = await d.owner.run(['run', '--env', 'production', '--', NODE, '-e', '0'], {
        cwd: d.dir,
        env: { XDG_CONFIG_HOME: path.join(d.dir, 'ci-config'), COFFER_URL: d.server.url, COFFER_TOKEN: token, COFFER_APP: 'shop' },
      });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /^coffer: no environment 'production' in shop is accessible with this token$/m);
    });

    it('--fallback: a cache that cannot be written is a warning, and the command runs with the values fetched', async () => {
      const notADirectory = path.join(d.dir, 'cache-is-a-file');
      await fs.writeFile(notADirectory, '');
      const result = await d.owner.run(run('--fallback', '--', NODE, '-e', PRINT_ENV, 'DB_URL'), { env: { XDG_CACHE_HOME: notADirectory } });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { DB_URL: 'postgres://db.internal/shop' });
      assert.match(result.stderr, /^coffer: warning: could not keep the offline copy for --fallback \(.*\); this run goes on with the values just fetched$/m);
    });

    it('--fallback: an encrypted cache, used only when the server cannot be reached', async () => {
      const values = ['db.internal', 'postgres://db.internal/shop', 'line one', 'ünïcode'];
      const online = await d.owner.run(run('--fallback', '--', NODE, '-e', PRINT_ENV, 'DB_URL', 'MULTI'));
      assert.equal(online.code, 0, online.stderr);
      assert.equal(online.stderr, '', 'nothing said while the server answers');

      const dir = path.join(d.owner.cacheHome, 'coffer', 'offline');
      assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
      const files = await fs.readdir(dir);
      assert.ok(files.length >= 1, 'a cache file was written');
      for (const file of files) {
        assert.equal((await fs.stat(path.join(dir, file))).mode & 0o777, 0o600);
        const text = await fs.readFile(path.join(dir, file), 'utf8');
        for (const plain of [...values, 'DB_HOST', 'DB_URL', 'MULTI', 'shop', 'Development', d.setup.token]) assert.ok(!text.includes(plain), `the cache file does not contain ${plain}`);
        assert.match(text, /^\{"format":"coffer-offline-cache","version":1,"nonce":"[0-9a-f]{48}","ciphertext":"[A-Za-z0-9+/=]+"\}\n$/);
      }

      await d.stop();
      const offline = await d.owner.run(run('--', NODE, '-e', PRINT_ENV, 'DB_URL'));
      assert.equal(offline.code, 1);
      assert.match(offline.stderr, /^coffer: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused$/m);
      assert.match(offline.stderr, /with --fallback, coffer run uses the copy an earlier `coffer run --fallback` cached/);
      assert.equal(offline.stdout, '', 'the command did not run');

      const fallback = await d.owner.run(run('--fallback', '--', NODE, '-e', PRINT_ENV, 'DB_URL', 'MULTI'));
      assert.equal(fallback.code, 0, fallback.stderr);
      assert.deepEqual(JSON.parse(fallback.stdout), { DB_URL: 'postgres://db.internal/shop', MULTI: 'line one\nline "two" = ünïcode' });
      assert.match(fallback.stderr, /^coffer: cannot reach .*; using the copy of shop \/ Development cached \d+ s ago/m);
      // The app's id finds the same copy.
      const byId = await d.owner.run(['run', '--fallback', '--app', shopId, '--env', 'Development', '--', NODE, '-e', PRINT_ENV, 'DB_HOST']);
      assert.deepEqual(JSON.parse(byId.stdout), { DB_HOST: 'db.internal' });

      const uncached = await d.owner.run(['run', '--fallback', '--app', 'shop', '--env', 'staging', '--', NODE, '-e', '0']);
      assert.equal(uncached.code, 1);
      assert.match(uncached.stderr, /^coffer: cannot reach .*, and there is no usable cached copy of shop \/ staging$/m);
      const otherToken = await d.owner.run(run('--fallback', '--', NODE, '-e', '0'), {
        env: { XDG_CONFIG_HOME: path.join(d.dir, 'nobody'), COFFER_URL: d.server.url, COFFER_TOKEN: d.setup.token.replace(/[0-9a-f]{64}$/, 'f'.repeat(64)) },
      });
      assert.equal(otherToken.code, 1);
      assert.match(otherToken.stderr, /there is no usable cached copy/);
    });
  });
}
