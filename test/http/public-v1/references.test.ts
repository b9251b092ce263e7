// Secret references resolved on the server (rest-api §6) on every store: every worked example of
// §6.3, then cycles, depth, failures left verbatim, cross-app addressing, access (D-9) and caching.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { createE2eeApp } from '../../helpers/e2ee.js';
import { addMember, grantAccess, grantEnvironments, type MemberFixture } from '../../helpers/principals.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { createApp, listSecrets, postSecrets, secretEvents, secretsUrl, valuesByKey, type CreatedApp } from '../../helpers/world.js';

for (const target of STORE_TARGETS) {
  describe(`secret references (rest-api §6) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let shop: CreatedApp;
    let billing: CreatedApp;
    let developer: MemberFixture;
    let dev: ApiClient;

    const values = async (client: ApiClient, app: string, env: string, extra = '') => valuesByKey(await listSecrets(client, app, env, extra));

    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      shop = await createApp(api, 'shop');
      billing = await createApp(api, 'billing', { environments: ['Production'] });
      const locked = await api.post(`/v1/environments/?app_id=${shop.id}`, { name: 'locked' });
      assert.equal(locked.status, 201);
      await postSecrets(api, shop.id, 'locked', [{ key: 'KEY', value: 'secret-locked' }]);
      await postSecrets(api, shop.id, 'staging', [
        { key: 'DB_HOST', value: 'db.stg' },
        { key: 'Y', value: '${Z}' },
      ]);
      await postSecrets(api, shop.id, 'production', [
        { key: 'SECRET_KEY', value: 'abc', path: '/frontend' },
        { key: 'db.host', value: 'dotted' },
      ]);
      await postSecrets(api, billing.id, 'production', [{ key: 'WEBHOOK', value: 'wh_1' }]);
      await postSecrets(api, shop.id, 'development', [
        { key: 'DB_USER', value: 'admin' },
        { key: 'DB_PASS', value: 'pw' },
        { key: 'DB_HOST', value: '${staging.DB_HOST}' },
        { key: 'LOCAL', value: 'x' },
        { key: 'Z', value: 'dev-z' },
        { key: 'API', value: 'k', path: '/backend' },
        { key: 'RAILWAY_VAR', value: 'must not be used' },
        // the worked examples of §6.3
        { key: 'DB_URL', value: 'postgres://${DB_USER}:${DB_PASS}@${DB_HOST}:5432/app' },
        { key: 'FRONT', value: '${Production./frontend/SECRET_KEY}' },
        { key: 'HOOK', value: '${billing::production.WEBHOOK}' },
        { key: 'MIX', value: '${LOCAL}-${locked.KEY}' },
        { key: 'LOW', value: '${db_user}' },
        { key: 'A', value: '${B}' },
        { key: 'B', value: '${A}' },
        { key: 'X', value: '${staging.Y}' },
        { key: 'R', value: '${{RAILWAY_VAR}}' },
        { key: 'P', value: '${/backend/API}', path: '/backend' },
        { key: 'P', value: '${API}', path: '/other' },
      ]);
      developer = await addMember(server.domain, owner.organisationId, 'Developer');
      await grantAccess(server.domain, developer, shop.id, [shop.env.development!.id, shop.env.staging!.id, shop.env.production!.id]);
      dev = apiClient(server.url, developer.authorization);
    });
    after(() => server.close());

    describe('the examples of §6.3', () => {
      it('1: local references, one of them cross-environment', async () => {
        assert.equal((await values(api, shop.id, 'development')).DB_URL, 'postgres://admin:pw@db.stg:5432/app');
      });

      it('2: cross-environment with a path, environment name case-insensitive', async () => {
        assert.equal((await values(api, shop.id, 'development')).FRONT, 'abc');
      });

      it('3: cross-app; left as text without access to the target environment', async () => {
        assert.equal((await values(api, shop.id, 'development')).HOOK, 'wh_1');
        assert.equal((await values(dev, shop.id, 'development')).HOOK, '${billing::production.WEBHOOK}');
      });

      it('4: a denied reference stops the expansion of the whole text', async () => {
        assert.equal((await values(api, shop.id, 'development')).MIX, 'x-secret-locked');
        assert.equal((await values(dev, shop.id, 'development')).MIX, '${LOCAL}-${locked.KEY}');
      });

      it('5: keys are case-sensitive in references', async () => {
        assert.equal((await values(api, shop.id, 'development')).LOW, '${db_user}');
      });

      it('6: a cycle leaves the innermost reference', async () => {
        const v = await values(api, shop.id, 'development');
        assert.deepEqual([v.A, v.B], ['${A}', '${B}']);
      });

      it('7: a secret 25 or more hops away is never entered', async () => {
        const chain = await api.post(`/v1/environments/?app_id=${shop.id}`, { name: 'chain' });
        assert.equal(chain.status, 201);
        const links = Array.from({ length: 30 }, (_, i) => ({ key: `K${i + 1}`, value: i === 29 ? 'end' : `\${K${i + 2}}` }));
        await postSecrets(api, shop.id, 'chain', links);
        const v = await values(api, shop.id, 'chain');
        for (let n = 1; n <= 5; n++) assert.equal(v[`K${n}`], `\${K${n + 25}}`, `K${n}`);
        for (let n = 6; n <= 30; n++) assert.equal(v[`K${n}`], 'end', `K${n}`);
      });

      it('8: a later phase rescans text inserted by an earlier one, in the referencing environment', async () => {
        assert.equal((await values(api, shop.id, 'development')).X, 'dev-z');
        assert.equal((await values(api, shop.id, 'staging')).Y, '${Z}');
      });

      it('9: ${{...}} is left alone', async () => {
        assert.equal((await values(api, shop.id, 'development')).R, '${{RAILWAY_VAR}}');
      });

      it('10: a reference without a path looks at the root, not the secret\'s folder', async () => {
        const listed = await listSecrets(api, shop.id, 'development', '&key=P');
        assert.deepEqual(listed.map((s) => [s.path, s.value]).sort(), [['/backend', 'k'], ['/other', '${API}']]);
      });
    });

    describe('grammar and failures (§6.1, §6.2)', () => {
      it('leaves failed references verbatim and resolves the rest', async () => {
        const cases: Array<[string, string]> = [
          ['${NOPE}', '${NOPE}'],
          ['${staging.NOPE}-${DB_USER}', '${staging.NOPE}-admin'],
          ['${nowhere.KEY}|${DB_USER}', '${nowhere.KEY}|admin'],
          ['${nowhere::production.WEBHOOK}', '${nowhere::production.WEBHOOK}'],
          ['${billing::staging.WEBHOOK}', '${billing::staging.WEBHOOK}'],
          ['${billing::KEY}', '${billing::KEY}'],
          ['${ DB_USER }', '${ DB_USER }'],
          ['${/a.b/KEY}', '${/a.b/KEY}'],
          ['$${DB_USER}', '$admin'],
          ['${DB_USER}${DB_USER}-${DB_USER}', 'adminadmin-admin'],
          ['${backend/API}/${//backend//API}', 'k/k'],
          ['${production.DB.HOST}', 'dotted'],
          ['${PRODUCTION./frontend/SECRET_KEY}', 'abc'],
          ['${BILLING::PRODUCTION.WEBHOOK}', 'wh_1'],
          ['${billing::production./WEBHOOK}', 'wh_1'],
          ['${{DB_USER}}', '${{DB_USER}}'],
          ['{${DB_USER}}', '{admin}'],
          ['${DB_USER', '${DB_USER'],
          ['${}', '${}'],
          ['plain text', 'plain text'],
        ];
        const created = await postSecrets(api, shop.id, 'development', cases.map(([value], i) => ({ key: `G${i}`, value })));
        assert.deepEqual(created.map((c) => c.value), cases.map(([, expected]) => expected));
        const listed = await values(api, shop.id, 'development');
        cases.forEach(([, expected], i) => assert.equal(listed[`G${i}`], expected, cases[i]![0]));
      });

      it('longer cycles and self-references leave the reference that closes the cycle', async () => {
        await postSecrets(api, shop.id, 'staging', [
          { key: 'C1', value: 'c1(${C2})' },
          { key: 'C2', value: 'c2(${C3})' },
          { key: 'C3', value: 'c3(${C1})' },
          { key: 'SELF', value: 'me ${SELF}' },
          { key: 'XC', value: '${development.DB_USER}+${development.XBACK}' },
        ]);
        await postSecrets(api, shop.id, 'development', [{ key: 'XBACK', value: '<${staging.XC}>' }]);
        const v = await values(api, shop.id, 'staging');
        assert.equal(v.C1, 'c1(c2(c3(${C1})))');
        assert.equal(v.C2, 'c2(c3(c1(${C2})))');
        assert.equal(v.SELF, 'me ${SELF}');
        assert.equal(v.XC, 'admin+<${staging.XC}>');
      });

      it('addresses apps by name, case-insensitively, and fails when the name is ambiguous', async () => {
        const [ref] = await postSecrets(api, shop.id, 'staging', [{ key: 'BILL', value: '${Billing::Production.WEBHOOK}' }]);
        assert.equal(ref.value, 'wh_1');
        const twin = await createApp(api, 'BILLING', { environments: ['Production'] });
        assert.equal((await values(api, shop.id, 'staging')).BILL, '${Billing::Production.WEBHOOK}');
        assert.equal((await api.delete(`/v1/apps/${twin.id}/`)).status, 204);
        assert.equal((await values(api, shop.id, 'staging')).BILL, 'wh_1');
        // renaming the app breaks references to the old name
        assert.equal((await api.put(`/v1/apps/${billing.id}/`, { name: 'payments' })).status, 200);
        assert.equal((await values(api, shop.id, 'staging')).BILL, '${Billing::Production.WEBHOOK}');
        assert.equal((await api.put(`/v1/apps/${billing.id}/`, { name: 'billing' })).status, 200);
        assert.equal((await values(api, shop.id, 'staging')).BILL, 'wh_1');
      });

      it('references into an E2EE app fail', async () => {
        const e2ee = await createE2eeApp(server.domain, owner, 'vault', ['Production']);
        assert.ok(e2ee.appId);
        const [ref] = await postSecrets(api, shop.id, 'staging', [{ key: 'INTO_E2EE', value: '${vault::production.KEY}|${DB_HOST}' }]);
        assert.equal(ref.value, '${vault::production.KEY}|db.stg');
      });

      it('follows chains across many environments', async () => {
        const names = Array.from({ length: 12 }, (_, i) => `hop${i}`);
        const hops = await createApp(api, 'hops', { environments: names });
        for (const [i, name] of names.entries()) {
          await postSecrets(api, hops.id, name, [{ key: 'V', value: i === names.length - 1 ? 'end' : `${i}>\${hop${i + 1}.V}` }]);
        }
        assert.equal((await values(api, hops.id, 'hop0')).V, '0>1>2>3>4>5>6>7>8>9>10>end');
        await postSecrets(api, shop.id, 'development', [{ key: 'HOPS', value: '${hops::HOP0.V}' }]);
        assert.equal((await values(api, shop.id, 'development', '&key=hops')).HOPS, '0>1>2>3>4>5>6>7>8>9>10>end');
      });
    });

    describe('values used, access and caching (§6.2 notes, §6.4, D-9)', () => {
      it('resolves override values in the context of their secret, and never uses overrides of referenced secrets', async () => {
        const [pinned] = await postSecrets(api, shop.id, 'production', [
          { key: 'OVR_BASE', value: 'shared-base', override: { value: 'owner-base', isActive: true } },
          { key: 'OVR_REF', value: '${OVR_BASE}', override: { value: '${staging.DB_HOST}/${OVR_BASE}', isActive: true } },
        ]);
        assert.equal(pinned.override.value, 'owner-base');
        const [ref] = await listSecrets(api, shop.id, 'production', '&key=ovr_ref');
        assert.deepEqual([ref.value, ref.override.value], ['shared-base', 'db.stg/shared-base']);
      });

      it('applies the caller\'s environment access at every level, in GET, POST and PUT responses (D-9)', async () => {
        // the developer reads development, staging and production of shop, nothing else
        await postSecrets(api, shop.id, 'production', [{ key: 'VIA_STAGING', value: '${staging.DB_HOST}' }, { key: 'VIA_LOCKED', value: '[${locked.KEY}]' }]);
        const body = { secrets: [{ key: 'D9', value: '${production.VIA_LOCKED}|${production.VIA_STAGING}|${DB_USER}' }] };
        const posted = await dev.post(secretsUrl(shop.id, 'development'), body);
        assert.equal(posted.status, 200, posted.text);
        assert.equal(posted.body[0].value, '[${locked.KEY}]|db.stg|admin');
        const own = (await api.put(secretsUrl(shop.id, 'development'), { secrets: [{ id: posted.body[0].id }] })).body[0];
        assert.equal(own.value, '[secret-locked]|db.stg|admin');
        const stopped = await dev.put(secretsUrl(shop.id, 'development'), { secrets: [{ id: posted.body[0].id, value: '${DB_USER}:${locked.KEY}' }] });
        assert.equal(stopped.body[0].value, '${DB_USER}:${locked.KEY}');
        const created = await dev.post(secretsUrl(shop.id, 'development'), { secrets: [{ key: 'D9_HOOK', value: '${billing::production.WEBHOOK}' }] });
        assert.equal(created.body[0].value, '${billing::production.WEBHOOK}');
        assert.equal((await values(api, shop.id, 'development', '&key=d9_hook')).D9_HOOK, 'wh_1');
        // access granted later is used by the next read
        await grantAccess(server.domain, developer, billing.id, [billing.env.production!.id]);
        assert.equal((await values(dev, shop.id, 'development', '&key=d9_hook')).D9_HOOK, 'wh_1');
        await grantEnvironments(server.domain, developer, [(await server.domain.deps.db.selectFrom('environments').select('id').where('app_id', '=', shop.id).where('name', '=', 'locked').executeTakeFirstOrThrow()).id]);
        assert.equal((await values(dev, shop.id, 'development')).MIX, 'x-secret-locked');
      });

      it('sees a change of a referenced secret in another environment on the next read', async () => {
        const [host] = await listSecrets(api, shop.id, 'staging', '&key=db_host');
        const before = (await values(api, shop.id, 'development')).DB_URL;
        assert.equal(before, 'postgres://admin:pw@db.stg:5432/app');
        await api.put(secretsUrl(shop.id, 'staging'), { secrets: [{ id: host.id, value: 'db2.stg' }] });
        assert.equal((await values(api, shop.id, 'development')).DB_URL, 'postgres://admin:pw@db2.stg:5432/app');
        assert.equal((await values(dev, shop.id, 'development')).DB_URL, 'postgres://admin:pw@db2.stg:5432/app');
        await api.delete(secretsUrl(shop.id, 'staging'), { secrets: [host.id] });
        assert.equal((await values(api, shop.id, 'development')).DB_URL, 'postgres://admin:pw@${staging.DB_HOST}:5432/app');
        await postSecrets(api, shop.id, 'staging', [{ key: 'DB_HOST', value: 'db.stg' }]);
        assert.equal((await values(api, shop.id, 'development')).DB_URL, 'postgres://admin:pw@db.stg:5432/app');
        // a new environment makes a failing reference resolvable
        await postSecrets(api, shop.id, 'development', [{ key: 'LATER', value: '${later.K}' }]);
        assert.equal((await values(api, shop.id, 'development', '&key=later')).LATER, '${later.K}');
        assert.equal((await api.post(`/v1/environments/?app_id=${shop.id}`, { name: 'later' })).status, 201);
        await postSecrets(api, shop.id, 'later', [{ key: 'K', value: 'now' }]);
        assert.equal((await values(api, shop.id, 'development', '&key=later')).LATER, 'now');
      });

      it('records read events only for the secrets returned, not for those read through references', async () => {
        const before = await secretEvents(server.domain, owner.organisationId);
        const listed = await listSecrets(api, shop.id, 'development', '&key=db_url');
        const events = (await secretEvents(server.domain, owner.organisationId)).slice(before.length);
        assert.deepEqual(events.map((e) => [e.action, e.environment_id, e.secret_ids]), [['read', shop.env.development!.id, [listed[0].id]]]);
      });
    });
  });
}
