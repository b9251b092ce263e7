// Scenario 5 of `npm run bench`, run by bench/run.ts in a process of its own: the median time of a
// POST /v1/secrets/ of 100 secrets against the time this same process needs for one plain INSERT of
// 100 equivalent rows. Prints `BENCH {"post": ms, "insert": ms}`. BENCH_DATABASE_URL: PostgreSQL;
// without it the embedded store runs on a data directory, as `coffer serve` runs it (the in-memory
// store of the tests grows files by copying them whole, which COPY's bulk extension of a table pays
// on every write).
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { apiClient, createOwner } from '../test/helpers/fixtures.js';

/**
 * POSTs (and INSERTs) timed, after a warm-up: the read scenarios warm up with a second of load
 * (thousands of requests) before they are measured; five POSTs were too few for the write path's
 * code to be compiled (measured on the embedded store: the median of POSTs 6-40 was 14.6-16 ms, of
 * POSTs 21-80 10.7-12.7 ms, while the INSERT moved from 6.6-6.8 to 5.8-6.5 ms).
 */
const MEASURED = 60;
const WARM_UP = 20;
const ITERATIONS = WARM_UP + MEASURED;

/**
 * Sends a prepared request body and resolves with the status and the raw response once its last
 * byte has arrived: the POST is timed as autocannon times a read, without a client serializing the
 * request or parsing the response inside the timed region (the INSERT's values are prepared before
 * its timer starts too).
 */
function postPrepared(agent: http.Agent, url: URL, authorization: string, body: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        agent,
        headers: { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Rows as the POST stores them: same table, same sizes (ciphertext-like strings), one statement. */
function equivalentRows(organisationId: string, environmentId: string, secrets: Array<{ key: string; value: string }>) {
  const now = new Date();
  return secrets.map((s) => ({
    id: randomUUID(),
    organisation_id: organisationId,
    environment_id: environmentId,
    folder_id: null,
    path: '/',
    key_digest: randomBytes(32).toString('hex'),
    key: `ph:v1:${randomBytes(32).toString('hex')}:${randomBytes(s.key.length + 40).toString('base64')}` as never,
    value: `ph:v1:${randomBytes(32).toString('hex')}:${randomBytes(s.value.length + 40).toString('base64')}` as never,
    comment: '' as never,
    type: 'secret' as const,
    version: 1,
    created_at: now,
    updated_at: now,
    deleted_at: null,
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const databaseUrl = process.env.BENCH_DATABASE_URL;
const env: Record<string, string> = { PORT: '0', LOG_LEVEL: 'warn', COFFER_MASTER_KEY: randomBytes(32).toString('hex') };
const dataDir = databaseUrl ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-writes-'));
if (databaseUrl) env.DATABASE_URL = databaseUrl;
if (dataDir) env.COFFER_DATA_DIR = dataDir;
const server = await startServer(loadConfig(env));
try {
  const owner = await createOwner(server.domain, { name: 'bench-writes' });
  const api = apiClient(server.url, owner.authorization);
  const app = await api.post('/v1/apps/', { name: 'writes', environments: ['Writes', 'Plain'] });
  const plain = (app.body.environments as Array<{ id: string }>)[1]!;
  const postUrl = new URL(`${server.url}/v1/secrets/?app_id=${app.body.id}&env=Writes`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const postTimes: number[] = [];
  const insertTimes: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const secrets = Array.from({ length: 100 }, (_, j) => ({ key: `K_${i}_${j}`, value: randomBytes(20).toString('hex') }));
    const body = JSON.stringify({ secrets });
    let started = performance.now();
    const res = await postPrepared(agent, postUrl, owner.authorization, body);
    postTimes.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`POST failed: ${res.body.toString()}`);
    const created = JSON.parse(res.body.toString()) as unknown[];
    if (created.length !== secrets.length) throw new Error(`POST created ${created.length} secrets, not ${secrets.length}`);
    const values = equivalentRows(owner.organisationId, plain.id, secrets);
    started = performance.now();
    await server.store.db.insertInto('secrets').values(values).execute();
    insertTimes.push(performance.now() - started);
  }
  agent.destroy();
  process.stdout.write(`BENCH ${JSON.stringify({ post: median(postTimes.slice(WARM_UP)), insert: median(insertTimes.slice(WARM_UP)) })}\n`);
} finally {
  await server.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}
