// The audit trail on the embedded store, where this one process owns every chain. A database
// statement per batch of reads would cost more than the reads themselves (PGlite runs in this
// thread), so read events are made durable in an append-only journal next to the store — one
// write per batch, as safe as the store itself against a crash of the process (PGlite runs with
// fsync off too) — and moved into the database in bulk: every second, before a write transaction
// appends its own events, before the trail is read, and when the server stops or starts again.
import fs from 'node:fs';
import type { Db, Executor, Tx } from '../store/database.js';
import { joinCopyBinary } from '../store/copy-binary.js';
import {
  copyEncodedEvents,
  copyJournaledEvents,
  copyNewEvents,
  eventCopyLine,
  eventsCopyBinary,
  findChainHeads,
  insertChainHead,
  newestHeads,
  parseEventCopyLine,
  type ChainPosition,
  type CopyLineEvent,
  type EventInsert,
} from '../store/events.js';
import { EventChainer, type AppendEntry, type AuditTrail } from './audit.js';
import { readBatchEntries } from './audit-read-batches.js';
import { inTransaction, unitOf } from './transactions.js';

/** A FIFO lock: the chain may be extended by one writer at a time, in arrival order. */
class ChainLock {
  #tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return acquired;
  }
}

/**
 * One write's events as the journal keeps them until they are imported: the bytes written to the
 * file and the rows as binary COPY input, both outside the JavaScript heap. Rows kept as objects
 * (and their lines as strings) until the next import lived long enough to be copied by every
 * minor garbage collection and then promoted: about a tenth of the server's thread under a load
 * of small reads (measured: a 5 ms scavenge every 50 ms, the old space growing by 1.6 KB a read).
 */
interface JournaledBatch extends PendingEvents {
  /** The batch's lines as written to the file. */
  text: Buffer;
}

/** Journaled events ready to be imported: their rows as one binary COPY input and the chains' new heads. */
export interface PendingEvents {
  count: number;
  /** The rows (eventsCopyBinary). */
  encoded: Uint8Array;
  /** Each organisation's newest event among them. */
  heads: ChainPosition[];
}

/** What pending() answers for an empty journal (every write transaction asks): nothing to import. */
const NOTHING_PENDING: PendingEvents = Object.freeze({ count: 0, encoded: new Uint8Array(0), heads: [] });

/**
 * Events written to a file and not yet in the database. The file holds one line of COPY text per
 * event (what a restarted process imports); this process imports the rows it encoded, in binary.
 */
export class AuditJournal {
  #fd: number | undefined;
  #batches: JournaledBatch[] = [];
  #size = 0;
  /** Bytes in the file that hold whole batches: where a failed write is cut back to. */
  #length = 0;
  /** Why nothing more is written: a failed write could not be cut from the file (reads are refused). */
  #broken: Error | undefined;

