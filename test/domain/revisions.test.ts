// SharedRevisions (PostgreSQL read path): concurrent reads share revision queries, several may be
// in flight, and no read is answered by a query that started before it arrived — so a read never
// misses a revision committed before the read began.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { SharedRevisions } from '../../src/domain/secrets/revisions.js';
import type { Store } from '../../src/store/connect.js';
import { STORE_TARGETS } from '../helpers/stores.js';

for (const target of STORE_TARGETS) {
  describe(`shared revision checks on ${target.kind}`, () => {
    let store: Store;
    const environmentIds = [randomUUID(), randomUUID()];
    before(async () => {
      store = await target.open();
      const org = randomUUID();
      const app = randomUUID();
      await sql`insert into organisations (id, name, created_at, updated_at) values (${org}, 'revisions', now(), now())`.execute(store.db);
      await sql`insert into apps (id, organisation_id, name, sse_enabled, created_at, updated_at) values (${app}, ${org}, 'a', true, now(), now())`.execute(store.db);
      for (const [index, id] of environmentIds.entries()) {
        await sql`insert into environments (id, organisation_id, app_id, name, env_type, index, identity_key, created_at, updated_at)
                  values (${id}, ${org}, ${app}, ${`e${index}`}, 'dev', ${index}, 'k', now(), now())`.execute(store.db);
      }
    });
    after(() => store.close());

    const bump = async (id: string) =>
      (await sql<{ revision: number }>`update environments set revision = revision + 1 where id = ${id} returning revision`.execute(store.db)).rows[0]!.revision;

    it('answers every read with a revision at least as new as the last one committed before it began', async () => {
      const revisions = new SharedRevisions(store.db, 2);
      const reads: Array<Promise<void>> = [];
      for (let round = 0; round < 30; round++) {
        const id = environmentIds[round % 2]!;
        const committed = Number(await bump(id));
        // A burst of reads after the commit; earlier reads' queries may still be in flight.
        for (let i = 0; i < 5; i++) {
          reads.push(
            revisions.current([id]).then((current) => {
              assert.ok(Number(current.get(id)) >= committed, `read saw revision ${current.get(id)} after ${committed} was committed`);
            }),
          );
        }
      }
      await Promise.all(reads);
    });

    it('leaves out environments that do not exist', async () => {
      const revisions = new SharedRevisions(store.db);
      const missing = randomUUID();
      const current = await revisions.current([environmentIds[0]!, missing]);
      assert.ok(current.has(environmentIds[0]!));
      assert.ok(!current.has(missing));
    });
  });
}
