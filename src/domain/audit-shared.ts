// The audit trail on PostgreSQL, where several nodes append to the same chains: every append is
// one statement that moves the organisation's head only if it is still where this node last saw it
// (store/events.ts appendChained). A head moved by another node costs a re-read and a retry.
import type { Db, Executor, Tx } from '../store/database.js';
import { appendChained, findChainHeads, insertChainHead } from '../store/events.js';
import { EventChainer, type AppendEntry, type AuditTrail } from './audit.js';

/** Appends that lose a race for a chain head are retried (with jittered backoff) this many times. */
const MAX_APPEND_ATTEMPTS = 60;

function backoff(attempt: number): Promise<void> {
  const ceiling = 2 ** Math.min(attempt, 6);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export class SharedAuditTrail implements AuditTrail {
  /** Last known head per organisation: a hint, checked by every append. */
  readonly #heads = new Map<string, { seq: number; mac: string }>();

  constructor(private readonly db: Db, private readonly chainer: EventChainer) {}

  async startChain(db: Executor, organisationId: string): Promise<void> {
    await insertChainHead(db, this.chainer.newChain(organisationId));
  }

  append(trx: Tx, entries: ReadonlyArray<AppendEntry>): Promise<void> {
    return this.#append(trx, entries);
  }

  appendReads(entries: ReadonlyArray<AppendEntry>): Promise<void> {
    return this.#append(this.db, entries);
  }

  async sync(): Promise<void> {}

  async close(): Promise<void> {}

  async #append(db: Executor, entries: ReadonlyArray<AppendEntry>): Promise<void> {
    if (entries.length === 0) return;
    let pending = entries;
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      if (attempt > 1) await backoff(attempt);
      const organisationIds = [...new Set(pending.map((e) => e.organisationId))];
      const stale = organisationIds.filter((id) => attempt > 0 || !this.#heads.has(id) || !this.chainer.hasKey(id));
      if (stale.length > 0) await this.#loadHeads(db, stale);
      const { advances, rows } = this.chainer.chain(pending, this.#heads);
      const moved = await appendChained(db, advances, rows);
      for (const advance of advances) {
        if (moved.has(advance.organisation_id)) this.#heads.set(advance.organisation_id, { seq: advance.to_seq, mac: advance.to_mac });
      }
      pending = pending.filter((e) => !moved.has(e.organisationId));
      if (pending.length === 0) return;
    }
    throw new Error('could not append to the audit trail: its head kept moving');
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
