// The access guarantees, endpoint by endpoint (rest-api §2.4-§2.10): a principal of another
// organisation, a service account and a member without access each get the contract's status and
// no data, on every public route that takes an id or addresses an app or environment. The table must
// name every /v1/ route the server serves: a new route without a row fails this suite.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { addApp, addMember, addServiceAccount } from '../accounts/helpers.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
/** [status, error message]; 'list': 200 with none of the other organisation's data; 'own': a 2xx confined to the caller's organisation. */
type Expect = readonly [number, string] | 'list' | 'own';

interface Row {
  method: Method;
  /** Route pattern as Fastify knows it, e.g. /v1/apps/:app_id/ */
  route: string;
  /** Query string, with {placeholders} */
  query?: string;
  headers?: Record<string, string>;
  body?: unknown;
  otherOrg: Expect;
  serviceAccount: Expect;
  member: Expect;
}

const perm = (action: string, what: string) => [403, `You don't have permission to ${action} ${what}.`] as const;
const APP_SA = [401, 'Service account cannot access this app'] as const;
const APP_MEMBER = [403, 'User cannot access this app'] as const;
const ENV_SA = [401, 'Service account cannot access this environment'] as const;
const ENV_MEMBER = [403, 'User cannot access this environment'] as const;
const SA_GONE = [404, 'Service account not found.'] as const;
const ROLE_GONE = [404, 'Role not found.'] as const;
const MEMBER_GONE = [404, 'Member not found.'] as const;
const appGone = [404, 'App with ID {app} not found'] as const;

const emptyRole = { permissions: {}, app_permissions: {} };