  /** @param file the journal file, or undefined for an in-memory store (tests). */
  constructor(readonly file: string | undefined) {
    this.#fd = file ? fs.openSync(file, 'a', 0o600) : undefined;
    if (this.#fd !== undefined) this.#length = fs.fstatSync(this.#fd).size;
  }

  /**
   * Events a previous process journaled and may not have imported. A torn last line (the process
   * died while writing it; its request was never answered) is dropped. Journals of earlier
   * versions hold JSON lines, read as such. Any other line that is not an event is damage, not a
   * crash: it throws, since skipping it would drop acknowledged reads from the trail unseen.
   */
  static recover(file: string): CopyLineEvent[] {
    if (!fs.existsSync(file)) return [];
    if (!fs.statSync(file).isFile()) throw new DamagedJournalError(file, 'it is not a file');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.pop(); // what follows the last newline: nothing, or a torn line
    const events: CopyLineEvent[] = [];
    for (const [index, text] of lines.entries()) {
      if (text.trim() === '') continue;
      const event = text.startsWith('{') ? fromJsonLine(text) : parseEventCopyLine(`${text}\n`);
      if (!event) throw new DamagedJournalError(file, `line ${index + 1} is not an audit event`);
      events.push(event);
    }
    return events;
  }

  /** Every event not yet imported. */
  pending(): PendingEvents {
    if (this.#batches.length === 0) return NOTHING_PENDING;
    const heads = newestHeads(this.#batches.flatMap((batch) => batch.heads));
    return { count: this.#size, encoded: joinCopyBinary(this.#batches.map((batch) => batch.encoded)), heads };
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Durable on return (written to the file; survives the process). All or nothing: a write that
   * fails (a full disk) is cut from the file and keeps none of its events, so the caller's chain
   * head stays where it was and a refused read leaves no event behind.
   */
  write(events: EventInsert[]): void {
    if (this.#broken) throw this.#broken;
    if (events.length === 0) return;
    let text = '';
    for (const row of events) text += eventCopyLine(row);
    const bytes = Buffer.from(text, 'utf8');
    const encoded = eventsCopyBinary(events);
    if (this.#fd !== undefined) {
      this.#append(this.#fd, bytes);
      this.#replaceIfRemoved(bytes);
    }
    this.#batches.push({ count: events.length, text: bytes, encoded, heads: newestHeads(events) });
    this.#size += events.length;
  }

  #append(fd: number, bytes: Buffer): void {
    let written = 0;
    try {
      // A write can be short (the disk filled up mid-way): the rest follows, or fails.
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written);
    } catch (error) {
      try {
        fs.ftruncateSync(fd, this.#length);
      } catch {
        // A torn batch stays in the file: appending after it would corrupt the next line.
        this.#broken = new Error('the audit journal could not be cut back after a failed write', { cause: error });
      }
      throw error;
    }
    this.#length += bytes.length;
  }

  /**
   * A journal removed while the server runs (by hand, by a cleanup job) still takes writes through
   * the open descriptor, into a file no restart would find: the reads it holds would be lost with a
   * crash before their import, and the trail would still verify (they are its newest events). One
   * fstat per batch notices; the file is made again at its path with every event not yet imported
   * (this one included), and writing goes on there. If it cannot be made (a directory in its place),
   * the batch fails: its reads are refused, as with a full disk, until the path is usable again.
   */
  #replaceIfRemoved(batch: Buffer): void {
    if (fs.fstatSync(this.#fd!).nlink > 0) return;
    const pending = Buffer.concat([...this.#batches.map((b) => b.text), batch]);
    // Appending, as the journal it replaces was opened: a cut back to length 0 (imported()) must
    // not leave the next write at the old offset, behind a run of zero bytes.
    const { O_WRONLY, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
    const fd = fs.openSync(this.file!, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o600);
    try {
      let written = 0;
      while (written < pending.length) written += fs.writeSync(fd, pending, written);
    } catch (error) {
      fs.closeSync(fd);
      fs.rmSync(this.file!, { force: true });
      throw error;
    }
    fs.closeSync(this.#fd!);
    this.#fd = fd;
    this.#length = pending.length;
  }

  /** After the first `count` pending events (whole writes, as pending() answered) were committed to the database. */
  imported(count: number): void {
    let left = count;
    let done = 0;
    while (left > 0 && done < this.#batches.length && this.#batches[done]!.count <= left) left -= this.#batches[done++]!.count;
    if (left !== 0) throw new Error(`the audit journal has no write ending after ${count} pending events`);
    this.#batches = this.#batches.slice(done);
    this.#size -= count;
    if (this.#fd === undefined) return;
    if (this.#batches.length === 0) {
      fs.ftruncateSync(this.#fd, 0);
      this.#length = 0;
    } else {
      const rest = Buffer.concat(this.#batches.map((batch) => batch.text));
      fs.writeFileSync(this.file!, rest, { mode: 0o600 });
      this.#length = rest.length;
    }
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
  }
}

/**
 * The journal a previous process left cannot be imported as it is. Start-up stops here rather than
 * serve with acknowledged reads missing from the trail; the operator decides what to keep.
 */
export class DamagedJournalError extends Error {
  constructor(
    readonly file: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `the audit journal ${file} is damaged: ${detail}. It holds read events not yet in the store, and nothing was imported. ` +
        'Keep a copy, then move it out of the data directory to start without those events (they will be missing from the audit trail)',
      options,
    );
    this.name = 'DamagedJournalError';
  }
}

/** A journal line of an earlier version (one JSON event). */
function fromJsonLine(text: string): CopyLineEvent | undefined {
  try {
    const parsed = JSON.parse(text) as EventInsert & { created_at: string };
    if (typeof parsed?.organisation_id !== 'string' || !Number.isSafeInteger(parsed.seq) || typeof parsed.mac !== 'string') return undefined;
    const row = { ...parsed, created_at: new Date(parsed.created_at) };
    return { organisation_id: row.organisation_id, seq: row.seq, mac: row.mac, line: eventCopyLine(row) };
  } catch {
    return undefined;
  }
}

/** The journal's file name inside the embedded store's data directory. */
export const AUDIT_JOURNAL_FILE = 'audit.journal';

const IMPORT_INTERVAL_MS = 1_000;
const IMPORT_THRESHOLD = 2_000;
/** What appendReads refuses here: nothing (reads are confirmed before they are served). */
const NONE_REFUSED: ReadonlySet<AppendEntry> = new Set();

export class LocalAuditTrail implements AuditTrail {
  /** The committed head of each chain (database and journal together): authoritative here. */
  readonly #heads = new Map<string, { seq: number; mac: string }>();
  readonly #lock = new ChainLock();
  /** Heads moved by write transactions still open (applied when they commit). */
  readonly #transactions = new WeakMap<Tx, { heads: Map<string, { seq: number; mac: string }> }>();
  readonly #journal: AuditJournal;
  readonly #timer: NodeJS.Timeout;
  #importing: Promise<void> | undefined;

  /** @param db the embedded store (events are stored with COPY). */
  constructor(
    private readonly db: Db,
    private readonly chainer: EventChainer,
    journalFile: string | undefined,
  ) {
    this.#journal = new AuditJournal(journalFile);
    this.#timer = setInterval(() => void this.sync().catch(() => {}), IMPORT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Imports what a previous process journaled (call once, before serving). */
  static async recover(db: Db, journalFile: string): Promise<number> {
    const events = AuditJournal.recover(journalFile);
    try {
      if (events.length > 0) await inTransaction(db, ({ trx }) => copyJournaledEvents(trx, events));
    } catch (error) {
      // COPY names the line and column it refused (`where`), e.g. an id that is not a uuid.
      const where = (error as { where?: unknown }).where;
      throw new DamagedJournalError(journalFile, `its events could not be stored: ${(error as Error).message}${typeof where === 'string' ? ` (${where})` : ''}`, { cause: error });
    }
    fs.rmSync(journalFile, { force: true });
    return events.length;
  }

  async startChain(db: Executor, organisationId: string): Promise<void> {
    await insertChainHead(db, this.chainer.newChain(organisationId));
  }

  /** Nothing to overlap: PGlite runs every statement in this thread. */
  prepare(): undefined {
    return undefined;
  }

  /**
   * Inside a write transaction: the chain stays locked until the transaction ends, so no read is
   * chained onto events that may yet be rolled back. Journaled events go into the database first.
   * A transaction may append several times; it holds the lock once.
   */
  async append(trx: Tx, entries: ReadonlyArray<AppendEntry>): Promise<void> {
    if (entries.length === 0) return;
    const state = this.#transactions.get(trx) ?? (await this.#begin(trx));
    await this.#loadHeads(trx, [...new Set(entries.map((e) => e.organisationId))]);
    const heads = new Map([...this.#heads, ...state.heads]);
    const { rows, advances } = this.chainer.chain(entries, heads);
    await copyNewEvents(trx, rows);
    for (const a of advances) state.heads.set(a.organisation_id, { seq: a.to_seq, mac: a.to_mac });
  }

  /** Takes the chain for a transaction until it commits or rolls back. */
  async #begin(trx: Tx): Promise<{ heads: Map<string, { seq: number; mac: string }> }> {
    const unit = unitOf(trx);
    if (!unit) throw new Error('audit events of a write must be appended inside inTransaction()');
    const release = await this.#lock.acquire();
    const state = { heads: new Map<string, { seq: number; mac: string }>() };
    this.#transactions.set(trx, state);
    let released = false;
    const done = () => {
      if (!released) {
        released = true;
        this.#transactions.delete(trx);
        release();
      }
    };
    unit.afterRollback(done);
    try {
      const journaled = this.#journal.pending();
      await copyEncodedEvents(trx, journaled.encoded, journaled.heads);
      unit.afterCommit(() => {
        this.#journal.imported(journaled.count);
        for (const [organisationId, head] of state.heads) this.#heads.set(organisationId, head);
        done();
      });
    } catch (error) {
      done();
      throw error;
    }
    return state;
  }

  /**
   * Refuses nothing: this process knows every revision, so its reads are never served unconfirmed
   * (no guards). The batch's reads of one environment are stored as one event (audit-read-batches.ts).
   */
  async appendReads(entries: ReadonlyArray<AppendEntry>): Promise<ReadonlySet<AppendEntry>> {
    if (entries.some((entry) => entry.guard)) throw new Error('the embedded store confirms revisions before a read; guarded reads are for PostgreSQL');
    if (entries.length === 0) return NONE_REFUSED;
    // Load heads and keys before taking the lock: a write transaction holding the lock may be
    // waiting for the database connection, which this must then not need.
    await this.#loadHeads(this.db, [...new Set(entries.map((e) => e.organisationId))]);
    const release = await this.#lock.acquire();
    try {
      const { rows, advances } = this.chainer.chain(readBatchEntries(entries), this.#heads);
      this.#journal.write(rows);
      for (const a of advances) this.#heads.set(a.organisation_id, { seq: a.to_seq, mac: a.to_mac });
    } finally {
      release();
    }
    if (this.#journal.size >= IMPORT_THRESHOLD) void this.sync().catch(() => {});
    return NONE_REFUSED;
  }

  /** Moves journaled events into the database. */
  sync(): Promise<void> {
    if (this.#journal.size === 0) return this.#importing ?? Promise.resolve();
    this.#importing ??= this.#import().finally(() => (this.#importing = undefined));
    return this.#importing;
  }

  /**
   * The database transaction comes first, the chain lock second: a write transaction holding the
   * lock is already inside its own transaction and never waits for this one.
   */
  async #import(): Promise<void> {
    let release: (() => void) | undefined;
    try {
      const count = await inTransaction(this.db, async ({ trx }) => {
        release = await this.#lock.acquire();
        const journaled = this.#journal.pending();
        await copyEncodedEvents(trx, journaled.encoded, journaled.heads);
        return journaled.count;
      });
      this.#journal.imported(count);
    } finally {
      release?.();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.sync();
    this.#journal.close();
  }

  /** Heads of chains this process has not touched yet, from the database; kept from then on. */
  async #loadHeads(db: Executor, organisationIds: string[]): Promise<void> {
    const missing = organisationIds.filter((id) => !this.#heads.has(id) || !this.chainer.hasKey(id));
    if (missing.length === 0) return;
    const heads = await findChainHeads(db, missing);
    for (const head of heads) {
      await this.chainer.loadKey(head);
      // Only if still unknown: a transaction that committed meanwhile knows better.
      if (!this.#heads.has(head.organisation_id)) this.#heads.set(head.organisation_id, { seq: head.seq, mac: head.mac });
    }
  }
}
