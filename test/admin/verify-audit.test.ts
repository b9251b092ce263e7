// `coffer admin verify-audit` against a stopped embedded store, a running embedded server (through
// its admin socket) and PostgreSQL: exit 0 when intact, 2 with the first bad event otherwise.
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
import { apiClient, createOwner } from '../helpers/fixtures.js';
import { spawnCoffer } from '../helpers/process.js';
import { STORE_TARGETS, TEST_DATABASE_URL, createEmptyPostgresDatabase } from '../helpers/stores.js';

async function verify(env: Record<string, string>) {
  const run = spawnCoffer(['admin', 'verify-audit', '--json'], { ...env, LOG_LEVEL: 'warn' });
  const code = await run.exited;
  return { code, report: run.stdout.length > 0 ? JSON.parse(run.stdout.join('\n')) : undefined, stderr: run.stderr.join('\n') };
}

for (const { kind } of STORE_TARGETS) {
  describe(`coffer admin verify-audit on ${kind}`, () => {
    it('exits 0 on an intact trail and 2 naming the first altered event', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-verify-'));
      const database = kind === 'postgres' ? await createEmptyPostgresDatabase() : undefined;
      const env: Record<string, string> = database
        ? { DATABASE_URL: database.url, COFFER_MASTER_KEY: randomBytes(32).toString('hex'), COFFER_DATA_DIR: dataDir }
        : { DATABASE_URL: '', COFFER_MASTER_KEY: '', COFFER_DATA_DIR: dataDir };
      try {
        const server = await startServer(loadConfig({ ...env, PORT: '0', LOG_LEVEL: 'warn' }));
        const owner = await createOwner(server.domain);
        const api = apiClient(server.url, owner.authorization);
        const app = (await api.post('/v1/apps/', { name: 'verify' })).body;
        await api.post(`/v1/secrets/?app_id=${app.id}&env=development`, { secrets: [{ key: 'A', value: '1' }, { key: 'B', value: '2' }] });
        await api.get(`/v1/secrets/?app_id=${app.id}&env=development`);

        // While the server runs (the embedded store answers through the admin socket).
        const live = await verify(env);
        assert.equal(live.code, 0, live.stderr);
        assert.equal(live.report.intact, true);
        assert.ok(live.report.events >= 5);
        await server.close();

        const store = await openStore({ databaseUrl: env.DATABASE_URL || undefined, dataDir });
        await sql`update events set ip = '10.6.6.6' where organisation_id = ${owner.organisationId} and seq = 3`.execute(store.db);
        await store.close();
        const altered = await verify(env);
        assert.equal(altered.code, 2);
        assert.equal(altered.report.intact, false);
        assert.deepEqual({ kind: altered.report.problem.kind, seq: altered.report.problem.seq, org: altered.report.problem.organisationId }, { kind: 'altered', seq: 3, org: owner.organisationId });

        const human = spawnCoffer(['admin', 'verify-audit'], { ...env, LOG_LEVEL: 'warn' });
        assert.equal(await human.exited, 2);
        assert.match(human.stderr.join('\n'), /NOT intact: event 3 \([0-9a-f-]+\) of organisation [0-9a-f-]+ was altered/);

        // --org: an id that is not one, and one the store does not hold, are refused in one line.
        const notUuid = spawnCoffer(['admin', 'verify-audit', '--org', 'not-a-uuid'], { ...env, LOG_LEVEL: 'warn' });
        assert.equal(await notUuid.exited, 1);
        assert.deepEqual(notUuid.stderr.filter(Boolean).slice(0, 1), ['coffer: --org must be an organisation id (a uuid), not "not-a-uuid"']);
        const unknown = spawnCoffer(['admin', 'verify-audit', '--org', '00000000-0000-0000-0000-000000000000'], { ...env, LOG_LEVEL: 'warn' });
        assert.equal(await unknown.exited, 1);
        assert.match(unknown.stderr.join('\n'), /^coffer: there is no organisation 00000000-0000-0000-0000-000000000000 in this store$/m);
        assert.doesNotMatch(unknown.stderr.join('\n'), /\n\s+at /, 'no stack trace');

        if (kind === 'postgres') {
          // Another key than the store's: one line naming the key id, no stack trace.
          const wrongKey = spawnCoffer(['admin', 'verify-audit'], { ...env, COFFER_MASTER_KEY: randomBytes(32).toString('hex'), LOG_LEVEL: 'warn' });
          assert.equal(await wrongKey.exited, 1);
          const lines = wrongKey.stderr.filter(Boolean);
          assert.equal(lines.length, 1, lines.join('\n'));
          assert.match(lines[0]!, /^coffer: master key [0-9a-f]+ is not configured; this process knows/);
        }

        // A removed chain head would leave the organisation's events unchecked: it is a problem, not "0 organisations".
        const headless = await openStore({ databaseUrl: env.DATABASE_URL || undefined, dataDir });
        await sql`update events set ip = null where organisation_id = ${owner.organisationId} and seq = 3`.execute(headless.db);
        await sql`delete from audit_heads`.execute(headless.db);
        await headless.close();
        const noHead = await verify(env);
        assert.equal(noHead.code, 2, noHead.stderr);
        assert.deepEqual(noHead.report.problem, { kind: 'headless', organisationId: owner.organisationId });
        const noHeadHuman = spawnCoffer(['admin', 'verify-audit', '--org', owner.organisationId], { ...env, LOG_LEVEL: 'warn' });
        assert.equal(await noHeadHuman.exited, 2);
        assert.match(noHeadHuman.stderr.join('\n'), /NOT intact: organisation [0-9a-f-]+ has no chain head: it was removed, so its events cannot be checked/);
      } finally {
        await database?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}

// Pointed at the wrong place, an admin command refuses instead of making an empty store and reporting on it.
describe('admin commands need a store where they are pointed', () => {
  it('refuses a data directory without a store and a PostgreSQL database without Coffer, creating nothing', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-nostore-'));
    const missing = path.join(parent, 'typo');
    const database = TEST_DATABASE_URL ? await createEmptyPostgresDatabase() : undefined;
    try {
      for (const args of [['admin', 'verify-audit'], ['admin', 'backup', path.join(parent, 'out.backup')]]) {
        const embedded = spawnCoffer(args, { DATABASE_URL: '', COFFER_MASTER_KEY: randomBytes(32).toString('hex'), COFFER_DATA_DIR: missing, LOG_LEVEL: 'warn' });
        assert.equal(await embedded.exited, 1, args.join(' '));
        assert.match(embedded.stderr.filter(Boolean)[0]!, /^coffer: there is no Coffer store in .*typo$/);
        assert.equal(fs.existsSync(missing), false, 'no data directory was made');
        if (!database) continue;
        const postgres = spawnCoffer(args, { DATABASE_URL: database.url, COFFER_MASTER_KEY: randomBytes(32).toString('hex'), LOG_LEVEL: 'warn' });
        assert.equal(await postgres.exited, 1, args.join(' '));
        assert.match(postgres.stderr.filter(Boolean)[0]!, /^coffer: the database DATABASE_URL names holds no Coffer store$/);
      }
      assert.deepEqual(fs.readdirSync(parent), [], 'no backup file was written');
      if (database) {
        const store = await openStore({ databaseUrl: database.url, migrate: false });
        const tables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = current_schema()`.execute(store.db);
        await store.close();
        assert.equal(tables.rows[0]!.n, 0, 'no table was created');
      }
    } finally {
      await database?.drop();
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
