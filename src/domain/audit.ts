// The audit trail (DESIGN §5.6; Vault's audit broker): every secret read and write and every
// organisation-level change is an event, hash-chained per organisation with a MAC under the
// organisation's own random key (sealed under the master key). Writes append their events inside
// their own transaction; reads go through a group-commit writer and wait for it: no audit, no secrets.
import { randomBytes, randomUUID } from 'node:crypto';
import { auditMac, type MasterKeyring } from '../crypto/index.js';
import type { Db, Executor, Tx } from '../store/database.js';
import { appendChained, findChainHeads, insertChainHead, type ChainHead, type EventInsert, type HeadAdvance } from '../store/events.js';
import type { EventKind } from '../store/events.table.js';
import { DomainError } from './errors.js';
import type { Actor } from './principal.js';

export interface NewEvent {
  kind: EventKind;
  action: string;
  appId?: string | null;
  environmentId?: string | null;
  environmentRevision?: number | null;
  secretId?: string | null;
  secretIds?: string[] | null;
  resourceId?: string | null;
  /** Ids, names and ciphertexts only: never plaintext secret material. */
  snapshot?: Record<string, unknown> | null;
  description?: string | null;
}

export const GENESIS_MAC = '0'.repeat(64);

/** JSON with object keys sorted at every level: jsonb does not keep key order. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** The exact bytes an event's MAC covers (also used by `coffer admin verify-audit`). */
export function macMessage(event: Omit<EventInsert, 'mac' | 'snapshot'> & { snapshot: unknown }): string {
  return stableStringify([
    'coffer-audit-v1',
    event.organisation_id,
    event.seq,
    event.id,
    event.kind,
    event.action,
    event.app_id,
    event.environment_id,
    event.environment_revision,
    event.secret_id,
    event.secret_ids,
    event.resource_id,
    event.snapshot,
    event.description,
    event.actor_member_id,
    event.actor_service_account_id,
    event.actor_token_id,
    event.ip,
    event.user_agent,
    event.created_at.toISOString(),
    event.prev_mac,
  ]);
}

export function auditKeyContext(organisationId: string): string {
  return `org:${organisationId}/audit-key`;
}

export interface AppendEntry {
  organisationId: string;
  actor: Actor | null;
  event: NewEvent;
  at?: Date;
}

/** Appends that lose a race for a chain head are retried (with jittered backoff) this many times. */
const MAX_APPEND_ATTEMPTS = 60;

