// Secrets at rest (DESIGN §4): after keys, values, comments and override values are written,
// updated, read, resolved and deleted through the public API, none of them appears in plaintext in
// the database: PGlite's files on disk (while serving and after shutdown), `pg_dump` of PostgreSQL,
// and every column of every table read back through SQL; nor in the server's log.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS, TEST_DATABASE_URL } from '../../helpers/stores.js';
import { createApp, listSecrets, postSecrets, secretsUrl } from '../../helpers/world.js';

/** Distinct markers: what is secret, and what is stored in plaintext on purpose (the positive control). */
function markers() {
  const tag = randomBytes(8).toString('hex');
  return {
    secret: {
      key: `atrest_key_${tag}`,
      renamedKey: `atrest_renamed_${tag}`,
      deletedKey: `atrest_deleted_key_${tag}`,
      value: `atrest-value-${tag}`,
      updatedValue: `atrest-updated-value-${tag}`,
      deletedValue: `atrest-deleted-value-${tag}`,
      referencedValue: `atrest-referenced-${tag}`,
      unicodeValue: `ätrest-ünïcode-😀-${tag}`,
      comment: `atrest-comment-${tag}`,
      updatedComment: `atrest-updated-comment-${tag}`,
      override: `atrest-override-${tag}`,
      updatedOverride: `atrest-updated-override-${tag}`,
    },
    plaintext: { appName: `atrest-app-${tag}`, tag: `atrest-tag-${tag}`, folder: `atrest-folder-${tag}` },
  };
}

/** Every way a marker may be spelled in storage: as written and as keys are stored (upper case). */
function spellings(text: string): string[] {
  return [...new Set([text, text.toUpperCase()])];
}

function findIn(haystack: Buffer, needle: string): boolean {
  return haystack.includes(Buffer.from(needle, 'utf8'));
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
  });
}

/** Which of `needles` occur in any file under `dir` (a copy is read, never the live files in place). */
function scanDirectory(dir: string, needles: string[]): Set<string> {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-at-rest-copy-'));
  try {
    // regular files only (the embedded server also keeps its admin socket there)
    fs.cpSync(dir, copy, { recursive: true, filter: (src) => { const st = fs.lstatSync(src); return st.isDirectory() || st.isFile(); } });
    const found = new Set<string>();
    for (const file of filesUnder(copy)) {
      const bytes = fs.readFileSync(file);
      for (const needle of needles) if (findIn(bytes, needle)) found.add(needle);
    }
    return found;
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

for (const target of STORE_TARGETS) {
  describe(`secrets at rest on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let dataDir: string | undefined;
    const m = markers();
    const secretNeedles = Object.values(m.secret).flatMap(spellings);
    const plaintextNeedles = Object.values(m.plaintext);

    before(async () => {
      if (target.kind === 'pglite') dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-at-rest-'));
      server = await startTestServer({ store: target.kind, ...(dataDir ? { dataDir } : {}) });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);

      const app = await createApp(api, m.plaintext.appName);
      const [main, doomed] = await postSecrets(api, app.id, 'development', [
        { key: m.secret.key, value: m.secret.value, comment: m.secret.comment, tags: [m.plaintext.tag], path: `/${m.plaintext.folder}`, override: { value: m.secret.override, isActive: true } },
        { key: m.secret.deletedKey, value: m.secret.deletedValue },
        { key: 'UNICODE', value: m.secret.unicodeValue },
      ]);
      await postSecrets(api, app.id, 'staging', [{ key: 'REFERENCED', value: m.secret.referencedValue }]);
      await postSecrets(api, app.id, 'development', [{ key: 'REFERRING', value: '${staging.REFERENCED}' }]);
      const put = await api.put(secretsUrl(app.id, 'development'), {
        secrets: [{ id: main.id, key: m.secret.renamedKey, value: m.secret.updatedValue, comment: m.secret.updatedComment, override: { value: m.secret.updatedOverride, isActive: false } }],
      });
      assert.equal(put.status, 200, put.text);
      assert.equal((await api.delete(secretsUrl(app.id, 'development'), { secrets: [doomed.id] })).status, 200);
      // reads, filtered reads (a key name in the query string) and resolved references
      const listed = await listSecrets(api, app.id, 'development');
      assert.equal(listed.find((s) => s.key === 'REFERRING').value, m.secret.referencedValue);
      assert.equal((await listSecrets(api, app.id, 'development', `&key=${m.secret.renamedKey}`))[0].override.value, m.secret.updatedOverride);
    });
    after(async () => {
      await server.close();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('no column of any table holds a key, value, comment or override value', async () => {
      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(server.store.db);
      assert.ok(tables.rows.length >= 20);
      const rows: string[] = [];
      for (const { table_name } of tables.rows) {
        const result = await sql<{ row: string }>`select t::text as row from ${sql.table(table_name)} t`.execute(server.store.db);
        for (const r of result.rows) rows.push(r.row);
      }
      const dump = Buffer.from(rows.join('\n'), 'utf8');
      for (const needle of plaintextNeedles) assert.ok(findIn(dump, needle), `control: ${needle} should be readable`);
      for (const needle of secretNeedles) assert.ok(!findIn(dump, needle), `${needle} is stored in plaintext`);
    });

    if (target.kind === 'postgres') {
      it('pg_dump of the database holds none of them', () => {
        const dumped = spawnSync('pg_dump', ['--data-only', '--no-owner', '--dbname', TEST_DATABASE_URL!], { maxBuffer: 1024 * 1024 * 1024 });
        assert.equal(dumped.status, 0, dumped.stderr?.toString());
        const dump = dumped.stdout;
        for (const needle of plaintextNeedles) assert.ok(findIn(dump, needle), `control: ${needle} should be in the dump`);
        for (const needle of secretNeedles) assert.ok(!findIn(dump, needle), `${needle} is in the pg_dump output`);
      });
    }

    if (target.kind === 'pglite') {
      it('the data directory holds none of them, while serving and after a clean shutdown', async () => {
        const live = scanDirectory(dataDir!, [...plaintextNeedles, ...secretNeedles]);
        for (const needle of plaintextNeedles) assert.ok(live.has(needle), `control: ${needle} should be on disk`);
        for (const needle of secretNeedles) assert.ok(!live.has(needle), `${needle} is on disk in plaintext`);
        await server.close();
        const closed = scanDirectory(dataDir!, [...plaintextNeedles, ...secretNeedles]);
        for (const needle of plaintextNeedles) assert.ok(closed.has(needle), `control: ${needle} should be on disk after shutdown`);
        for (const needle of secretNeedles) assert.ok(!closed.has(needle), `${needle} is on disk in plaintext after shutdown`);
      });
    }

    it('the server log holds none of them', () => {
      const log = Buffer.from(server.logs.join('\n'), 'utf8');
      assert.ok(server.logs.length > 5);
      for (const needle of secretNeedles) assert.ok(!findIn(log, needle), `${needle} was logged`);
    });
  });
}
