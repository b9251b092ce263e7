// `coffer admin backup` and `coffer admin restore` with the real binary, on both stores: a snapshot
// of a live store (through the running embedded server's admin socket, or one REPEATABLE READ
// transaction on PostgreSQL) holds only ciphertext and hashes and not the master key; restored into
// an empty store and served with the same master key, everything reads back (SSE and E2EE secrets,
// personal and service-account tokens, password logins, the audit chain). Restore refuses the wrong
// key, a store that is not empty (unless --force) and a running embedded server.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHex, masterKeyId } from '../../src/crypto/index.js';
import { migrations } from '../../src/store/migrator.js';
import { apiClient } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';
import { assertNotStored } from '../http/console/accounts.js';
import { OWNER_EMAIL, OWNER_PASSWORD, startDeployment, type Deployment } from './fixture.js';

const NODE = process.execPath;
const PRINT_ENV = `console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((k) => [k, process.env[k] ?? null]))))`;
const SECRET_VALUES = ['sse-backup-value-1', 'line one of a backed-up value', 'e2ee-backup-value-2', 'backup-ref-target'];
const SECRET_NAMES = ['BACKUP_SSE_KEY', 'BACKUP_E2EE_KEY', 'BACKUP_MULTI'];

/** A process id no process has now. */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
}

/** The backup text with its lines edited and its end marker (row count, checksum) made to match again. */
function rewritten(text: string, edit: (lines: string[]) => string[]): string {
  const lines = edit(text.trimEnd().split('\n').slice(0, -1));
  const body = lines.map((line) => `${line}\n`).join('');
  return `${body}${JSON.stringify({ end: { rows: lines.length - 1, sha256: createHash('sha256').update(body).digest('hex') } })}\n`;
}