function backoff(attempt: number): Promise<void> {
  const ceiling = 2 ** Math.min(attempt, 6);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export class AuditTrail {
  readonly #keys = new Map<string, Uint8Array>();
  /**
   * Last known head per organisation. Only a hint: appends are guarded on the head still being
   * there, so a stale hint (another node appended, or a transaction rolled back) costs one retry.
   */
  readonly #heads = new Map<string, { seq: number; mac: string }>();

  constructor(private readonly masterKeyring: MasterKeyring) {}

  /** Starts an organisation's chain (inside the transaction that creates the organisation). */
  async startChain(db: Executor, organisationId: string): Promise<void> {
    const key = randomBytes(32);
    const wrapped = this.masterKeyring.seal('audit-key', auditKeyContext(organisationId), key);
    await insertChainHead(db, { organisation_id: organisationId, seq: 0, mac: GENESIS_MAC, wrapped_key: wrapped });
  }

  /**
   * Appends events in one statement per attempt (inside `db`'s transaction when it is one; call it
   * last, just before commit, so the head's row lock is held briefly).
   */
  async append(db: Executor | Tx, entries: ReadonlyArray<AppendEntry>): Promise<void> {
    if (entries.length === 0) return;
    let pending = entries;
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      if (attempt > 1) await backoff(attempt);
      const organisationIds = [...new Set(pending.map((e) => e.organisationId))];
      const stale = organisationIds.filter((id) => !this.#heads.has(id) || !this.#keys.has(id) || attempt > 0);
      if (stale.length > 0) await this.#loadHeads(db, stale);
      const { advances, rows } = this.#chainAll(pending);
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
      await this.#key(head);
    }
    for (const id of organisationIds) if (!heads.some((h) => h.organisation_id === id)) throw new Error(`organisation ${id} has no audit chain`);
  }

  #chainAll(entries: ReadonlyArray<AppendEntry>): { advances: HeadAdvance[]; rows: EventInsert[] } {
    const now = new Date();
    const working = new Map<string, { from: number; seq: number; mac: string }>();
    const rows: EventInsert[] = [];
    for (const { organisationId, actor, event, at } of entries) {
      let head = working.get(organisationId);
      if (!head) {
        const known = this.#heads.get(organisationId)!;
        head = { from: known.seq, seq: known.seq, mac: known.mac };
        working.set(organisationId, head);
      }
      const row = this.#chain(organisationId, head, this.#keys.get(organisationId)!, actor, event, at ?? now);
      rows.push(row);
      head.seq = row.seq;
      head.mac = row.mac;
    }
    const advances = [...working].map(([organisation_id, h]) => ({ organisation_id, from_seq: h.from, to_seq: h.seq, to_mac: h.mac }));
    return { advances, rows };
  }

  #chain(organisationId: string, head: { seq: number; mac: string }, key: Uint8Array, actor: Actor | null, event: NewEvent, at: Date): EventInsert {
    const principal = actor?.principal;
    const row: Omit<EventInsert, 'mac'> = {
      organisation_id: organisationId,
      seq: head.seq + 1,
      id: randomUUID(),
      kind: event.kind,
      action: event.action,
      app_id: event.appId ?? null,
      environment_id: event.environmentId ?? null,
      environment_revision: event.environmentRevision ?? null,
      secret_id: event.secretId ?? null,
      secret_ids: event.secretIds ?? null,
      resource_id: event.resourceId ?? null,
      snapshot: event.snapshot ? JSON.stringify(event.snapshot) : null,
      description: event.description ?? null,
      actor_member_id: principal?.kind === 'member' ? principal.memberId : null,
      actor_service_account_id: principal?.kind === 'service_account' ? principal.serviceAccountId : null,
      actor_token_id: principal?.tokenId ?? null,
      ip: actor?.ip ?? null,
      user_agent: actor?.userAgent ?? null,
      created_at: at,
      prev_mac: head.mac,
    };
    const mac = auditMac(key, macMessage({ ...row, snapshot: event.snapshot ?? null }));
    return { ...row, mac };
  }

  async #key(head: ChainHead): Promise<Uint8Array> {
    let key = this.#keys.get(head.organisation_id);
    if (!key) {
      key = await this.masterKeyring.open(head.wrapped_key, 'audit-key', auditKeyContext(head.organisation_id));
      this.#keys.set(head.organisation_id, key);
    }
    return key;
  }
}

interface PendingRead {
  organisationId: string;
  actor: Actor;
  event: NewEvent;
  at: Date;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export const AUDIT_UNAVAILABLE = 'The audit trail could not be written; nothing was returned. Please retry.';

/**
 * Group commit for read events: requests that arrive while a batch is being written wait for the
 * next batch, which is written in one transaction. Each read returns only after its event committed.
 */
export class ReadAuditWriter {
  #pending: PendingRead[] = [];
  #flushing = false;
  #closed = false;

  constructor(private readonly db: Db, private readonly trail: AuditTrail) {}

  record(organisationId: string, actor: Actor, event: NewEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new DomainError('unavailable', AUDIT_UNAVAILABLE));
    return new Promise((resolve, reject) => {
      this.#pending.push({ organisationId, actor, event, at: new Date(), resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.trail.append(this.db, batch);
        for (const read of batch) read.resolve();
      } catch {
        for (const read of batch) read.reject(new DomainError('unavailable', AUDIT_UNAVAILABLE));
      }
    }
    this.#flushing = false;
  }

  /** Waits for queued events to be written; later reads are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing) await new Promise((r) => setTimeout(r, 5));
  }
}
