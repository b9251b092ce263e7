// The audit trail (DESIGN §5.6; Vault's audit broker): every secret read and write and every
// organisation-level change is an event, hash-chained per organisation with a MAC under the
// organisation's own random key (sealed under the master key). Writes append their events inside
// their own transaction; reads go through a group-commit writer and wait for it: no audit, no secrets.
// This file: the event model, the chain, the group-commit writer. Where events are stored:
// audit-shared.ts (PostgreSQL) and audit-local.ts (embedded store).
import { randomBytes, randomUUID } from 'node:crypto';
import { auditMac, type MasterKeyring } from '../crypto/index.js';
import type { Executor, Tx } from '../store/database.js';
import { eventTimestamp, type ChainHead, type EventInsert, type HeadAdvance } from '../store/events.js';
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

/**
 * `value` with the keys of its objects in sorted order at every level (arrays and scalars as they
 * are): `value` itself when every plain object in it already lists its keys in order (a write
 * event's snapshot is built that way), a copy otherwise.
 */
function withSortedKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = withSortedKeys(value[i]);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (isPlainObject(object) && inOrder(keys) && keys.every((key) => withSortedKeys(object[key]) === object[key])) return object;
  const sorted: Record<string, unknown> = {};
  for (const key of keys.sort()) sorted[key] = withSortedKeys(object[key]);
  return sorted;
}

