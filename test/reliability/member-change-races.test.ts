// Changes of members, roles, tokens and invites that race each other (rest-api §10.8, §11.4,
// §12.3, §12.5). Each round fires the requests at once; every rule is judged in the database, on the
// rows as locked, so whatever order they land in:
// - two Admins demoting each other: one wins, the other is refused (before, on PostgreSQL both
//   answered 200, each judged on what it had read);
// - a Manager demoting a member while the Owner promotes it to Admin: never both (a Manager may not
//   change a member with global access);
// - two deletes of one member, service-account token or invite: one 204, one 404, one event;
// - a role update racing the role's delete: 200 or 404, never a 500.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { apiClient } from '../helpers/fixtures.js';
import { addMember, roleId } from '../helpers/principals.js';
import { describeAnswers, ownerServerForSuite, tally, type Answer } from '../helpers/races.js';
import { STORE_TARGETS } from '../helpers/stores.js';

const ROUNDS = 10;

function assertNo500(answers: Answer[]): void {
  for (const answer of answers) assert.ok(answer.status < 500, `a ${answer.status}: ${answer.text}`);
}

for (const target of STORE_TARGETS) {
  describe(`member and role changes racing each other on ${target.kind}`, () => {
    const suite = ownerServerForSuite(target.kind);
    const events = async (resourceId: string, action: string) => {
      await suite.server.domain.deps.audit.sync();
      return suite.server.store.db.selectFrom('events').select('seq').where('resource_id', '=', resourceId).where('action', '=', action).execute();
    };

    it(`${ROUNDS} rounds of two Admins demoting each other, and of a Manager demoting a member the Owner promotes`, async (t) => {
      const outcomes = new Map<string, number>();
      const { domain } = suite.server;
      const org = suite.owner.organisationId;
      const developer = await roleId(domain, org, 'Developer');
      const admin = await roleId(domain, org, 'Admin');
      for (let round = 0; round < ROUNDS; round++) {
        const [a, b] = [await addMember(domain, org, 'Admin'), await addMember(domain, org, 'Admin')];
        const answers = await Promise.all([
          apiClient(suite.server.url, a.authorization).put(`/v1/members/${b.memberId}/`, { role_id: developer }),
          apiClient(suite.server.url, b.authorization).put(`/v1/members/${a.memberId}/`, { role_id: developer }),
        ]);
        const summary = `round ${round}: ${describeAnswers(answers)}`;
        assertNo500(answers);
        assert.equal(answers.filter((answer) => answer.status === 200).length, 1, summary);
        const refused = answers.find((answer) => answer.status !== 200)!;
        assert.ok([403, 409].includes(refused.status), summary);
        tally(outcomes, `admins: ${refused.status}`);

        const manager = await addMember(domain, org, 'Manager');
        const member = await addMember(domain, org, 'Developer');
        const [promotion, demotion] = await Promise.all([
          suite.api.put(`/v1/members/${member.memberId}/`, { role_id: admin }),
          apiClient(suite.server.url, manager.authorization).put(`/v1/members/${member.memberId}/`, { role_id: developer }),
        ]);
        const race = `round ${round}: ${describeAnswers([promotion, demotion])}`;
        assertNo500([promotion, demotion]);
        assert.equal(promotion.status, 200, race);
        const final = await suite.api.get(`/v1/members/${member.memberId}/`);
        if (demotion.status === 200) {
          // The demotion came first: the promotion then made the member Admin.
          assert.equal(final.body.role.name, 'Admin', race);
        } else {
          assert.deepEqual([demotion.status, demotion.body.error], [403, 'You cannot update the role of a member with global access.'], race);
        }
        tally(outcomes, `manager: ${demotion.status}`);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });

    it('refuses a member change by a caller whose own role changed after its access was read (member and service account)', async () => {
      const { domain } = suite.server;
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const developer = await roleId(domain, org, 'Developer');
      const custom = await suite.api.post('/v1/roles/', { name: `member-managers-${randomBytes(3).toString('hex')}`, permissions: { permissions: { Members: ['read', 'update'] }, app_permissions: {} } });
      assert.equal(custom.status, 201, custom.text);
      const account = await suite.api.post('/v1/service-accounts/', { name: `managing-${randomBytes(3).toString('hex')}`, role_id: custom.body.id });
      assert.equal(account.status, 201, account.text);
      const manager = await addMember(domain, org, 'Manager');
      for (const [who, authorization, demote] of [
        ['member', manager.authorization, () => db.updateTable('members').set({ role_id: developer }).where('id', '=', manager.memberId).execute()],
        ['service account', `Bearer ${account.body.initialToken.bearerToken}`, () => db.updateTable('service_accounts').set({ role_id: developer }).where('id', '=', account.body.id).execute()],
      ] as const) {
        const member = await addMember(domain, org, 'Developer');
        // The caller as the API resolves it, then its role taken away before the change runs.
        const principal = await domain.authenticator.authenticate(authorization);
        const { access, target } = await domain.contexts.resolve(principal, {});
        const call = { principal, access, target, ip: null, userAgent: null };
        await demote();
        await assert.rejects(
          domain.members.updateRole(call, member.memberId, () => ({ role_id: developer })),
          (error: Error) => error.message === 'Your own role changed while this request ran. Try again.',
          who,
        );
      }
    });

    it(`${ROUNDS} rounds of two deletes of one member, one service-account token and one invite: one 204, one 404, one event each`, async () => {
      const { domain } = suite.server;
      const org = suite.owner.organisationId;
      const account = await suite.api.post('/v1/service-accounts/', { name: `racing-${randomBytes(3).toString('hex')}`, role_id: await roleId(domain, org, 'Service') });
      assert.equal(account.status, 201, account.text);
      for (let round = 0; round < ROUNDS; round++) {
        const member = await addMember(domain, org, 'Developer');
        const token = await suite.api.post(`/v1/service-accounts/${account.body.id}/tokens/`, { name: `t-${round}` });
        const invite = await suite.api.post('/v1/members/invites/', { email: `racing-${round}-${randomBytes(3).toString('hex')}@example.com`, role_id: await roleId(domain, org, 'Developer') });
        assert.equal(invite.status, 201, invite.text);
        for (const [path, resourceId, action] of [
          [`/v1/members/${member.memberId}/`, member.memberId, 'member.delete'],
          [`/v1/service-accounts/${account.body.id}/tokens/${token.body.id}/`, token.body.id, 'service_account_token.delete'],
          [`/v1/members/invites/${invite.body.id}/`, invite.body.id, 'invite.delete'],
        ] as const) {
          const answers = await Promise.all([suite.api.delete(path), suite.api.delete(path)]);
          const summary = `round ${round} ${path}: ${describeAnswers(answers)}`;
          assert.deepEqual(answers.map((answer) => answer.status).sort(), [204, 404], summary);
          assert.equal((await events(resourceId, action)).length, 1, summary);
        }
      }
    });

    it(`${ROUNDS} rounds of a role update racing the role's delete: 200 or 404, never 500`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const role = await suite.api.post('/v1/roles/', { name: `fleeting-${round}-${randomBytes(3).toString('hex')}`, permissions: { permissions: { Apps: ['read'] }, app_permissions: {} } });
        assert.equal(role.status, 201, role.text);
        const [updated, deleted] = await Promise.all([suite.api.put(`/v1/roles/${role.body.id}/`, { description: 'changed' }), suite.api.delete(`/v1/roles/${role.body.id}/`)]);
        const summary = `round ${round}: ${describeAnswers([updated, deleted])}`;
        assertNo500([updated, deleted]);
        assert.equal(deleted.status, 204, summary);
        if (updated.status !== 200) assert.deepEqual([updated.status, updated.body], [404, { error: 'Role not found.' }], summary);
      }
    });
  });
}
