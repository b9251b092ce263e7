// A live server of its own (a fresh PostgreSQL database, or an embedded store) with an owner made by
// `coffer setup` through the real binary: the starting point of the everyday-CLI suites.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StoreKind } from '../../src/store/connect.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase } from '../helpers/stores.js';
import { cliUser, type CliUser } from './run.js';

export const SETUP_CODE = 'everyday-cli-setup-code';
export const OWNER_PASSWORD = 'the owner has a long password';
export const OWNER_EMAIL = 'owner@example.com';

export interface Deployment {
  server: TestServer;
  kind: StoreKind;
  /** The PostgreSQL database of this deployment. */
  databaseUrl: string | undefined;
  owner: CliUser;
  /** `coffer setup --json` of the owner (token, recoveryPhrase, organisationId, ...). */
  setup: any;
  /** A scratch directory removed at the end. */
  dir: string;
  /** Stops the server (idempotent). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startDeployment(kind: StoreKind, options: { env?: Record<string, string>; name?: string; dataDir?: string } = {}): Promise<Deployment> {
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'postgres') ({ url: databaseUrl, drop } = await createEmptyPostgresDatabase());
  const server = await startTestServer({ store: kind, env: { COFFER_SETUP_CODE: SETUP_CODE, ...options.env }, ...(databaseUrl ? { databaseUrl } : {}), ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  const owner = await cliUser(options.name ?? 'owner');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-cli-work-'));
  const setup = await owner.json(['setup', '--url', server.url, '--code', SETUP_CODE, '--email', OWNER_EMAIL, '--org', 'Acme', '--password-stdin'], { input: OWNER_PASSWORD });
  assert.match(setup.token, /^pss_user:v1:/);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close();
  };
  return {
    server,
    kind,
    databaseUrl,
    owner,
    setup,
    dir,
    stop,
    async close() {
      await stop();
      await drop?.();
      await owner.remove();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
