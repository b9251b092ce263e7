// The embedded store's audit journal (src/domain/audit-local.ts): reads journaled and writes
// committed in transactions form one valid chain; rolled-back writes leave no trace; a process
// killed with SIGKILL loses no acknowledged read event; a full disk refuses reads without breaking
// the chain.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { masterKeyring, fromHex, type MasterKeyring } from '../../src/crypto/index.js';
import { AUDIT_UNAVAILABLE, EventChainer } from '../../src/domain/audit.js';
import { expandReadBatches } from '../../src/domain/audit-read-batches.js';
import { AUDIT_JOURNAL_FILE, AuditJournal, LocalAuditTrail } from '../../src/domain/audit-local.js';
import { verifyAuditTrail } from '../../src/domain/audit-verify.js';
import { inTransaction } from '../../src/domain/transactions.js';
import { openStore, type Store } from '../../src/store/connect.js';
import { eventCopyLine, eventsCopyBinary, insertChainHead } from '../../src/store/events.js';
import { FIXTURES, spawnNode } from '../helpers/process.js';

const actor = { principal: { kind: 'member' as const, organisationId: '', memberId: randomUUID(), userId: randomUUID(), tokenId: null }, ip: '127.0.0.1', userAgent: 'test' };
const read = (organisationId: string, i: number) => ({ organisationId, actor, event: { kind: 'secret' as const, action: 'read', secretIds: [randomUUID()], environmentRevision: i } });
const write = (organisationId: string, i: number) => ({ organisationId, actor, event: { kind: 'audit' as const, action: 'test.write', description: `write ${i}` } });

