// Deleting a service account while its app/environment access is being changed (rest-api §10.5,
// §10.6), and while it is renamed, given a token or granted a new environment of its app (§10.5,
// §10.7, §9.3). Each round fires them and the delete(s) at once; the requests decide in the database
// (the account's row lock), so whatever order they land in:
// - a change that lost the race answers as for an unknown account (404 `Service account not
//   found.`; an environment create just leaves the account out), one that won is undone by the
//   delete that follows it;
// - exactly one delete succeeds (204), the other finds the account gone (404);
// - the deleted account is left with no app membership, environment grant or live token;
// - no answer is a 500.
// Before the lock, PostgreSQL wrote memberships and grants for an account deleted in the same
// instant (its access PUT answered 200 after the delete committed), and both deletes answered 204;
// a rename answered 500, a token mint left a live token and an environment create a grant behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addServiceAccount } from '../helpers/principals.js';
import { describeAnswers, ownerServerForSuite, tally } from '../helpers/races.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createApp, sleep } from '../helpers/world.js';

const ROUNDS = 25;
const UNKNOWN_ACCOUNT = { error: 'Service account not found.' };

for (const target of STORE_TARGETS) {
  describe(`deleting a service account while its access is being changed, on ${target.kind}`, () => {
    const suite = ownerServerForSuite(target.kind);

    it(`${ROUNDS} rounds of two service-account deletes racing two access PUTs to that account`, async (t) => {
      const outcomes = new Map<string, number>();
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const shop = await createApp(suite.api, 'Shop');
      const blog = await createApp(suite.api, 'Blog');
      const [dev, staging, prod] = shop.environments.map((e) => e.id);
      for (let round = 0; round < ROUNDS; round++) {
        const account = await addServiceAccount(suite.server.domain, org, 'Service', { via: suite.api });
        const id = account.serviceAccountId;
        // Access to change: one PUT revokes and grants within Shop, the other swaps Shop for Blog.
        const initial = await suite.api.put(`/v1/service-accounts/${id}/access/`, { apps: [{ id: shop.id, environments: [dev] }] });
        assert.equal(initial.status, 200, initial.text);
        const [accessChanges, deletes] = await Promise.all([
          Promise.all([
            suite.api.put(`/v1/service-accounts/${id}/access/`, { apps: [{ id: shop.id, environments: [staging, prod] }] }),
            suite.api.put(`/v1/service-accounts/${id}/access/`, { apps: [{ id: blog.id, environments: blog.environments.map((e) => e.id) }] }),
          ]),
          // The deletes land at a different point of the access changes from round to round (0 to 24 ms in).
          Promise.all([0, 1].map(() => sleep(round).then(() => suite.api.delete(`/v1/service-accounts/${id}/`)))),
        ]);
        const answers = [...accessChanges, ...deletes];
        const summary = `round ${round}: ${describeAnswers(answers)}`;
        for (const answer of answers) assert.ok(answer.status < 500, `a ${answer.status}: ${summary}`);
        for (const answer of accessChanges) {
          if (answer.status === 200) continue;
          assert.deepEqual({ status: answer.status, body: answer.body }, { status: 404, body: UNKNOWN_ACCOUNT }, summary);
        }
        // The account is gone, and nothing is left pointing to it.
        const row = await db.selectFrom('service_accounts').select('deleted_at').where('id', '=', id).executeTakeFirstOrThrow();
        assert.notEqual(row.deleted_at, null, summary);
        const left = await Promise.all([
          db.selectFrom('app_members').select('app_id').where('service_account_id', '=', id).execute(),
          db.selectFrom('environment_keys').select('environment_id').where('service_account_id', '=', id).execute(),
          db.selectFrom('service_account_tokens').select('id').where('service_account_id', '=', id).where('deleted_at', 'is', null).execute(),
        ]);
        assert.deepEqual(left.map((rows) => rows.length), [0, 0, 0], `memberships, grants and live tokens left after ${summary}`);
        assert.deepEqual(deletes.map((a) => a.status).sort(), [204, 404], summary);
        assert.deepEqual(deletes.find((a) => a.status === 404)!.body, UNKNOWN_ACCOUNT, summary);
        tally(outcomes, `access ${accessChanges.map((a) => a.status).join('/')}`);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });

    it(`${ROUNDS} rounds of a service-account delete racing its rename, a token mint and an environment created in its app`, async (t) => {
      const outcomes = new Map<string, number>();
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const shop = await createApp(suite.api, 'Workshop');
      for (let round = 0; round < ROUNDS; round++) {
        const account = await addServiceAccount(suite.server.domain, org, 'Service', { via: suite.api });
        const id = account.serviceAccountId;
        const initial = await suite.api.put(`/v1/service-accounts/${id}/access/`, { apps: [{ id: shop.id, environments: [shop.environments[0]!.id] }] });
        assert.equal(initial.status, 200, initial.text);
        const [rename, mint, environment, deleted] = await Promise.all([
          suite.api.put(`/v1/service-accounts/${id}/`, { name: `renamed-${round}` }),
          suite.api.post(`/v1/service-accounts/${id}/tokens/`, { name: `late-${round}` }),
          suite.api.post(`/v1/environments/?app_id=${shop.id}`, { name: `E${round}` }),
          sleep(round).then(() => suite.api.delete(`/v1/service-accounts/${id}/`)),
        ]);
        const answers = [rename, mint, environment, deleted];
        const summary = `round ${round}: ${describeAnswers(answers)}`;
        for (const answer of answers) assert.ok(answer.status < 500, `a ${answer.status}: ${summary}`);
        for (const [answer, ok] of [[rename, 200], [mint, 201]] as const) {
          if (answer.status === ok) continue;
          assert.deepEqual({ status: answer.status, body: answer.body }, { status: 404, body: UNKNOWN_ACCOUNT }, summary);
        }
        assert.equal(environment.status, 201, summary);
        assert.equal(deleted.status, 204, summary);
        tally(outcomes, `rename ${rename.status}, mint ${mint.status}`);
        const left = await Promise.all([
          db.selectFrom('app_members').select('app_id').where('service_account_id', '=', id).execute(),
          db.selectFrom('environment_keys').select('environment_id').where('service_account_id', '=', id).execute(),
          db.selectFrom('service_account_tokens').select('id').where('service_account_id', '=', id).where('deleted_at', 'is', null).execute(),
        ]);
        assert.deepEqual(left.map((rows) => rows.length), [0, 0, 0], `memberships, grants and live tokens left after ${summary}`);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });
  });
}
