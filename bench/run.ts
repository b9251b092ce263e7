// `npm run bench`: every performance target of the project, measured as a ratio against a baseline
// measured in the same run (a bare Fastify route returning the identical bytes; a plain INSERT).
// Scenarios run with autocannon on loopback, 10 connections, interleaved with their baseline and
// each twice. Results: a table on stdout and bench/results.json.
//
// Environment: BENCH_DURATION (seconds per run, default 10), BENCH_STORES (pglite,postgres),
// BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres; a fresh database is made).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { formatReadPathResult, measureReadPath } from './crypto-read-path.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 10;
const ROUNDS = 2;
const STORES = (process.env.BENCH_STORES ?? 'pglite,postgres').split(',').map((s) => s.trim()) as Array<'pglite' | 'postgres'>;
const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Row {
  store: string;
  scenario: string;
  target: string;
  baseline: string;
  measured: string;
  ratio: number | null;
  pass: boolean | null;
  note?: string;
}

const rows: Row[] = [];
const extra: Record<string, unknown> = {};

function log(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

interface Child {
  process: ChildProcess;
  lines: AsyncIterator<string>;
}

function startChild(script: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [path.join(here, script), ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { process: child, lines };
}

/** The next protocol line of a child (`BENCH {...}`); log lines on stdout are skipped. */
async function nextJson<T>(child: Child): Promise<T> {
  for (;;) {
    const next = await child.lines.next();
    if (next.done) throw new Error('child process ended early');
    if (next.value.startsWith('BENCH ')) return JSON.parse(next.value.slice('BENCH '.length)) as T;
  }
}

async function stopChild(child: Child) {
  child.process.kill('SIGTERM');
  await new Promise((resolve) => child.process.once('exit', resolve));
}

async function load(url: string, headers: Record<string, string>): Promise<{ rps: number; non2xx: number; errors: number }> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers });
  return { rps: result.requests.average, non2xx: result.non2xx, errors: result.errors };
}

interface Target {
  url: string;
  headers: Record<string, string>;
}

interface Measured {
  /** Requests per second of each round. */
  rounds: number[];
  failures: number;
}

const average = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Measures `targets` and a bare route serving the bytes the first of them returns, all warmed up,
 * then in turn (baseline, each target) for ROUNDS rounds, so that each sees the same machine.
 * Undefined when the first target does not answer 200 (recorded as a failed row).
 */
async function alternately(store: string, name: string, target: string, targets: Target[]): Promise<{ baseline: number[]; measured: Measured[] } | undefined> {
  const first = targets[0]!;
  const response = await fetch(first.url, { headers: first.headers });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) {
    rows.push({ store, scenario: name, target, baseline: '-', measured: `HTTP ${response.status}`, ratio: null, pass: false, note: body.toString().slice(0, 120) });
    return undefined;
  }
  const bodyFile = path.join(os.tmpdir(), `coffer-bench-${randomUUID()}.json`);
  fs.writeFileSync(bodyFile, body);
  const parsed = new URL(first.url);
  const baselineServer = startChild('baseline-server.js', [bodyFile, parsed.pathname]);
  try {
    const { port } = await nextJson<{ port: number }>(baselineServer);
    const baselineUrl = `http://127.0.0.1:${port}${parsed.pathname}${parsed.search}`;
    const check = await fetch(baselineUrl);
    if (!Buffer.from(await check.arrayBuffer()).equals(body)) throw new Error('the baseline does not return identical bytes');
    // Warm every server up before measuring.
    await autocannon({ url: baselineUrl, connections: CONNECTIONS, duration: 1 });
    for (const t of targets) await autocannon({ url: t.url, connections: CONNECTIONS, duration: 1, headers: t.headers });
    const baseline: number[] = [];
    const measured: Measured[] = targets.map(() => ({ rounds: [], failures: 0 }));
    for (let round = 0; round < ROUNDS; round++) {
      baseline.push((await load(baselineUrl, {})).rps);
      // Every other round in reverse, so that no target is always the one measured first.
      const order = round % 2 === 0 ? [...targets.entries()] : [...targets.entries()].reverse();
      for (const [i, t] of order) {
        const run = await load(t.url, t.headers);
        measured[i]!.failures += run.non2xx + run.errors;
        measured[i]!.rounds.push(run.rps);
      }
    }
    return { baseline, measured };
  } finally {
    await stopChild(baselineServer);
    fs.rmSync(bodyFile, { force: true });
  }
}