/** An embedded store on a data directory with one organisation whose chain `chainer` extends. */
async function withJournalStore(
  run: (world: { store: Store; dataDir: string; keyring: MasterKeyring; chainer: EventChainer; org: string; head: ReturnType<EventChainer['newChain']> }) => Promise<void>,
): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journal-'));
  const store = await openStore({ dataDir });
  try {
    const keyring = masterKeyring({ active: randomBytes(32) });
    const chainer = new EventChainer(keyring);
    const org = randomUUID();
    const head = chainer.newChain(org);
    await store.db.insertInto('organisations').values({ id: org, name: 'j', created_at: new Date(), updated_at: new Date() }).execute();
    await insertChainHead(store.db, head);
    await chainer.loadKey(head);
    await run({ store, dataDir, keyring, chainer, org, head });
  } finally {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('audit journal of the embedded store', () => {
  it('keeps each write until it is imported: all pending rows as one COPY input, each chain\'s newest head, the rest left in the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journal-'));
    const file = path.join(dir, AUDIT_JOURNAL_FILE);
    const journal = new AuditJournal(file);
    try {
      const chainer = new EventChainer(masterKeyring({ active: randomBytes(32) }));
      const a: string = randomUUID();
      const b: string = randomUUID();
      const heads = new Map([a, b].map((org) => [org, { seq: 0, mac: '0'.repeat(64) }]));
      for (const org of [a, b]) await chainer.loadKey(chainer.newChain(org));
      const writes = [[read(a, 1), read(b, 1), read(a, 2)], [read(b, 2)], [read(a, 3), read(a, 4)]].map((entries) => {
        const { rows, advances } = chainer.chain(entries, heads);
        for (const advance of advances) heads.set(advance.organisation_id, { seq: advance.to_seq, mac: advance.to_mac });
        return rows;
      });
      for (const rows of writes) journal.write(rows);
      journal.write([]);
      const all = writes.flat();
      const pending = journal.pending();
      assert.equal(pending.count, 6);
      assert.equal(journal.size, 6);
      assert.deepEqual(Buffer.from(pending.encoded), Buffer.from(eventsCopyBinary(all)));
      const newest = (org: string) => all.filter((row) => row.organisation_id === org).at(-1)!;
      assert.deepEqual(
        [...pending.heads].sort((x, y) => (x.organisation_id < y.organisation_id ? -1 : 1)),
        [a, b].sort().map((org) => ({ organisation_id: org, seq: newest(org).seq, mac: newest(org).mac })),
      );
      assert.equal(fs.readFileSync(file, 'utf8'), all.map(eventCopyLine).join(''));

      assert.throws(() => journal.imported(2), /no write ending after 2 pending events/);
      journal.imported(4);
      assert.equal(journal.size, 2);
      assert.equal(fs.readFileSync(file, 'utf8'), writes[2]!.map(eventCopyLine).join(''));
      assert.deepEqual(Buffer.from(journal.pending().encoded), Buffer.from(eventsCopyBinary(writes[2]!)));
      journal.imported(2);
      assert.equal(journal.size, 0);
      assert.equal(fs.statSync(file).size, 0);
    } finally {
      journal.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes a removed journal again at its path with every event not yet imported; refuses writes while a directory stands there; refuses to start from one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journal-'));
    const file = path.join(dir, AUDIT_JOURNAL_FILE);
    const journal = new AuditJournal(file);
    try {
      const chainer = new EventChainer(masterKeyring({ active: randomBytes(32) }));
      const org: string = randomUUID();
      const heads = new Map([[org, { seq: 0, mac: '0'.repeat(64) }]]);
      await chainer.loadKey(chainer.newChain(org));
      const chained = (from: number, count: number) => {
        const { rows, advances } = chainer.chain(Array.from({ length: count }, (_, i) => read(org, from + i)), heads);
        for (const advance of advances) heads.set(advance.organisation_id, { seq: advance.to_seq, mac: advance.to_mac });
        return rows;
      };
      const first = chained(1, 2);
      journal.write(first);
      fs.rmSync(file);
      const second = chained(3, 1);
      journal.write(second);
      assert.equal(fs.readFileSync(file, 'utf8'), [...first, ...second].map(eventCopyLine).join(''), 'the pending events, at the path again');
      const third = chained(4, 1);
      journal.write(third);
      assert.equal(fs.readFileSync(file, 'utf8'), [...first, ...second, ...third].map(eventCopyLine).join(''), 'and written there from then on');

      fs.rmSync(file);
      fs.mkdirSync(file);
      assert.throws(() => journal.write(chained(5, 1)), /EISDIR/);
      assert.equal(journal.size, 4, 'the refused batch is not kept');
      assert.throws(() => AuditJournal.recover(file), (error: Error) => error.name === 'DamagedJournalError' && /is damaged: it is not a file/.test(error.message));
      fs.rmdirSync(file);
      heads.set(org, { seq: 4, mac: third.at(-1)!.mac });
      const fifth = chained(5, 1);
      journal.write(fifth);
      assert.equal(fs.readFileSync(file, 'utf8'), [...first, ...second, ...third, ...fifth].map(eventCopyLine).join(''));
      // Imported, the file is cut to nothing, and the next write starts it again (not at the old offset).
      journal.imported(5);
      assert.equal(fs.statSync(file).size, 0);
      const sixth = chained(6, 1);
      journal.write(sixth);
      assert.equal(fs.readFileSync(file, 'utf8'), sixth.map(eventCopyLine).join(''));
    } finally {
      journal.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('chains journaled reads and transactional writes into one valid chain; a rolled-back write leaves nothing', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journal-'));
    const store = await openStore({ dataDir });
    const keyring = masterKeyring({ active: randomBytes(32) });
    const trail = new LocalAuditTrail(store.db, new EventChainer(keyring), path.join(dataDir, AUDIT_JOURNAL_FILE));
    try {
      const org = randomUUID();
      await inTransaction(store.db, async ({ trx }) => {
        await trx.insertInto('organisations').values({ id: org, name: 'j', created_at: new Date(), updated_at: new Date() }).execute();
        await trail.startChain(trx, org);
      });
      const work: Array<Promise<unknown>> = [];
      for (let i = 0; i < 30; i++) {
        work.push(trail.appendReads([read(org, i), read(org, i)]));
        if (i % 5 === 0) {
          // Two appends in one transaction (e.g. an organisation and its first token).
          work.push(
            inTransaction(store.db, async ({ trx }) => {
              await trail.append(trx, [write(org, i)]);
              await trail.append(trx, [write(org, i + 1000)]);
            }),
          );
        }
        if (i % 7 === 0) {
          work.push(
            inTransaction(store.db, async ({ trx }) => {
              await trail.append(trx, [write(org, -i)]);
              throw new Error('roll back');
            }).catch(() => 'rolled back'),
          );
        }
      }
      await Promise.all(work);
      // Journaled reads are not in the database until the trail syncs (or a write imports them).
      await trail.sync();
      const report = await verifyAuditTrail(store.db, keyring, org);
      assert.equal(report.problem, undefined);
      // Each appendReads of two reads is one stored event (audit-read-batches.ts) listing both.
      assert.equal(report.events, 30 + 6 * 2);
      const stored = await store.db.selectFrom('events').selectAll().where('organisation_id', '=', org).orderBy('seq').execute();
      const reads = expandReadBatches(stored).filter((e) => e.action === 'read');
      assert.deepEqual(
        reads.map((e) => e.environment_revision),
        Array.from({ length: 30 }, (_, i) => [i, i]).flat(),
      );
      assert.equal(new Set(reads.map((e) => e.id)).size, 60, 'every read has an id of its own');
      const rolledBack = await store.db.selectFrom('events').select('id').where('organisation_id', '=', org).where('description', 'like', 'write -%').execute();
      assert.deepEqual(rolledBack, []);
      assert.equal(fs.statSync(path.join(dataDir, AUDIT_JOURNAL_FILE)).size, 0, 'the journal is emptied once imported');
    } finally {
      await trail.close();
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('recovers COPY lines with escaped characters and lines of the earlier JSON format, and drops a torn last line', async () => {
    await withJournalStore(async ({ store, dataDir, keyring, chainer, org, head }) => {
      const awkward = { ...actor, userAgent: 'tab\there, newline\nthere, back\\slash, cr\r, \\N' };
      const entries = [0, 1, 2, 3].map((i) => ({ ...read(org, i), actor: awkward }));
      const { rows } = chainer.chain(entries, new Map([[org, { seq: head.seq, mac: head.mac }]]));
      const file = path.join(dataDir, AUDIT_JOURNAL_FILE);
      const json = JSON.stringify(rows[1]);
      fs.writeFileSync(file, eventCopyLine(rows[0]!) + `${json}\n` + eventCopyLine(rows[2]!) + eventCopyLine(rows[3]!).slice(0, 40));

      assert.equal(await LocalAuditTrail.recover(store.db, file), 3);
      const report = await verifyAuditTrail(store.db, keyring, org);
      assert.equal(report.problem, undefined);
      assert.equal(report.events, 3);
      const stored = await store.db.selectFrom('events').select(['seq', 'user_agent']).where('organisation_id', '=', org).orderBy('seq').execute();
      assert.deepEqual(stored, [1, 2, 3].map((seq) => ({ seq, user_agent: awkward.userAgent })));
    });
  });

  it('refuses a damaged journal instead of skipping lines: a line that is no event, or one the store refuses; nothing is imported and the file stays', async () => {
    await withJournalStore(async ({ store, dataDir, chainer, org, head }) => {
      const { rows } = chainer.chain([0, 1, 2].map((i) => read(org, i)), new Map([[org, { seq: head.seq, mac: head.mac }]]));
      const [first, second, third] = rows.map((row) => eventCopyLine(row));
      const file = path.join(dataDir, AUDIT_JOURNAL_FILE);
      const storedEvents = async () => (await store.db.selectFrom('events').select('seq').where('organisation_id', '=', org).execute()).length;

      const overwritten = `${first}${'x'.repeat(second!.length - 1)}\n${third}`; // a block of the file overwritten
      fs.writeFileSync(file, overwritten);
      await assert.rejects(LocalAuditTrail.recover(store.db, file), (error: Error) => {
        assert.equal(error.name, 'DamagedJournalError');
        assert.match(error.message, /audit journal .*audit\.journal is damaged: line 2 is not an audit event\. .*nothing was imported/);
        return true;
      });
      const badId = second!.split('\t');
      badId[2] = 'not-a-uuid';
      fs.writeFileSync(file, `${first}${badId.join('\t')}${third}`);
      await assert.rejects(LocalAuditTrail.recover(store.db, file), (error: Error) => {
        assert.equal(error.name, 'DamagedJournalError');
        assert.match(error.message, /its events could not be stored: invalid input syntax for type uuid.*line 2/);
        return true;
      });
      assert.equal(await storedEvents(), 0, 'all or nothing: the valid first line is not stored either');
      assert.equal(fs.readFileSync(file, 'utf8'), `${first}${badId.join('\t')}${third}`, 'the journal is left as it was for the operator');

      fs.writeFileSync(file, `${first}${second}${third}`);
      assert.equal(await LocalAuditTrail.recover(store.db, file), 3);
      assert.equal(await storedEvents(), 3);
    });
  });

  it('loses no acknowledged read event when the process is killed with SIGKILL', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journal-'));
    const key = randomBytes(32).toString('hex');
    try {
      const child = spawnNode(path.join(FIXTURES, 'journal-stream.js'), [], { COFFER_DATA_DIR: dataDir, MASTER_KEY: key });
      const org = (await child.waitFor(/^org /)).slice(4);
      await child.waitFor(/^acked 200$/);
      child.child.kill('SIGKILL');
      await child.exited;
      const acknowledged = Math.max(...child.stdout.filter((l) => l.startsWith('acked ')).map((l) => Number(l.slice(6))));
      assert.ok(fs.statSync(path.join(dataDir, AUDIT_JOURNAL_FILE)).size > 0, 'events were still in the journal');

      const store = await openStore({ dataDir });
      try {
        const recovered = await LocalAuditTrail.recover(store.db, path.join(dataDir, AUDIT_JOURNAL_FILE));
        assert.ok(recovered > 0);
        const keyring = masterKeyring({ active: fromHex(key, 'master key', 32) });
        const report = await verifyAuditTrail(store.db, keyring, org);
        assert.equal(report.problem, undefined);
        const stored = await store.db.selectFrom('events').selectAll().where('organisation_id', '=', org).execute();
        const reads = expandReadBatches(stored).filter((e) => e.action === 'read').length;
        assert.ok(reads >= acknowledged, `${reads} reads recovered, ${acknowledged} acknowledged`);
        assert.equal(fs.existsSync(path.join(dataDir, AUDIT_JOURNAL_FILE)), false);
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
  it('refuses the read whose batch the full disk cut short, leaves no torn line and no event of it, and reads again once there is room', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journal-'));
    try {
      // The file size limit (8 blocks: a few KB) fills the journal's disk after a few reads.
      const { stdout } = await promisify(execFile)('sh', ['-c', 'ulimit -f 8 && exec "$@"', 'sh', process.execPath, path.join(FIXTURES, 'journal-disk-full.js'), dataDir]);
      const seen = JSON.parse(stdout.trim()) as {
        acknowledged: number;
        refusal: string;
        journalAfterRefusal: { lines: number; endsWithNewline: boolean };
        recovered: number;
        failure: string;
        events: number;
        problem: unknown;
      };
      assert.equal(seen.refusal, AUDIT_UNAVAILABLE, `a read was refused once the disk was full (${seen.acknowledged} acknowledged before)`);
      assert.ok(seen.acknowledged > 0);
      assert.ok(seen.journalAfterRefusal.endsWithNewline, 'the cut-short batch was removed from the journal');
      assert.ok(seen.journalAfterRefusal.lines <= seen.acknowledged, 'the journal holds acknowledged events only');
      assert.deepEqual({ recovered: seen.recovered, failure: seen.failure }, { recovered: 3, failure: '' }, 'reads and writes resume once there is room');
      assert.equal(seen.problem, null);
      assert.equal(seen.events, seen.acknowledged + 3 + 1, 'every acknowledged read and the write are in the chain, the refused read is not');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
