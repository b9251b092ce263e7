// The audit trail rows: events and each organisation's chain head.
import { sql } from 'kysely';
import { BinaryCopyWriter } from './copy-binary.js';
import { copyFrom } from './copy.js';
import { preparedAs } from './prepared.js';
import type { Executor, Tx } from './database.js';
import type { EventKind } from './events.table.js';

export interface ChainHead {
  organisation_id: string;
  seq: number;
  mac: string;
  wrapped_key: string;
}

export function findChainHeads(db: Executor, organisationIds: string[]): Promise<ChainHead[]> {
  return db.selectFrom('audit_heads').select(['organisation_id', 'seq', 'mac', 'wrapped_key']).where('organisation_id', 'in', organisationIds).execute();
}

/** Any one organisation's chain head (its audit key is sealed under the master key), if any exists. */
export function findAnyChainHead(db: Executor): Promise<Pick<ChainHead, 'organisation_id' | 'wrapped_key'> | undefined> {
  return db.selectFrom('audit_heads').select(['organisation_id', 'wrapped_key']).limit(1).executeTakeFirst();
}

export async function insertChainHead(db: Executor, head: ChainHead): Promise<void> {
  await db.insertInto('audit_heads').values(head).execute();
}

export interface EventInsert {
  organisation_id: string;
  seq: number;
  id: string;
  kind: EventKind;
  action: string;
  app_id: string | null;
  environment_id: string | null;
  environment_revision: number | null;
  secret_id: string | null;
  secret_ids: string[] | null;
  resource_id: string | null;
  snapshot: string | null;
  description: string | null;
  actor_member_id: string | null;
  actor_service_account_id: string | null;
  actor_token_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  prev_mac: string;
  mac: string;
}

export interface HeadAdvance {
  organisation_id: string;
  /** The head the events were chained onto. */
  from_seq: number;
  to_seq: number;
  to_mac: string;
}

/**
 * `insert into events ... select ... from` the events as one JSON parameter: serialized by
 * JSON.stringify and parsed by PostgreSQL in C, much cheaper per statement than binding an array
 * per column. The caller adds its conflict handling and RETURNING.
 */
function insertEvents(events: readonly EventInsert[]) {
  const rows = events.map((e) => ({ ...e, created_at: eventTimestamp(e.created_at) }));
  return sql`
      insert into events (organisation_id, seq, id, kind, action, app_id, environment_id, environment_revision, secret_id,
                          secret_ids, resource_id, snapshot, description, actor_member_id, actor_service_account_id,
                          actor_token_id, ip, user_agent, created_at, prev_mac, mac)
      select e.organisation_id, e.seq, e.id, e.kind, e.action, e.app_id, e.environment_id, e.environment_revision, e.secret_id,
             e.secret_ids, e.resource_id, e.snapshot::jsonb, e.description, e.actor_member_id, e.actor_service_account_id,
             e.actor_token_id, e.ip, e.user_agent, e.created_at, e.prev_mac, e.mac
        from json_to_recordset(${JSON.stringify(rows)}::json)
             as e(organisation_id uuid, seq bigint, id uuid, kind text, action text, app_id uuid, environment_id uuid,
                  environment_revision bigint, secret_id uuid, secret_ids uuid[], resource_id uuid, snapshot text,
                  description text, actor_member_id uuid, actor_service_account_id uuid, actor_token_id uuid, ip text,
                  user_agent text, created_at timestamptz, prev_mac text, mac text)`;
}

/** A read served an environment at this revision; its event may be stored only while that is still current. */
export interface RevisionGuard {
  environment_id: string;
  revision: number;
}

/**
 * Appends chained read events in ONE statement: each organisation's head moves from `from_seq` to
 * `to_seq` only if it is still at `from_seq` (another writer may have appended meanwhile, e.g.
 * another node), and only the events of organisations whose head moved are inserted. With
 * `guards`, nothing at all is stored unless every guarded environment is still at its revision.
 * Returns the organisations whose head moved (the caller re-reads the others' heads and tries
 * again) and the guards that no longer hold. The statement's transaction commits with
 * synchronous_commit off: not for a write's events (appendChainedInTransaction).
 */
