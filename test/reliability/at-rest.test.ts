// Nothing secret at rest, end to end (DESIGN §4, docs/security.md): one scripted workload touches
// every kind of secret Coffer handles — secret keys, values, comments and override values written,
// updated and deleted through the REST API; the same through the client protocol into an E2EE app
// and an SSE app; a password sign-in (console session and CSRF token); personal access tokens (one
// registered through the session); service-account tokens (initial and minted); an invite and its
// link. Afterwards none of them appears in `pg_dump` of the PostgreSQL database, in any file of the
// embedded data directory (raw bytes, recursively; master.key aside, which exists), or in the log.
// (Focused suites: test/http/public-v1/at-rest.test.ts for secret fields in every column,
// test/http/access/at-rest.test.ts for key shares and private keys.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PhaseSession } from '../../src/client/index.js';
import { parseToken } from '../../src/crypto/index.js';
import { apiClient } from '../helpers/fixtures.js';
import { request, startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS, createEmptyPostgresDatabase } from '../helpers/stores.js';
import { createAccount, mintPat, signIn } from '../http/console/accounts.js';

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
  });
}

/** Every way a needle may be spelled in bytes: as written, upper-cased (keys), UTF-8 and UTF-16LE. */
function spellings(text: string): Buffer[] {
  const forms = new Set([text, text.toUpperCase(), text.toLowerCase()]);
  return [...forms].flatMap((form) => [Buffer.from(form, 'utf8'), Buffer.from(form, 'utf16le')]);
}

function findNeedles(haystack: Buffer, needles: Record<string, string>): string[] {
  return Object.entries(needles)
    .filter(([, text]) => spellings(text).some((bytes) => haystack.includes(bytes)))
    .map(([label]) => label);
}

