// First run over HTTP: the one-time setup code (logged or configured), POST /coffer/v1/setup/, the
// first token working at once, wrong and used codes, and no client secret in any row.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { apiClient } from '../../helpers/fixtures.js';
import { request, startTestServer, type TestServer } from '../../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../../helpers/stores.js';
import { assertNotStored, clientSecrets, dumpDatabase, makeMaterial, uniqueEmail, type Material } from './accounts.js';

function setupBody(code: string, material: Material, name = 'Acme') {
  return {
    code,
    organisation: { id: material.organisationId, name },
    user: { email: material.email, loginHash: material.loginHash },
    keyring: material.keyringBody,
    token: material.pat.body,
  };
}

/** The code from the one warn line that announces it. */
function loggedCode(server: TestServer): string {
  const lines = server.logs.map((l) => JSON.parse(l)).filter((l) => typeof l.msg === 'string' && l.msg.includes('coffer setup'));
  assert.equal(lines.length, 1, 'the setup code is logged exactly once');
  assert.equal(lines[0].level, 40, 'at warn level');
  const match = /--code ([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})/.exec(lines[0].msg);
  assert.ok(match, lines[0].msg);
  return match[1]!;
}

for (const target of STORE_TARGETS) {
  describe(`first-run setup on ${target.kind}`, () => {
    let server: TestServer;
    let dropDatabase: (() => Promise<void>) | undefined;
    let databaseUrl: string | undefined;

    before(async () => {
      if (target.kind === 'postgres') {
        const empty = await createEmptyPostgresDatabase();
        databaseUrl = empty.url;
        dropDatabase = empty.drop;
      }
      server = await startTestServer({ store: target.kind, ...(databaseUrl ? { databaseUrl } : {}) });
    });
    after(async () => {
      await server.close();
      await dropDatabase?.();
    });

    it('creates the organisation, owner and first token with the logged code, once', async () => {
      const code = loggedCode(server);
      const open = await request(`${server.url}/coffer/v1/setup/`);
      assert.deepEqual(open.body, { required: true });

      const checked = await request(`${server.url}/coffer/v1/setup/check/`, { method: 'POST', json: { code } });
      assert.deepEqual([checked.status, checked.body], [200, { valid: true }]);
      const checkedWrong = await request(`${server.url}/coffer/v1/setup/check/`, { method: 'POST', json: { code: 'nope' } });
      assert.equal(checkedWrong.status, 403);

      const material = await makeMaterial(randomUUID(), uniqueEmail('owner'));
      const wrong = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody('AAAAA-BBBBB-CCCCC-DDDDD', material) });
      assert.equal(wrong.status, 403);
      assert.match(wrong.body.error, /^Wrong setup code\./);

      // Case, spaces and dashes do not matter.
      const typed = code.toLowerCase().replace(/-/g, ' ');
      const created = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody(typed, material) });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.organisationId, material.organisationId);
      assert.equal(created.body.organisationName, 'Acme');
      assert.equal(created.body.email, material.email);
      for (const field of ['userId', 'memberId', 'tokenId']) assert.match(created.body[field], /^[0-9a-f-]{36}$/);

      // The first token works on the public API and on Coffer's own.
      const owner = apiClient(server.url, material.pat.authorization);
      const apps = await owner.get('/v1/apps/');
      assert.equal(apps.status, 200, apps.text);
      const me = await apiClient(server.url, `Bearer ${material.pat.token}`).get('/coffer/v1/me/');
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.user.email, material.email);
      assert.deepEqual(me.body.memberships.map((m: any) => [m.organisationId, m.role.name]), [[material.organisationId, 'Owner']]);

      // Used: the same code, or any other, now gets 409.
      const again = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody(code, await makeMaterial(randomUUID(), uniqueEmail())) });
      assert.equal(again.status, 409);
      assert.match(again.body.error, /^Setup has already been completed\./);
      assert.deepEqual((await request(`${server.url}/coffer/v1/setup/`)).body, { required: false });
      assert.equal((await request(`${server.url}/coffer/v1/setup/check/`, { method: 'POST', json: { code } })).status, 409);

      const states = await server.store.db.selectFrom('server_state').select('key').execute();
      assert.deepEqual(states.map((s) => s.key), ['setup_completed'], 'every setup code is deleted');
      const users = await server.store.db.selectFrom('users').select('login_hash').where('email', '=', material.email).executeTakeFirstOrThrow();
      assert.match(users.login_hash!, /^\$argon2id\$/, 'the login hash is stored as an Argon2id verifier');
      assertNotStored(await dumpDatabase(server.store.db), [...clientSecrets(material), code.replace(/-/g, '')]);
    });

    if (target.kind === 'postgres') {
      it('logs no setup code when restarted after setup', async () => {
        const again = await startTestServer({ store: 'postgres', databaseUrl: databaseUrl! });
        try {
          assert.equal(again.logs.filter((l) => l.includes('coffer setup')).length, 0);
        } finally {
          await again.close();
        }
      });
    }
  });
}