const requestsPerSecond = (m: Measured) => `${average(m.rounds).toFixed(0)} req/s (${m.rounds.map((r) => r.toFixed(0)).join(', ')})`;
const failuresNote = (m: Measured) => (m.failures > 0 ? { note: `${m.failures} non-2xx responses or errors` } : {});

/** A read scenario against a bare route serving the identical bytes, interleaved, twice each. */
async function readScenario(store: string, name: string, target: number, read: Target): Promise<void> {
  const result = await alternately(store, name, `>= ${target.toFixed(2)}`, [read]);
  if (!result) return;
  const coffer = result.measured[0]!;
  const ratio = average(coffer.rounds) / average(result.baseline);
  rows.push({
    store,
    scenario: name,
    target: `>= ${target.toFixed(2)}`,
    baseline: `${average(result.baseline).toFixed(0)} req/s`,
    measured: requestsPerSecond(coffer),
    ratio,
    pass: coffer.failures === 0 && ratio >= target,
    ...failuresNote(coffer),
  });
  log(`${store} ${name}: ${ratio.toFixed(3)} (baseline ${average(result.baseline).toFixed(0)} req/s, Coffer ${average(coffer.rounds).toFixed(0)} req/s)`);
}

/**
 * Scenario 6: scenario 1 on a server whose database also holds a million secrets in other
 * environments, against the same read on a server whose database does not, measured in turn with
 * the bare route. Measured minutes apart (before and after loading the million rows), the two
 * figures compared the machine's speed at two moments as much as the two databases.
 */
async function millionScenario(store: string, empty: Target, full: Target): Promise<void> {
  const name = '6. scenario 1 with 1,000,000 other secrets';
  const result = await alternately(store, name, 'reported', [full, empty]);
  if (!result) return;
  const [withMillion, without] = result.measured as [Measured, Measured];
  rows.push({
    store,
    scenario: name,
    target: 'reported',
    baseline: `${average(result.baseline).toFixed(0)} req/s`,
    measured: requestsPerSecond(withMillion),
    ratio: average(withMillion.rounds) / average(result.baseline),
    pass: withMillion.failures === 0 ? null : false,
    ...failuresNote(withMillion),
  });
  const change = average(withMillion.rounds) / average(without.rounds);
  rows.push({
    store,
    scenario: '6. ... relative to the empty database, measured in turn',
    target: '>= 0.90',
    baseline: requestsPerSecond(without),
    measured: `${average(withMillion.rounds).toFixed(0)} req/s`,
    ratio: change,
    pass: withMillion.failures === 0 && without.failures === 0 && change >= 0.9,
    ...failuresNote(without),
  });
  log(`${store} ${name}: ${change.toFixed(3)} of the empty database (${average(withMillion.rounds).toFixed(0)} against ${average(without.rounds).toFixed(0)} req/s)`);
}

