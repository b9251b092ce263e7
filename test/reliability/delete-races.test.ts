// Deleting a parent while children are being attached to it (docs/access.md "Roles"; rest-api §8.5,
// §9.3, §10.6, §12.3). Each round fires the attaching requests and the delete at once; the requests
// decide in the database (the parent's row lock), so whatever order they land in:
// - a role is deleted (204) only when nothing was assigned it; an assignment that lost the race
//   answers as for an unknown role (404 `Role not found.`); nothing is left holding no role;
// - an environment or an access grant under an app being deleted is created with the app and goes
//   with it, or answers as for an unknown app (404); nothing outlives the app;
// - no answer is a 500 (before the locks, PostgreSQL answered `*_fkey` violations as 500s, and role
//   deletes succeeded under new service accounts, invites and members).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { addMember, addServiceAccount, type MemberFixture, type ServiceAccountFixture } from '../helpers/principals.js';
import { request } from '../helpers/server.js';
import { type Answer, describeAnswers, ownerServerForSuite, tally } from '../helpers/races.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createApp, sleep } from '../helpers/world.js';
import { makeMaterial } from '../http/console/accounts.js';
import { createClientProtocol } from '../../src/domain/client-protocol/index.js';
import { createE2eeApp } from '../helpers/e2ee.js';

const ROUNDS = 25;
const ACCEPT_ROUNDS = 8;
const RENAME_ROUNDS = 10;
const PERMISSIONS = { permissions: { Apps: ['read'] }, app_permissions: {} };

function assertNo500(answers: Answer[]): void {
  for (const answer of answers) assert.ok(answer.status < 500, `a ${answer.status}: ${answer.text}`);
}

function assertCreatedOrUnknownRole(answer: Answer, created: number): void {
  if (answer.status === created) return;
  assert.deepEqual({ status: answer.status, body: answer.body }, { status: 404, body: { error: 'Role not found.' } }, answer.text);
}

