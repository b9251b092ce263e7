// Handing an E2EE app's keys to members and service accounts added after it was created
// (POST /coffer/v1/apps/{app_id}/grants/, docs/client-protocol.md): wrapped by a client that holds
// them, stored by the server after an access change's checks, and nothing written when refused.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PhaseSession } from '../../src/client/index.js';
import { ed25519PublicKeyToKx, toHex, wrapEnvironmentSecrets } from '../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { addMemberWithToken, createE2eeApp, createServiceAccount, createSseApp } from './helpers.js';

for (const target of STORE_TARGETS) {
  describe(`E2EE grants (${target.kind})`, { timeout: 120_000 }, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;

    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(() => server.close());

    const db = () => server.domain.deps.db;
    const grantRows = async () => (await db().selectFrom('environment_keys').select('id').where('organisation_id', '=', owner.organisationId).execute()).length;
    const accessEvents = async () => {
      await server.domain.deps.audit.sync();
      return db().selectFrom('events').selectAll().where('organisation_id', '=', owner.organisationId).where('action', 'in', ['member.access', 'service_account.access']).orderBy('seq').execute();
    };

    /** Reads what the owner wrote into an environment, as `token` (undefined when the token holds no such environment). */
    async function readAs(token: string, appId: string, envName: string, key: string): Promise<string | undefined> {
      const session = await PhaseSession.open({ host: server.url, token });
      try {
        const app = session.apps.find((a) => a.id === appId);
        const env = app?.environments.find((e) => e.name === envName);
        if (!env) return undefined;
        return (await session.list(env, { key }))[0]?.value;
      } finally {
        session.close();
      }
    }

    /** Keys wrapped to the owner are garbage for anyone else. */
    const toHexKey = (fixture: OwnerFixture) => toHex(fixture.keyring.publicKey);

    async function writeAsOwner(appId: string, envName: string, key: string, value: string): Promise<void> {
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        await session.create(session.environment(appId, envName), [{ key, value }]);
      } finally {
        session.close();
      }
    }

    test('a member and a service account added later receive the keys and read the secrets; a repeat changes nothing', async () => {
      const app = await createE2eeApp(server, owner.token);
      await writeAsOwner(app.id, 'Development', 'DB_URL', 'postgres://dev');
      await writeAsOwner(app.id, 'Production', 'DB_URL', 'postgres://prod');
      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const sa = await createServiceAccount(server, owner, null);
      assert.equal(await readAs(developer.token, app.id, 'Development', 'DB_URL'), undefined);

      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        const toMember = await session.grantE2ee(app.id, { type: 'member', id: developer.memberId });
        assert.deepEqual(toMember, { appId: app.id, memberId: developer.memberId, environmentsGranted: app.environments.map((e) => e.id), environmentsAlreadyHeld: [] });
        const toAccount = await session.grantE2ee(app.id, { type: 'service_account', id: sa.serviceAccountId }, ['Production']);
        const production = app.environments.find((e) => e.name === 'Production')!.id;
        assert.deepEqual(toAccount, { appId: app.id, serviceAccountId: sa.serviceAccountId, environmentsGranted: [production], environmentsAlreadyHeld: [] });

        assert.equal(await readAs(developer.token, app.id, 'Development', 'DB_URL'), 'postgres://dev');
        assert.equal(await readAs(developer.token, app.id, 'Production', 'DB_URL'), 'postgres://prod');
        assert.equal(await readAs(sa.token, app.id, 'Production', 'DB_URL'), 'postgres://prod');
        assert.equal(await readAs(sa.token, app.id, 'Development', 'DB_URL'), undefined, 'only the environment named');

        // The same grant again: kept as it was, no event.
        const eventsBefore = (await accessEvents()).length;
        const rowsBefore = await grantRows();
        const again = await session.grantE2ee(app.id, { type: 'member', id: developer.memberId }, ['Development']);
        assert.deepEqual([again.environmentsGranted, again.environmentsAlreadyHeld], [[], [app.environments[0]!.id]]);
        assert.equal(await grantRows(), rowsBefore);
        assert.equal((await accessEvents()).length, eventsBefore);
      } finally {
        session.close();
      }

      // One event per grant that changed something, as an access change through the REST API writes.
      const events = (await accessEvents()).filter((e) => e.app_id === app.id);
      assert.deepEqual(
        events.map((e) => [e.action, e.resource_id, (e.snapshot as any).appsAdded, (e.snapshot as any).environmentsGranted.length]),
        [
          ['member.access', developer.memberId, [app.id], 3],
          ['service_account.access', sa.serviceAccountId, [app.id], 1],
        ],
      );
      // Both are members of the app now; the REST access view shows it.
      const memberView = await api.get(`/v1/members/${developer.memberId}/access/`);
      assert.equal(memberView.status, 200, memberView.text);
      assert.deepEqual(memberView.body.apps.map((a: any) => [a.id, a.environments.length]), [[app.id, 3]]);

      // Taking it away is the REST API's access change, for E2EE apps too: the app left out, its grants go.
      const revoked = await api.put(`/v1/members/${developer.memberId}/access/`, { apps: [] });
      assert.equal(revoked.status, 200, revoked.text);
      assert.equal(await readAs(developer.token, app.id, 'Development', 'DB_URL'), undefined);
    });

    test('a member without global access who holds the app may hand it on; nobody passes on what they do not hold', async () => {
      const manager = await addMemberWithToken(server.domain, owner.organisationId, 'Manager');
      const held = await (async () => {
        const session = await PhaseSession.open({ host: server.url, token: owner.token });
        try {
          const created = await session.createE2eeApp({ name: `held-${randomUUID().slice(0, 6)}`, memberIds: [manager.memberId] });
          return { id: created.id, environments: created.environments };
        } finally {
          session.close();
        }
      })();
      await writeAsOwner(held.id, 'Staging', 'TOKEN', 'staging-token');
      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const managerSession = await PhaseSession.open({ host: server.url, token: manager.token });
      try {
        const answer = await managerSession.grantE2ee(held.id, { type: 'member', id: developer.memberId }, ['Staging']);
        assert.equal(answer.environmentsGranted.length, 1);
      } finally {
        managerSession.close();
      }
      assert.equal(await readAs(developer.token, held.id, 'Staging', 'TOKEN'), 'staging-token');

      // Nobody passes on what they do not hold: the server cannot tell good wraps from garbage. A
      // member of the app holding only Staging may not hand on Production; an Admin who joined after
      // the app was created (global access, no key of it, not a member of it) may not hand on anything.
      const partial = await addMemberWithToken(server.domain, owner.organisationId, 'Manager');
      const other = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const admin = await addMemberWithToken(server.domain, owner.organisationId, 'Admin');
      const ownerSession = await PhaseSession.open({ host: server.url, token: owner.token });
      let production: unknown;
      let staging: unknown;
      try {
        await ownerSession.grantE2ee(held.id, { type: 'member', id: partial.memberId }, ['Staging']);
        const otherKey = ed25519PublicKeyToKx((await db().selectFrom('members').select('identity_key').where('id', '=', other.memberId).executeTakeFirstOrThrow()).identity_key);
        const wrapped = (name: string) => {
          const env = ownerSession.environment(held.id, name);
          return { memberId: other.memberId, environments: [{ id: env.id, ...wrapEnvironmentSecrets(env, otherKey) }] };
        };
        production = wrapped('Production');
        staging = wrapped('Staging');
      } finally {
        ownerSession.close();
      }
      const before = await grantRows();
      const url = `/coffer/v1/apps/${held.id}/grants/`;
      const notHeld = await apiClient(server.url, partial.authorization).post(url, production);
      assert.deepEqual([notHeld.status, notHeld.body], [403, { error: 'You can only pass on the keys of environments you hold yourself; you do not hold: Production.' }]);
      const notMember = await apiClient(server.url, admin.authorization).post(url, staging);
      assert.deepEqual([notMember.status, notMember.body], [403, { error: 'User cannot access this app' }]);
      // A Developer may not change a member's access at all.
      const developerCall = await apiClient(server.url, developer.authorization).post(url, staging);
      assert.deepEqual([developerCall.status, developerCall.body], [403, { error: "You don't have permission to update members." }]);
      assert.equal(await grantRows(), before);
      // The same bodies from callers holding the environments are accepted: the refusals were about the caller.
      assert.equal((await apiClient(server.url, partial.authorization).post(url, staging)).status, 200);
      assert.equal((await api.post(url, production)).status, 200);
      assert.equal(await grantRows(), before + 2);
    });

    test('keys wrapped wrongly for someone are taken back app by app and granted again; the session names the app that does not open', async () => {
      const app = await createE2eeApp(server, owner.token);
      const other = await createE2eeApp(server, owner.token);
      await writeAsOwner(app.id, 'Development', 'API_KEY', 'api-dev');
      await writeAsOwner(other.id, 'Development', 'OTHER_KEY', 'other-dev');
      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        await session.grantE2ee(other.id, { type: 'member', id: developer.memberId });
        // Another client wraps garbage for the developer (the server cannot tell): every session of theirs fails, naming the app.
        const env = session.environment(app.id, 'Development');
        const garbage = wrapEnvironmentSecrets({ seedHex: 'ab'.repeat(32), saltHex: 'cd'.repeat(32) }, ed25519PublicKeyToKx(toHexKey(owner)));
        const bad = await api.post(`/coffer/v1/apps/${app.id}/grants/`, { memberId: developer.memberId, environments: [{ id: env.id, ...garbage }] });
        assert.equal(bad.status, 200, bad.text);
        await assert.rejects(PhaseSession.open({ host: server.url, token: developer.token }), (error: Error) => error.name === 'CryptoError' && error.message.startsWith(`the keys of ${app.name} / Development: `));
        // Granting again leaves the held (bad) keys; revoking takes the app back, then a grant replaces them.
        assert.deepEqual((await session.grantE2ee(app.id, { type: 'member', id: developer.memberId }, ['Development'])).environmentsGranted, []);
        const eventsBefore = (await accessEvents()).length;
        const revoked = await session.revokeE2ee(app.id, { type: 'member', id: developer.memberId });
        assert.deepEqual(revoked, { appId: app.id, memberId: developer.memberId, environmentsRevoked: [env.id] });
        const events = await accessEvents();
        assert.equal(events.length, eventsBefore + 1);
        assert.deepEqual([events.at(-1)!.action, (events.at(-1)!.snapshot as any).appsRemoved, (events.at(-1)!.snapshot as any).environmentsRevoked], ['member.access', [app.id], [env.id]]);
        assert.equal(await readAs(developer.token, other.id, 'Development', 'OTHER_KEY'), 'other-dev', 'their other apps work again');
        assert.deepEqual((await session.revokeE2ee(app.id, { type: 'member', id: developer.memberId })).environmentsRevoked, [], 'a second revoke changes nothing');
        assert.equal((await accessEvents()).length, eventsBefore + 1, 'and writes no event');
        await session.grantE2ee(app.id, { type: 'member', id: developer.memberId }, ['Development']);
        assert.equal(await readAs(developer.token, app.id, 'Development', 'API_KEY'), 'api-dev');
      } finally {
        session.close();
      }
    });

    test('a member with global access gets keys only from a member with global access; identical grants at once store and report one', async () => {
      const manager = await addMemberWithToken(server.domain, owner.organisationId, 'Manager');
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      let app: { id: string };
      try {
        app = await session.createE2eeApp({ name: `global-${randomUUID().slice(0, 6)}`, memberIds: [manager.memberId] });
      } finally {
        session.close();
      }
      const admin = await addMemberWithToken(server.domain, owner.organisationId, 'Admin');
      const managerSession = await PhaseSession.open({ host: server.url, token: manager.token });
      try {
        await assert.rejects(managerSession.grantE2ee(app.id, { type: 'member', id: admin.memberId }), (error: Error) => /403: Only a member with global access can change the keys of a member with global access\.$/.test(error.message));
        await assert.rejects(managerSession.revokeE2ee(app.id, { type: 'member', id: owner.memberId }), /403: Only a member with global access/);
      } finally {
        managerSession.close();
      }
      const ownerSession = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        const eventsBefore = (await accessEvents()).length;
        const answers = await Promise.all(Array.from({ length: 5 }, () => ownerSession.grantE2ee(app.id, { type: 'member', id: admin.memberId })));
        const granted = answers.filter((a) => a.environmentsGranted.length > 0);
        assert.equal(granted.length, 1, 'one grant stored the keys');
        assert.equal(granted[0]!.environmentsGranted.length, 3);
        assert.ok(answers.filter((a) => a !== granted[0]).every((a) => a.environmentsGranted.length === 0 && a.environmentsAlreadyHeld.length === 3), 'the others were told they were held');
        assert.equal((await accessEvents()).length, eventsBefore + 1, 'one event');
        // And revokes at once: one takes the keys back, the others find nothing; one event.
        const revokes = await Promise.all(Array.from({ length: 5 }, () => ownerSession.revokeE2ee(app.id, { type: 'member', id: admin.memberId })));
        assert.deepEqual(revokes.map((r) => r.environmentsRevoked.length).sort(), [0, 0, 0, 0, 3]);
        assert.equal((await accessEvents()).length, eventsBefore + 2, 'one more event');
      } finally {
        ownerSession.close();
      }
    });

    test('bad input, unknown recipients, other organisations, SSE apps: refused, nothing written', async () => {
      const app = await createE2eeApp(server, owner.token);
      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const developerKey = (await db().selectFrom('members').select('identity_key').where('id', '=', developer.memberId).executeTakeFirstOrThrow()).identity_key;
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      let good: Array<{ id: string; wrappedSeed: string; wrappedSalt: string }>;
      try {
        good = session.app(app.id).environments.map((env) => ({ id: env.id, ...wrapEnvironmentSecrets(env, ed25519PublicKeyToKx(developerKey)) }));
      } finally {
        session.close();
      }
      const sse = await createSseApp(server, owner);
      const otherApp = await createE2eeApp(server, owner.token);
      const stranger = await createOwner(server.domain, { name: 'Elsewhere' });
      const strangerApp = await createE2eeApp(server, stranger.token);
      const url = `/coffer/v1/apps/${app.id}/grants/`;
      const cases: Array<[string, unknown, number, string]> = [
        [url, { environments: good }, 400, "Name exactly one recipient: 'memberId' or 'serviceAccountId'."],
        [url, { memberId: developer.memberId, serviceAccountId: randomUUID(), environments: good }, 400, "Name exactly one recipient: 'memberId' or 'serviceAccountId'."],
        [url, { memberId: 'not-a-uuid', environments: good }, 400, "'memberId' must be a UUID."],
        [url, { memberId: randomUUID(), environments: good }, 404, 'Member not found.'],
        [url, { memberId: stranger.memberId, environments: good }, 404, 'Member not found.'],
        [url, { serviceAccountId: randomUUID(), environments: good }, 404, 'Service account not found.'],
        [url, { memberId: developer.memberId, environments: [] }, 400, "'environments' must be a non-empty list of {id, wrappedSeed, wrappedSalt}."],
        [url, { memberId: developer.memberId }, 400, "'environments' must be a non-empty list of {id, wrappedSeed, wrappedSalt}."],
        [url, { memberId: developer.memberId, environments: [good[0], good[0]] }, 400, `Environment ${good[0]!.id} is listed twice.`],
        [url, { memberId: developer.memberId, environments: [{ ...good[0], id: otherApp.environments[0]!.id }] }, 400, `Environment ${otherApp.environments[0]!.id} is not an environment of this app.`],
        [url, { memberId: developer.memberId, environments: [{ ...good[0], wrappedSeed: 'seed in clear' }] }, 400, 'Invalid ciphertext format'],
        [url, { memberId: developer.memberId, environments: ['x'] }, 400, "Each entry in 'environments' must be an object with an 'id'."],
        [`/coffer/v1/apps/${sse.id}/grants/`, { memberId: developer.memberId, environments: good }, 400, `App '${sse.name}' uses server-side encryption: its access is changed with PUT /v1/members/{id}/access/ or /v1/service-accounts/{id}/access/.`],
        [`/coffer/v1/apps/${strangerApp.id}/grants/`, { memberId: developer.memberId, environments: good }, 404, `App with ID ${strangerApp.id} not found`],
      ];
      const before = await grantRows();
      const eventsBefore = (await accessEvents()).length;
      for (const [path, body, status, error] of cases) {
        const res = await api.post(path, body);
        assert.deepEqual([res.status, res.body], [status, { error }], `${path} ${JSON.stringify(body).slice(0, 120)}`);
      }
      assert.equal((await api.get(url)).status, 405);
      assert.equal(await grantRows(), before);
      assert.equal((await accessEvents()).length, eventsBefore);

      // A member removed before the grant is as unknown as one that never existed.
      assert.equal((await api.delete(`/v1/members/${developer.memberId}/`)).status, 204);
      const removed = await api.post(url, { memberId: developer.memberId, environments: good });
      assert.deepEqual([removed.status, removed.body], [404, { error: 'Member not found.' }]);
      assert.equal(await grantRows(), before);
    });
  });
}