for (const target of STORE_TARGETS) {
  describe(`coffer admin backup and restore on ${target.kind}`, { timeout: 400_000 }, () => {
    const masterKey = randomBytes(32).toString('hex');
    let scratch: string;
    let d: Deployment;
    let restored: TestServer | undefined;
    let second: { url: string; drop: () => Promise<void> } | undefined;
    let serviceToken: string;
    let before_: { shop: any; vault: any };
    let backupFile: string;
    /** The server variables of the source store and of the empty target store. */
    let sourceEnv: Record<string, string>;
    let targetEnv: Record<string, string>;

    before(async () => {
      scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-backup-'));
      const sourceDir = path.join(scratch, 'source');
      d = await startDeployment(target.kind, { env: { COFFER_MASTER_KEY: masterKey }, ...(target.kind === 'pglite' ? { dataDir: sourceDir } : {}) });
      sourceEnv = target.kind === 'pglite' ? { COFFER_DATA_DIR: sourceDir, DATABASE_URL: '', COFFER_MASTER_KEY: '' } : { DATABASE_URL: d.databaseUrl!, COFFER_MASTER_KEY: masterKey };
      if (target.kind === 'pglite') targetEnv = { COFFER_DATA_DIR: path.join(scratch, 'target'), DATABASE_URL: '', COFFER_MASTER_KEY: masterKey };
      else {
        second = await createEmptyPostgresDatabase();
        targetEnv = { DATABASE_URL: second.url, COFFER_MASTER_KEY: masterKey };
      }
      backupFile = path.join(scratch, 'coffer.backup');

      // Something of everything: an SSE app with references, paths, tags and a multi-line value, an
      // E2EE app, a personal override, a service account with a token.
      const shop = await d.owner.json(['apps', 'create', 'shop']);
      await d.owner.json(['secrets', 'set', 'BACKUP_SSE_KEY=sse-backup-value-1', 'REF=${BACKUP_SSE_KEY}+backup-ref-target', '--app', 'shop', '--env', 'production', '--tags', 'prod']);
      await d.owner.json(['secrets', 'set', 'BACKUP_MULTI', '--app', 'shop', '--env', 'production', '--path', '/deep/er'], { input: 'line one of a backed-up value\nline two' });
      await d.owner.json(['apps', 'create', 'vault', '--e2ee']);
      await d.owner.json(['secrets', 'set', 'BACKUP_E2EE_KEY=e2ee-backup-value-2', '--app', 'vault', '--env', 'development']);
      const api = apiClient(d.server.url, `Bearer ${d.setup.token}`);
      const roles = await api.get('/v1/roles/');
      const account = await api.post('/v1/service-accounts/', { name: 'deployer', role_id: roles.body.data.find((r: any) => r.name === 'Service').id });
      const envs = await api.get(`/v1/environments/?app_id=${shop.id}`);
      await api.put(`/v1/service-accounts/${account.body.id}/access/`, { apps: [{ id: shop.id, environments: [envs.body.data.find((e: any) => e.name === 'Production').id] }] });
      serviceToken = (await d.owner.json(['tokens', 'create', '--service-account', account.body.id])).token;
      before_ = {
        shop: JSON.parse((await d.owner.run(['secrets', 'list', '--app', 'shop', '--env', 'production', '--show', '--json'])).stdout),
        vault: JSON.parse((await d.owner.run(['secrets', 'list', '--app', 'vault', '--env', 'development', '--show', '--json'])).stdout),
      };
    });
    after(async () => {
      await restored?.close();
      await d.close();
      await second?.drop();
      await fs.rm(scratch, { recursive: true, force: true });
    });

    it('writes a snapshot with ciphertext and hashes only, and says loudly that the master key is not in it', async () => {
      // What a backup killed mid-write leaves (its process gone) is removed by the next one.
      const abandoned = `${backupFile}.${deadPid()}.tmp`;
      await fs.writeFile(abandoned, 'half a backup');
      const result = await d.owner.run(['admin', 'backup', backupFile, '--json'], { env: sourceEnv });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual((await fs.readdir(scratch)).filter((name) => name.endsWith('.tmp')), [], 'the abandoned temporary file was removed');
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.masterKeyIncluded, false);
      assert.deepEqual(summary.masterKeyIds, [masterKeyId(fromHex(masterKey, 'master key', 32))]);
      assert.ok(summary.rows > 20 && summary.tables >= 20, JSON.stringify(summary));
      assert.match(result.stderr, /This backup does NOT contain the master key/);
      assert.equal((await fs.stat(backupFile)).mode & 0o777, 0o600);

      const text = await fs.readFile(backupFile, 'utf8');
      const lines = text.trimEnd().split('\n');
      const header = JSON.parse(lines[0]!);
      assert.deepEqual([header.format, header.version, header.masterKeyIncluded], ['coffer-backup', 1, false]);
      assert.match(header.notice, /does NOT contain the master key/);
      assert.deepEqual(header.migrations, Object.keys(migrations).sort(), 'every applied migration is named');
      const tables = header.tables.map((t: any) => t.name);
      for (const table of ['organisations', 'users', 'members', 'user_tokens', 'service_account_tokens', 'apps', 'environments', 'environment_keys', 'server_environment_keys', 'secrets', 'events', 'audit_heads']) {
        assert.ok(tables.includes(table), `${table} is backed up`);
      }
      assert.ok(tables.indexOf('organisations') < tables.indexOf('apps') && tables.indexOf('apps') < tables.indexOf('secrets'), 'foreign-key order');
      assert.match(JSON.parse(lines.at(-1)!).end.sha256, /^[0-9a-f]{64}$/);
      // Ciphertext and hashes only: no name, value, token, password, phrase or key in clear.
      assertNotStored(text, [
        ...SECRET_VALUES,
        ...SECRET_NAMES,
        d.setup.token,
        d.setup.token.split(':')[2]!,
        serviceToken,
        serviceToken.split(':')[2]!,
        OWNER_PASSWORD,
        d.setup.recoveryPhrase,
        masterKey,
      ]);
      assert.match(text, /"ph:v1:[0-9a-f]{64}:/);
      assert.match(text, /"cfr1:[0-9a-f]{16}:env-keys:/);

      const exists = await d.owner.run(['admin', 'backup', backupFile], { env: sourceEnv });
      assert.equal(exists.code, 1);
      assert.match(exists.stderr, /^coffer: .*coffer\.backup already exists$/m);
      // A write after the snapshot is not in it.
      await d.owner.json(['secrets', 'set', 'AFTER_BACKUP=1', '--app', 'shop', '--env', 'production']);
    });

    it('says in one line that a backup could not be written, leaving no file behind', async () => {
      const missing = path.join(scratch, 'missing-directory', 'coffer.backup');
      const result = await d.owner.run(['admin', 'backup', missing], { env: sourceEnv });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /could not write .*coffer\.backup: its directory does not exist/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      const unwritable = path.join(scratch, 'unwritable');
      await fs.mkdir(unwritable);
      const asFile = path.join(unwritable, 'coffer.backup');
      await fs.mkdir(asFile); // a directory where the file should go: the rename fails after the data was written
      const renamed = await d.owner.run(['admin', 'backup', asFile, '--force'], { env: sourceEnv });
      assert.equal(renamed.code, 1, renamed.stderr);
      assert.match(renamed.stderr, /could not write/);
      assert.deepEqual(await fs.readdir(unwritable), ['coffer.backup'], 'the temporary file was removed');
    });

    it('refuses the wrong master key and a damaged file, writing nothing', async () => {
      const wrongKey = await d.owner.run(['admin', 'restore', backupFile], { env: { ...targetEnv, COFFER_MASTER_KEY: randomBytes(32).toString('hex') } });
      assert.equal(wrongKey.code, 1);
      assert.match(wrongKey.stderr, /^coffer: the configured master key is not the one the backup was sealed under \(it needs key id [0-9a-f]{16}\)$/m);
      const damaged = path.join(scratch, 'damaged.backup');
      const text = await fs.readFile(backupFile, 'utf8');
      await fs.writeFile(damaged, text.replace('"name":"shop"', '"name":"shoq"'));
      const refused = await d.owner.run(['admin', 'restore', damaged], { env: targetEnv });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^coffer: cannot restore .*damaged\.backup: its checksum does not match; the file is damaged or was altered$/m);
      const truncated = path.join(scratch, 'truncated.backup');
      await fs.writeFile(truncated, text.split('\n').slice(0, 5).join('\n'));
      assert.match((await d.owner.run(['admin', 'restore', truncated], { env: targetEnv })).stderr, /it has no end marker; the file is truncated/);
      const notBackup = path.join(scratch, 'not.backup');
      await fs.writeFile(notBackup, 'KEY=value\n');
      assert.match((await d.owner.run(['admin', 'restore', notBackup], { env: targetEnv })).stderr, /it is not a Coffer backup/);
      const directory = await d.owner.run(['admin', 'restore', scratch], { env: targetEnv });
      assert.equal(directory.code, 1);
      assert.match(directory.stderr, /^coffer: .* is a directory, not a backup file$/m);
      assert.doesNotMatch(directory.stderr, /\n\s+at /, 'no stack trace');

      // A file whose checksum matches but whose rows the store refuses (an environment of no app):
      // one line, and nothing is kept (the next test restores into this same store, expecting it empty).
      const orphan = path.join(scratch, 'orphan.backup');
      await fs.writeFile(orphan, rewritten(text, (lines) => lines.map((line) => (line.startsWith('{"table":"environments"') ? line.replace(/"app_id":"[0-9a-f-]+"/, `"app_id":"${randomUUID()}"`) : line))));
      const refusedRows = await d.owner.run(['admin', 'restore', orphan], { env: targetEnv });
      assert.equal(refusedRows.code, 1);
      assert.match(refusedRows.stderr, /^coffer: cannot restore .*orphan\.backup: the store refuses its rows \(.*foreign key.*\); nothing was restored$/m);
      assert.doesNotMatch(refusedRows.stderr, /\n\s+at /, 'no stack trace');
    });

    // A backup of an earlier version (fewer migrations; the later ones changed no table or column)
    // is restored into a new store by bringing that store to the backup's schema first.
    it('restores a backup made at an earlier schema into a new store', async () => {
      const text = await fs.readFile(backupFile, 'utf8');
      const older = path.join(scratch, 'older.backup');
      const first = Object.keys(migrations).sort()[0]!;
      // As the first schema wrote it: without the columns later migrations added.
      const later = { users: ['credentials_changed_at'] } as Record<string, string[]>;
      const withoutLater = (table: string, fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).filter(([name]) => !later[table]?.includes(name)));
      await fs.writeFile(
        older,
        rewritten(text, ([header, ...rows]) => {
          const parsed = JSON.parse(header!);
          const tables = parsed.tables.map((t: { name: string; columns: Array<{ name: string }> }) => ({ ...t, columns: t.columns.filter((c) => !later[t.name]?.includes(c.name)) }));
          const oldRows = rows.map((line) => {
            const { table, row } = JSON.parse(line);
            return JSON.stringify({ table, row: withoutLater(table, row) });
          });
          return [JSON.stringify({ ...parsed, migrations: [first], tables }), ...oldRows];
        }),
      );
      const fresh = target.kind === 'pglite' ? undefined : await createEmptyPostgresDatabase();
      const env = fresh ? { DATABASE_URL: fresh.url, COFFER_MASTER_KEY: masterKey } : { COFFER_DATA_DIR: path.join(scratch, 'older-target'), DATABASE_URL: '', COFFER_MASTER_KEY: masterKey };
      try {
        const result = await d.owner.run(['admin', 'restore', older, '--json'], { env });
        assert.equal(result.code, 0, result.stderr);
        const audit = await d.owner.run(['admin', 'verify-audit', '--json'], { env });
        assert.equal(audit.code, 0, audit.stderr);
        assert.equal(JSON.parse(audit.stdout).intact, true);
      } finally {
        await fresh?.drop();
      }
    });

    it('restores into an empty store; served with the same master key, everything reads back', async () => {
      const result = await d.owner.run(['admin', 'restore', backupFile, '--json'], { env: targetEnv });
      assert.equal(result.code, 0, result.stderr);
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.replaced, false);
      assert.ok(summary.rows > 20, JSON.stringify(summary));

      restored = await startTestServer({
        store: target.kind,
        env: { COFFER_MASTER_KEY: masterKey },
        ...(target.kind === 'pglite' ? { dataDir: targetEnv.COFFER_DATA_DIR! } : { databaseUrl: targetEnv.DATABASE_URL! }),
      });
      assert.ok(!restored.logs.some((l) => l.includes('coffer setup')), 'the restored store has its organisation: no setup code');
      const as = { env: { COFFER_URL: restored.url, COFFER_TOKEN: d.setup.token } };
      const shop = JSON.parse((await d.owner.run(['secrets', 'list', '--app', 'shop', '--env', 'production', '--show', '--json'], as)).stdout);
      const vault = JSON.parse((await d.owner.run(['secrets', 'list', '--app', 'vault', '--env', 'development', '--show', '--json'], as)).stdout);
      const comparable = (list: any) => list.data.map((s: any) => [s.id, s.key, s.value, s.path, s.tags, s.version]);
      assert.deepEqual(comparable(shop), comparable(before_.shop));
      assert.deepEqual(comparable(vault), comparable(before_.vault));
      assert.ok(!shop.data.some((s: any) => s.key === 'AFTER_BACKUP'), 'the snapshot is from before the later write');
      assert.equal(shop.data.find((s: any) => s.key === 'REF').value, 'sse-backup-value-1+backup-ref-target');

      // The service account's token and its server-held keyring work again.
      const ci = await d.owner.run(['run', '--app', 'shop', '--env', 'production', '--', NODE, '-e', PRINT_ENV, 'BACKUP_SSE_KEY'], {
        env: { XDG_CONFIG_HOME: path.join(scratch, 'ci'), COFFER_URL: restored.url, COFFER_TOKEN: serviceToken },
      });
      assert.equal(ci.code, 0, ci.stderr);
      assert.deepEqual(JSON.parse(ci.stdout), { BACKUP_SSE_KEY: 'sse-backup-value-1' });
      // A password login (the login hash and the wrapped keyring came back too).
      const login = await d.owner.run(['login', '--url', restored.url, '--email', OWNER_EMAIL, '--password-stdin', '--json'], {
        input: OWNER_PASSWORD,
        env: { XDG_CONFIG_HOME: path.join(scratch, 'again') },
      });
      assert.equal(login.code, 0, login.stderr);
      // The audit chain is intact under the same master key.
      const audit = await d.owner.run(['admin', 'verify-audit', '--json'], { env: targetEnv });
      assert.equal(audit.code, 0, audit.stderr);
      assert.equal(JSON.parse(audit.stdout).intact, true);
    });

    it('refuses a store that is not empty unless --force, and a running embedded server', async () => {
      const busy = await d.owner.run(['admin', 'restore', backupFile], { env: targetEnv });
      assert.equal(busy.code, 1);
      if (target.kind === 'pglite') {
        assert.match(busy.stderr, /^coffer: a Coffer server is running on .*target$/m);
        await restored!.close();
        restored = undefined;
        const notEmpty = await d.owner.run(['admin', 'restore', backupFile], { env: targetEnv });
        assert.equal(notEmpty.code, 1);
        assert.match(notEmpty.stderr, /^coffer: the store is not empty: it holds 1 organisation\(s\) and 1 user\(s\); nothing was restored$/m);
      } else {
        assert.match(busy.stderr, /^coffer: the store is not empty: it holds 1 organisation\(s\) and 1 user\(s\); nothing was restored$/m);
        assert.match(busy.stderr, /pass --force/);
      }
      const forced = await d.owner.run(['admin', 'restore', backupFile, '--force', '--json'], { env: targetEnv });
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(JSON.parse(forced.stdout).replaced, true);
      restored ??= await startTestServer({ store: target.kind, env: { COFFER_MASTER_KEY: masterKey }, dataDir: targetEnv.COFFER_DATA_DIR! });
      const shop = await d.owner.run(['secrets', 'get', 'REF', '--app', 'shop', '--env', 'production'], { env: { COFFER_URL: restored.url, COFFER_TOKEN: d.setup.token } });
      assert.equal(shop.rawStdout, 'sse-backup-value-1+backup-ref-target', shop.stderr);
    });

    // The embedded store without a server: the CLI opens it itself (PostgreSQL always goes that way).
    if (target.kind === 'pglite') it('backs up a stopped embedded store by opening it', async () => {
      await d.stop();
      const file = path.join(scratch, 'offline.backup');
      const result = await d.owner.run(['admin', 'backup', file, '--json'], { env: { ...sourceEnv, COFFER_MASTER_KEY: masterKey } });
      assert.equal(result.code, 0, result.stderr);
      const text = await fs.readFile(file, 'utf8');
      assert.ok(text.includes('"table":"secrets"'));
      assertNotStored(text, [...SECRET_VALUES, ...SECRET_NAMES, d.setup.token, masterKey]);
    });
  });
}
