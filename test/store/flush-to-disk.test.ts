// Store.flushToDisk (src/store/connect.ts): the embedded store on a data directory checkpoints and
// flushes its files before a master-key rotation drops the old key; PostgreSQL (which flushes every
// commit) and the in-memory store have nothing to flush. Every store test runs on both stores.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, mock } from 'node:test';
import { sql } from 'kysely';
import { flushTree, flushTreeHere } from '../../src/durable-files.js';
import { openStore, type Store } from '../../src/store/connect.js';
import { STORE_TARGETS } from '../helpers/stores.js';

async function checkpointLocation(store: Store): Promise<string> {
  const result = await sql<{ lsn: string }>`select checkpoint_lsn::text as lsn from pg_control_checkpoint()`.execute(store.db);
  return result.rows[0]!.lsn;
}

for (const target of STORE_TARGETS) {
  describe(`flushToDisk on ${target.kind}`, () => {
    it('is offered only where commits are not flushed already (the embedded store on a data directory)', async () => {
      const store = await target.open();
      try {
        assert.equal(store.flushToDisk, undefined, target.kind === 'postgres' ? 'PostgreSQL flushes every commit' : 'an in-memory store has no disk');
      } finally {
        await store.close();
      }
    });
  });
}

describe('flushToDisk on an embedded data directory', () => {
  it('checkpoints, and what was committed before is there after the store is opened again', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-flush-'));
    const id = randomUUID();
    try {
      const store = await openStore({ dataDir, maintenance: false });
      try {
        assert.ok(store.flushToDisk);
        await store.db.insertInto('organisations').values({ id, name: 'flushed', created_at: new Date(), updated_at: new Date() }).execute();
        const before = await checkpointLocation(store);
        await store.flushToDisk();
        const after = await checkpointLocation(store);
        const moved = await sql<{ moved: boolean }>`select ${after}::pg_lsn > ${before}::pg_lsn as moved`.execute(store.db);
        assert.equal(moved.rows[0]!.moved, true, `the checkpoint moved on (${before} -> ${after})`);
      } finally {
        await store.close();
      }
      const reopened = await openStore({ dataDir, maintenance: false });
      try {
        const row = await reopened.db.selectFrom('organisations').select('name').where('id', '=', id).executeTakeFirst();
        assert.deepEqual(row, { name: 'flushed' });
      } finally {
        await reopened.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('flushTree', () => {
  function makeTree(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-flush-tree-'));
    for (let d = 0; d < 3; d++) {
      fs.mkdirSync(path.join(root, `dir-${d}`));
      for (let f = 0; f < 5; f++) fs.writeFileSync(path.join(root, `dir-${d}`, `file-${f}`), 'x');
    }
    return root;
  }

  it('walks past files and directories that disappear under it (PGlite removes files while it runs)', () => {
    const root = makeTree();
    const realOpen = fs.openSync;
    let vanished: string | undefined;
    // The first file the walk opens is removed just before, and so is every directory not walked yet.
    const open = mock.method(fs, 'openSync', (file: fs.PathLike, ...rest: any[]) => {
      const name = String(file);
      if (vanished === undefined && path.basename(name).startsWith('file-')) {
        vanished = name;
        fs.rmSync(name);
        for (const dir of fs.readdirSync(root)) if (path.join(root, dir) !== path.dirname(name)) fs.rmSync(path.join(root, dir), { recursive: true });
      }
      return (realOpen as any)(file, ...rest);
    });
    try {
      flushTreeHere(root);
      assert.ok(vanished, 'a file vanished during the walk');
      const walked = path.dirname(vanished);
      const opened = open.mock.calls.map((call) => String(call.arguments[0]));
      assert.deepEqual(fs.readdirSync(root), [path.basename(walked)]);
      for (const name of fs.readdirSync(walked)) assert.ok(opened.includes(path.join(walked, name)), `${name} was flushed`);
      assert.ok(opened.includes(walked) && opened.includes(root), 'the directories were flushed after what they hold');
    } finally {
      open.mock.restore();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs in a worker thread and passes its errors back', async () => {
    const root = makeTree();
    try {
      await flushTree(root);
      await assert.rejects(flushTree(path.join(root, 'dir-0', 'file-0')), { code: 'ENOTDIR' });
      await flushTree(path.join(root, 'gone')); // nothing there: nothing to flush
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
