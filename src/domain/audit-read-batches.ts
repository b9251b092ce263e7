// How a batch of reads is stored: one chained event (action `reads`) per organisation and
// environment of a group-commit batch, its reads listed in the snapshot, instead of one chained
// row per read. Each read is still its own event to everyone who reads the trail (the audit API,
// a secret's history): expandReadBatches turns a stored batch back into one event per read, which
// share the batch's sequence number and MAC (the MAC covers all of them). DESIGN §5.6: the chain
// is extended batch by batch.
//
// Why: on the embedded store a stored row cost about 20 µs of the server's thread per read
// (chaining its MAC, its journal line and binary row, importing it into PGlite), a quarter of a
// one-secret read; on PostgreSQL each row costs the batch's statement about 30 µs
// (docs/performance.md).
import { randomUUID } from 'node:crypto';
import { eventTimestamp } from '../store/events.js';
import type { EventRow } from '../store/events.table.js';
import type { AppendEntry, NewEvent } from './audit.js';
import type { Actor } from './principal.js';

export const READ_BATCH_ACTION = 'reads';

/**
 * Reads per stored event at most: bounds an event's size (about 200 bytes a read), and so what a
 * page of the trail or a secret's history (1,000 events) reads at once.
 */
export const READS_PER_EVENT_MAX = 64;

// A batch's snapshot is {"reads": "<record>;<record>;..."}, each record the fields of one read
// joined by commas, in FIELDS order. Every field is written with encodeURIComponent, so the text
// holds no comma, semicolon, quote, backslash or control character: JSON, the journal's COPY
// text and jsonb store it without escaping a byte, and jsonb parses one string, not a structure
// per read (as JSON objects, parsing and escaping the reads cost as much as the rows they saved).
// A lone '%' (which encodeURIComponent never writes) is null.
const FIELDS = ['id', 'created_at', 'actor_member_id', 'actor_service_account_id', 'actor_token_id', 'ip', 'user_agent', 'environment_revision', 'secret_ids', 'count', 'selection'] as const;
const NULL = '%';
const RECORD_SEPARATOR = ';';
const FIELD_SEPARATOR = ',';
/** Between the ids of secret_ids ('+' is encoded inside a field). */
const ID_SEPARATOR = '+';

/** UTF-16 surrogates without their other half, which encodeURIComponent refuses (and UTF-8 cannot hold). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text encodeURIComponent leaves as it is (ids, IPv4 addresses): most fields of most reads. */
const UNESCAPED = /^[A-Za-z0-9\-_.!~*'()]*$/;

function text(value: string | null | undefined): string {
  if (value === null || value === undefined) return NULL;
  if (UNESCAPED.test(value)) return value;
  try {
    return encodeURIComponent(value);
  } catch {
    // As a row's text column would hold it: U+FFFD in place of each lone surrogate.
    return encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
  }
}

function number(value: number | null | undefined): string {
  return value === null || value === undefined ? NULL : String(value);
}

/**
 * A read stored in a batch: a secret read as secretReadEvent writes it (its snapshot, if any, a
 * count and a selection). Anything else is stored as an event of its own.
 */
function isBatchable(event: NewEvent): boolean {
  if (event.kind !== 'secret' || event.action !== 'read') return false;
  if (event.secretId != null || event.resourceId != null || event.description != null) return false;
  if (event.environmentRevision != null && !Number.isSafeInteger(event.environmentRevision)) return false;
  const snapshot = event.snapshot;
  if (snapshot === null || snapshot === undefined) return true;
  const keys = Object.keys(snapshot);
  return keys.length === 2 && Number.isSafeInteger(snapshot.count) && typeof snapshot.selection === 'string';
}

/** The last actor whose fields were written, and those fields (undefined: none yet). */
interface WrittenActor {
  actor: Actor | null | undefined;
  text: string;
}

/** The records of a batch's reads, joined. */
function records(members: readonly AppendEntry[], at: Date): string {
  const written: WrittenActor = { actor: undefined, text: '' };
  let out = '';
  for (let i = 0; i < members.length; i++) out += (i === 0 ? '' : RECORD_SEPARATOR) + record(members[i]!, at, written);
  return out;
}

/**
 * A read's record: its fields in FIELDS order. The actor's fields are written once for a run of
 * reads by the same caller from the same address (a batch is mostly such runs).
 */
function record(entry: AppendEntry, at: Date, written: WrittenActor): string {
  const { actor, event } = entry;
  if (written.actor === undefined || !sameActor(actor, written.actor)) {
    const principal = actor?.principal;
    written.actor = actor;
    written.text =
      text(principal?.kind === 'member' ? principal.memberId : null) +
      FIELD_SEPARATOR +
      text(principal?.kind === 'service_account' ? principal.serviceAccountId : null) +
      FIELD_SEPARATOR +
      text(principal?.tokenId) +
      FIELD_SEPARATOR +
      text(actor?.ip) +
      FIELD_SEPARATOR +
      text(actor?.userAgent);
  }
  const snapshot = event.snapshot as { count: number; selection: string } | null | undefined;
  const secretIds = event.secretIds === null || event.secretIds === undefined ? NULL : event.secretIds.map(text).join(ID_SEPARATOR);
  return (
    randomUUID() +
    FIELD_SEPARATOR +
    eventTimestamp(entry.at ?? at) +
    FIELD_SEPARATOR +
    written.text +
    FIELD_SEPARATOR +
    number(event.environmentRevision) +
    FIELD_SEPARATOR +
    secretIds +
    FIELD_SEPARATOR +
    number(snapshot?.count) +
    FIELD_SEPARATOR +
    text(snapshot?.selection)
  );
}

/** Whether two actors' recorded fields (principal ids, token, address, user agent) are the same. */
function sameActor(a: Actor | null, b: Actor | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.ip !== b.ip || a.userAgent !== b.userAgent) return false;
  const p = a.principal;
  const q = b.principal;
  if (p.tokenId !== q.tokenId) return false;
  return p.kind === 'member' ? q.kind === 'member' && p.memberId === q.memberId : q.kind === 'service_account' && p.serviceAccountId === q.serviceAccountId;
}

