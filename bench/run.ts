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

/** Runs a read scenario against a bare route serving the identical bytes, interleaved, twice each. */
/** `target` null: the ratio is reported and judged elsewhere (scenario 6 is judged against scenario 1). */
async function readScenario(store: string, name: string, target: number | null, url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) {
    rows.push({ store, scenario: name, target: target === null ? 'reported' : `>= ${target}`, baseline: '-', measured: `HTTP ${response.status}`, ratio: null, pass: false, note: body.toString().slice(0, 120) });
    return 0;
  }
  const bodyFile = path.join(os.tmpdir(), `coffer-bench-${randomUUID()}.json`);
  fs.writeFileSync(bodyFile, body);
  const parsed = new URL(url);
  const baseline = startChild('baseline-server.js', [bodyFile, parsed.pathname]);
  const { port } = await nextJson<{ port: number }>(baseline);
  const baselineUrl = `http://127.0.0.1:${port}${parsed.pathname}${parsed.search}`;
  const check = await fetch(baselineUrl);
  if (!Buffer.from(await check.arrayBuffer()).equals(body)) throw new Error('the baseline does not return identical bytes');
  // Warm both up before measuring.
  await autocannon({ url: baselineUrl, connections: CONNECTIONS, duration: 1 });
  await autocannon({ url, connections: CONNECTIONS, duration: 1, headers });
  const base: number[] = [];
  const measured: number[] = [];
  let failures = 0;
  for (let round = 0; round < ROUNDS; round++) {
    base.push((await load(baselineUrl, {})).rps);
    const run = await load(url, headers);
    failures += run.non2xx + run.errors;
    measured.push(run.rps);
  }
  await stopChild(baseline);
  fs.rmSync(bodyFile, { force: true });
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratio = avg(measured) / avg(base);
  rows.push({
    store,
    scenario: name,
    target: target === null ? 'reported' : `>= ${target.toFixed(2)}`,
    baseline: `${avg(base).toFixed(0)} req/s`,
    measured: `${avg(measured).toFixed(0)} req/s (${measured.map((m) => m.toFixed(0)).join(', ')})`,
    ratio,
    pass: target === null ? (failures === 0 ? null : false) : failures === 0 && ratio >= target,
    ...(failures > 0 ? { note: `${failures} non-2xx responses or errors` } : {}),
  });
  log(`${store} ${name}: ${ratio.toFixed(3)} (baseline ${avg(base).toFixed(0)} req/s, Coffer ${avg(measured).toFixed(0)} req/s)`);
  return avg(measured);
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

async function readScenarios(store: 'pglite' | 'postgres', databaseUrl: string | undefined) {
  const server = startChild('bench-server.js', [], databaseUrl ? { BENCH_DATABASE_URL: databaseUrl } : {});
  const seeded = await nextJson<Seeded>(server);
  const headers = { authorization: seeded.authorization };
  const list = (env: string) => `${seeded.url}/v1/secrets/?app_id=${seeded.appId}&env=${env}`;
  extra[`${store}.idleRssMb`] = rssMb(seeded.pid);

  const empty = await readScenario(store, '1. GET /v1/secrets/ (100 secrets)', 0.5, list('Development'), headers);
  await readScenario(store, '2. same, 10 referencing another environment', 0.4, list('References'), headers);
  await readScenario(store, '3. GET /v1/secrets/?key= (one secret)', 0.5, `${list('Development')}&key=SECRET_042`, headers);
  await readScenario(store, '4. GET /service/secrets/ (ciphertext, SDK protocol)', 0.6, `${seeded.url}/service/secrets/`, {
    ...headers,
    environment: seeded.environmentIds.Development!,
    'x-use-camel-case': 'true',
  });

  log(`${store}: inserting 1,000,000 secrets into other environments`);
  server.process.stdin!.write(`${JSON.stringify({ cmd: 'million' })}\n`);
  const filled = await nextJson<{ done?: string; ms?: number; error?: string }>(server);
  if (filled.error) throw new Error(filled.error);
  extra[`${store}.millionInsertSeconds`] = (filled.ms ?? 0) / 1000;
  const full = await readScenario(store, '6. scenario 1 with 1,000,000 other secrets', null, list('Development'), headers);
  const change = empty > 0 ? full / empty : 0;
  rows.push({
    store,
    scenario: '6. ... relative to the empty database',
    target: '>= 0.90',
    baseline: `${empty.toFixed(0)} req/s`,
    measured: `${full.toFixed(0)} req/s`,
    ratio: change,
    pass: change >= 0.9,
  });
  extra[`${store}.peakRssMb`] = peakRssMb(seeded.pid);
  await stopChild(server);
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
  const database = store === 'postgres' ? await createDatabase() : undefined;
  try {
    await readScenarios(store, database?.url);
  } finally {
    await database?.drop();
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
