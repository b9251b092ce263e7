// Master-key rotation end to end, on both stores: a server keeps answering reads, writes and
// service-account token requests while `coffer admin rotate-master-key` runs; afterwards nothing is
// sealed under the old key, and a server started with only the new key reads everything.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { masterKeyring, fromHex, keyIdOf } from '../../src/crypto/index.js';
import { verifyAuditTrail } from '../../src/domain/audit-verify.js';
import { openStore } from '../../src/store/connect.js';
import { apiClient, type ApiClient } from '../helpers/fixtures.js';
import { spawnCoffer, waitForHealth, type Spawned } from '../helpers/process.js';
import { freePort } from '../helpers/ports.js';
import { STORE_TARGETS, createEmptyPostgresDatabase } from '../helpers/stores.js';

const SETUP_CODE = 'rotation-test-setup-code';

interface Target {
  env: Record<string, string>;
  keyFile: string;
  cleanup(): Promise<void>;
}

async function prepare(kind: 'pglite' | 'postgres'): Promise<Target> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-rotation-'));
  if (kind === 'pglite') {
    return { env: { COFFER_DATA_DIR: dir, DATABASE_URL: '', COFFER_MASTER_KEY: '' }, keyFile: path.join(dir, 'master.key'), cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const database = await createEmptyPostgresDatabase();
  const keyFile = path.join(dir, 'master.key');
  fs.writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return {
    env: { DATABASE_URL: database.url, COFFER_MASTER_KEY_FILE: keyFile, COFFER_MASTER_KEY: '', COFFER_DATA_DIR: dir },
    keyFile,
    cleanup: async () => {
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startServer(target: Target): Promise<{ server: Spawned; url: string }> {
  const port = await freePort();
  const server = spawnCoffer(['serve'], { ...target.env, PORT: String(port), LOG_LEVEL: 'warn', COFFER_SETUP_CODE: SETUP_CODE });
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url);
  return { server, url };
}

async function stop(server: Spawned) {
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
}

async function setupOrganisation(url: string, env: Record<string, string>): Promise<string> {
  const run = spawnCoffer(['setup', '--url', url, '--code', SETUP_CODE, '--email', 'owner@example.com', '--org', 'Rotation', '--password-stdin', '--json', '--no-save'], {
    ...env,
    COFFER_INSECURE_FAST_KDF: '1',
    XDG_CONFIG_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cli-')),
  });
  run.child.stdin!.end('a long enough password for the owner');
  assert.equal(await run.exited, 0, run.stderr.join('\n'));
  return JSON.parse(run.stdout.join('\n')).token as string;
}

for (const { kind } of STORE_TARGETS) {
  describe(`master-key rotation on ${kind}`, () => {
    it('keeps serving during the rotation, leaves nothing under the old key, and needs only the new key afterwards', async () => {
      const target = await prepare(kind);
      let server: Spawned | undefined;
      try {
        let url: string;
        ({ server, url } = await startServer(target));
        const token = await setupOrganisation(url, target.env);
        const api: ApiClient = apiClient(url, `Bearer ${token}`);
        const app = (await api.post('/v1/apps/', { name: 'rotation' })).body;
        const envs = ['development', 'staging', 'production'];
        for (const env of envs) {
          const res = await api.post(`/v1/secrets/?app_id=${app.id}&env=${env}`, { secrets: [{ key: 'DB_PASSWORD', value: `pw-${env}` }, { key: 'REF', value: '${DB_PASSWORD}!' }] });
          assert.equal(res.status, 200, res.text);
        }
        const sa = await api.post('/v1/service-accounts/', { name: 'ci', role_id: (await api.get('/v1/roles/')).body.data.find((r: any) => r.name === 'Service').id });
        assert.equal(sa.status, 201, sa.text);
        const oldKeys = fs.readFileSync(target.keyFile, 'utf8').trim();

        // Load while rotating: reads of every environment, writes, and service-account tokens (which open the SA keyring).
        let running = true;
        const failures: string[] = [];
        let operations = 0;
        const load = (async () => {
          for (let i = 0; running; i++) {
            const env = envs[i % envs.length]!;
            const checks = await Promise.all([
              api.get(`/v1/secrets/?app_id=${app.id}&env=${env}`).then((r) => r.status === 200 && r.body.find((s: any) => s.key === 'REF')?.value === `pw-${env}!`),
              api.post(`/v1/secrets/?app_id=${app.id}&env=${env}`, { secrets: [{ key: `DURING_${i}`, value: 'x' }] }).then((r) => r.status === 200),
              api.post(`/v1/service-accounts/${sa.body.id}/tokens/`, { name: `t${i}` }).then((r) => r.status === 201),
            ]);
            operations += checks.length;
            checks.forEach((ok, j) => {
              if (!ok) failures.push(`iteration ${i} check ${j}`);
            });
          }
        })();
        await new Promise((r) => setTimeout(r, 300));
        const rotation = spawnCoffer(['admin', 'rotate-master-key', '--json'], { ...target.env, LOG_LEVEL: 'warn' });
        const code = await rotation.exited;
        running = false;
        await load;
        assert.equal(code, 0, rotation.stderr.join('\n'));
        const result = JSON.parse(rotation.stdout.join('\n'));
        assert.ok(result.rewrapped >= 3 * 2 + 1 + 1, JSON.stringify(result));
        assert.deepEqual(failures, [], `${failures.length} of ${operations} operations failed during the rotation`);
        assert.ok(operations > 0);

        const newKeys = fs.readFileSync(target.keyFile, 'utf8').trim();
        assert.match(newKeys, /^[0-9a-f]{64}$/, 'the key file holds exactly one key');
        assert.equal(fs.statSync(target.keyFile).mode & 0o777, 0o600);
        assert.deepEqual(fs.readdirSync(path.dirname(target.keyFile)).filter((name) => name.includes('.tmp')), [], 'no temporary key file is left');
        assert.ok(!oldKeys.split('\n').includes(newKeys), 'the active key changed');
        assert.equal(result.activeKeyId, masterKeyring({ active: fromHex(newKeys, 'master key', 32) }).activeKeyId);

        // The same server keeps working after the rotation.
        assert.equal((await api.get(`/v1/secrets/?app_id=${app.id}&env=staging`)).status, 200);
        await stop(server);

        // Nothing is sealed under the old key, the audit chain is intact.
        const store = await openStore({ databaseUrl: target.env.DATABASE_URL || undefined, dataDir: target.env.COFFER_DATA_DIR });
        const keyring = masterKeyring({ active: fromHex(newKeys, 'master key', 32) });
        try {
          const sealed = [
            ...(await store.db.selectFrom('server_environment_keys').select(['wrapped_seed as v']).execute()),
            ...(await store.db.selectFrom('server_environment_keys').select(['wrapped_salt as v']).execute()),
            ...(await store.db.selectFrom('service_accounts').select(['server_wrapped_keyring as v']).execute()),
            ...(await store.db.selectFrom('audit_heads').select(['wrapped_key as v']).execute()),
          ];
          assert.ok(sealed.length >= 8);
          for (const row of sealed) assert.equal(keyIdOf(row.v), keyring.activeKeyId);
          assert.equal((await verifyAuditTrail(store.db, keyring)).problem, undefined);
        } finally {
          await store.close();
          keyring.dispose();
        }

        // A fresh server with only the new key: cold loads of every environment, SA keyrings, new writes.
        ({ server, url } = await startServer(target));
        const after = apiClient(url, `Bearer ${token}`);
        for (const env of envs) {
          const res = await after.get(`/v1/secrets/?app_id=${app.id}&env=${env}`);
          assert.equal(res.status, 200, res.text);
          assert.equal(res.body.find((s: any) => s.key === 'REF').value, `pw-${env}!`);
        }
        assert.equal((await after.post(`/v1/service-accounts/${sa.body.id}/tokens/`, { name: 'after' })).status, 201);
        assert.equal((await after.post(`/v1/secrets/?app_id=${app.id}&env=production`, { secrets: [{ key: 'AFTER', value: 'y' }] })).status, 200);
        await stop(server);
      } finally {
        server?.child.kill('SIGKILL'); // a failed check leaves it running; stopped ones ignore this
        await target.cleanup();
      }
    });
  });
}
