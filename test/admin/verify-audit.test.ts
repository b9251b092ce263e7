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
import { STORE_TARGETS, createEmptyPostgresDatabase } from '../helpers/stores.js';

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

        if (kind === 'postgres') {
          // Another key than the store's: one line naming the key id, no stack trace.
          const wrongKey = spawnCoffer(['admin', 'verify-audit'], { ...env, COFFER_MASTER_KEY: randomBytes(32).toString('hex'), LOG_LEVEL: 'warn' });
          assert.equal(await wrongKey.exited, 1);
          const lines = wrongKey.stderr.filter(Boolean);
          assert.equal(lines.length, 1, lines.join('\n'));
          assert.match(lines[0]!, /^coffer: master key [0-9a-f]+ is not configured; this process knows/);
        }
      } finally {
        await database?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
