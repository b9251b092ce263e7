// A store whose schema is older or newer than this version's. Admin commands do not upgrade an older
// one (a backup "before the upgrade" taken with the new version must stay restorable by the old one,
// whose servers must still start); a start that is refused leaves it as it was; a start that goes
// through upgrades it and says so. A store a newer version migrated is refused in one line.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { openStore } from '../../src/store/connect.js';
import { appliedMigrations, createMigrator, migrations, StoreNewerThanCodeError } from '../../src/store/migrator.js';
import { createOwner } from '../helpers/fixtures.js';
import { spawnCoffer } from '../helpers/process.js';
import { startTestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';

const names = Object.keys(migrations);
const latest = names.at(-1)!;
const previous = names.at(-2)!;

for (const { kind } of STORE_TARGETS) {
  describe(`a store at another schema on ${kind}`, { timeout: 120_000 }, () => {
    it('admin commands refuse an older schema without upgrading it; a refused start leaves it; a start upgrades it; a newer one is refused in one line', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-schema-'));
      const database = kind === 'postgres' ? await createEmptyPostgresDatabase() : undefined;
      const masterKey = randomBytes(32).toString('hex');
      const env: Record<string, string> = database
        ? { DATABASE_URL: database.url, COFFER_MASTER_KEY: masterKey, COFFER_DATA_DIR: dataDir }
        : { DATABASE_URL: '', COFFER_MASTER_KEY: masterKey, COFFER_DATA_DIR: dataDir };
      const withStore = async <T>(work: (db: Parameters<typeof appliedMigrations>[0]) => Promise<T>): Promise<T> => {
        const store = await openStore({ databaseUrl: database?.url, dataDir, migrate: false, maintenance: false });
        try {
          return await work(store.db);
        } finally {
          await store.close();
        }
      };
      const admin = async (...args: string[]) => {
        const run = spawnCoffer(['admin', ...args], { ...env, LOG_LEVEL: 'warn' });
        const code = await run.exited;
        return { code, stderr: run.stderr.join('\n') };
      };
      try {
        const first = await startServer(loadConfig({ ...env, PORT: '0', LOG_LEVEL: 'warn' }));
        await createOwner(first.domain);
        await first.close();
        // The store as the version before this one left it.
        await withStore(async (db) => {
          const down = await createMigrator(db).migrateTo(previous);
          assert.equal(down.error, undefined);
        });
        assert.equal((await withStore(appliedMigrations)).at(-1), previous);

        const file = path.join(dataDir, 'before-upgrade.backup');
        for (const args of [['backup', file], ['verify-audit']]) {
          const refused = await admin(...args);
          assert.equal(refused.code, 1, refused.stderr);
          assert.match(refused.stderr, new RegExp(`^coffer: the store is at an older schema \\(${previous}\\) than this Coffer \\(${latest}\\), and ${args[0]} does not upgrade it$`, 'm'));
          assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
        }
        assert.equal(fs.existsSync(file), false);
        assert.equal((await withStore(appliedMigrations)).at(-1), previous, 'not upgraded by an admin command');

        if (kind === 'pglite') {
          // A start refused for its key (checked before migrating) leaves the schema as it was.
          await assert.rejects(startServer(loadConfig({ ...env, COFFER_MASTER_KEY: randomBytes(32).toString('hex'), PORT: '0', LOG_LEVEL: 'warn' })), /does not open this store/);
          assert.equal((await withStore(appliedMigrations)).at(-1), previous, 'not upgraded by a refused start');
        }

        const upgraded = await startTestServer({ store: kind, env: { COFFER_MASTER_KEY: masterKey }, ...(database ? { databaseUrl: database.url } : { dataDir }) });
        await upgraded.close();
        assert.ok(upgraded.logs.some((line) => line.includes("upgraded the store to this version's schema") && line.includes(latest)), 'the upgrade is logged');
        assert.equal((await withStore(appliedMigrations)).at(-1), latest);
        const backedUp = await admin('backup', file);
        assert.equal(backedUp.code, 0, backedUp.stderr);

        // A newer version's migration: refused by the server and by admin commands, in one line.
        await withStore((db) => sql`insert into coffer_migrations (name, timestamp) values ('9999_from_the_future', ${new Date().toISOString()})`.execute(db));
        await assert.rejects(startServer(loadConfig({ ...env, PORT: '0', LOG_LEVEL: 'warn' })), StoreNewerThanCodeError);
        const newer = await admin('verify-audit');
        assert.equal(newer.code, 1);
        assert.match(newer.stderr, /^coffer: the store was upgraded by a newer Coffer \(migration 9999_from_the_future, which this version does not know\)/m);
        assert.doesNotMatch(newer.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        await database?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
