// A Coffer server for the benchmark, in a process of its own: it seeds an organisation with the
// environments the scenarios read, prints what the driver needs as one JSON line, then serves.
// Commands arrive on stdin as JSON lines: {"cmd": "million"} fills other environments with
// 1,000,000 secrets (scenario 6).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { apiClient, createOwner } from '../test/helpers/fixtures.js';

const databaseUrl = process.env.BENCH_DATABASE_URL;
const dataDir = databaseUrl ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-'));
const env: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', COFFER_MASTER_KEY: randomBytes(32).toString('hex') };
if (databaseUrl) env.DATABASE_URL = databaseUrl;
if (dataDir) env.COFFER_DATA_DIR = dataDir;
const server = await startServer(loadConfig(env));

/** 40 characters, like the values of the targets. */
const value40 = () => randomBytes(20).toString('hex');

const owner = await createOwner(server.domain, { name: 'bench' });
const api = apiClient(server.url, owner.authorization);
const app = await api.post('/v1/apps/', { name: 'bench', environments: ['Development', 'Staging', 'References'] });
if (app.status !== 201) throw new Error(`creating the app failed: ${app.text}`);
const appId: string = app.body.id;
const envIds: Record<string, string> = Object.fromEntries(app.body.environments.map((e: { name: string; id: string }) => [e.name, e.id]));

async function write(envName: string, secrets: Array<{ key: string; value: string }>) {
  const res = await api.post(`/v1/secrets/?app_id=${appId}&env=${envName}`, { secrets });
  if (res.status !== 200) throw new Error(`seeding ${envName} failed: ${res.text}`);
}

// Scenario 1 and 3: 100 secrets with 40-character values.
await write('Development', Array.from({ length: 100 }, (_, i) => ({ key: `SECRET_${String(i).padStart(3, '0')}`, value: value40() })));
// Scenario 2: 100 secrets, 10 of which reference secrets of another environment.
await write('Staging', Array.from({ length: 10 }, (_, i) => ({ key: `TARGET_${i}`, value: value40() })));
await write(
  'References',
  Array.from({ length: 100 }, (_, i) => ({ key: `SECRET_${String(i).padStart(3, '0')}`, value: i < 10 ? `\${staging.TARGET_${i}}` : value40() })),
);

/** Scenario 6: a million secrets in other environments of the same database. */
async function fillMillion(): Promise<number> {
  const started = Date.now();
  const filler = await api.post('/v1/apps/', { name: 'filler', environments: Array.from({ length: 10 }, (_, i) => `filler-${i}`) });
  const fillerEnvs: string[] = filler.body.environments.map((e: { id: string }) => e.id);
  const chunk = 100_000;
  for (let offset = 0; offset < 1_000_000; offset += chunk) {
    await sql`
      insert into secrets (id, organisation_id, environment_id, folder_id, path, key_digest, key, value, comment, type, version, created_at, updated_at)
      select gen_random_uuid(), ${owner.organisationId}::uuid, (${fillerEnvs}::uuid[])[1 + (g % 10)], null, '/',
             md5(g::text) || md5((g + 7)::text),
             'ph:v1:' || md5(g::text) || md5((g + 1)::text) || ':' || encode(sha256(g::text::bytea), 'base64'),
             'ph:v1:' || md5(g::text) || md5((g + 2)::text) || ':' || encode(sha256((g + 3)::text::bytea), 'base64'),
             '', 'secret', 1, now(), now()
        from generate_series(${offset + 1}::int, ${offset + chunk}::int) as g`.execute(server.store.db);
  }
  // As after any bulk load: statistics and the visibility map are brought up to date and the
  // written pages go to disk now, rather than by autovacuum or a checkpoint forced by the next writes
  // (the read scenario's audit events) while the scenario is measured.
  await sql`vacuum (analyze) secrets`.execute(server.store.db);
  await sql`checkpoint`.execute(server.store.db);
  return Date.now() - started;
}

process.stdout.write(
  `BENCH ${JSON.stringify({
    url: server.url,
    pid: process.pid,
    store: server.store.kind,
    authorization: owner.authorization,
    token: owner.token,
    appId,
    environmentIds: envIds,
  })}\n`,
);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { cmd: string };
  if (command.cmd === 'million') {
    fillMillion().then(
      (ms) => process.stdout.write(`BENCH ${JSON.stringify({ done: 'million', ms })}\n`),
      (error: Error) => process.stdout.write(`BENCH ${JSON.stringify({ error: error.message })}\n`),
    );
  }
});

const stop = () => {
  void server.close().finally(() => {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
