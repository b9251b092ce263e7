// The audit trail on PostgreSQL, where several nodes append to the same chains: every append moves
// the organisation's head only if it is still where this node last saw it (store/events.ts
// appendChained, one statement; a write transaction's events, many and large, go in with COPY once
// the heads moved: appendChainedInTransaction). A head moved by another node costs a re-read and a
// retry. A read served from cache carries a guard (the revisions it served), checked by the same
// statement: the read's one round trip both confirms its data was current and stores its event.
import type { Db, Executor, Tx } from '../store/database.js';
import { appendChained, appendChainedInTransaction, eventsCopyBinary, findChainHeads, insertChainHead, type EventInsert, type HeadAdvance, type RevisionGuard } from '../store/events.js';
import { EventChainer, type AppendEntry, type AuditTrail, type PreparedEvents } from './audit.js';
import { readBatchEntries } from './audit-read-batches.js';

/** Stores chained events: the organisations whose head moved, and the guards that failed. */
type StoreChained = (advances: HeadAdvance[], rows: EventInsert[], guards: RevisionGuard[]) => Promise<{ moved: Set<string>; stale: RevisionGuard[] }>;

/** Appends that lose a race for a chain head are retried (with jittered backoff) this many times. */
const MAX_APPEND_ATTEMPTS = 60;

function backoff(attempt: number): Promise<void> {
  const ceiling = 2 ** Math.min(attempt, 6);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export class SharedAuditTrail implements AuditTrail {
  /** Last known head per organisation: a hint, checked by every append. */
  readonly #heads = new Map<string, { seq: number; mac: string }>();

  /**
   * @param readDb where read events are appended (the store's readAuditDb on PostgreSQL); a write's
   *   events go into the write's own transaction.
   */
  constructor(private readonly readDb: Db, private readonly chainer: EventChainer) {}

  async startChain(db: Executor, organisationId: string): Promise<void> {
    await insertChainHead(db, this.chainer.newChain(organisationId));
  }

  prepare(entries: ReadonlyArray<AppendEntry>): PreparedEvents | undefined {
    if (!entries.every((e) => this.#heads.has(e.organisationId) && this.chainer.hasKey(e.organisationId))) return undefined;
    try {
      const { rows, advances } = this.chainer.chain(entries, this.#heads);
      return { entries, rows, advances, encoded: eventsCopyBinary(rows) };
    } catch {
      return undefined; // append chains them again, and reports what is wrong
    }
  }

  async append(trx: Tx, entries: ReadonlyArray<AppendEntry>, prepared?: PreparedEvents): Promise<void> {
    const store: StoreChained = async (advances, rows) => ({
      moved: await appendChainedInTransaction(trx, advances, rows, rows === prepared?.rows ? prepared.encoded : undefined),
      stale: [],
    });
    await this.#append(trx, entries, store, prepared);
  }

  /**
   * The batch's reads of one environment are stored as one event (audit-read-batches.ts); the
   * statement stores every event of the batch or, if a guard failed, none (the refused reads are
   * left out and the rest chained again).
   */
  appendReads(entries: ReadonlyArray<AppendEntry>): Promise<ReadonlySet<AppendEntry>> {
    return this.#append(this.readDb, entries, (advances, rows, guards) => appendChained(this.readDb, advances, rows, guards), undefined, readBatchEntries);
  }

  async sync(): Promise<void> {}

  async close(): Promise<void> {}

  /**
   * Returns the guarded entries refused because an environment they served changed (none of them
   * stored). `stored` gives the events that store `pending` (by default, one per entry).
   */
  async #append(
    db: Executor,
    entries: ReadonlyArray<AppendEntry>,
    store: StoreChained,
    prepared?: PreparedEvents,
    stored: (pending: ReadonlyArray<AppendEntry>) => ReadonlyArray<AppendEntry> = (pending) => pending,
  ): Promise<ReadonlySet<AppendEntry>> {
    const refused = new Set<AppendEntry>();
    let pending = entries;
    let conflicts = 0;
    while (pending.length > 0) {
      if (conflicts >= MAX_APPEND_ATTEMPTS) throw new Error('could not append to the audit trail: its head kept moving');
      if (conflicts > 1) await backoff(conflicts);
      const organisationIds = [...new Set(pending.map((e) => e.organisationId))];
      const reload = organisationIds.filter((id) => conflicts > 0 || !this.#heads.has(id) || !this.chainer.hasKey(id));
      if (reload.length > 0) await this.#loadHeads(db, reload);
      const ready = conflicts === 0 && prepared?.entries === pending && this.#stillAtHeads(prepared) ? prepared : undefined;
      const { advances, rows } = ready ?? this.chainer.chain(stored(pending), this.#heads);
      const { moved, stale } = await store(advances, rows, guardsOf(pending));
      if (stale.length > 0) {
        // Nothing was stored: refuse the reads that served a revision no longer current, append the rest.
        const before = refused.size;
        for (const entry of pending) if (entry.guard && stale.some((g) => entry.guard!.get(g.environment_id) === g.revision)) refused.add(entry);
        if (refused.size === before) throw new Error('the audit append reported a changed environment no read named');
        pending = pending.filter((e) => !refused.has(e));
        continue;
      }
      for (const advance of advances) {
        if (moved.has(advance.organisation_id)) this.#heads.set(advance.organisation_id, { seq: advance.to_seq, mac: advance.to_mac });
      }
      pending = pending.filter((e) => !moved.has(e.organisationId));
      if (pending.length > 0) conflicts++;
    }
    return refused;
  }

  /** The heads `prepared` was chained onto are still the last known ones. */
  #stillAtHeads(prepared: PreparedEvents): boolean {
    return prepared.advances.every((a) => this.#heads.get(a.organisation_id)?.seq === a.from_seq);
  }

  async #loadHeads(db: Executor, organisationIds: string[]): Promise<void> {
    const heads = await findChainHeads(db, organisationIds);
    for (const head of heads) {
      this.#heads.set(head.organisation_id, { seq: head.seq, mac: head.mac });
      await this.chainer.loadKey(head);
    }
    for (const id of organisationIds) if (!heads.some((h) => h.organisation_id === id)) throw new Error(`organisation ${id} has no audit chain`);
  }
}

/** Every (environment, revision) the entries' guards name, once. */
function guardsOf(entries: ReadonlyArray<AppendEntry>): RevisionGuard[] {
  const seen = new Set<string>();
  const guards: RevisionGuard[] = [];
  for (const entry of entries) {
    if (!entry.guard) continue;
    for (const [environment_id, revision] of entry.guard) {
      const key = `${environment_id}@${revision}`;
      if (seen.has(key)) continue;
      seen.add(key);
      guards.push({ environment_id, revision });
    }
  }
  return guards;
}