export async function appendChained(
  db: Executor,
  advances: HeadAdvance[],
  events: EventInsert[],
  guards: readonly RevisionGuard[] = [],
): Promise<{ moved: Set<string>; stale: RevisionGuard[] }> {
  const result = await sql<{ id: string; revision: number | null; stale: boolean }>`${preparedAs('append-chained-events')}
    with stale as (
      -- One primary-key probe per guard (a join would be planned for json_to_recordset's guess of
      -- 100 rows: a scan of every environment). A deleted environment's revision is null: stale.
      select g.environment_id, g.revision
        from json_to_recordset(${JSON.stringify(guards)}::json) as g(environment_id uuid, revision bigint)
       where g.revision is distinct from (select env.revision from environments as env where env.id = g.environment_id)
    ), moved as (
      update audit_heads as h
         set seq = a.to_seq, mac = a.to_mac
        from json_to_recordset(${JSON.stringify(inLockOrder(advances))}::json)
             as a(organisation_id uuid, from_seq bigint, to_seq bigint, to_mac text)
       where h.organisation_id = any(${headIds(advances)}::uuid[]) and h.organisation_id = a.organisation_id and h.seq = a.from_seq
         and not exists (select 1 from stale)
      returning h.organisation_id
    ), inserted as (
      ${insertEvents(events)}
       where e.organisation_id in (select organisation_id from moved)
      returning 1
    ), commit_without_flush as (
      -- For this statement's own transaction only (so it cannot leak to another user of the
      -- connection, e.g. through a transaction-mode pooler): read events commit without waiting
      -- for the WAL flush (docs/audit.md). Read whenever a head moved, i.e. whenever events are stored.
      select set_config('synchronous_commit', 'off', true)
    )
    select organisation_id as id, null::bigint as revision, false as stale from moved, commit_without_flush
    union all
    select environment_id, revision, true from stale`.execute(db);
  const moved = new Set<string>();
  const stale: RevisionGuard[] = [];
  for (const row of result.rows) {
    if (row.stale) stale.push({ environment_id: row.id, revision: Number(row.revision) });
    else moved.add(row.id);
  }
  return { moved, stale };
}

/**
 * As appendChained without guards, for a write transaction's events (many, carrying snapshots):
 * the heads move in one statement, which locks them until the transaction ends, and the events of
 * the organisations whose head moved go in with binary COPY (`encoded`: eventsCopyBinary(events)
 * written beforehand, used when they all go in). Returns those organisations.
 */
export async function appendChainedInTransaction(trx: Tx, advances: HeadAdvance[], events: EventInsert[], encoded?: Uint8Array): Promise<Set<string>> {
  const result = await sql<{ organisation_id: string }>`${preparedAs('move-chain-heads')}
    update audit_heads as h
       set seq = a.to_seq, mac = a.to_mac
      from json_to_recordset(${JSON.stringify(inLockOrder(advances))}::json)
           as a(organisation_id uuid, from_seq bigint, to_seq bigint, to_mac text)
     where h.organisation_id = any(${headIds(advances)}::uuid[]) and h.organisation_id = a.organisation_id and h.seq = a.from_seq
    returning h.organisation_id`.execute(trx);
  const moved = new Set(result.rows.map((row) => row.organisation_id));
  const stored = events.filter((e) => moved.has(e.organisation_id));
  if (stored.length === 0) return moved;
  const bytes = encoded && stored.length === events.length ? encoded : eventsCopyBinary(stored);
  await copyFrom(trx, EVENTS_COPY_TARGET, bytes, 'binary');
  return moved;
}

/** Heads are locked in one order (by organisation) by every statement, so two appends cannot deadlock. */
function inLockOrder(advances: HeadAdvance[]): HeadAdvance[] {
  return advances.length < 2 ? advances : [...advances].sort((a, b) => (a.organisation_id < b.organisation_id ? -1 : a.organisation_id > b.organisation_id ? 1 : 0));
}

/**
 * The heads an append moves, as an array parameter: `h.organisation_id = any(...)` makes the plan
 * probe the primary key (in key order, which keeps the lock order) instead of scanning every head,
 * as a join with json_to_recordset's guess of 100 rows would.
 */
function headIds(advances: readonly HeadAdvance[]): string[] {
  return advances.map((a) => a.organisation_id);
}