/**
 * A batch event's own secret_ids, which a secret's history filters on as it does for a single
 * read: null if one of its reads was unfiltered (it returned every secret live at its revision),
 * else every secret its reads named.
 */
function secretIdsOf(members: readonly AppendEntry[]): string[] | null {
  const ids = new Set<string>();
  for (const { event } of members) {
    if (event.secretIds === null || event.secretIds === undefined) return null;
    for (const id of event.secretIds) ids.add(id);
  }
  return [...ids];
}

/** Whether two reads belong to one stored event's group (organisation, app, environment). */
function sameGroup(a: AppendEntry, b: AppendEntry): boolean {
  return a.organisationId === b.organisationId && (a.event.appId ?? '') === (b.event.appId ?? '') && (a.event.environmentId ?? '') === (b.event.environmentId ?? '');
}

/**
 * The events to chain for a batch of unguarded reads: one per organisation and environment (at
 * most READS_PER_EVENT_MAX reads each), a read alone in its group, or not a plain secret read,
 * stored as itself. Order within a group is kept (arrival order).
 */
export function readBatchEntries(entries: ReadonlyArray<AppendEntry>, at = new Date()): AppendEntry[] {
  if (entries.length < 2) return [...entries];
  const stored: AppendEntry[] = [];
  const groups = new Map<string, AppendEntry[]>();
  // Reads of one environment tend to come in runs: a run's group is found once.
  let previous: { entry: AppendEntry; members: AppendEntry[] } | undefined;
  for (const entry of entries) {
    if (!isBatchable(entry.event)) {
      stored.push(entry);
      continue;
    }
    if (previous && sameGroup(entry, previous.entry)) {
      previous.members.push(entry);
      continue;
    }
    const group = `${entry.organisationId}/${entry.event.appId ?? ''}/${entry.event.environmentId ?? ''}`;
    let members = groups.get(group);
    if (members) members.push(entry);
    else groups.set(group, (members = [entry]));
    previous = { entry, members };
  }
  for (const group of groups.values()) {
    for (let start = 0; start < group.length; start += READS_PER_EVENT_MAX) {
      const members = group.slice(start, start + READS_PER_EVENT_MAX);
      const first = members[0]!;
      if (members.length === 1) {
        stored.push(first);
        continue;
      }
      stored.push({
        organisationId: first.organisationId,
        actor: null,
        at,
        event: {
          kind: 'secret',
          action: READ_BATCH_ACTION,
          appId: first.event.appId ?? null,
          environmentId: first.event.environmentId ?? null,
          secretIds: secretIdsOf(members),
          snapshot: { reads: records(members, at) },
        },
      });
    }
  }
  return stored;
}

type RecordFields = Record<Exclude<(typeof FIELDS)[number], 'secret_ids'>, string | null> & { secret_ids: string[] | null };

/** A record's fields, decoded; undefined if it is not one this file wrote. */
function parseRecord(line: string): RecordFields | undefined {
  const parts = line.split(FIELD_SEPARATOR);
  if (parts.length !== FIELDS.length) return undefined;
  const fields = {} as RecordFields;
  try {
    FIELDS.forEach((name, i) => {
      const part = parts[i]!;
      if (name === 'secret_ids') fields.secret_ids = part === NULL ? null : part === '' ? [] : part.split(ID_SEPARATOR).map(decodeURIComponent);
      else fields[name] = part === NULL ? null : decodeURIComponent(part);
    });
  } catch {
    return undefined; // a malformed escape
  }
  return fields;
}

function readOf(row: EventRow, line: string): EventRow | undefined {
  const read = parseRecord(line);
  if (!read || read.id === null || read.created_at === null) return undefined;
  const createdAt = new Date(read.created_at);
  if (Number.isNaN(createdAt.getTime())) return undefined;
  return {
    organisation_id: row.organisation_id,
    seq: row.seq,
    id: read.id,
    kind: 'secret',
    action: 'read',
    app_id: row.app_id,
    environment_id: row.environment_id,
    environment_revision: read.environment_revision === null ? null : Number(read.environment_revision),
    secret_id: null,
    secret_ids: read.secret_ids,
    resource_id: null,
    snapshot: read.count === null && read.selection === null ? null : { count: Number(read.count), selection: read.selection },
    description: null,
    actor_member_id: read.actor_member_id,
    actor_service_account_id: read.actor_service_account_id,
    actor_token_id: read.actor_token_id,
    ip: read.ip,
    user_agent: read.user_agent,
    created_at: createdAt,
    prev_mac: row.prev_mac,
    mac: row.mac,
  };
}

/**
 * One event per read: a stored batch becomes its reads (with the batch's seq and MACs); other
 * events stay as they are. A record this file did not write is left out (its batch's MAC no
 * longer matches, which `verify-audit` reports).
 */
export function expandReadBatches(rows: readonly EventRow[]): EventRow[] {
  const events: EventRow[] = [];
  for (const row of rows) {
    if (row.action !== READ_BATCH_ACTION) {
      events.push(row);
      continue;
    }
    const reads = row.snapshot?.reads;
    if (typeof reads !== 'string') continue;
    for (const line of reads.split(RECORD_SEPARATOR)) {
      const read = readOf(row, line);
      if (read) events.push(read);
    }
  }
  return events;
}