for (const target of STORE_TARGETS) {
  describe(`nothing secret at rest or in the log after a full workload on ${target.kind}`, () => {
    it('pg_dump / the data directory and the log hold no secret value, key, comment, override, password or token', async () => {
      const tag = randomBytes(6).toString('hex');
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-at-rest-all-'));
      const database = target.kind === 'postgres' ? await createEmptyPostgresDatabase() : undefined;
      let server: TestServer | undefined;
      try {
        // The embedded store generates its own master.key in the data directory (no COFFER_MASTER_KEY).
        server = await startTestServer({
          store: target.kind,
          env: { LOG_LEVEL: 'debug', ...(target.kind === 'pglite' ? { COFFER_MASTER_KEY: '' } : {}) },
          ...(target.kind === 'pglite' ? { dataDir } : { databaseUrl: database!.url }),
        });
        const secret: Record<string, string> = {};
        const s = (label: string) => secret[label]!;
        const plaintext = { sseApp: `rest-app-${tag}`, e2eeApp: `e2ee-app-${tag}`, saName: `bot-${tag}`, tag: `tag-${tag}` };

        // --- an account with a password; a console session; a PAT registered through the session
        const account = await createAccount(server.domain, { email: `owner-${tag}@example.com` });
        Object.assign(secret, { password: account.password, 'login hash': account.loginHash, 'recovery phrase': account.mnemonic, 'first PAT': account.pat.token, 'first PAT bearer': account.pat.bearer });
        const session = await signIn(server.url, account.email, account.loginHash, { 'user-agent': `agent-${tag}` });
        Object.assign(secret, { 'session id': session.cookie.split('=')[1]!, 'CSRF token': session.csrfToken });
        assert.equal((await request(`${server.url}/coffer/v1/me/`, { headers: { cookie: session.cookie } })).status, 200);
        const sessionPat = mintPat(account.keyring, 'via-session');
        const registered = await request(`${server.url}/coffer/v1/tokens/?organisation_id=${account.organisationId}`, { method: 'POST', json: sessionPat.body, headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } });
        assert.equal(registered.status, 201, registered.text);
        Object.assign(secret, { 'session PAT': sessionPat.token, 'session PAT bearer': sessionPat.bearer });
        const api = apiClient(server.url, account.pat.authorization);

        // --- SSE secrets through the REST API: written, updated, overridden, referenced, deleted
        const app = await api.post('/v1/apps/', { name: plaintext.sseApp });
        assert.equal(app.status, 201, app.text);
        const url = `/v1/secrets/?app_id=${app.body.id}&env=development`;
        Object.assign(secret, {
          'REST key': `rest_key_${tag}`,
          'REST value': `rest-value-${tag}`,
          'REST comment': `rest-comment-${tag}`,
          'REST override': `rest-override-${tag}`,
          'REST renamed key': `rest_renamed_${tag}`,
          'REST updated value': `rest-updated-${tag}`,
          'REST deleted value': `rest-deleted-${tag}`,
        });
        const created = await api.post(url, {
          secrets: [
            { key: s('REST key'), value: s('REST value'), comment: s('REST comment'), tags: [plaintext.tag], override: { value: s('REST override'), isActive: true } },
            { key: `doomed_${tag}`, value: s('REST deleted value') },
            { key: 'POINTER', value: `\${rest_key_${tag}}` },
          ],
        });
        assert.equal(created.status, 200, created.text);
        assert.equal((await api.put(url, { secrets: [{ id: created.body[0].id, key: s('REST renamed key'), value: s('REST updated value') }] })).status, 200);
        assert.equal((await api.delete(url, { secrets: [created.body[1].id] })).status, 200);
        assert.equal((await api.get(`${url}&key=${s('REST renamed key')}`)).body[0].value, s('REST updated value'));

        // --- service-account tokens (initial and minted), used for a read
        const roles = (await api.get('/v1/roles/')).body.data as Array<{ id: string; name: string }>;
        const sa = await api.post('/v1/service-accounts/', { name: plaintext.saName, role_id: roles.find((r) => r.name === 'Service')!.id });
        assert.equal(sa.status, 201, sa.text);
        assert.equal((await api.put(`/v1/service-accounts/${sa.body.id}/access/`, { apps: [{ id: app.body.id, environments: [app.body.environments[0].id] }] })).status, 200);
        const minted = await api.post(`/v1/service-accounts/${sa.body.id}/tokens/`, { name: 'minted', expires_in: 3600 });
        assert.equal(minted.status, 201, minted.text);
        for (const [label, token] of [['SA initial token', sa.body.initialToken.token], ['SA minted token', minted.body.token]] as const) {
          secret[label] = token;
          secret[`${label} bearer`] = parseToken(token).bearer;
          assert.equal((await apiClient(server.url, `Bearer ${token}`).get(url)).status, 200);
        }

        // --- an invite, its link opened
        const invite = await api.post('/v1/members/invites/', { email: `invitee-${tag}@example.com`, role_id: roles.find((r) => r.name === 'Developer')!.id });
        assert.equal(invite.status, 201, invite.text);
        secret['invite token'] = String(invite.body.inviteUrl).split('/').filter(Boolean).pop()!;
        assert.equal((await request(`${server.url}/coffer/v1/invites/${s('invite token')}/`)).status, 200);

        // --- the client protocol: an E2EE app and the SSE app, written, updated and read by the client library
        Object.assign(secret, {
          'E2EE key': `e2ee_key_${tag}`,
          'E2EE value': `e2ee-value-${tag}`,
          'E2EE comment': `e2ee-comment-${tag}`,
          'E2EE override': `e2ee-override-${tag}`,
          'E2EE updated value': `e2ee-updated-${tag}`,
          'protocol SSE value': `protocol-sse-value-${tag}`,
        });
        let client = await PhaseSession.open({ host: server.url, token: account.pat.token });
        await client.createE2eeApp({ name: plaintext.e2eeApp });
        client.close();
        client = await PhaseSession.open({ host: server.url, token: account.pat.token });
        try {
          const e2ee = client.environment(plaintext.e2eeApp, 'Development');
          await client.create(e2ee, [{ key: s('E2EE key'), value: s('E2EE value'), comment: s('E2EE comment'), override: { value: s('E2EE override'), isActive: true } }]);
          const [stored] = await client.list(e2ee, { key: s('E2EE key') });
          await client.update(e2ee, [{ id: stored!.id, value: s('E2EE updated value') }]);
          const [updated] = await client.list(e2ee, { key: s('E2EE key') });
          assert.equal(updated!.sharedValue, s('E2EE updated value'));
          const sse = client.environment(plaintext.sseApp, 'Development');
          await client.create(sse, [{ key: `protocol_key_${tag}`, value: s('protocol SSE value') }]);
        } finally {
          client.close();
        }
        secret['protocol SSE key'] = `protocol_key_${tag}`;
        assert.equal((await api.get(`${url}&key=protocol_key_${tag}`)).body[0].value, s('protocol SSE value'));

        await server.close();
        const logs = Buffer.from(server.logs.join('\n'), 'utf8');
        server = undefined;

        // --- the stored bytes
        let stored: Buffer;
        if (database) {
          const dumped = spawnSync('pg_dump', ['--no-owner', '--dbname', database.url], { maxBuffer: 1024 * 1024 * 1024 });
          assert.equal(dumped.status, 0, dumped.stderr?.toString());
          stored = dumped.stdout;
        } else {
          assert.ok(fs.statSync(path.join(dataDir, 'master.key')).isFile(), 'the embedded store generated its master key file');
          const files = filesUnder(dataDir).filter((file) => path.basename(file) !== 'master.key');
          assert.ok(files.length > 10, `the data directory holds the store (${files.length} files)`);
          stored = Buffer.concat(files.map((file) => fs.readFileSync(file)));
        }
        // positive control: what is stored in plaintext on purpose is found by the same scan
        assert.deepEqual(findNeedles(stored, plaintext).sort(), Object.keys(plaintext).sort(), 'the scan sees plaintext names');
        assert.deepEqual(findNeedles(stored, secret), [], `secrets in the ${database ? 'pg_dump' : 'data directory'}`);
        assert.ok(logs.length > 0);
        assert.deepEqual(findNeedles(logs, secret), [], 'secrets in the log');
        assert.ok(server === undefined);
      } finally {
        await server?.close();
        await database?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
