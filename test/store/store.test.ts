// The store on both engines: migrations, persistence, durability under SIGKILL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { openStore, DataDirLockedError } from '../../src/store/connect.js';
import { createOwner } from '../helpers/fixtures.js';
import { MIGRATION_TABLE, migrateToLatest, migrations } from '../../src/store/migrator.js';
import { FIXTURES, spawnCoffer, spawnNode, waitForHealth } from '../helpers/process.js';
import { freePort } from '../helpers/ports.js';
import { STORE_TARGETS, TEST_DATABASE_URL, createEmptyPostgresDatabase } from '../helpers/stores.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-test-'));
}

/** An in-process server's configuration on the embedded store in `dataDir`, its key file beside it. */
function embeddedConfig(dataDir: string) {
  return loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', COFFER_DATA_DIR: dataDir, DATABASE_URL: '', COFFER_MASTER_KEY: '' });
}

/** `coffer serve` on `dataDir`, which must refuse to start: exit code 1 (killed after 30 s if it served instead). */
async function serveRefused(dataDir: string, env: Record<string, string>): Promise<{ stdout: string[]; stderr: string[] }> {
  const run = spawnCoffer(['serve'], { PORT: String(await freePort()), COFFER_DATA_DIR: dataDir, DATABASE_URL: '', COFFER_MASTER_KEY: '', LOG_LEVEL: 'warn', ...env });
  const started = setTimeout(() => run.child.kill('SIGKILL'), 30_000); // it served: fail, not hang
  const code = await run.exited;
  clearTimeout(started);
  assert.equal(code, 1, run.stderr.join('\n'));
  return run;
}

