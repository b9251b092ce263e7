// Removing a member while their app/environment access is being set (rest-api §12.5, §12.6; docs/
// security.md "Removals racing new keys"). Each round takes a fresh member with no access and fires
// a PUT granting them one app with its environments together with their removal; the removal lands at
// a different point of the PUT from round to round. The PUT locks the member row (FOR SHARE) before
// the apps, and the removal soft-deletes that row before it deletes memberships and grants, so
// whatever order they land in:
// - the PUT committed first (200) and the removal then deleted what it wrote, or the PUT found the
//   member gone (404 `Member not found.`);
// - the removal answers 204;
// - the removed member is left with no app membership and no environment key;
// - no answer is a 500.
// Without the lock (Members.setAccess, lockMemberIdentity), on PostgreSQL the PUT answered 200 and
// the removal 204 in the first round, and the removed member kept the app membership and its three
// environment keys: the removal deleted before the PUT's rows were committed (PGlite, one connection,
// runs the two one after the other and passed either way).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addMember } from '../helpers/principals.js';
import { describeAnswers, ownerServerForSuite, tally } from '../helpers/races.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createApp, sleep } from '../helpers/world.js';

const ROUNDS = 25;
/** The first rounds start the removal this many ms down to 1 ms before the access PUT. */
const LEAD = 5;
const UNKNOWN_MEMBER = { error: 'Member not found.' };

for (const target of STORE_TARGETS) {
  describe(`removing a member while their access is being set, on ${target.kind}`, { timeout: 300_000 }, () => {
    const suite = ownerServerForSuite(target.kind);

    /** What the member still holds: [app memberships, environment keys]. */
    async function holdings(memberId: string): Promise<[number, number]> {
      const db = suite.server.store.db;
      const [memberships, keys] = await Promise.all([
        db.selectFrom('app_members').select('app_id').where('member_id', '=', memberId).execute(),
        db.selectFrom('environment_keys').select('environment_id').where('member_id', '=', memberId).execute(),
      ]);
      return [memberships.length, keys.length];
    }

    it(`${ROUNDS} rounds of a member removal racing an access PUT granting them an app`, async (t) => {
      const outcomes = new Map<string, number>();
      const db = suite.server.store.db;
      const org = suite.owner.organisationId;
      const shop = await createApp(suite.api, 'Shop');
      const access = { apps: [{ id: shop.id, environments: shop.environments.map((e) => e.id) }] };
      for (let round = 0; round < ROUNDS; round++) {
        const member = await addMember(suite.server.domain, org, 'Developer');
        const id = member.memberId;
        assert.deepEqual(await holdings(id), [0, 0], 'a new Developer starts with no access');
        // The removal lands at a different point of the access change from round to round: from
        // LEAD ms before it to ROUNDS - LEAD - 1 ms after it.
        const [granted, removed] = await Promise.all([
          sleep(Math.max(0, LEAD - round)).then(() => suite.api.put(`/v1/members/${id}/access/`, access)),
          sleep(Math.max(0, round - LEAD)).then(() => suite.api.delete(`/v1/members/${id}/`)),
        ]);
        const summary = `round ${round}: ${describeAnswers([granted, removed])}`;
        for (const answer of [granted, removed]) assert.ok(answer.status < 500, `a ${answer.status}: ${summary}`);
        if (granted.status !== 200) {
          assert.deepEqual({ status: granted.status, body: granted.body }, { status: 404, body: UNKNOWN_MEMBER }, summary);
        }
        assert.equal(removed.status, 204, summary);
        // The member is gone, and nothing is left pointing to them.
        const row = await db.selectFrom('members').select('deleted_at').where('id', '=', id).executeTakeFirstOrThrow();
        assert.notEqual(row.deleted_at, null, summary);
        assert.deepEqual(await holdings(id), [0, 0], `memberships and keys left with the removed member after ${summary}`);
        tally(outcomes, `access ${granted.status}`);
      }
      t.diagnostic([...outcomes].map(([outcome, n]) => `${outcome}: ${n}`).join('; '));
    });
  });
}