describe('first-run setup with COFFER_SETUP_CODE', () => {
  let server: TestServer;
  const code = `configured-${randomUUID()}`;
  before(async () => {
    server = await startTestServer({ store: 'pglite', env: { COFFER_SETUP_CODE: code } });
  });
  after(() => server.close());

  it('takes the configured code, never logs it, and refuses malformed material without using the code up', async () => {
    assert.ok(!server.logs.some((l) => l.includes(code)), 'a configured code is not logged');
    assert.ok(server.logs.some((l) => l.includes('No organisation exists yet') && l.includes('$COFFER_SETUP_CODE')));
    const material = await makeMaterial(randomUUID(), uniqueEmail('owner'));

    const badKey = await request(`${server.url}/coffer/v1/setup/`, {
      method: 'POST',
      json: { ...setupBody(code, material), token: { ...material.pat.body, identityKey: '00'.repeat(32) } },
    });
    assert.equal(badKey.status, 400);
    assert.equal(badKey.body.error, "'identityKey' is not this member's key-exchange public key.");
    assert.equal(await server.store.db.selectFrom('organisations').select('id').executeTakeFirst(), undefined, 'nothing was created');

    const noHash = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: { ...setupBody(code, material), user: { email: material.email } } });
    assert.equal(noHash.status, 400);
    assert.equal(noHash.body.error, "'loginHash' must be 64 hexadecimal characters.");

    const form = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', body: `code=${code}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415, 'a cross-site form can never post to setup');

    const created = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody(code, material) });
    assert.equal(created.status, 201, created.text);
  });
});

for (const target of STORE_TARGETS) {
  describe(`two setups at once on ${target.kind}`, () => {
    let server: TestServer;
    let drop: (() => Promise<void>) | undefined;
    const code = `race-${randomUUID()}`;
    before(async () => {
      let databaseUrl: string | undefined;
      if (target.kind === 'postgres') ({ url: databaseUrl, drop } = await createEmptyPostgresDatabase());
      server = await startTestServer({ store: target.kind, env: { COFFER_SETUP_CODE: code }, ...(databaseUrl ? { databaseUrl } : {}) });
    });
    after(async () => {
      await server.close();
      await drop?.();
    });

    it('creates exactly one organisation', async () => {
      const [a, b] = await Promise.all([makeMaterial(randomUUID(), uniqueEmail('a')), makeMaterial(randomUUID(), uniqueEmail('b'))]);
      const results = await Promise.all([a, b].map((m, i) => request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody(code, m, `Org ${i}`) })));
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 409], results.map((r) => r.text).join(' / '));
      const organisations = await server.store.db.selectFrom('organisations').select('id').execute();
      assert.equal(organisations.length, 1);
    });
  });
}

describe('the /coffer/v1 API in the OpenAPI document', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store: 'pglite' });
  });
  after(() => server.close());

  it('documents every Coffer route under the coffer tag', async () => {
    const document = (await request(`${server.url}/openapi.json`)).body;
    const expected: Array<[string, string]> = [
      ['/coffer/v1/setup/', 'get'],
      ['/coffer/v1/setup/', 'post'],
      ['/coffer/v1/setup/check/', 'post'],
      ['/coffer/v1/auth/login/', 'post'],
      ['/coffer/v1/auth/logout/', 'post'],
      ['/coffer/v1/me/', 'get'],
      ['/coffer/v1/me/keyring/', 'get'],
      ['/coffer/v1/organisations/', 'post'],
      ['/coffer/v1/tokens/', 'get'],
      ['/coffer/v1/tokens/', 'post'],
      ['/coffer/v1/tokens/{token_id}/', 'delete'],
      ['/coffer/v1/invites/{invite_token}/', 'get'],
      ['/coffer/v1/invites/{invite_token}/accept/', 'post'],
    ];
    for (const [path, method] of expected) {
      const operation = document.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
      assert.deepEqual(operation.tags, ['coffer']);
      assert.ok(operation.summary);
    }
    const unsupported = await request(`${server.url}/coffer/v1/tokens/`, { method: 'PUT' });
    assert.equal(unsupported.status, 405);
    assert.equal(unsupported.body.error, 'Method "PUT" not allowed.');
  });
});

describe('first-run setup guessing', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store: 'pglite' });
  });
  after(() => server.close());

  it('answers 429 with Retry-After after ten wrong codes from one address', async () => {
    const material = await makeMaterial(randomUUID(), uniqueEmail('owner'));
    for (let i = 0; i < 10; i++) {
      const wrong = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody(`WRONG-${i}`, material) });
      assert.equal(wrong.status, 403);
    }
    const blocked = await request(`${server.url}/coffer/v1/setup/`, { method: 'POST', json: setupBody(loggedCode(server), material) });
    assert.equal(blocked.status, 429);
    assert.match(blocked.body.error, /^Too many failed attempts\. Try again in \d+ seconds?\.$/);
    assert.match(blocked.headers.get('retry-after') ?? '', /^\d+$/);
  });
});
