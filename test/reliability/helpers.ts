// Shared pieces of the reliability suites: `coffer serve` as a child process on a given store, and
// an organisation made in-process on that store before the child takes it over.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { spawnCoffer, waitForHealth, type Spawned } from '../helpers/process.js';
import { createEmptyPostgresDatabase } from '../helpers/stores.js';

/** A store of its own: a fresh PostgreSQL database or a fresh embedded data directory. */
export interface OwnStore {
  kind: 'pglite' | 'postgres';
  /** Environment of `coffer serve` / `coffer admin` for this store (without PORT). */
  env: Record<string, string>;
  dataDir: string;
  dispose(): Promise<void>;
}

export async function ownStore(kind: 'pglite' | 'postgres'): Promise<OwnStore> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-reliability-'));
  const database = kind === 'postgres' ? await createEmptyPostgresDatabase() : undefined;
  const env: Record<string, string> = {
    DATABASE_URL: database?.url ?? '',
    COFFER_DATA_DIR: dataDir,
    COFFER_MASTER_KEY: randomBytes(32).toString('hex'),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    RATE_LIMIT_DEFAULT: '',
    REDIS_URL: '',
  };
  return {
    kind,
    env,
    dataDir,
    async dispose() {
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Makes an organisation, its owner and an app in the store with an in-process server, then stops it. */
export async function seedOrganisation(store: OwnStore, appName = 'reliability'): Promise<{ owner: OwnerFixture; appId: string; environments: Record<string, string> }> {
  const server = await startServer(loadConfig({ ...store.env, PORT: '0', LOG_LEVEL: 'error' }));
  try {
    const owner = await createOwner(server.domain);
    const created = await apiClient(server.url, owner.authorization).post('/v1/apps/', { name: appName });
    if (created.status !== 201) throw new Error(`POST /v1/apps/ answered ${created.status}: ${created.text}`);
    const environments: Record<string, string> = {};
    for (const env of created.body.environments) environments[String(env.name).toLowerCase()] = env.id;
    return { owner, appId: created.body.id, environments };
  } finally {
    await server.close();
  }
}

export interface ChildServer {
  url: string;
  process: Spawned;
  api(authorization: string): ApiClient;
}

/** `coffer serve` on the store, once it answers /health/. */
export async function serveChild(store: OwnStore, extraEnv: Record<string, string> = {}): Promise<ChildServer> {
  const port = await freePort();
  const child = spawnCoffer(['serve'], { ...store.env, ...extraEnv, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([waitForHealth(url, 60_000), child.exited.then((code) => Promise.reject(new Error(`coffer serve exited (${code}): ${child.stderr.join('\n')}`)))]);
  } catch (error) {
    child.child.kill('SIGKILL');
    throw error;
  }
  return { url, process: child, api: (authorization) => apiClient(url, authorization) };
}

/** `coffer admin verify-audit --json` against the store. */
export async function verifyAudit(store: OwnStore): Promise<{ code: number | string; report: any; stderr: string }> {
  const run = spawnCoffer(['admin', 'verify-audit', '--json'], { ...store.env, LOG_LEVEL: 'warn' });
  const code = await run.exited;
  let report: any;
  try {
    report = run.stdout.length > 0 ? JSON.parse(run.stdout.join('\n')) : undefined;
  } catch {
    report = run.stdout.join('\n');
  }
  return { code, report, stderr: run.stderr.join('\n') };
}
