// Taking an account's access away while environments are being created (docs/security.md "Crash
// safety and concurrency"; rest-api §9.3, §8.2, §10.5, §10.6, §12.3, §12.5). A new environment is
// wrapped to the creator, the global-access members and the app's service accounts; each round fires
// creates together with a removal, so the removal lands at a different point of the creates'
// transactions from round to round. Whatever the order, a removed member or deleted service account
// holds no key and no app membership afterwards, nor does a service account taken out of the app hold
// a key to it. Before the row locks, on PostgreSQL the creates read their grantees before the removal
// committed and wrapped the new keys to them after it. The other way round, a Developer promoted to
// Admin while environments are created ends up holding a key to each of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519PublicKeyToKx, generateEnvironmentSecrets, wrapEnvironmentSecrets } from '../../src/crypto/index.js';
import { addMember, addServiceAccount, roleId } from '../helpers/principals.js';
import { type Answer, describeAnswers, ownerServerForSuite, tally } from '../helpers/races.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createApp, sleep } from '../helpers/world.js';

const ROUNDS = 20;

function assertStatus(answer: Answer, expected: number, summary: string): void {
  assert.equal(answer.status, expected, `${answer.text} in ${summary}`);
}

interface Recipient {
  type: 'member' | 'service_account';
  id: string;
  identityKey: string;
}

/** An E2EE app body as a client builds it: one environment wrapped to each recipient. */
function e2eeAppBody(name: string, recipients: Recipient[]) {
  const secrets = generateEnvironmentSecrets();
  return {
    name,
    encryption: 'e2ee',
    environments: [
      {
        name: 'Development',
        identityKey: secrets.identityKey,
        grants: recipients.map((r) => {
          const wrapped = wrapEnvironmentSecrets(secrets, ed25519PublicKeyToKx(r.identityKey));
          return { [r.type === 'member' ? 'memberId' : 'serviceAccountId']: r.id, wrappedSeed: wrapped.wrappedSeed, wrappedSalt: wrapped.wrappedSalt };
        }),
      },
    ],
  };
}

