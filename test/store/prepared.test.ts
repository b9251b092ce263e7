// Statements marked with preparedAs() are parsed and planned once per PostgreSQL connection; the
// embedded store runs them as plain statements. Either way they return what they would unmarked.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/connect.js';
import { preparedAs } from '../../src/store/prepared.js';
import { findRevisions } from '../../src/store/secrets.js';
import { STORE_TARGETS, TEST_DATABASE_URL } from '../helpers/stores.js';

for (const target of STORE_TARGETS) {
  describe(`prepared statements on ${target.kind}`, () => {
    let store: Store;
    before(async () => {
      // One connection, so the statement cache inspected below is the one the queries used.
      store = target.kind === 'postgres' ? await openStore({ databaseUrl: TEST_DATABASE_URL, poolSize: 1 }) : await target.open();
    });
    after(() => store.close());

    it('returns the same rows as the unmarked statement, whatever the parameters', async () => {
      const marked = (n: number) => sql<{ n: number }>`${preparedAs('test-series')} select g as n from generate_series(1, ${n}::int) as g`.execute(store.db);
      assert.deepEqual((await marked(3)).rows.map((r) => r.n), [1, 2, 3]);
      assert.deepEqual((await marked(1)).rows.map((r) => r.n), [1]);
      assert.deepEqual(await findRevisions(store.db, [randomUUID(), randomUUID()]), new Map());
    });

    if (target.kind === 'postgres') {
      it('keeps marked statements, and only those, prepared on the connection', async () => {
        await sql`select 1`.execute(store.db);
        await findRevisions(store.db, [randomUUID()]);
        const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(store.db);
        assert.deepEqual(rows.map((r) => r.name), ['find-revisions', 'test-series']);
      });

      it('refuses a name reused for a different text instead of running the wrong statement', async () => {
        await assert.rejects(sql`${preparedAs('test-series')} select 2`.execute(store.db), /different statement/);
      });
    }

    it('accepts only plain names', () => {
      assert.throws(() => preparedAs('Bad Name */ drop table x; --'), /invalid prepared statement name/);
    });
  });
}
