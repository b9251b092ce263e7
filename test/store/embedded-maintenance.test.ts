// The embedded store's autovacuum: ANALYZE / VACUUM where PostgreSQL's autovacuum thresholds say so.
// On PostgreSQL the store starts none (the server's own autovacuum does the work).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/connect.js';
import type { MaintenanceError } from '../../src/store/embedded-maintenance.js';
import { STORE_TARGETS, TEST_DATABASE_URL } from '../helpers/stores.js';

interface TableState {
  reltuples: number;
  analyzeCount: number;
  vacuumCount: number;
}

/** pg_class and pg_stat_user_tables for one table of the public schema, counts flushed first. */
async function tableState(store: Store, table: string): Promise<TableState> {
  await sql`select pg_stat_force_next_flush()`.execute(store.db);
  const row = await sql<TableState>`
    select c.reltuples::float8 as "reltuples", s.analyze_count::int as "analyzeCount", s.vacuum_count::int as "vacuumCount"
    from pg_stat_user_tables s join pg_class c on c.oid = s.relid
    where s.schemaname = 'public' and s.relname = ${table}`.execute(store.db);
  assert.ok(row.rows[0], `no statistics row for ${table}`);
  return row.rows[0];
}

/** Inserts `count` rows into server_state with one statement. */
async function insertStateRows(store: Store, prefix: string, count: number): Promise<void> {
  await sql`insert into server_state (key, value, updated_at)
    select ${prefix} || g, 'v', now() from generate_series(1, ${count}::int) g`.execute(store.db);
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-maint-'));
}