/** Not a Date or any other object JSON would write through toJSON or a prototype's members. */
function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** In the order Array.prototype.sort puts strings (UTF-16 code units). */
function inOrder(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/**
 * JSON with object keys sorted at every level: jsonb does not keep key order. The native
 * serializer does the writing (an event's MAC is computed on every read, so this is hot).
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(withSortedKeys(value)) ?? 'null';
}

/** The exact bytes an event's MAC covers (also used by `coffer admin verify-audit`). */
export function macMessage(event: Omit<EventInsert, 'mac' | 'snapshot'>, snapshot: unknown): string {
  return macMessageOf(event, stableStringify(snapshot));
}

/**
 * macMessage with the snapshot already written by stableStringify: the same bytes as
 * stableStringify of the whole array (every member but the snapshot is a scalar or a list of
 * strings, which sorting leaves as they are). The chainer stores that JSON too, so a write event's
 * snapshot (two ciphertexts) is serialized once. Written member by member (every read computes one;
 * JSON.stringify of the two arrays cost more than the MAC): test/domain/audit-chain.test.ts holds
 * the bytes to JSON.stringify's.
 */
function macMessageOf(event: Omit<EventInsert, 'mac' | 'snapshot'>, snapshotJson: string): string {
  return (
    `["coffer-audit-v1",${jsonString(event.organisation_id)},${jsonNumber(event.seq)},${jsonString(event.id)},` +
    `${jsonString(event.kind)},${jsonString(event.action)},${jsonString(event.app_id)},${jsonString(event.environment_id)},` +
    `${jsonNumber(event.environment_revision)},${jsonString(event.secret_id)},${jsonStrings(event.secret_ids)},` +
    `${jsonString(event.resource_id)},${snapshotJson},${jsonString(event.description)},${jsonString(event.actor_member_id)},` +
    `${jsonString(event.actor_service_account_id)},${jsonString(event.actor_token_id)},${jsonString(event.ip)},` +
    `${jsonString(event.user_agent)},"${eventTimestamp(event.created_at)}",${jsonString(event.prev_mac)}]`
  );
}

/** Printable ASCII other than the double quote and backslash: JSON writes it as it is. */
const PLAIN_JSON_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** As JSON.stringify writes a string (or null/undefined as an array member: null). */
function jsonString(value: string | null | undefined): string {
  if (value === null || value === undefined) return 'null';
  return PLAIN_JSON_TEXT.test(value) ? `"${value}"` : JSON.stringify(value);
}

function jsonNumber(value: number | null | undefined): string {
  return value === null || value === undefined ? 'null' : JSON.stringify(value);
}

function jsonStrings(values: readonly string[] | null | undefined): string {
  if (values === null || values === undefined) return 'null';
  let out = '[';
  for (let i = 0; i < values.length; i++) out += i === 0 ? jsonString(values[i]) : `,${jsonString(values[i])}`;
  return `${out}]`;
}

export function auditKeyContext(organisationId: string): string {
  return `org:${organisationId}/audit-key`;
}

export interface AppendEntry {
  organisationId: string;
  actor: Actor | null;
  event: NewEvent;
  at?: Date;
  /**
   * A read served from a cache without confirming its revisions first (PostgreSQL): environment id
   * -> the revision it served. The event is stored only if these are still current; otherwise the
   * read is refused (ReadAuditWriter.recordIfCurrent answers false) and must reload.
   */
  guard?: ReadonlyMap<string, number>;
}

/**
 * Where events go. Two implementations, by store:
 * - SharedAuditTrail (PostgreSQL, maybe several nodes): every append is one guarded statement in
 *   the database; a head moved by another node costs a retry.
 * - LocalAuditTrail (embedded store, one process): this process owns the chains; reads are made
 *   durable in an append-only journal file next to the store and moved into the database in bulk.
 */
export interface AuditTrail {
  /** Starts an organisation's chain (inside the transaction that creates the organisation). */
  startChain(db: Executor, organisationId: string): Promise<void>;
  /**
   * Chains a write's events and writes their rows ahead of append, while the write's own
   * statements are still running in the database (PostgreSQL: this work then overlaps the
   * database's), if that needs nothing read first; undefined otherwise. Never throws.
   */
  prepare(entries: ReadonlyArray<AppendEntry>): PreparedEvents | undefined;
  /**
   * Appends events inside a write transaction opened with inTransaction; call it last. `prepared`
   * (prepare's answer for these entries) is used if the chain has not moved since.
   */
  append(trx: Tx, entries: ReadonlyArray<AppendEntry>, prepared?: PreparedEvents): Promise<void>;
  /**
   * Appends read events durably (group commit); resolves once they cannot be lost, with the
   * guarded entries that were refused (nothing of them stored) because a revision they name moved.
   */
  appendReads(entries: ReadonlyArray<AppendEntry>): Promise<ReadonlySet<AppendEntry>>;
  /** Makes every appended event visible in the database (before reading the trail). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Events chained onto the heads known when they were prepared, and their rows written for COPY. */
export interface PreparedEvents {
  readonly entries: ReadonlyArray<AppendEntry>;
  readonly rows: EventInsert[];
  readonly advances: HeadAdvance[];
  /** The rows as binary COPY input (eventsCopyBinary). */
  readonly encoded: Uint8Array;
}

/** Builds chained event rows: sequence numbers, previous MACs and MACs under each organisation's key. */
export class EventChainer {
  readonly #keys = new Map<string, Uint8Array>();

  constructor(private readonly masterKeyring: MasterKeyring) {}

  /** A new chain's head row, with a fresh random MAC key sealed under the master key. */
  newChain(organisationId: string): ChainHead {
    const key = randomBytes(32);
    const wrapped = this.masterKeyring.seal('audit-key', auditKeyContext(organisationId), key);
    return { organisation_id: organisationId, seq: 0, mac: GENESIS_MAC, wrapped_key: wrapped };
  }

  hasKey(organisationId: string): boolean {
    return this.#keys.has(organisationId);
  }

  /** Unwraps (once) the MAC key of a chain. */
  async loadKey(head: ChainHead): Promise<void> {
    if (this.#keys.has(head.organisation_id)) return;
    this.#keys.set(head.organisation_id, await this.masterKeyring.open(head.wrapped_key, 'audit-key', auditKeyContext(head.organisation_id)));
  }

  /**
   * Chains `entries` onto `heads` (organisation -> current head; keys must be loaded). Returns the
   * rows and each organisation's head before and after.
   */
  chain(entries: ReadonlyArray<AppendEntry>, heads: ReadonlyMap<string, { seq: number; mac: string }>): { rows: EventInsert[]; advances: HeadAdvance[] } {
    const now = new Date();
    const working = new Map<string, { from: number; seq: number; mac: string }>();
    const rows: EventInsert[] = [];
    for (const { organisationId, actor, event, at } of entries) {
      let head = working.get(organisationId);
      if (!head) {
        const known = heads.get(organisationId);
        if (!known) throw new Error(`organisation ${organisationId} has no audit chain`);
        head = { from: known.seq, seq: known.seq, mac: known.mac };
        working.set(organisationId, head);
      }
      const row = this.#row(organisationId, head, actor, event, at ?? now);
      rows.push(row);
      head.seq = row.seq;
      head.mac = row.mac;
    }
    const advances = [...working].map(([organisation_id, h]) => ({ organisation_id, from_seq: h.from, to_seq: h.seq, to_mac: h.mac }));
    return { rows, advances };
  }

  #row(organisationId: string, head: { seq: number; mac: string }, actor: Actor | null, event: NewEvent, at: Date): EventInsert {
    const principal = actor?.principal;
    // Stored with its keys sorted (jsonb keeps no order anyway): the JSON the MAC covers.
    const snapshot = event.snapshot ? stableStringify(event.snapshot) : null;
    const row: EventInsert = {
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
      snapshot,
      description: event.description ?? null,
      actor_member_id: principal?.kind === 'member' ? principal.memberId : null,
      actor_service_account_id: principal?.kind === 'service_account' ? principal.serviceAccountId : null,
      actor_token_id: principal?.tokenId ?? null,
      ip: actor?.ip ?? null,
      user_agent: actor?.userAgent ?? null,
      created_at: at,
      prev_mac: head.mac,
      mac: '',
    };
    row.mac = auditMac(this.#keys.get(organisationId)!, macMessageOf(row, snapshot ?? 'null'));
    return row;
  }
}

interface PendingRead extends AppendEntry {
  /** `stored` is false only for a guarded read refused because a revision it served moved. */
  resolve: (stored: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs `fn` once the event loop has polled for input one more time, so that requests already
 * waiting in socket buffers join the batch (one setImmediate runs before that poll). Measured with
 * `?key=` on the embedded store, alternating builds, 12 rounds of 6 s: 14,088 against 13,442 req/s
 * on average (more in 9 rounds of 12) and less CPU per read: fewer, larger batches (one journal
 * write, one chained event per environment each); again on a build of this source, 14,462 against
 * 13,784 over 5 rounds. On PostgreSQL `?key=` 6,720 against 6,237 over 4 rounds (the 100-secret
 * list 3,494 against 3,619, within that run's noise). Waiting a turn longer gained nothing more.
 */
function afterNextPoll(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

export const AUDIT_UNAVAILABLE = 'The audit trail could not be written; nothing was returned. Please retry.';
export const WRITE_AUDIT_UNAVAILABLE = 'The audit trail could not be written; nothing was changed. Please retry.';

/**
 * Group commit for read events: requests that arrive while a batch is being written wait for the
 * next batch, which is written at once. Each read returns only after its event is durable.
 */
export class ReadAuditWriter {
  #pending: PendingRead[] = [];
  #flushing = false;
  #closed = false;

  constructor(private readonly trail: AuditTrail) {}

  /** Resolves once the read's event is durable. */
  async record(organisationId: string, actor: Actor, event: NewEvent): Promise<void> {
    await this.#enqueue(organisationId, actor, event, undefined);
  }

  /**
   * For a read served without confirming its revisions first (`guard`: environment id -> the
   * revision served): true once its event is durable, false when a revision had moved (nothing was
   * stored; the caller reloads and reads again).
   */
  recordIfCurrent(organisationId: string, actor: Actor, event: NewEvent, guard: ReadonlyMap<string, number>): Promise<boolean> {
    return this.#enqueue(organisationId, actor, event, guard);
  }

  #enqueue(organisationId: string, actor: Actor, event: NewEvent, guard: ReadonlyMap<string, number> | undefined): Promise<boolean> {
    if (this.#closed) return Promise.reject(new DomainError('unavailable', AUDIT_UNAVAILABLE));
    return new Promise((resolve, reject) => {
      this.#pending.push({ organisationId, actor, event, at: new Date(), resolve, reject, ...(guard ? { guard } : {}) });
      if (!this.#flushing) {
        this.#flushing = true;
        afterNextPoll(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        const refused = await this.trail.appendReads(batch);
        for (const read of batch) read.resolve(!refused.has(read));
      } catch (cause) {
        for (const read of batch) read.reject(new DomainError('unavailable', AUDIT_UNAVAILABLE, {}, cause));
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
