// Updating a role while it is being assigned (docs/security.md "Deletes racing attachments";
// rest-api §11.4, §12.7). An assignment judges the role on the row it locked, so the lock must keep
// that row as it is until the assignment commits, and an update in flight must be waited for:
// - an invite arriving while an update gives the role `ServiceAccountTokens`/`create` waits for it
//   and answers 400 (before, FOR KEY SHARE let it through on the old row: 201, an invite with a role
//   invites must not carry);
// - an update arriving while an assignment holds the role waits for that assignment to commit;
// - two assignments of one role do not wait for each other.
// The interleavings are made, not hoped for: one side is a transaction held open on its own
// connection, and on PostgreSQL the test waits until the other side is blocked by it (or has
// answered). PGlite has one connection, so there the other side simply runs after the held
// transaction; the answers must be the same.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Db, Tx } from '../../src/store/database.js';
import { lockRoleForAssignment, updateRole } from '../../src/store/roles.js';
import { ownerServerForSuite } from '../helpers/races.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { sleep } from '../helpers/world.js';

const HARMLESS = { permissions: { Members: ['read'] }, app_permissions: {} };
const MINTS_TOKENS = { permissions: { ServiceAccountTokens: ['create'] }, app_permissions: {} };
const NO_TOKEN_MINTING_INVITES = 'Members cannot be invited with a role that allows creating service account tokens.';

interface HeldTransaction {
  /** The backend holding it (PostgreSQL's pg_backend_pid()). */
  pid: number;
  /** Commits it and waits for the commit. */
  release(): Promise<void>;
}

/** Runs `work` in a transaction and keeps the transaction open until release(). */
async function holdTransaction(db: Db, work: (trx: Tx) => Promise<void>): Promise<HeldTransaction> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let started!: (pid: number) => void;
  const ready = new Promise<number>((resolve) => (started = resolve));
  const done = db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
    await work(trx);
    started(rows[0]!.pid);
    await gate;
  });
  const pid = await Promise.race([ready, done.then(() => assert.fail('the held transaction ended before it was released'))]);
  return {
    pid,
    release: async () => {
      open();
      await done;
    },
  };
}

/**
 * PostgreSQL only: waits until `answer` is blocked by the backend `holder` ('blocked') or has
 * settled ('answered'), whichever comes first.
 */
async function blockedOrAnswered(db: Db, holder: number, answer: Promise<unknown>): Promise<'blocked' | 'answered'> {
  let settled = false;
  answer.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    if (settled) return 'answered';
    const { rows } = await sql`select pid from pg_stat_activity where ${holder}::int = any(pg_blocking_pids(pid))`.execute(db);
    if (rows.length > 0) return 'blocked';
    await sleep(5);
  }
}

for (const target of STORE_TARGETS) {
  describe(`updating a role while it is being assigned, on ${target.kind}`, () => {
    const suite = ownerServerForSuite(target.kind);

    async function harmlessRole(): Promise<string> {
      const role = await suite.api.post('/v1/roles/', { name: `race-${randomBytes(4).toString('hex')}`, permissions: HARMLESS });
      assert.equal(role.status, 201, role.text);
      return role.body.id;
    }

    const email = () => `race-${randomBytes(4).toString('hex')}@example.com`;

    it('an invite arriving while an update makes the role mint service-account tokens waits for it and is refused (400), and no invite is stored', async () => {
      const db = suite.server.store.db;
      const roleId = await harmlessRole();
      const invitee = email();
      // The UPDATE Roles.update issues, committed only when released.
      const update = await holdTransaction(db, async (trx) => {
        await updateRole(trx, suite.owner.organisationId, roleId, MINTS_TOKENS);
      });
      const invite = suite.api.post('/v1/members/invites/', { email: invitee, role_id: roleId });
      if (target.kind === 'postgres') await blockedOrAnswered(db, update.pid, invite);
      await update.release();
      const answer = await invite;
      assert.deepEqual([answer.status, answer.body], [400, { error: NO_TOKEN_MINTING_INVITES }], answer.text);
      const stored = await db.selectFrom('invites').select('id').where('organisation_id', '=', suite.owner.organisationId).where('email', '=', invitee).execute();
      assert.deepEqual(stored, [], 'an invite was stored with a role that allows creating service-account tokens');
    });

    it('a role update arriving while an assignment holds the role waits for the assignment to commit', async () => {
      const db = suite.server.store.db;
      const roleId = await harmlessRole();
      // An invite or member role change that has judged the role and not yet committed.
      const assignment = await holdTransaction(db, async (trx) => {
        assert.ok(await lockRoleForAssignment(trx, suite.owner.organisationId, roleId));
      });
      const update = suite.api.put(`/v1/roles/${roleId}/`, { permissions: MINTS_TOKENS });
      if (target.kind === 'postgres') {
        assert.equal(await blockedOrAnswered(db, assignment.pid, update), 'blocked', 'the role was updated under an assignment in flight');
      }
      await assignment.release();
      const answer = await update;
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body.permissions.permissions, MINTS_TOKENS.permissions);
    });

    it('two assignments of one role do not wait for each other', async () => {
      const db = suite.server.store.db;
      const roleId = await harmlessRole();
      const assignment = await holdTransaction(db, async (trx) => {
        assert.ok(await lockRoleForAssignment(trx, suite.owner.organisationId, roleId));
      });
      const invite = suite.api.post('/v1/members/invites/', { email: email(), role_id: roleId });
      if (target.kind === 'postgres') {
        assert.equal(await blockedOrAnswered(db, assignment.pid, invite), 'answered', 'an invite waited for another assignment of its role');
      }
      await assignment.release();
      const answer = await invite;
      assert.equal(answer.status, 201, answer.text);
    });
  });
}