for (const target of STORE_TARGETS) {
  describe(`taking access away while environments are created, on ${target.kind}`, { timeout: 300_000 }, () => {
    const suite = ownerServerForSuite(target.kind);

    /** What the account still holds: [environment keys, app memberships], of everything or of one app. */
    async function holdings(account: { memberId: string } | { serviceAccountId: string }, appId?: string): Promise<[number, number]> {
      const db = suite.server.store.db;
      const column = 'memberId' in account ? 'member_id' : 'service_account_id';
      const id = 'memberId' in account ? account.memberId : account.serviceAccountId;
      let keys = db.selectFrom('environment_keys as k').innerJoin('environments as e', 'e.id', 'k.environment_id').select('k.id').where(`k.${column}`, '=', id);
      let memberships = db.selectFrom('app_members').select('app_id').where(column, '=', id);
      if (appId) {
        keys = keys.where('e.app_id', '=', appId);
        memberships = memberships.where('app_id', '=', appId);
      }
      return [(await keys.execute()).length, (await memberships.execute()).length];
    }

    it(`${ROUNDS} rounds of removing an Admin, and a Developer being promoted, racing environment, app and E2EE app creates`, async (t) => {
      const outcomes = new Map<string, number>();
      const org = suite.owner.organisationId;
      const adminRole = await roleId(suite.server.domain, org, 'Admin');
      for (let round = 0; round < ROUNDS; round++) {
        const app = await createApp(suite.api, `members-${round}`);
        const admin = await addMember(suite.server.domain, org, 'Admin');
        const developer = await addMember(suite.server.domain, org, 'Developer');
        const recipients = (await suite.api.get('/coffer/v1/recipients/')).body.recipients as Array<Recipient & { required: boolean }>;
        const e2eeBody = e2eeAppBody(`e2ee-${round}`, recipients.filter((r) => r.required));
        const offset = round % 5;
        const [environments, sseApp, e2eeApp, promotion, removedAdmin, removedDeveloper] = await Promise.all([
          Promise.all([0, 1, 2].map((i) => suite.api.post(`/v1/environments/?app_id=${app.id}`, { name: `E${i}` }))),
          suite.api.post('/v1/apps/', { name: `sse-${round}`, environments: ['One'] }),
          suite.api.post('/coffer/v1/apps/', e2eeBody),
          suite.api.put(`/v1/members/${developer.memberId}/`, { role_id: adminRole }),
          sleep(offset).then(() => suite.api.delete(`/v1/members/${admin.memberId}/`)),
          sleep(offset).then(() => suite.api.delete(`/v1/members/${developer.memberId}/`)),
        ]);
        const summary = `round ${round}: ${describeAnswers([...environments, sseApp, e2eeApp, promotion, removedAdmin, removedDeveloper])}`;
        for (const answer of environments) assertStatus(answer, 201, summary);
        assertStatus(sseApp, 201, summary);
        assertStatus(removedAdmin, 204, summary);
        assertStatus(removedDeveloper, 204, summary);
        // A create that came after the removal knows the Admin no more: as for any unknown recipient.
        if (e2eeApp.status !== 201) {
          assert.deepEqual({ status: e2eeApp.status, body: e2eeApp.body }, { status: 400, body: { error: `Grant for an unknown member: ${admin.memberId}` } }, summary);
        }
        if (promotion.status !== 200) {
          assert.deepEqual({ status: promotion.status, body: promotion.body }, { status: 404, body: { error: 'Member not found.' } }, summary);
        }
        assert.deepEqual(await holdings({ memberId: admin.memberId }), [0, 0], `the removed Admin still holds keys/apps after ${summary}`);
        assert.deepEqual(await holdings({ memberId: developer.memberId }), [0, 0], `the removed Developer still holds keys/apps after ${summary}`);
        tally(outcomes, `E2EE app ${e2eeApp.status}, promotion ${promotion.status}`);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });

    /** SSE environments of the organisation the member holds no key to, as `app/environment` names. */
    async function sseEnvironmentsWithoutKey(organisationId: string, memberId: string): Promise<string[]> {
      const rows = await suite.server.store.db
        .selectFrom('environments as e')
        .innerJoin('apps as a', 'a.id', 'e.app_id')
        .leftJoin('environment_keys as k', (join) => join.onRef('k.environment_id', '=', 'e.id').on('k.member_id', '=', memberId))
        .select(['a.name as app', 'e.name as environment'])
        .where('e.organisation_id', '=', organisationId)
        .where('a.sse_enabled', '=', true)
        .where('k.id', 'is', null)
        .execute();
      return rows.map((r) => `${r.app}/${r.environment}`);
    }

    // A promotion wraps every existing SSE environment to the member, and a create wraps its new one to
    // the global-access members: without a lock between them, on PostgreSQL the create read the members
    // before the promotion committed and the promotion listed environments before the create committed,
    // and the new Admin held no key to the new environment.
    it(`${ROUNDS} rounds of promoting a Developer to Admin racing environment creates: the Admin holds every SSE environment`, async (t) => {
      const outcomes = new Map<string, number>();
      const org = suite.owner.organisationId;
      const adminRole = await roleId(suite.server.domain, org, 'Admin');
      for (let round = 0; round < ROUNDS; round++) {
        const app = await createApp(suite.api, `promotion-${round}`);
        const developer = await addMember(suite.server.domain, org, 'Developer');
        const offset = round % 5;
        const [environments, promotion] = await Promise.all([
          Promise.all([0, 1, 2].map((i) => suite.api.post(`/v1/environments/?app_id=${app.id}`, { name: `P${i}` }))),
          sleep(offset).then(() => suite.api.put(`/v1/members/${developer.memberId}/`, { role_id: adminRole })),
        ]);
        const summary = `round ${round}: ${describeAnswers([...environments, promotion])}`;
        for (const answer of environments) assertStatus(answer, 201, summary);
        assertStatus(promotion, 200, summary);
        assert.deepEqual(await sseEnvironmentsWithoutKey(org, developer.memberId), [], `the promoted Admin lacks keys after ${summary}`);
        // A key the create wrapped carries the environment's own timestamp; one the promotion added, its own.
        const raced = await suite.server.store.db
          .selectFrom('environment_keys as k')
          .innerJoin('environments as e', 'e.id', 'k.environment_id')
          .select(['k.created_at as granted', 'e.created_at as created'])
          .where('e.app_id', '=', app.id)
          .where('e.name', 'in', ['P0', 'P1', 'P2'])
          .where('k.member_id', '=', developer.memberId)
          .execute();
        const byCreate = raced.filter((r) => r.granted.getTime() === r.created.getTime()).length;
        tally(outcomes, `new environments wrapped by the create ${byCreate}, granted by the promotion ${raced.length - byCreate}`);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });

    it(`${ROUNDS} rounds of taking a service account out of an app, and deleting another, racing environment creates`, async () => {
      const org = suite.owner.organisationId;
      for (let round = 0; round < ROUNDS; round++) {
        const app = await createApp(suite.api, `accounts-${round}`);
        const environmentIds = app.environments.map((e) => e.id);
        const leaving = await addServiceAccount(suite.server.domain, org, 'Service', { via: suite.api });
        const deleted = await addServiceAccount(suite.server.domain, org, 'Service', { via: suite.api });
        for (const account of [leaving, deleted]) {
          const granted = await suite.api.put(`/v1/service-accounts/${account.serviceAccountId}/access/`, { apps: [{ id: app.id, environments: environmentIds }] });
          assert.equal(granted.status, 200, granted.text);
        }
        const offset = round % 5;
        const [environments, taken, removed] = await Promise.all([
          Promise.all([0, 1, 2].map((i) => suite.api.post(`/v1/environments/?app_id=${app.id}`, { name: `E${i}` }))),
          sleep(offset).then(() => suite.api.put(`/v1/service-accounts/${leaving.serviceAccountId}/access/`, { apps: [] })),
          sleep(offset).then(() => suite.api.delete(`/v1/service-accounts/${deleted.serviceAccountId}/`)),
        ]);
        const summary = `round ${round}: ${describeAnswers([...environments, taken, removed])}`;
        for (const answer of environments) assertStatus(answer, 201, summary);
        assertStatus(taken, 200, summary);
        assertStatus(removed, 204, summary);
        assert.deepEqual(await holdings({ serviceAccountId: leaving.serviceAccountId }, app.id), [0, 0], `the account taken out of the app still holds keys/membership after ${summary}`);
        assert.deepEqual(await holdings({ serviceAccountId: deleted.serviceAccountId }), [0, 0], `the deleted account still holds keys/apps after ${summary}`);
      }
    });
  });
}