function peakRssMb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return hwm ? Number(hwm[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function rssMb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return rss ? Number(rss[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `coffer_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

interface Seeded {
  url: string;
  pid: number;
  authorization: string;
  appId: string;
  environmentIds: Record<string, string>;
}

const listUrl = (seeded: Seeded, env: string) => `${seeded.url}/v1/secrets/?app_id=${seeded.appId}&env=${env}`;

/**
 * Scenarios 1-4 and 6. `databaseUrls` (PostgreSQL): one database for the server of scenarios 1-4,
 * another for the server that gets the million secrets of scenario 6.
 */
async function readScenarios(store: 'pglite' | 'postgres', databaseUrls: [string, string] | undefined) {
  const server = startChild('bench-server.js', [], databaseUrls ? { BENCH_DATABASE_URL: databaseUrls[0] } : {});
  const seeded = await nextJson<Seeded>(server);
  const headers = { authorization: seeded.authorization };
  extra[`${store}.idleRssMb`] = rssMb(seeded.pid);

  await readScenario(store, '1. GET /v1/secrets/ (100 secrets)', 0.5, { url: listUrl(seeded, 'Development'), headers });
  await readScenario(store, '2. same, 10 referencing another environment', 0.4, { url: listUrl(seeded, 'References'), headers });
  await readScenario(store, '3. GET /v1/secrets/?key= (one secret)', 0.5, { url: `${listUrl(seeded, 'Development')}&key=SECRET_042`, headers });
  await readScenario(store, '4. GET /service/secrets/ (ciphertext, SDK protocol)', 0.6, {
    url: `${seeded.url}/service/secrets/`,
    headers: { ...headers, environment: seeded.environmentIds.Development!, 'x-use-camel-case': 'true' },
  });
  extra[`${store}.peakRssMb`] = peakRssMb(seeded.pid);

  log(`${store}: a second server, inserting 1,000,000 secrets into other environments of its database`);
  const filled = startChild('bench-server.js', [], databaseUrls ? { BENCH_DATABASE_URL: databaseUrls[1] } : {});
  try {
    const seededFull = await nextJson<Seeded>(filled);
    filled.process.stdin!.write(`${JSON.stringify({ cmd: 'million' })}\n`);
    const done = await nextJson<{ done?: string; ms?: number; error?: string }>(filled);
    if (done.error) throw new Error(done.error);
    extra[`${store}.millionInsertSeconds`] = (done.ms ?? 0) / 1000;
    await millionScenario(store, { url: listUrl(seeded, 'Development'), headers }, { url: listUrl(seededFull, 'Development'), headers: { authorization: seededFull.authorization } });
    extra[`${store}.peakRssMbWithMillion`] = peakRssMb(seededFull.pid);
  } finally {
    await stopChild(filled);
    await stopChild(server);
  }
}

/**
 * Scenario 5, in a process of its own (bench/write-scenario.ts), as the read scenarios' servers
 * are: the process measured runs nothing but the server, its client and the INSERT.
 */
async function writeScenario(store: 'pglite' | 'postgres', databaseUrl: string | undefined) {
  const child = startChild('write-scenario.js', [], databaseUrl ? { BENCH_DATABASE_URL: databaseUrl } : {});
  try {
    const { post, insert } = await nextJson<{ post: number; insert: number }>(child);
    rows.push({
      store,
      scenario: '5. POST /v1/secrets/ (100 secrets), median',
      target: '<= 2.00 x plain INSERT',
      baseline: `${insert.toFixed(2)} ms`,
      measured: `${post.toFixed(2)} ms`,
      ratio: post / insert,
      pass: post / insert <= 2,
    });
    log(`${store} 5. POST: ${post.toFixed(2)} ms vs INSERT ${insert.toFixed(2)} ms`);
  } finally {
    const running = child.process.exitCode === null && child.process.signalCode === null;
    if (running) await new Promise((resolve) => child.process.once('exit', resolve));
  }
}

/** Cold start of the embedded store: first start of a new data directory, and a restart. */
async function coldStart() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cold-'));
  for (const label of ['first start (new data directory)', 'restart (existing data directory)']) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/coffer.js'), 'serve'], {
      cwd: repoRoot,
      env: { ...process.env, PORT: String(port), COFFER_DATA_DIR: dataDir, DATABASE_URL: '', COFFER_MASTER_KEY: '', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health/`)).status === 200) break;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - started;
    extra[`coldStart.${label}`] = `${ms.toFixed(0)} ms`;
    rows.push({ store: 'pglite', scenario: `7. cold start to first 200 on /health/, ${label}`, target: 'reported', baseline: '-', measured: `${ms.toFixed(0)} ms`, ratio: null, pass: null });
    extra[`idleRssMb.freshServer.${label}`] = rssMb(child.pid!);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function printTable() {
  const header = ['store', 'scenario', 'target', 'baseline', 'measured', 'ratio', 'result'];
  const lines = rows.map((r) => [r.store, r.scenario, r.target, r.baseline, r.measured, r.ratio === null ? '-' : r.ratio.toFixed(3), r.pass === null ? 'reported' : r.pass ? 'PASS' : `FAIL${r.note ? ` (${r.note})` : ''}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

const crypto = measureReadPath();
console.log(formatReadPathResult(crypto));
extra.cryptoReadPath = crypto;

for (const store of STORES) {
  const databases = store === 'postgres' ? [await createDatabase(), await createDatabase()] : [];
  try {
    await readScenarios(store, databases.length === 2 ? [databases[0]!.url, databases[1]!.url] : undefined);
  } finally {
    for (const database of databases) await database.drop();
  }
  const writeDatabase = store === 'postgres' ? await createDatabase() : undefined;
  try {
    await writeScenario(store, writeDatabase?.url);
  } finally {
    await writeDatabase?.drop();
  }
}
await coldStart();

printTable();
const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  settings: { durationSeconds: DURATION, connections: CONNECTIONS, rounds: ROUNDS },
  rows,
  extra,
};
fs.writeFileSync(path.join(repoRoot, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
const failed = rows.filter((r) => r.pass === false);
if (failed.length > 0) {
  console.log(`\n${failed.length} target(s) not met.`);
  process.exitCode = 1;
} else {
  console.log('\nEvery target met.');
}