/** Where a chain stands after an event: its organisation, sequence number and MAC. */
export interface ChainPosition {
  organisation_id: string;
  seq: number;
  mac: string;
}

/** Each organisation's newest event (sequence number and MAC), for moving heads. */
export function newestHeads(events: ReadonlyArray<ChainPosition>): ChainPosition[] {
  const heads = new Map<string, ChainPosition>();
  for (const { organisation_id, seq, mac } of events) {
    const head = heads.get(organisation_id);
    if (!head || seq > head.seq) heads.set(organisation_id, { organisation_id, seq, mac });
  }
  return [...heads.values()];
}

/** The columns of `events`, in the order COPY rows are written. */
const EVENT_COLUMNS = [
  'organisation_id', 'seq', 'id', 'kind', 'action', 'app_id', 'environment_id', 'environment_revision', 'secret_id', 'secret_ids',
  'resource_id', 'snapshot', 'description', 'actor_member_id', 'actor_service_account_id', 'actor_token_id', 'ip', 'user_agent',
  'created_at', 'prev_mac', 'mac',
] as const;

const EVENTS_COPY_TARGET = `events (${EVENT_COLUMNS.join(', ')})`;

/**
 * An event's created_at as ISO text, as Date#toISOString writes it. Every read writes one or more
 * (its record in a batch, the batch's MAC and COPY line), and toISOString costs about a microsecond
 * here: the text up to the minute is kept and the seconds are written by hand.
 */
export function eventTimestamp(date: Date): string {
  const time = date.getTime();
  // Before 1970 or from year 10000 on, and for an invalid date (its RangeError): toISOString itself.
  if (!(time >= 0 && time < YEAR_10000_MS)) return date.toISOString();
  const minute = Math.floor(time / 60_000);
  if (minute !== timestampMinute.minute) {
    timestampMinute.minute = minute;
    timestampMinute.prefix = date.toISOString().slice(0, 17);
  }
  const millisecondsInMinute = time - minute * 60_000;
  return timestampMinute.prefix + SECONDS_TEXT[Math.floor(millisecondsInMinute / 1000)]! + MILLISECONDS_TEXT[millisecondsInMinute % 1000]!;
}

const YEAR_10000_MS = Date.UTC(10_000, 0, 1);
/** `YYYY-MM-DDTHH:MM:` of the last minute written. */
const timestampMinute = { minute: Number.NaN, prefix: '' };
const SECONDS_TEXT = Array.from({ length: 60 }, (_, s) => String(s).padStart(2, '0'));
const MILLISECONDS_TEXT = Array.from({ length: 1000 }, (_, ms) => `.${String(ms).padStart(3, '0')}Z`);

/** A text field in PostgreSQL's COPY text format. */
function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIALS, (ch) => (ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r')) : value;
}

function copyNumber(value: number | null | undefined): string {
  return value === null || value === undefined ? '\\N' : String(value);
}