for (const target of STORE_TARGETS) {
  describe(`embedded store maintenance on ${target.kind}`, () => {
    if (target.kind === 'postgres') {
      it('starts nothing, even when asked to: PostgreSQL runs its own autovacuum', async () => {
        const errors: MaintenanceError[] = [];
        const store = await openStore({ databaseUrl: TEST_DATABASE_URL, poolSize: 1, maintenance: { intervalMs: 1, onError: (e) => errors.push(e) } });
        try {
          assert.equal(store.kind, 'postgres');
          assert.equal(store.maintenance, undefined);
        } finally {
          await store.close();
        }
        assert.deepEqual(errors, []);
      });
      return;
    }

    let store: Store;
    const errors: MaintenanceError[] = [];
    before(async () => {
      store = await openStore({ memory: true, maintenance: { intervalMs: 0, onError: (e) => errors.push(e) } });
      // A new store's first pass analyzes the tables that have pages but never had statistics
      // (the template's catalogs and migration tables), once.
      await store.maintenance!.runOnce();
    });
    after(() => store.close());

    it('runs nothing when no table is past a threshold', async () => {
      const before = await sql<{ n: number }>`select sum(analyze_count + vacuum_count)::int as n from pg_stat_all_tables`.execute(store.db);
      assert.deepEqual(await store.maintenance!.runOnce(), []);
      const after = await sql<{ n: number }>`select sum(analyze_count + vacuum_count)::int as n from pg_stat_all_tables`.execute(store.db);
      assert.equal(after.rows[0]?.n, before.rows[0]?.n);
      assert.deepEqual(errors, []);
    });

    it('leaves a table below the analyze threshold (50 + 10% of its rows) alone', async () => {
      await insertStateRows(store, 'few-', 40);
      assert.deepEqual(await store.maintenance!.runOnce(), []);
      const state = await tableState(store, 'server_state');
      assert.equal(state.analyzeCount, 0);
      assert.equal(state.reltuples, -1);
    });

    it('analyzes and vacuums a table grown past the thresholds, and no other user table', async () => {
      await insertStateRows(store, 'many-', 5000);
      const done = await store.maintenance!.runOnce();
      // 5,040 rows inserted since the last VACUUM is past the insert threshold (1,000 + 20%) too.
      assert.deepEqual(done, [{ schema: 'public', table: 'server_state', command: 'vacuum (analyze)' }]);
      const state = await tableState(store, 'server_state');
      assert.equal(state.reltuples, 5040);
      assert.equal(state.analyzeCount, 1);
      assert.equal(state.vacuumCount, 1);
      assert.equal((await tableState(store, 'sessions')).analyzeCount, 0);
      assert.deepEqual(await store.maintenance!.runOnce(), []);
    });

    it('vacuums dead tuples past 50 + 20% of the rows, and analyzes what changed past 50 + 10%', async () => {
      // 1,100 of 5,040 rows updated: 1,100 dead tuples > 50 + 0.2 × 5,040 = 1,058.
      await sql`update server_state set value = 'w' where key in (select key from server_state where key like 'many-%' order by key limit 1100)`.execute(store.db);
      const done = await store.maintenance!.runOnce();
      assert.deepEqual(done, [{ schema: 'public', table: 'server_state', command: 'vacuum (analyze)' }]);
      const state = await tableState(store, 'server_state');
      assert.equal(state.vacuumCount, 2);
      // 600 rows deleted: past the analyze threshold (50 + 504), not the vacuum one (50 + 1,008).
      await sql`delete from server_state where key in (select key from server_state where key like 'many-%' order by key limit 600)`.execute(store.db);
      assert.deepEqual(await store.maintenance!.runOnce(), [{ schema: 'public', table: 'server_state', command: 'analyze' }]);
      assert.equal((await tableState(store, 'server_state')).reltuples, 4440);
      assert.deepEqual(errors, []);
    });

    it('reports a failing statement with its table and SQLSTATE, and goes on with the other tables', async () => {
      // ANALYZE evaluates an expression index's expression on the sampled rows: this one raises
      // once the session setting below is on.
      await sql`create function maint_probe(v int) returns int language plpgsql immutable as $$
        begin
          if current_setting('coffer.test_fail', true) = 'on' then raise exception 'probe failure'; end if;
          return v;
        end $$`.execute(store.db);
      await sql`create table maint_failing (id int primary key)`.execute(store.db);
      await sql`create index maint_failing_probe on maint_failing (maint_probe(id))`.execute(store.db);
      await sql`insert into maint_failing select g from generate_series(1, 2000) g`.execute(store.db);
      await insertStateRows(store, 'more-', 2000);
      await sql`select set_config('coffer.test_fail', 'on', false)`.execute(store.db);
      try {
        const done = await store.maintenance!.runOnce();
        assert.deepEqual(done, [{ schema: 'public', table: 'server_state', command: 'vacuum (analyze)' }]);
      } finally {
        await sql`select set_config('coffer.test_fail', 'off', false)`.execute(store.db);
      }
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.table, 'public.maint_failing');
      assert.equal(errors[0]!.code, 'P0001');
      assert.match(errors[0]!.message, /^maintenance of public\.maint_failing failed: probe failure$/);
      errors.length = 0;
      // VACUUM (ANALYZE) commits the VACUUM before it analyzes: only the ANALYZE is left to do.
      assert.deepEqual(await store.maintenance!.runOnce(), [{ schema: 'public', table: 'maint_failing', command: 'analyze' }]);
      await sql`drop table maint_failing`.execute(store.db);
      await sql`drop function maint_probe(int)`.execute(store.db);
    });

    it('quotes table names taken from the catalog', async () => {
      await sql`create table ${sql.id('public', 'maint "odd"; name')} (id int)`.execute(store.db);
      await sql`insert into ${sql.id('public', 'maint "odd"; name')} select g from generate_series(1, 200) g`.execute(store.db);
      assert.deepEqual(await store.maintenance!.runOnce(), [{ schema: 'public', table: 'maint "odd"; name', command: 'analyze' }]);
      assert.equal((await tableState(store, 'maint "odd"; name')).reltuples, 200);
      await sql`drop table ${sql.id('public', 'maint "odd"; name')}`.execute(store.db);
      assert.deepEqual(errors, []);
    });
  });

  if (target.kind === 'pglite') {
    describe('embedded store maintenance across a restart', () => {
      it('analyzes a table that grew before the restart, whose counts the restart lost', async () => {
        const dataDir = tempDir();
        try {
          const first = await openStore({ dataDir, maintenance: false });
          assert.equal(first.maintenance, undefined);
          await insertStateRows(first, 'old-', 1000);
          await sql`analyze server_state`.execute(first.db);
          await insertStateRows(first, 'new-', 4000);
          await first.close();
          const second = await openStore({ dataDir, maintenance: { intervalMs: 0 } });
          try {
            const before = await tableState(second, 'server_state');
            assert.equal(before.reltuples, 1000);
            // PGlite keeps no statistics counts across a close: nothing says 4,000 rows came in.
            await sql`select pg_stat_force_next_flush()`.execute(second.db);
            const counts = await sql<{ n: number }>`select n_mod_since_analyze::int as n from pg_stat_user_tables where relname = 'server_state'`.execute(second.db);
            assert.equal(counts.rows[0]?.n, 0);
            const done = await second.maintenance!.runOnce();
            assert.ok(done.some((a) => a.table === 'server_state' && a.command === 'analyze'), JSON.stringify(done));
            assert.equal((await tableState(second, 'server_state')).reltuples, 5000);
          } finally {
            await second.close();
          }
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      });

      it('closing the store waits for a running pass, which ends before its next statement', async () => {
        const errors: MaintenanceError[] = [];
        let closing: Promise<void> | undefined;
        const store: Store = await openStore({
          memory: true,
          maintenance: { intervalMs: 0, onError: (e) => errors.push(e) },
          // Close while the pass is under way: right after it asked for the statistics flush.
          onQuery: ({ sql: text }) => {
            if (text.includes('pg_stat_force_next_flush') && !closing) closing = store.close();
          },
        });
        await insertStateRows(store, 'close-', 3000);
        let settled: unknown;
        const pass = store.maintenance!.runOnce().then((done) => (settled = done));
        while (!closing) await new Promise<void>((resolve) => setImmediate(resolve));
        await closing;
        // The pass had read the catalog, then stopped before running anything.
        assert.deepEqual(settled, []);
        await pass;
        assert.deepEqual(await store.maintenance!.runOnce(), []);
        await assert.rejects(sql`select 1`.execute(store.db), /destroyed|closed/);
        assert.deepEqual(errors, []);
      });
    });
  }
}
