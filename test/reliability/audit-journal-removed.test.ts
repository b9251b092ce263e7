// The embedded store's audit journal removed while the server runs (by hand, by a cleanup job): the
// reads it answers afterwards must still be in the trail after a crash. Before, they went through
// the open descriptor into a file no restart would find, and the trail still verified (they were
// its newest events). Now the journal is made again at its path with every event not yet imported.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AUDIT_JOURNAL_FILE } from '../../src/domain/audit-local.js';
import { ownStore, seedOrganisation, serveChild, verifyAudit } from './helpers.js';

describe('an audit journal removed under a running embedded server', { timeout: 180_000 }, () => {
  it('keeps the reads answered after the removal through a crash, and the trail intact', async () => {
    const store = await ownStore('pglite');
    try {
      const { owner, appId } = await seedOrganisation(store);
      const first = await serveChild(store);
      const api = first.api(owner.authorization);
      const url = `/v1/secrets/?app_id=${appId}&env=development`;
      assert.equal((await api.post(url, { secrets: [{ key: 'DB_URL', value: 'postgres://db' }] })).status, 200);
      assert.equal((await api.get(`${url}&key=DB_URL`)).status, 200);

      const journal = path.join(store.dataDir, AUDIT_JOURNAL_FILE);
      fs.rmSync(journal, { force: true });
      for (let i = 0; i < 5; i++) {
        const read = await api.get(`${url}&key=DB_URL`, { 'user-agent': `after-removal/${i}` });
        assert.equal(read.status, 200, read.text);
      }
      first.process.child.kill('SIGKILL');
      await first.process.exited;

      const second = await serveChild(store);
      try {
        const agents: string[] = [];
        for (let after = 0; ; ) {
          const page = await second.api(owner.authorization).get(`/coffer/v1/audit/events/?after=${after}&limit=500`);
          assert.equal(page.status, 200, page.text);
          agents.push(...page.body.data.filter((e: any) => e.action === 'read').map((e: any) => e.userAgent));
          if (page.body.next === null) break;
          after = page.body.next;
        }
        assert.deepEqual(agents.filter((a) => a?.startsWith('after-removal/')).sort(), [0, 1, 2, 3, 4].map((i) => `after-removal/${i}`));
      } finally {
        second.process.child.kill('SIGTERM');
        await second.process.exited;
      }
      const verified = await verifyAudit(store);
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal(verified.report.intact, true);
    } finally {
      await store.dispose();
    }
  });
});