const ROWS: Row[] = [
  { method: 'GET', route: '/v1/apps/', otherOrg: 'list', serviceAccount: perm('read', 'apps'), member: perm('read', 'apps') },
  { method: 'POST', route: '/v1/apps/', body: { name: 'theirs' }, otherOrg: 'own', serviceAccount: perm('create', 'apps'), member: perm('create', 'apps') },
  // An app id in the query does not retarget the app list (organisation scope only checks the app).
  { method: 'GET', route: '/v1/apps/', query: 'app_id={app}', otherOrg: appGone, serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'GET', route: '/v1/apps/:app_id/', otherOrg: appGone, serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'PUT', route: '/v1/apps/:app_id/', body: { name: 'taken over' }, otherOrg: appGone, serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'DELETE', route: '/v1/apps/:app_id/', otherOrg: appGone, serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'GET', route: '/v1/environments/', query: 'app_id={app}', otherOrg: appGone, serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'POST', route: '/v1/environments/', query: 'app_id={app}', body: { name: 'intruder' }, otherOrg: appGone, serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'GET', route: '/v1/environments/:env_id/', otherOrg: [404, 'Environment not found'], serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'PUT', route: '/v1/environments/:env_id/', body: { name: 'renamed' }, otherOrg: [404, 'Environment not found'], serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'DELETE', route: '/v1/environments/:env_id/', otherOrg: [404, 'Environment not found'], serviceAccount: APP_SA, member: APP_MEMBER },
  { method: 'GET', route: '/v1/secrets/', query: 'app_id={app}&env=Development', otherOrg: appGone, serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'GET', route: '/v1/secrets/', headers: { environment: '{env}' }, otherOrg: [401, 'Environment not found'], serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'GET', route: '/v1/secrets/', headers: { 'secret-id': '{secret}' }, otherOrg: [404, 'Secret not found'], serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'GET', route: '/v1/secrets/', query: 'secret_id={secret}', otherOrg: [404, 'Secret not found'], serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'GET', route: '/v1/secrets/dynamic/', query: 'app_id={app}&env=Development', otherOrg: appGone, serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'GET', route: '/v1/secrets/dynamic/', headers: { environment: '{env}' }, otherOrg: [401, 'Environment not found'], serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'POST', route: '/v1/secrets/', query: 'app_id={app}&env=Development', body: { secrets: [{ key: 'INJECTED', value: 'x' }] }, otherOrg: appGone, serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'PUT', route: '/v1/secrets/', query: 'app_id={app}&env=Development', body: { secrets: [{ id: '{secret}', value: 'x' }] }, otherOrg: appGone, serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'DELETE', route: '/v1/secrets/', query: 'app_id={app}&env=Development', body: { secrets: ['{secret}'] }, otherOrg: appGone, serviceAccount: ENV_SA, member: ENV_MEMBER },
  // Coffer extension: the history of a secret selects the secret's environment like Secret-Id.
  { method: 'GET', route: '/v1/secrets/:secret_id/history/', otherOrg: [404, 'Secret not found'], serviceAccount: ENV_SA, member: ENV_MEMBER },
  { method: 'GET', route: '/v1/service-accounts/', otherOrg: 'list', serviceAccount: perm('read', 'service accounts'), member: perm('read', 'service accounts') },
  { method: 'POST', route: '/v1/service-accounts/', body: { name: 'x', role_id: '{role}' }, otherOrg: ROLE_GONE, serviceAccount: perm('create', 'service accounts'), member: perm('create', 'service accounts') },
  { method: 'GET', route: '/v1/service-accounts/:sa_id/', otherOrg: SA_GONE, serviceAccount: perm('read', 'service accounts'), member: perm('read', 'service accounts') },
  { method: 'PUT', route: '/v1/service-accounts/:sa_id/', body: { name: 'renamed' }, otherOrg: SA_GONE, serviceAccount: perm('update', 'service accounts'), member: perm('update', 'service accounts') },
  { method: 'DELETE', route: '/v1/service-accounts/:sa_id/', otherOrg: SA_GONE, serviceAccount: perm('delete', 'service accounts'), member: perm('delete', 'service accounts') },
  { method: 'PUT', route: '/v1/service-accounts/:sa_id/access/', body: { apps: [] }, otherOrg: SA_GONE, serviceAccount: perm('update', 'service accounts'), member: perm('update', 'service accounts') },
  { method: 'POST', route: '/v1/service-accounts/:sa_id/tokens/', body: { name: 'stolen' }, otherOrg: SA_GONE, serviceAccount: perm('create', 'service account tokens'), member: perm('create', 'service account tokens') },
  { method: 'DELETE', route: '/v1/service-accounts/:sa_id/tokens/:token_id/', otherOrg: SA_GONE, serviceAccount: perm('delete', 'service account tokens'), member: perm('delete', 'service account tokens') },
  { method: 'GET', route: '/v1/roles/', otherOrg: 'list', serviceAccount: perm('read', 'roles'), member: perm('read', 'roles') },
  { method: 'POST', route: '/v1/roles/', body: { name: 'Theirs', permissions: emptyRole }, otherOrg: 'own', serviceAccount: perm('create', 'roles'), member: perm('create', 'roles') },
  { method: 'GET', route: '/v1/roles/:role_id/', otherOrg: ROLE_GONE, serviceAccount: perm('read', 'roles'), member: perm('read', 'roles') },
  { method: 'PUT', route: '/v1/roles/:role_id/', body: { name: 'renamed' }, otherOrg: ROLE_GONE, serviceAccount: perm('update', 'roles'), member: perm('update', 'roles') },
  { method: 'DELETE', route: '/v1/roles/:role_id/', otherOrg: ROLE_GONE, serviceAccount: perm('delete', 'roles'), member: perm('delete', 'roles') },
  { method: 'GET', route: '/v1/members/', otherOrg: 'list', serviceAccount: perm('read', 'members'), member: perm('read', 'members') },
  { method: 'GET', route: '/v1/members/invites/', otherOrg: 'list', serviceAccount: perm('read', 'members'), member: perm('read', 'members') },
  { method: 'POST', route: '/v1/members/invites/', body: { email: 'someone@example.com', role_id: '{role}' }, otherOrg: ROLE_GONE, serviceAccount: perm('create', 'members'), member: perm('create', 'members') },
  { method: 'DELETE', route: '/v1/members/invites/:invite_id/', otherOrg: [404, 'Invite not found.'], serviceAccount: perm('delete', 'members'), member: perm('delete', 'members') },
  { method: 'GET', route: '/v1/members/:member_id/', otherOrg: MEMBER_GONE, serviceAccount: perm('read', 'members'), member: perm('read', 'members') },
  { method: 'PUT', route: '/v1/members/:member_id/', body: { role_id: '{role}' }, otherOrg: MEMBER_GONE, serviceAccount: perm('update', 'members'), member: perm('update', 'members') },
  { method: 'DELETE', route: '/v1/members/:member_id/', otherOrg: MEMBER_GONE, serviceAccount: perm('delete', 'members'), member: perm('delete', 'members') },
  { method: 'GET', route: '/v1/members/:member_id/access/', otherOrg: MEMBER_GONE, serviceAccount: perm('read', 'members'), member: perm('read', 'members') },
  { method: 'PUT', route: '/v1/members/:member_id/access/', body: { apps: [] }, otherOrg: MEMBER_GONE, serviceAccount: perm('update', 'members'), member: perm('update', 'members') },
];