/** A uuid[] in COPY text: uuids need no quoting or escaping inside an array literal. */
function copyUuids(values: readonly string[] | null | undefined): string {
  return values === null || values === undefined ? '\\N' : copyText(`{${values.join(',')}}`);
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;

/**
 * An event as one row of COPY text, newline included (the embedded store's journal keeps these),
 * columns in the order of EVENT_COLUMNS. Column by column like eventsCopyBinary: every read writes one.
 */
export function eventCopyLine(e: EventInsert): string {
  return (
    `${copyText(e.organisation_id)}\t${copyNumber(e.seq)}\t${copyText(e.id)}\t${copyText(e.kind)}\t${copyText(e.action)}\t` +
    `${copyText(e.app_id)}\t${copyText(e.environment_id)}\t${copyNumber(e.environment_revision)}\t${copyText(e.secret_id)}\t` +
    `${copyUuids(e.secret_ids)}\t${copyText(e.resource_id)}\t${copyText(e.snapshot)}\t${copyText(e.description)}\t` +
    `${copyText(e.actor_member_id)}\t${copyText(e.actor_service_account_id)}\t${copyText(e.actor_token_id)}\t${copyText(e.ip)}\t` +
    `${copyText(e.user_agent)}\t${eventTimestamp(e.created_at)}\t${copyText(e.prev_mac)}\t${copyText(e.mac)}\n`
  );
}

/** Events as binary COPY rows, columns in the order of EVENT_COLUMNS. */
export function eventsCopyBinary(events: readonly EventInsert[]): Uint8Array {
  const out = new BinaryCopyWriter(events.length * 512);
  for (const e of events) {
    out.row(EVENT_COLUMNS.length);
    out.uuid(e.organisation_id);
    out.int8(e.seq);
    out.uuid(e.id);
    out.text(e.kind);
    out.text(e.action);
    out.uuid(e.app_id);
    out.uuid(e.environment_id);
    out.int8(e.environment_revision);
    out.uuid(e.secret_id);
    out.uuidArray(e.secret_ids);
    out.uuid(e.resource_id);
    out.jsonb(e.snapshot);
    out.text(e.description);
    out.uuid(e.actor_member_id);
    out.uuid(e.actor_service_account_id);
    out.uuid(e.actor_token_id);
    out.text(e.ip);
    out.text(e.user_agent);
    out.timestamptz(e.created_at);
    out.text(e.prev_mac);
    out.text(e.mac);
  }
  return out.finish();
}

/** An event already written as a COPY line, with the fields its import needs. */
export interface CopyLineEvent {
  organisation_id: string;
  seq: number;
  mac: string;
  line: string;
}

/** The fields of a line written by eventCopyLine that its import needs, or undefined if it is not one. */
export function parseEventCopyLine(line: string): CopyLineEvent | undefined {
  if (!line.endsWith('\n')) return undefined;
  const fields = line.slice(0, -1).split('\t');
  if (fields.length !== EVENT_COLUMNS.length) return undefined;
  const seq = Number(fields[1]);
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { organisation_id: fields[0]!, seq, mac: fields[EVENT_COLUMNS.length - 1]!, line };
}

/**
 * Embedded store only (copy.ts): stores events just chained onto the current heads (under the
 * chain lock, so none is stored yet) with binary COPY, and moves each organisation's head to the
 * newest of them.
 */
export async function copyNewEvents(db: Executor, events: readonly EventInsert[]): Promise<void> {
  if (events.length === 0) return;
  await copyEncodedEvents(db, eventsCopyBinary(events), events);
}

/**
 * As copyNewEvents, for events already written by eventsCopyBinary (`encoded`); `heads` holds at
 * least each organisation's newest of them.
 */
export async function copyEncodedEvents(db: Executor, encoded: Uint8Array, heads: ReadonlyArray<ChainPosition>): Promise<void> {
  if (heads.length === 0) return;
  await copyFrom(db, EVENTS_COPY_TARGET, encoded, 'binary');
  await moveHeadsForward(db, heads);
}

/**
 * Embedded store only: stores events journaled by an earlier process. Events already stored (at or
 * below the head: the process stopped after importing them, before it emptied its journal) are
 * left out first, since COPY cannot skip conflicts.
 */
export async function copyJournaledEvents(db: Executor, events: readonly CopyLineEvent[]): Promise<void> {
  if (events.length === 0) return;
  const organisations = [...new Set(events.map((e) => e.organisation_id))];
  const stored = new Map((await findChainHeads(db, organisations)).map((h) => [h.organisation_id, Number(h.seq)]));
  const fresh = events.filter((e) => e.seq > (stored.get(e.organisation_id) ?? 0));
  if (fresh.length === 0) return;
  let data = '';
  for (const e of fresh) data += e.line;
  await copyFrom(db, EVENTS_COPY_TARGET, data, 'text');
  await moveHeadsForward(db, fresh);
}

/** Moves each organisation's head to the newest of these stored events (never backwards). */
async function moveHeadsForward(db: Executor, events: ReadonlyArray<ChainPosition>): Promise<void> {
  const heads = newestHeads(events);
  await sql`
    update audit_heads as h
       set seq = a.seq, mac = a.mac
      from json_to_recordset(${JSON.stringify(heads)}::json) as a(organisation_id uuid, seq bigint, mac text)
     where h.organisation_id = any(${heads.map((head) => head.organisation_id)}::uuid[])
       and h.organisation_id = a.organisation_id and h.seq < a.seq`.execute(db);
}
