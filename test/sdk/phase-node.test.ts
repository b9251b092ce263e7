// The official Node SDK (@phase.dev/phase-node 3.1.1), unmodified, against a live Coffer on every
// store: init, get (all, by key, by path, by tags), create, update, delete, for an SSE app with a
// personal access token, for an SSE app with a service-account token, and for an E2EE app (before
// and after enabling SSE). What one side writes the other reads identically, and references the
// SDK resolves agree with the server's where the two algorithms agree.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PhaseSession } from '../../src/client/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { byKey, createE2eeApp, createServiceAccount, createSseApp, Phase, SdkGuard, type AppFixture } from '../client-protocol/helpers.js';

const plain = (secrets: Array<{ key: string; value: string; comment?: string; path?: string; tags?: string[] }>) =>
  byKey(secrets.map((s) => ({ key: s.key, value: s.value, comment: s.comment ?? '', path: s.path ?? '/', tags: s.tags ?? [] })));

for (const target of STORE_TARGETS) {
  describe(`Phase Node SDK against Coffer (${target.kind})`, { timeout: 180_000 }, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    const guard = new SdkGuard();

    before(async () => {
      guard.install();
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(async () => {
      await server.close();
      guard.uninstall();
      assert.deepEqual(guard.rejections.map(String), [], 'the SDK raised unhandled rejections');
    });

    const rest = (app: AppFixture, env: string) => `/v1/secrets/?app_id=${app.id}&env=${env}`;

    test('SSE app, personal access token: init, get (all, key, path, tags), create, update, delete', async () => {
      const app = await createSseApp(server, owner);
      const posted = await api.post(rest(app, 'Development'), {
        secrets: [
          { key: 'DB_USER', value: 'admin', comment: 'the user', tags: ['backend'] },
          { key: 'DB_URL', value: 'postgres://${DB_USER}@${staging.DB_HOST}/app' },
          { key: 'API_KEY', value: 'grüße · 秘密 · 🔑', comment: 'ünïcödé', path: '/backend', tags: ['backend', 'api'] },
        ],
      });
      assert.equal(posted.status, 200, posted.text);
      assert.equal((await api.post(rest(app, 'Staging'), { secrets: [{ key: 'DB_HOST', value: 'db.stg' }] })).status, 200);

      const phase = new Phase(owner.token, server.url);
      await guard.run(phase.init());
      const sdkApp = phase.apps.find((a) => a.id === app.id);
      assert.ok(sdkApp, 'the app is in the session');
      assert.deepEqual(sdkApp.environments.map((e) => e.name), ['Development', 'Staging', 'Production']);

      const all = await guard.run(phase.get({ appId: app.id, envName: 'development' }));
      assert.deepEqual(plain(all), plain([
        { key: 'DB_USER', value: 'admin', comment: 'the user', tags: ['backend'] },
        { key: 'DB_URL', value: 'postgres://admin@db.stg/app' },
        { key: 'API_KEY', value: 'grüße · 秘密 · 🔑', comment: 'ünïcödé', path: '/backend', tags: ['backend', 'api'] },
      ]));
      // The same values through REST (server-side resolution).
      const viaRest = await api.get(rest(app, 'Development'));
      assert.deepEqual(plain(viaRest.body), plain(all));

      const one = await guard.run(phase.get({ appId: app.id, envName: 'Development', key: 'db_user' }));
      assert.deepEqual(one.map((s) => [s.key, s.value]), [['DB_USER', 'admin']]);
      const inPath = await guard.run(phase.get({ appId: app.id, envName: 'Development', path: '/backend' }));
      assert.deepEqual(inPath.map((s) => s.key), ['API_KEY']);
      const tagged = await guard.run(phase.get({ appId: app.id, envName: 'Development', tags: ['backend'] }));
      assert.deepEqual(tagged.map((s) => s.key).sort(), ['API_KEY', 'DB_USER']);

      await guard.run(phase.create({ appId: app.id, envName: 'Development', secrets: [{ key: 'SDK_KEY', value: 'from the sdk', comment: 'sdk comment', tags: ['sdk'] }] }));
      const created = (await api.get(`${rest(app, 'Development')}&key=SDK_KEY`)).body;
      assert.deepEqual(created.map((s: any) => [s.key, s.value, s.comment, s.tags, s.version]), [['SDK_KEY', 'from the sdk', 'sdk comment', ['sdk'], 1]]);

      const id = created[0].id;
      await guard.run(phase.update({ appId: app.id, envName: 'Development', secrets: [{ id, value: 'updated by the sdk', tags: ['sdk', 'v2'] }] }));
      const updated = (await api.get(`${rest(app, 'Development')}&key=SDK_KEY`)).body[0];
      // The SDK always sends a comment (an encrypted "" when none is given): it clears the comment.
      assert.deepEqual([updated.value, updated.comment, updated.tags, updated.version], ['updated by the sdk', '', ['sdk', 'v2'], 2]);
      // Empty batches settle, as with Phase (on a 400 the SDK's promise never settled).
      await guard.run(phase.create({ appId: app.id, envName: 'Development', secrets: [] }));
      await guard.run(phase.update({ appId: app.id, envName: 'Development', secrets: [] }));
      const again = await guard.run(phase.get({ appId: app.id, envName: 'Development', key: 'SDK_KEY' }));
      assert.deepEqual(again.map((s) => [s.value, s.version]), [['updated by the sdk', 2]]);

      await guard.run(phase.delete({ appId: app.id, envName: 'Development', secretIds: [id] }));
      assert.deepEqual((await api.get(`${rest(app, 'Development')}&key=SDK_KEY`)).body, []);
      const afterDelete = await guard.run(phase.get({ appId: app.id, envName: 'Development' }));
      assert.deepEqual(afterDelete.map((s) => s.key).sort(), ['API_KEY', 'DB_URL', 'DB_USER']);
    });

    test('SSE app, service-account token: sees only its environments; get, create, update, delete', async () => {
      const app = await createSseApp(server, owner);
      const dev = app.environments.find((e) => e.name === 'Development')!;
      assert.equal((await api.post(rest(app, 'Development'), { secrets: [{ key: 'FROM_REST', value: 'rest value', tags: ['t'] }] })).status, 200);
      assert.equal((await api.post(rest(app, 'Production'), { secrets: [{ key: 'PROD_ONLY', value: 'secret' }] })).status, 200);
      const sa = await createServiceAccount(server, owner, { appId: app.id, environmentIds: [dev.id] });
      assert.match(sa.token, /^pss_service:v2:/);

      const phase = new Phase(sa.token, server.url);
      await guard.run(phase.init());
      assert.equal(phase.tokenType, 'ServiceAccount');
      assert.deepEqual(phase.apps.map((a) => [a.id, a.environments.map((e) => e.name)]), [[app.id, ['Development']]]);

      const read = await guard.run(phase.get({ appId: app.id, envName: 'Development' }));
      assert.deepEqual(read.map((s) => [s.key, s.value, s.tags]), [['FROM_REST', 'rest value', ['t']]]);
      assert.deepEqual((await guard.run(phase.get({ appId: app.id, envName: 'Development', key: 'from_rest' }))).map((s) => s.value), ['rest value']);
      assert.deepEqual(await guard.run(phase.get({ appId: app.id, envName: 'Development', path: '/nowhere' })), []);
      assert.deepEqual(await guard.run(phase.get({ appId: app.id, envName: 'Development', tags: ['other'] })), []);

      await guard.run(phase.create({ appId: app.id, envName: 'Development', secrets: [{ key: 'SA_KEY', value: 'sa value', comment: '', path: '/ci' }] }));
      const listed = (await api.get(`${rest(app, 'Development')}&path=/ci`)).body;
      assert.deepEqual(listed.map((s: any) => [s.key, s.value, s.path]), [['SA_KEY', 'sa value', '/ci']]);
      await guard.run(phase.update({ appId: app.id, envName: 'Development', secrets: [{ id: listed[0].id, key: 'SA_KEY_RENAMED', value: 'sa value 2' }] }));
      const renamed = (await api.get(`${rest(app, 'Development')}&path=/ci`)).body;
      assert.deepEqual(renamed.map((s: any) => [s.key, s.value, s.version]), [['SA_KEY_RENAMED', 'sa value 2', 2]]);
      await guard.run(phase.delete({ appId: app.id, envName: 'Development', secretIds: [listed[0].id] }));
      assert.deepEqual((await api.get(`${rest(app, 'Development')}&path=/ci`)).body, []);

      // The service account's writes are recorded as its own.
      const actors = await server.domain.deps.db
        .selectFrom('events')
        .select(['action', 'actor_service_account_id'])
        .where('environment_id', '=', dev.id)
        .where('actor_service_account_id', '=', sa.serviceAccountId)
        .orderBy('seq')
        .execute();
      assert.deepEqual(actors.map((e) => e.action), ['read', 'read', 'read', 'read', 'create', 'update', 'delete']);
    });

    test('E2EE app: the SDK works with keys the server never held; nothing readable reaches the database or the logs; SSE enabled later', async () => {
      const app = await createE2eeApp(server, owner.token);
      const marker = randomUUID().replaceAll('-', '');
      const key = `E2EE_KEY_${marker.toUpperCase()}`;
      const value = `e2ee value ${marker}`;
      const comment = `e2ee comment ${marker}`;

      const phase = new Phase(owner.token, server.url);
      await guard.run(phase.init());
      assert.deepEqual(phase.apps.find((a) => a.id === app.id)?.environments.map((e) => e.name), ['Development', 'Staging', 'Production']);
      await guard.run(phase.create({ appId: app.id, envName: 'Development', secrets: [{ key, value, comment, tags: ['e2ee'] }, { key: 'REF', value: `\${${key}}-\${staging.OTHER}`, comment: '' }] }));
      await guard.run(phase.create({ appId: app.id, envName: 'Staging', secrets: [{ key: 'OTHER', value: 'staging other', comment: '' }] }));

      const read = await guard.run(phase.get({ appId: app.id, envName: 'Development' }));
      assert.deepEqual(plain(read), plain([
        { key, value, comment, tags: ['e2ee'] },
        { key: 'REF', value: `${value}-staging other` },
      ]));
      const byTag = await guard.run(phase.get({ appId: app.id, envName: 'Development', tags: ['e2ee'] }));
      assert.deepEqual(byTag.map((s) => s.key), [key]);
      const byKeyName = await guard.run(phase.get({ appId: app.id, envName: 'Development', key }));
      assert.deepEqual(byKeyName.map((s) => s.value), [value]);
      assert.deepEqual(await guard.run(phase.get({ appId: app.id, envName: 'Development', path: '/elsewhere' })), []);

      const id = byKeyName[0]!.id;
      await guard.run(phase.update({ appId: app.id, envName: 'Development', secrets: [{ id, value: `${value} v2`, comment }] }));
      assert.deepEqual((await guard.run(phase.get({ appId: app.id, envName: 'Development', key }))).map((s) => [s.value, s.comment, s.version]), [[`${value} v2`, comment, 2]]);

      // The REST API cannot serve an E2EE app.
      const refused = await api.get(rest(app, 'Development'));
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body, { error: 'SSE is not enabled for this App' });

      // No plaintext anywhere the server writes: every row of every table, and every log line.
      const tables = ['secrets', 'events', 'personal_overrides', 'environment_keys', 'server_environment_keys', 'environments', 'apps', 'tags', 'folders'] as const;
      for (const table of tables) {
        const rows = await server.domain.deps.db.selectFrom(table).selectAll().execute();
        const dump = JSON.stringify(rows).toLowerCase();
        assert.ok(!dump.includes(marker), `table ${table} holds plaintext`);
        assert.ok(!dump.includes('staging other'), `table ${table} holds plaintext`);
      }
      assert.equal(await server.domain.deps.db.selectFrom('server_environment_keys').select('environment_id').where('environment_id', 'in', app.environments.map((e) => e.id)).executeTakeFirst(), undefined);
      assert.ok(server.logs.length > 0);
      assert.ok(!server.logs.join('\n').toLowerCase().includes(marker), 'the logs hold plaintext');

      // Enabling SSE (client library, one-way): the REST API now reads what the SDK wrote, unchanged.
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        const enabled = await session.enableSse(app.id);
        assert.equal(enabled.sseEnabled, true);
      } finally {
        session.close();
      }
      const viaRest = await api.get(rest(app, 'Development'));
      assert.equal(viaRest.status, 200, viaRest.text);
      // The SDK's update() sends `tags: []` when none are given, so the update above cleared them.
      assert.deepEqual(plain(viaRest.body), plain([
        { key, value: `${value} v2`, comment },
        { key: 'REF', value: `${value} v2-staging other` },
      ]));
      // ...and the SDK keeps working on it, now an SSE app.
      await guard.run(phase.delete({ appId: app.id, envName: 'Development', secretIds: [id] }));
      assert.deepEqual((await api.get(rest(app, 'Development'))).body.map((s: any) => s.key), ['REF']);
    });

    test('references: where both algorithms agree, the SDK resolves exactly what the server resolves', async () => {
      const other = await createSseApp(server, owner, `refs-other-${randomUUID().slice(0, 8)}`);
      const app = await createSseApp(server, owner);
      assert.equal((await api.post(rest(other, 'Production'), { secrets: [{ key: 'WEBHOOK', value: 'wh_1' }] })).status, 200);
      assert.equal((await api.post(rest(app, 'Staging'), { secrets: [{ key: 'DB_HOST', value: 'db.stg' }, { key: 'NESTED', value: 'n-${DB_HOST}' }] })).status, 200);
      assert.equal((await api.post(rest(app, 'Production'), { secrets: [{ key: 'SECRET_KEY', value: 'abc', path: '/frontend' }] })).status, 200);
      const created = await api.post(rest(app, 'Development'), {
        secrets: [
          { key: 'DB_USER', value: 'admin' },
          { key: 'DB_PASS', value: 'pw' },
          { key: 'LOCAL', value: '${DB_USER}:${DB_PASS}' },
          { key: 'CHAIN', value: '<${LOCAL}>' },
          { key: 'CROSS_ENV', value: '${staging.DB_HOST}' },
          { key: 'CROSS_ENV_NESTED', value: '${staging.NESTED}' },
          { key: 'CROSS_ENV_PATH', value: '${production./frontend/SECRET_KEY}' },
          { key: 'CROSS_APP', value: `\${${other.name}::production.WEBHOOK}` },
          { key: 'API', value: 'k', path: '/backend' },
          { key: 'LOCAL_PATH', value: '${/backend/API}' },
          { key: 'MISSING', value: 'x-${NOPE}' },
          { key: 'RAILWAY', value: '${{RAILWAY_VAR}}' },
        ],
      });
      assert.equal(created.status, 200, created.text);

      const phase = new Phase(owner.token, server.url);
      await guard.run(phase.init());
      const warn = console.warn;
      console.warn = () => {}; // the SDK warns about the references that stay unresolved
      let sdk;
      try {
        sdk = await guard.run(phase.get({ appId: app.id, envName: 'Development' }));
      } finally {
        console.warn = warn;
      }
      const server_ = (await api.get(rest(app, 'Development'))).body as Array<{ key: string; value: string }>;
      const values = (list: Array<{ key: string; value: string }>) => Object.fromEntries(list.map((s) => [s.key, s.value]));
      assert.deepEqual(values(sdk), values(server_));
      assert.deepEqual(values(sdk), {
        DB_USER: 'admin',
        DB_PASS: 'pw',
        LOCAL: 'admin:pw',
        CHAIN: '<admin:pw>',
        CROSS_ENV: 'db.stg',
        CROSS_ENV_NESTED: 'n-db.stg',
        CROSS_ENV_PATH: 'abc',
        CROSS_APP: 'wh_1',
        API: 'k',
        LOCAL_PATH: 'k',
        MISSING: 'x-${NOPE}',
        RAILWAY: '${{RAILWAY_VAR}}',
      });

      // Coffer's own client library resolves like the SDK.
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        const ours = await session.list(session.environment(app.id, 'development'));
        assert.deepEqual(values(ours), values(sdk));
      } finally {
        session.close();
      }
    });
  });
}
