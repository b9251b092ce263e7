// Crash safety (D-16 batches, DESIGN §2): `coffer serve` is killed with SIGKILL while several
// clients stream POST, PUT and DELETE batches at it. After a restart on the same store every
// acknowledged batch is there in full, a batch in flight at the kill is either wholly there or
// wholly absent (never partial), everything decrypts when read back through the API, and
// `coffer admin verify-audit` finds every audit chain intact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STORE_TARGETS } from '../helpers/stores.js';
import { ownStore, seedOrganisation, serveChild, verifyAudit } from './helpers.js';

const WORKERS = 4;
const ENTRIES = 5;
/** Kill once this many batches have been acknowledged (others are in flight at that moment). */
const KILL_AFTER = 36;

/**
 * One group of secrets goes through four states, one batch each:
 * 0 nothing, 1 created (values v), 2 updated (values u, comments), 3 two of them deleted.
 */
interface Group {
  keys: string[];
  ids: string[];
  /** Batches acknowledged with 200. */
  acknowledged: number;
  /** Batches sent (the last one may be in flight at the kill). */
  sent: number;
}

const created = (key: string) => `created-${key}`;
const updated = (key: string) => `updated-${key}-${'x'.repeat(40)}`;

/** What a group looks like in state `s`: key -> value, or undefined when absent. */
function stateOf(group: Group, s: number): Array<string | undefined> {
  return group.keys.map((key, i) => {
    if (s === 0) return undefined;
    if (s === 1) return created(key);
    if (s === 3 && i < 2) return undefined;
    return updated(key);
  });
}

for (const target of STORE_TARGETS) {
  describe(`crash safety on ${target.kind}`, () => {
    it('keeps every acknowledged batch whole, no partial batch, and an intact audit chain after SIGKILL', async () => {
      const store = await ownStore(target.kind);
      try {
        const { owner, appId } = await seedOrganisation(store);
        const first = await serveChild(store);
        const api = first.api(owner.authorization);
        const url = `/v1/secrets/?app_id=${appId}&env=development`;
        const groups: Group[] = [];
        let acknowledgedTotal = 0;
        let killed = false;
        const kill = () => {
          if (killed) return;
          killed = true;
          first.process.child.kill('SIGKILL');
        };

        /** One client: groups one after another, each through its batches, until the server dies. */
        async function worker(w: number): Promise<void> {
          for (let g = 0; !killed; g++) {
            const group: Group = { keys: Array.from({ length: ENTRIES }, (_, i) => `W${w}_G${g}_K${i}`), ids: [], acknowledged: 0, sent: 0 };
            groups.push(group);
            const batches = [
              () => api.post(url, { secrets: group.keys.map((key) => ({ key, value: created(key), comment: `c-${key}` })) }),
              () => api.put(url, { secrets: group.keys.map((key, i) => ({ id: group.ids[i], value: updated(key), comment: `updated comment ${key}` })) }),
              () => api.delete(url, { secrets: group.ids.slice(0, 2) }),
            ];
            for (const batch of batches) {
              if (killed) return;
              group.sent++;
              let res;
              try {
                res = await batch();
              } catch {
                return; // the connection died with the server: this batch is unacknowledged
              }
              assert.equal(res.status, 200, res.text);
              if (group.ids.length === 0) group.ids = res.body.map((s: { id: string }) => s.id);
              group.acknowledged++;
              if (++acknowledgedTotal >= KILL_AFTER) kill();
            }
          }
        }
        await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
        assert.equal(await first.process.exited, 'SIGKILL');
        const inFlight = groups.filter((g) => g.sent > g.acknowledged).length;

        const second = await serveChild(store);
        try {
          const read = await second.api(owner.authorization).get(url);
          assert.equal(read.status, 200, `everything decrypts after the restart: ${read.text}`);
          const byKey = new Map<string, any>(read.body.map((s: any) => [s.key, s]));
          let partial = 0;
          for (const group of groups) {
            const observed = group.keys.map((key) => byKey.get(key)?.value as string | undefined);
            const allowed = [group.acknowledged, ...(group.sent > group.acknowledged ? [group.sent] : [])];
            const matches = allowed.filter((s) => JSON.stringify(stateOf(group, s)) === JSON.stringify(observed));
            if (matches.length === 0) partial++;
            assert.equal(matches.length, 1, `group ${group.keys[0]} (acknowledged ${group.acknowledged}, sent ${group.sent}) is in no whole state: ${JSON.stringify(observed)}`);
            if (matches[0]! >= 2) {
              for (const key of group.keys.slice(matches[0] === 3 ? 2 : 0)) assert.equal(byKey.get(key).comment, `updated comment ${key}`);
            }
          }
          assert.equal(partial, 0);
          assert.ok(groups.reduce((n, g) => n + g.acknowledged, 0) >= KILL_AFTER);
          // Stated, not asserted: how many batches were in flight when the server was killed.
          console.log(`crash on ${target.kind}: ${groups.length} groups, ${acknowledgedTotal} acknowledged batches, ${inFlight} in flight at SIGKILL`);

          // The store still takes writes, and the audit trail verifies (through the admin socket on PGlite).
          assert.equal((await second.api(owner.authorization).post(url, { secrets: [{ key: 'AFTER_RESTART', value: 'ok' }] })).status, 200);
          const verified = await verifyAudit(store);
          assert.equal(verified.code, 0, `${JSON.stringify(verified.report)} ${verified.stderr}`);
          assert.equal(verified.report.intact, true);
        } finally {
          second.process.child.kill('SIGTERM');
          await second.process.exited;
        }
      } finally {
        await store.dispose();
      }
    });
  });
}