/** Full paths of every route in Fastify's route tree (printRoutes, one node per line). */
export function routePaths(tree: string): string[] {
  const stack: string[] = [];
  const paths: string[] = [];
  for (const line of tree.split('\n')) {
    const marker = Math.max(line.indexOf('├── '), line.indexOf('└── '));
    if (marker < 0) continue;
    const depth = marker / 4;
    const segment = line.slice(marker + 4).replace(/ \([^)]*\)$/, '');
    stack.length = depth;
    stack.push(segment);
    paths.push(stack.join(''));
  }
  return paths;
}

for (const target of STORE_TARGETS) {
  describe(`access guarantees on every public route, on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let otherOwner: OwnerFixture;
    const principals: Record<'otherOrg' | 'serviceAccount' | 'member', ApiClient> = {} as never;
    const ids: Record<string, string> = {};

    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain, { name: 'Alpha' });
      api = apiClient(server.url, owner.authorization);
      otherOwner = await createOwner(server.domain, { name: 'Beta' });
      principals.otherOrg = apiClient(server.url, otherOwner.authorization);

      const app = await addApp(api, 'Alpha app');
      ids.app = app.id;
      ids.env = app.environments.Development!;
      const secret = await api.post(`/v1/secrets/?app_id=${app.id}&env=Development`, { secrets: [{ key: 'ALPHA_ONLY', value: 'alpha-secret-value' }] });
      assert.equal(secret.status, 200, secret.text);
      ids.secret = secret.body[0].id;
      const nothing = await api.post('/v1/roles/', { name: 'Nothing', permissions: emptyRole });
      ids.role = nothing.body.id;
      const sa = await addServiceAccount(server, api, owner.organisationId, { name: 'alpha-bot' });
      ids.sa = sa.id;
      ids.token = sa.tokenId;
      const outsider = await addServiceAccount(server, api, owner.organisationId, { name: 'no-access' });
      assert.equal((await api.put(`/v1/service-accounts/${outsider.id}/`, { role_id: ids.role })).status, 200);
      principals.serviceAccount = outsider.api;
      const targetMember = await addMember(server, owner.organisationId, "Developer", { email: "alpha-member@example.com" });
      ids.member = targetMember.memberId;
      const noAccess = await addMember(server, owner.organisationId, 'Developer', { email: 'alpha-outsider@example.com' });
      assert.equal((await api.put(`/v1/members/${noAccess.memberId}/`, { role_id: ids.role })).status, 200);
      principals.member = noAccess.api;
      const invite = await api.post('/v1/members/invites/', { email: 'alpha-invitee@example.com', role_id: ids.role });
      ids.invite = invite.body.id;
    });
    after(() => server.close());

    function fill(text: string): string {
      return text.replace(/\{(\w+)\}/g, (_m, name: string) => ids[name] ?? `{${name}}`);
    }

    function urlOf(row: Row): string {
      const path = row.route
        .replace(':app_id', ids.app!)
        .replace(':env_id', ids.env!)
        .replace(':sa_id', ids.sa!)
        .replace(':token_id', ids.token!)
        .replace(':role_id', ids.role!)
        .replace(':member_id', ids.member!)
        .replace(':invite_id', ids.invite!)
        .replace(':secret_id', ids.secret!);
      return row.query ? `${path}?${fill(row.query)}` : path;
    }

    /** Everything that identifies organisation Alpha's data. */
    function alphaMarkers(): string[] {
      return [...Object.values(ids), owner.organisationId, owner.memberId, owner.email, 'Alpha app', 'alpha-bot', 'alpha-member@example.com', 'alpha-invitee@example.com', 'ALPHA_ONLY', 'alpha-secret-value'];
    }

    async function snapshotOfAlpha(): Promise<string> {
      const parts = [];
      for (const path of ['/v1/apps/', `/v1/environments/?app_id=${ids.app}`, `/v1/secrets/?app_id=${ids.app}&env=Development`, '/v1/service-accounts/', '/v1/roles/', '/v1/members/', '/v1/members/invites/', `/v1/service-accounts/${ids.sa}/`, `/v1/members/${ids.member}/access/`]) {
        const res = await api.get(path);
        assert.equal(res.status, 200, `${path}: ${res.text}`);
        parts.push(res.text);
      }
      return parts.join('\n');
    }

    it('has a row for every /v1/ route the server serves', () => {
      const served = new Set(routePaths(server.app.printRoutes({ commonPrefix: false })).filter((p) => p.startsWith('/v1/')));
      const covered = new Set(ROWS.map((r) => r.route));
      const missing = [...served].filter((p) => !covered.has(p));
      assert.deepEqual(missing, [], `public routes without an access row: ${missing.join(', ')} (add them to ROWS in this file)`);
      const stale = [...covered].filter((p) => !served.has(p));
      assert.deepEqual(stale, [], `rows for routes the server does not serve: ${stale.join(', ')}`);
    });

    it('has a row for every method each route serves', async () => {
      for (const route of new Set(ROWS.map((r) => r.route))) {
        const listed = new Set(ROWS.filter((r) => r.route === route).map((r) => r.method));
        for (const method of ['GET', 'POST', 'PUT', 'DELETE'] as const) {
          if (listed.has(method)) continue;
          const res = await api.call(method, urlOf({ method, route } as Row), method === 'GET' ? undefined : {});
          // The secrets endpoints answer a method they do not serve with 403 (rest-api §1.3, §15).
          const refused = route === '/v1/secrets/' || route === '/v1/secrets/dynamic/' ? [403, `Unsupported HTTP method: ${method}`] : [405, `Method "${method}" not allowed.`];
          assert.deepEqual([res.status, res.body?.error], refused, `${method} ${route} is served (${res.status}) but has no access row`);
        }
      }
    });

    it('gives every outsider the contract status and no data, and changes nothing', async () => {
      const before = await snapshotOfAlpha();
      const markers = alphaMarkers();
      for (const row of ROWS) {
        for (const who of ['serviceAccount', 'member', 'otherOrg'] as const) {
          const expected = row[who];
          const headers = Object.fromEntries(Object.entries(row.headers ?? {}).map(([k, v]) => [k, fill(v)]));
          const body = row.body === undefined ? undefined : JSON.parse(fill(JSON.stringify(row.body)));
          const res = await principals[who].call(row.method, urlOf(row), body, headers);
          const label = `${who}: ${row.method} ${urlOf(row)} ${JSON.stringify(row.headers ?? {})}`;
          if (expected === 'list' || expected === 'own') {
            assert.ok(res.status >= 200 && res.status < 300, `${label} -> ${res.status} ${res.text}`);
          } else {
            const [status, error] = expected;
            assert.deepEqual([res.status, res.body], [status, { error: fill(error) }], label);
          }
          for (const marker of markers) {
            if (expected !== 'list' && expected !== 'own' && fill(expected[1]).includes(marker)) continue;
            assert.ok(!res.text.includes(marker), `${label} leaked ${marker}: ${res.text}`);
          }
        }
      }
      assert.equal(await snapshotOfAlpha(), before, "organisation Alpha's data is unchanged");
    });

    it('resolves ids of another organisation exactly like unknown ids', async () => {
      const beta = apiClient(server.url, otherOwner.authorization);
      const betaApp = await addApp(beta, 'Beta app');
      for (const path of [`/v1/apps/${betaApp.id}/`, `/v1/environments/?app_id=${betaApp.id}`, `/v1/secrets/?app_id=${betaApp.id}&env=Development`]) {
        const res = await api.get(path);
        assert.deepEqual([res.status, res.body], [404, { error: `App with ID ${betaApp.id} not found` }], path);
      }
      assert.deepEqual((await api.get(`/v1/environments/${betaApp.environments.Staging}/`)).body, { error: 'Environment not found' });
      const betaSa = await addServiceAccount(server, beta, otherOwner.organisationId);
      const granted = await api.put(`/v1/service-accounts/${ids.sa}/access/`, { apps: [{ id: betaApp.id, environments: [betaApp.environments.Staging] }] });
      assert.deepEqual([granted.status, granted.body], [404, { error: `App not found: ${betaApp.id}` }]);
      const foreignEnv = await api.put(`/v1/service-accounts/${ids.sa}/access/`, { apps: [{ id: ids.app, environments: [betaApp.environments.Staging] }] });
      assert.deepEqual([foreignEnv.status, foreignEnv.body], [404, { error: `Environment(s) not found in app 'Alpha app': ${betaApp.environments.Staging}` }]);
      assert.deepEqual((await api.delete(`/v1/service-accounts/${ids.sa}/tokens/${betaSa.tokenId}/`)).body, { error: 'Token not found.' });
      const betaMember = await addMember(server, otherOwner.organisationId, 'Developer');
      assert.deepEqual((await api.get(`/v1/members/${betaMember.memberId}/`)).body, { error: 'Member not found.' });
      const betaRole = (await beta.get('/v1/roles/')).body.data[3].id;
      assert.deepEqual((await api.put(`/v1/members/${ids.member}/`, { role_id: betaRole })).body, { error: 'Role not found.' });
      // The Beta owner's token is no key to Alpha, and Beta's service account sees only Beta.
      assert.ok(!(await betaSa.api.get('/v1/service-accounts/')).text.includes(ids.sa!));
    });
  });
}