for (const target of STORE_TARGETS) {
  describe(`store on ${target.kind}`, () => {
    it('applies every migration, and migrating again changes nothing', async () => {
      const store = await target.open();
      try {
        const applied = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(store.db);
        assert.deepEqual(applied.rows.map((r) => r.name), Object.keys(migrations).sort());
        const again = await migrateToLatest(store.db);
        assert.deepEqual(again.results, []);
      } finally {
        await store.close();
      }
    });

    it('keeps every acknowledged write when the writer is killed with SIGKILL', async () => {
      const dataDir = tempDir();
      const env: Record<string, string> = { WRITE_PREFIX: `crash-${randomBytes(4).toString('hex')}` };
      if (target.kind === 'postgres') env.DATABASE_URL = TEST_DATABASE_URL!;
      else env.COFFER_DATA_DIR = dataDir;
      const writer = spawnNode(path.join(FIXTURES, 'write-stream.js'), [], env);
      await writer.waitFor(/^ready$/);
      await writer.waitFor(new RegExp(`^${env.WRITE_PREFIX}-40-`));
      writer.child.kill('SIGKILL');
      await writer.exited;
      const acknowledged = writer.stdout.filter((line) => line.startsWith(env.WRITE_PREFIX!));
      assert.ok(acknowledged.length >= 40);
      const store = target.kind === 'postgres' ? await target.open() : await openStore({ dataDir });
      try {
        const rows = await store.db.selectFrom('server_state').select('key').where('key', 'like', `${env.WRITE_PREFIX}-%`).execute();
        const stored = new Set(rows.map((r) => r.key));
        for (const key of acknowledged) assert.ok(stored.has(key), `acknowledged write ${key} was lost`);
      } finally {
        await store.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}

describe('embedded store directory', () => {
  it('persists data across a restart and admits one process at a time', async () => {
    const dataDir = tempDir();
    try {
      const first = await openStore({ dataDir });
      await first.db.insertInto('server_state').values({ key: 'persist-me', value: '42', updated_at: new Date() }).execute();
      await assert.rejects(openStore({ dataDir }), DataDirLockedError);
      await first.close();
      const second = await openStore({ dataDir });
      const row = await second.db.selectFrom('server_state').select('value').where('key', '=', 'persist-me').executeTakeFirst();
      assert.equal(row?.value, '42');
      await second.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('coffer serve', () => {
  it('starts on a new embedded data directory (made 0700), generates a 0600 master key, and keeps it across restarts', async () => {
    const dataDir = tempDir();
    fs.chmodSync(dataDir, 0o755); // as a plain mkdir, systemd's StateDirectory= or a volume leave it
    try {
      for (let run = 0; run < 2; run++) {
        const port = await freePort();
        const server = spawnCoffer(['serve'], { PORT: String(port), COFFER_DATA_DIR: dataDir, DATABASE_URL: '', COFFER_MASTER_KEY: '', LOG_LEVEL: 'warn' });
        await waitForHealth(`http://127.0.0.1:${port}`);
        const keyFile = path.join(dataDir, 'master.key');
        assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
        assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700, 'the store inside is closed to other users');
        const key = fs.readFileSync(keyFile, 'utf8');
        assert.match(key, /^[0-9a-f]{64}\n$/);
        // Where the key is, said at every start until the first organisation exists: the start that
        // generated it may have been stopped before it said so.
        await server.waitFor(run === 0 ? /generated a new master key; back it up/ : /the master key of this store is in this file; back it up/);
        server.child.kill('SIGTERM');
        assert.equal(await server.exited, 0);
        assert.equal(fs.readFileSync(keyFile, 'utf8'), key);
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a store its master key does not open, instead of answering 500 later', async () => {
    const dataDir = tempDir();
    try {
      const first = await startServer(embeddedConfig(dataDir));
      await createOwner(first.domain); // an organisation: its audit key is sealed under the master key
      await first.close();
      const keyFile = path.join(dataDir, 'master.key');
      const key = fs.readFileSync(keyFile, 'utf8').trim();
      const refusedWith = async (env: Record<string, string>) => {
        const run = await serveRefused(dataDir, env);
        return [...run.stdout, ...run.stderr].filter(Boolean).join('\n'); // the log is on stdout
      };
      const wrong = randomBytes(32).toString('hex');
      assert.match(await refusedWith({ COFFER_MASTER_KEY: wrong }), /^coffer: invalid configuration: COFFER_MASTER_KEY does not open this store \(its data is sealed under master key [0-9a-f]+\)/m);
      const otherFile = path.join(dataDir, 'other.key');
      fs.writeFileSync(otherFile, `${wrong}\n`, { mode: 0o600 });
      assert.match(await refusedWith({ COFFER_MASTER_KEY_FILE: otherFile }), /COFFER_MASTER_KEY_FILE names .*other\.key, which holds no key that opens this store/);
      fs.rmSync(keyFile);
      const missing = await refusedWith({});
      assert.match(missing, /COFFER_MASTER_KEY is not set and .*master\.key did not exist, but this store already holds data/);
      assert.doesNotMatch(missing, /generated a new master key/, 'no word of a key it does not keep');
      assert.equal(fs.existsSync(keyFile), false, 'the key it generated is not left beside the data');
      fs.writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
      const port = await freePort();
      const server = spawnCoffer(['serve'], { PORT: String(port), COFFER_DATA_DIR: dataDir, DATABASE_URL: '', COFFER_MASTER_KEY: '', LOG_LEVEL: 'warn' });
      await waitForHealth(`http://127.0.0.1:${port}`);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a damaged data directory with one line saying what is damaged and what to do, not a stack trace', async () => {
    const dataDir = tempDir();
    try {
      await (await startServer(embeddedConfig(dataDir))).close();
      const refusal = async () => {
        const run = await serveRefused(dataDir, {});
        const lines = run.stderr.filter((line) => line.startsWith('coffer:') || /^\s+at /.test(line));
        assert.equal(lines.length, 1, run.stderr.join('\n'));
        return lines[0]!;
      };
      const journal = path.join(dataDir, 'audit.journal');
      fs.writeFileSync(journal, 'overwritten\tbytes\n');
      assert.match(await refusal(), /^coffer: the audit journal .*audit\.journal is damaged: line 1 is not an audit event\. .*move it out of the data directory/);
      assert.equal(fs.readFileSync(journal, 'utf8'), 'overwritten\tbytes\n', 'left for the operator');
      fs.rmSync(journal);
      const wal = path.join(dataDir, 'pgdata', 'pg_wal');
      for (const entry of fs.readdirSync(wal)) fs.rmSync(path.join(wal, entry), { recursive: true });
      assert.match(await refusal(), /^coffer: the embedded store in .* could not be opened \(.*\); its files are damaged or incomplete\. Restore it from a backup/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('rejects a bad configuration value with one line naming the variable and exit code 1', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'abc' }, /^coffer: invalid configuration: PORT must be a number \(got "abc"\)$/],
      [{ PORT: '70000' }, /^coffer: invalid configuration: PORT is out of range/],
      [{ LOG_LEVEL: 'loud' }, /^coffer: invalid configuration: LOG_LEVEL must be one of fatal, error/],
      [{ RATE_LIMIT_DEFAULT: 'ten per minute' }, /^coffer: invalid configuration: RATE_LIMIT_DEFAULT must look like 100\/minute/],
      // Keys, codes and tokens are not echoed (the line goes to a terminal or a log): a key with one
      // character too many would have been printed whole.
      [{ COFFER_MASTER_KEY: `${'ab'.repeat(32)}c` }, /^coffer: invalid configuration: COFFER_MASTER_KEY must be 64 hexadecimal characters .* \(got 65 characters, not shown\)$/],
      [{ COFFER_SETUP_CODE: 'short-code' }, /^coffer: invalid configuration: COFFER_SETUP_CODE must be at least 12 characters \(got 10 characters, not shown\)$/],
      [{ COFFER_METRICS_TOKEN: 'metrics token with spaces' }, /^coffer: invalid configuration: COFFER_METRICS_TOKEN must be printable ASCII without spaces .* \(got 25 characters, not shown\)$/],
      // URLs without their password.
      [{ DATABASE_URL: 'mysql://app:hunter2-db@db.internal/x' }, /^coffer: invalid configuration: DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got "mysql:\/\/app:\*\*\*@db.internal\/x"\)$/],
      [{ REDIS_URL: 'http://:hunter2-redis@cache:6379' }, /^coffer: invalid configuration: REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL \(got "http:\/\/:\*\*\*@cache:6379\/"\)$/],
      [{ DATABASE_URL: 'postgres://localhost/x', COFFER_MASTER_KEY: '' }, /^coffer: invalid configuration: COFFER_MASTER_KEY is required with DATABASE_URL/],
      [{ REDIS_URL: 'http://x' }, /^coffer: invalid configuration: REDIS_URL must be a redis/],
      [{ ALLOWED_ORIGINS: 'not a url' }, /^coffer: invalid configuration: ALLOWED_ORIGINS /],
      [{ HEADERS_TIMEOUT: '1.5' }, /^coffer: invalid configuration: HEADERS_TIMEOUT must be a whole number \(got "1.5"\)$/],
      // Found only when used: an address that does not resolve, a database that cannot be reached.
      [{ HOST: 'not_a_host', PORT: '0' }, /^coffer: cannot listen on not_a_host:0: HOST "not_a_host" does not resolve to an address/],
      [
        { DATABASE_URL: 'postgres://app:hunter2-db@127.0.0.1:1/nowhere', COFFER_MASTER_KEY: 'ab'.repeat(32) },
        /^coffer: cannot connect to the PostgreSQL database DATABASE_URL names \(127\.0\.0\.1:1\/nowhere\): connect ECONNREFUSED 127\.0\.0\.1:1; check DATABASE_URL/,
      ],
    ];
    for (const [env, expected] of cases) {
      const run = spawnCoffer(['serve'], { COFFER_DATA_DIR: tempDir(), DATABASE_URL: '', COFFER_MASTER_KEY: '', ...env });
      assert.equal(await run.exited, 1, JSON.stringify(env));
      const lines = run.stderr.filter(Boolean);
      assert.equal(lines.length, 1, `${JSON.stringify(env)}: ${lines.join('\n')}`);
      assert.match(lines[0]!, expected);
    }
  });

  it('runs on PostgreSQL and migrates once when two servers start at the same moment', { skip: !TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async () => {
    const database = await createEmptyPostgresDatabase();
    const servers: ReturnType<typeof spawnCoffer>[] = [];
    try {
      const masterKey = randomBytes(32).toString('hex');
      const ports = [await freePort(), await freePort()];
      for (const port of ports) {
        servers.push(spawnCoffer(['serve'], { PORT: String(port), DATABASE_URL: database.url, COFFER_MASTER_KEY: masterKey, LOG_LEVEL: 'warn' }));
      }
      await Promise.all(ports.map((port) => waitForHealth(`http://127.0.0.1:${port}`)));
      const store = await openStore({ databaseUrl: database.url, migrate: false });
      try {
        const rows = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(store.db);
        assert.deepEqual(rows.rows.map((r) => r.name).sort(), Object.keys(migrations).sort());
      } finally {
        await store.close();
      }
      for (const server of servers) server.child.kill('SIGTERM');
      for (const server of servers) assert.equal(await server.exited, 0);
    } finally {
      for (const server of servers) server.child.kill('SIGKILL');
      await database.drop();
    }
  });
});