for (const target of STORE_TARGETS) {
  describe(`deleting a role or an app while it is being attached to, on ${target.kind}`, () => {
    const suite = ownerServerForSuite(target.kind);

    it(`${ROUNDS} rounds of role delete racing service-account creates and updates, invite creates and a member role change`, async (t) => {
      const outcomes = new Map<string, number>();
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const member: MemberFixture = await addMember(suite.server.domain, org, 'Developer');
      const account: ServiceAccountFixture = await addServiceAccount(suite.server.domain, org, 'Service', { via: suite.api });
      for (let round = 0; round < ROUNDS; round++) {
        const role = await suite.api.post('/v1/roles/', { name: `race-${round}-${randomBytes(3).toString('hex')}`, permissions: PERMISSIONS });
        assert.equal(role.status, 201, role.text);
        const roleId: string = role.body.id;
        const [saCreates, invites, memberUpdate, saUpdate, deleted] = await Promise.all([
          Promise.all([0, 1].map((i) => suite.api.post('/v1/service-accounts/', { name: `race-${round}-sa-${i}`, role_id: roleId }))),
          Promise.all([0, 1].map((i) => suite.api.post('/v1/members/invites/', { email: `race-${round}-${i}-${randomBytes(3).toString('hex')}@example.com`, role_id: roleId }))),
          suite.api.put(`/v1/members/${member.memberId}/`, { role_id: roleId }),
          suite.api.put(`/v1/service-accounts/${account.serviceAccountId}/`, { role_id: roleId }),
          // The delete lands at a different point of the others' transactions from round to round.
          sleep(round % 5).then(() => suite.api.delete(`/v1/roles/${roleId}/`)),
        ]);
        const answers = [...saCreates, ...invites, memberUpdate, saUpdate, deleted];
        const summary = `round ${round}: ${describeAnswers(answers)}`;
        assertNo500(answers);
        for (const answer of [...saCreates, ...invites]) assertCreatedOrUnknownRole(answer, 201);
        for (const answer of [memberUpdate, saUpdate]) assertCreatedOrUnknownRole(answer, 200);
        const assigned = answers.slice(0, -1).filter((a) => a.status === 200 || a.status === 201).length;
        tally(outcomes, `delete ${deleted.status}, ${assigned} of 6 assigned`);
        if (deleted.status === 204) {
          assert.equal(assigned, 0, `the role was deleted although it was assigned: ${summary}`);
        } else {
          assert.equal(deleted.status, 409, summary);
          assert.ok(assigned > 0, `409 although nothing holds the role: ${summary}`);
        }
        // Nothing live holds a role that is gone.
        const orphans = await Promise.all([
          db.selectFrom('service_accounts').select('id').where('organisation_id', '=', org).where('deleted_at', 'is', null).where('role_id', 'is', null).execute(),
          db.selectFrom('members').select('id').where('organisation_id', '=', org).where('deleted_at', 'is', null).where('role_id', 'is', null).execute(),
          db.selectFrom('invites').select('id').where('organisation_id', '=', org).where('valid', '=', true).where('role_id', 'is', null).execute(),
        ]);
        assert.deepEqual(orphans.map((rows) => rows.length), [0, 0, 0], `live holders without a role after ${summary}`);
        // Each answer is what the database now says.
        const roleExists = (await db.selectFrom('roles').select('id').where('id', '=', roleId).executeTakeFirst()) !== undefined;
        assert.equal(roleExists, deleted.status === 409, summary);
        const memberRole = await db.selectFrom('members').select('role_id').where('id', '=', member.memberId).executeTakeFirstOrThrow();
        assert.equal(memberRole.role_id === roleId, memberUpdate.status === 200, summary);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });

    it(`${ACCEPT_ROUNDS} rounds of role delete racing the acceptance of a valid invite with that role: 409, and the new member holds the role`, async () => {
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      for (let round = 0; round < ACCEPT_ROUNDS; round++) {
        const role = await suite.api.post('/v1/roles/', { name: `accept-${round}-${randomBytes(3).toString('hex')}`, permissions: PERMISSIONS });
        assert.equal(role.status, 201, role.text);
        const email = `accept-${round}-${randomBytes(3).toString('hex')}@example.com`;
        const invite = await suite.api.post('/v1/members/invites/', { email, role_id: role.body.id });
        assert.equal(invite.status, 201, invite.text);
        const token = String(invite.body.inviteUrl).split('/').pop();
        const material = await makeMaterial(org, email);
        const [accepted, deleted] = await Promise.all([
          request(`${suite.server.url}/coffer/v1/invites/${token}/accept/`, {
            method: 'POST',
            json: { email, loginHash: material.loginHash, keyring: material.keyringBody, token: material.pat.body },
          }),
          sleep(round % 4).then(() => suite.api.delete(`/v1/roles/${role.body.id}/`)),
        ]);
        const summary = `round ${round}: ${describeAnswers([accepted, deleted])}`;
        assertNo500([accepted, deleted]);
        assert.equal(accepted.status, 201, summary);
        // Before the acceptance commits the valid invite holds the role, after it the member does.
        assert.equal(deleted.status, 409, summary);
        const joined = await db.selectFrom('members').select('role_id').where('id', '=', accepted.body.memberId).executeTakeFirstOrThrow();
        assert.equal(joined.role_id, role.body.id, summary);
      }
    });

    it(`${ROUNDS} rounds of app delete racing environment creates, access grants to the app and a promotion to Admin`, async (t) => {
      const outcomes = new Map<string, number>();
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const account = await addServiceAccount(suite.server.domain, org, 'Service', { via: suite.api });
      const developer = await addMember(suite.server.domain, org, 'Developer');
      const admin = (await db.selectFrom('roles').select('id').where('organisation_id', '=', org).where('name', '=', 'Admin').executeTakeFirstOrThrow()).id;
      const developerRole = (await db.selectFrom('roles').select('id').where('organisation_id', '=', org).where('name', '=', 'Developer').executeTakeFirstOrThrow()).id;
      for (let round = 0; round < ROUNDS; round++) {
        const app = await createApp(suite.api, `doomed-${round}`);
        const environmentIds = app.environments.map((e) => e.id);
        // A fresh Developer each round, promoted while the app goes: the promotion grants every app.
        const promoted = round === 0 ? developer : await addMember(suite.server.domain, org, { id: developerRole });
        const [environments, serviceAccountAccess, memberAccess, promotion, deleted] = await Promise.all([
          Promise.all([0, 1, 2, 3].map((i) => suite.api.post(`/v1/environments/?app_id=${app.id}`, { name: `E${i}` }))),
          suite.api.put(`/v1/service-accounts/${account.serviceAccountId}/access/`, { apps: [{ id: app.id, environments: environmentIds }] }),
          suite.api.put(`/v1/members/${developer.memberId}/access/`, { apps: [{ id: app.id, environments: environmentIds.slice(0, 1) }] }),
          round === 0 ? Promise.resolve(undefined) : suite.api.put(`/v1/members/${promoted.memberId}/`, { role_id: admin }),
          sleep(round % 5).then(() => suite.api.delete(`/v1/apps/${app.id}/`)),
        ]);
        const answers = [...environments, serviceAccountAccess, memberAccess, ...(promotion ? [promotion] : []), deleted];
        const summary = `round ${round}: ${describeAnswers(answers)}`;
        assertNo500(answers);
        assert.equal(deleted.status, 204, summary);
        for (const answer of environments) {
          if (answer.status === 201) continue;
          assert.deepEqual({ status: answer.status, body: answer.body }, { status: 404, body: { error: `App with ID ${app.id} not found` } }, summary);
        }
        for (const answer of [serviceAccountAccess, memberAccess]) {
          if (answer.status === 200) continue;
          assert.deepEqual({ status: answer.status, body: answer.body }, { status: 404, body: { error: `App not found: ${app.id}` } }, summary);
        }
        if (promotion) assert.equal(promotion.status, 200, summary);
        tally(outcomes, `${environments.filter((a) => a.status === 201).length} of 4 environments created, grants ${serviceAccountAccess.status}/${memberAccess.status}`);
        // Nothing of the app is left behind.
        const left = await Promise.all([
          db.selectFrom('environments').select('id').where('app_id', '=', app.id).execute(),
          db.selectFrom('app_members').select('app_id').where('app_id', '=', app.id).execute(),
          db.selectFrom('environment_keys').select('id').where('environment_id', 'in', environmentIds).execute(),
        ]);
        assert.deepEqual(left.map((rows) => rows.length), [0, 0, 0], summary);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });

    it('answers 404 for an app or environment deleted after the request resolved it (not 400 or 403)', async () => {
      const { domain } = suite.server;
      const resolve = async (input: Parameters<typeof domain.contexts.resolve>[1]) => {
        const principal = await domain.authenticator.authenticate(suite.owner.authorization);
        const { access, target } = await domain.contexts.resolve(principal, input);
        return { principal, access, target, ip: null, userAgent: null };
      };
      const app = await createApp(suite.api, `vanishing-${randomBytes(3).toString('hex')}`);
      const environmentId = app.environments[0]!.id;
      const readCall = await resolve({ urlEnvId: environmentId, urlOnly: true });
      await suite.server.store.db.deleteFrom('environments').where('id', '=', environmentId).execute();
      await assert.rejects(domain.environments.get(readCall, 'read'), (error: Error) => error.message === 'Environment not found' && (error as { kind?: string }).kind === 'not_found');

      const e2ee = await createE2eeApp(domain, suite.owner, `vanishing-e2ee-${randomBytes(3).toString('hex')}`);
      const enableCall = await resolve({ urlAppId: e2ee.appId, urlOnly: true });
      await suite.server.store.db.deleteFrom('apps').where('id', '=', e2ee.appId).execute();
      await assert.rejects(
        createClientProtocol(domain).e2ee.enableSse(enableCall, () => ({ environments: [] })),
        (error: Error) => error.message === `App with ID ${e2ee.appId} not found` && (error as { kind?: string }).kind === 'not_found',
      );

      // A grant or revoke of E2EE keys resolved before the app went: 404, not 400 for environments no longer "of this app".
      const granted = await createE2eeApp(domain, suite.owner, `vanishing-grant-${randomBytes(3).toString('hex')}`);
      const grantCall = await resolve({ urlAppId: granted.appId, urlOnly: true });
      await suite.server.store.db.deleteFrom('apps').where('id', '=', granted.appId).execute();
      const wrapped = { id: granted.environments[0]!.id, wrappedSeed: 'ph:v1:00:00', wrappedSalt: 'ph:v1:00:00' };
      for (const attempt of [
        () => createClientProtocol(domain).e2eeGrants.grant(grantCall, () => ({ memberId: suite.owner.memberId, environments: [wrapped] })),
        () => createClientProtocol(domain).e2eeGrants.revoke(grantCall, () => ({ memberId: suite.owner.memberId })),
      ]) {
        await assert.rejects(attempt(), (error: Error) => error.message === `App with ID ${granted.appId} not found` && (error as { kind?: string }).kind === 'not_found');
      }
    });

    it(`${RENAME_ROUNDS} rounds of renames and deletes of one environment, and of one app, at once: 200, 204 or 404, one delete event, renames chained`, async () => {
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const events = async (resourceId: string, action: string) => {
        await suite.server.domain.deps.audit.sync();
        return db.selectFrom('events').select(['seq', 'snapshot']).where('organisation_id', '=', org).where('resource_id', '=', resourceId).where('action', '=', action).orderBy('seq').execute();
      };
      for (let round = 0; round < RENAME_ROUNDS; round++) {
        const app = await createApp(suite.api, `renamed-${round}`);
        const environmentId = app.environments[0]!.id;
        const original = app.environments[0]!.name;
        // Four renames to different names at once: each event names the name it replaced.
        const renames = await Promise.all(['Alpha', 'Bravo', 'Charlie', 'Delta'].map((name) => suite.api.put(`/v1/environments/${environmentId}/`, { name })));
        assert.deepEqual(renames.map((r) => r.status), [200, 200, 200, 200], describeAnswers(renames));
        const chain = (await events(environmentId, 'environment.update')).map((e) => e.snapshot as { oldName: string; newName: string });
        assert.equal(chain.length, 4);
        assert.equal(chain[0]!.oldName, original);
        for (let i = 1; i < chain.length; i++) assert.equal(chain[i]!.oldName, chain[i - 1]!.newName, JSON.stringify(chain));
        // A rename and two deletes at once: the rename lands (200) or finds it gone (404); one delete wins.
        const [renamed, ...deletes] = await Promise.all([
          suite.api.put(`/v1/environments/${environmentId}/`, { name: 'Echo' }),
          suite.api.delete(`/v1/environments/${environmentId}/`),
          suite.api.delete(`/v1/environments/${environmentId}/`),
        ]);
        const summary = `round ${round}: ${describeAnswers([renamed, ...deletes])}`;
        assertNo500([renamed, ...deletes]);
        if (renamed.status !== 200) assert.deepEqual([renamed.status, renamed.body], [404, { error: 'Environment not found' }], summary);
        assert.deepEqual(deletes.map((d) => d.status).sort(), [204, 404], summary);
        assert.equal((await events(environmentId, 'environment.delete')).length, 1, summary);
        // The same for the app.
        const [appRenamed, appDeleted] = await Promise.all([suite.api.put(`/v1/apps/${app.id}/`, { name: `gone-${round}` }), suite.api.delete(`/v1/apps/${app.id}/`)]);
        assertNo500([appRenamed, appDeleted]);
        assert.equal(appDeleted.status, 204);
        if (appRenamed.status !== 200) assert.deepEqual([appRenamed.status, appRenamed.body], [404, { error: `App with ID ${app.id} not found` }]);
      }
    });
  });
}
