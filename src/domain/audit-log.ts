// Reading the audit trail (Coffer extensions, docs/audit.md): a secret's history, and an
// organisation's events page by page (keyset pagination on the chain's sequence number).
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { allowsInApp, allowsOrg, isGlobal, type AccountAccess } from './access.js';
import { READ_BATCH_ACTION, expandReadBatches } from './audit-read-batches.js';
import type { Call } from './context.js';
import type { DomainDeps } from './deps.js';
import { forbidden, invalid, notFound } from './errors.js';
import type { Database, Executor } from '../store/database.js';
import type { EventRow } from '../store/events.table.js';

export interface HistoryEntry {
  event: EventRow;
  /** Plaintext of the secret's key, value and comment at that event (create, update, delete). */
  key: string | null;
  value: string | null;
  comment: string | null;
}

export interface SecretHistory {
  /** Oldest first. */
  entries: HistoryEntry[];
  /** Older versions or reads were left out (the organisation's trail keeps them). */
  truncated: boolean;
}

export interface EventPage {
  events: EventRow[];
  /** Pass as `after` for the next page; null at the end of the trail. */
  next: number | null;
}

export const MAX_PAGE = 500;

/**
 * What one answer may carry in event snapshots, as stored (docs/audit.md): a write event holds the
 * secret's ciphertexts, up to a few MB each, and 100 of them made an answer too long for one string
 * (500). A page ends early past it (its `next` continues); a history keeps its newest versions.
 */
export const SNAPSHOT_BYTES_PER_ANSWER = 32 * 1024 * 1024;

/**
 * How many versions and how many reads one history holds, newest kept: a secret read by every
 * service start collects reads without end, and one answer listed them all.
 */
export const HISTORY_WRITES_MAX = 1_000;
export const HISTORY_READS_MAX = 1_000;

/** How many of `sizes` (in order) fit SNAPSHOT_BYTES_PER_ANSWER: at least one. */
function fittingCount(sizes: ReadonlyArray<number | string | null>): number {
  let total = 0;
  for (let i = 0; i < sizes.length; i++) {
    total += Number(sizes[i] ?? 0);
    if (i > 0 && total > SNAPSHOT_BYTES_PER_ANSWER) return i;
  }
  return sizes.length;
}

/**
 * The secrets a read event returned: the ids it lists (a filtered read), or — for an unfiltered
 * read, which lists none — the secrets live in its environment at its revision, as the trail's
 * create and delete events (which carry revisions) determine. Oldest first, as the read returned them.
 */
export async function readSecretIds(db: Executor, event: Pick<EventRow, 'organisation_id' | 'environment_id' | 'environment_revision' | 'secret_ids'>): Promise<string[]> {
  if (event.secret_ids) return event.secret_ids;
  if (!event.environment_id || event.environment_revision === null) return [];
  const changes = await db
    .selectFrom('events')
    .select(['secret_id', 'action', 'created_at'])
    .where('organisation_id', '=', event.organisation_id)
    .where('environment_id', '=', event.environment_id)
    .where('kind', '=', 'secret')
    .where('action', 'in', ['create', 'delete'])
    .where('environment_revision', '<=', event.environment_revision)
    .orderBy('seq')
    .execute();
  const live = new Map<string, Date>();
  for (const change of changes) {
    if (change.action === 'create') live.set(change.secret_id!, change.created_at);
    else live.delete(change.secret_id!);
  }
  // The order of GET /v1/secrets/: creation time, then id (a secret's create event has its creation time).
  return [...live].sort(([a, at], [b, bt]) => at.getTime() - bt.getTime() || (a < b ? -1 : a > b ? 1 : 0)).map(([id]) => id);
}

function snapshotText(snapshot: Record<string, unknown> | null, field: string): string | null {
  const value = snapshot?.[field];
  return typeof value === 'string' ? value : null;
}

/**
 * The events a caller may list (docs/audit.md): with global access, all of them; otherwise the
 * organisation's own events (no app), and the events of the apps it is a member of — those of an
 * environment only when it holds that environment — if its role reads an app's logs. A write event
 * carries the secret's ciphertexts, its path, tags and digest: an account that lost an environment
 * must not go on reading it here.
 */
function visibleTo(access: AccountAccess): (eb: ExpressionBuilder<Database, 'events'>) => Expression<SqlBool> {
  const organisationLevel = (eb: ExpressionBuilder<Database, 'events'>) => eb.and([eb('app_id', 'is', null), eb('environment_id', 'is', null)]);
  if (isGlobal(access)) return (eb) => eb.lit(true);
  const appIds = [...access.appIds].filter((appId) => allowsInApp(access, appId, 'Logs', 'read'));
  const environmentIds = [...access.environmentIds];
  return (eb) => {
    const visible = [organisationLevel(eb)];
    if (appIds.length > 0) visible.push(eb.and([eb('environment_id', 'is', null), eb('app_id', 'in', appIds)]));
    if (appIds.length > 0 && environmentIds.length > 0) visible.push(eb.and([eb('app_id', 'in', appIds), eb('environment_id', 'in', environmentIds)]));
    return eb.or(visible);
  };
}

/** The event of a read of a secret's history (GET /v1/secrets/{id}/history/). */
export const HISTORY_READ_ACTION = 'history';

export class AuditLog {
  constructor(private readonly deps: DomainDeps) {}

  /**
   * Every event of one secret, oldest first: its writes, and the reads that returned it (named
   * reads, and whole-environment reads at a revision where the secret was live); the newest
   * HISTORY_WRITES_MAX versions within SNAPSHOT_BYTES_PER_ANSWER, and the newest HISTORY_READS_MAX reads.
   */
  async secretHistory(call: Call, secretId: string): Promise<SecretHistory> {
    const environment = call.target.environment;
    if (!environment) throw notFound('Secret not found');
    if (!allowsInApp(call.access, environment.app_id, 'Secrets', 'read')) {
      throw forbidden("You don't have permission to read secrets in this environment.");
    }
    if (!call.target.app?.sse_enabled) throw invalid('SSE is not enabled for this App');
    await this.deps.audit.sync();
    const org = call.principal.organisationId;
    // Its versions: the history reads themselves (below) are in the organisation's trail, not versions.
    const ofSecret = this.deps.db.selectFrom('events').where('organisation_id', '=', org).where('secret_id', '=', secretId).where('action', '!=', HISTORY_READ_ACTION);
    const created = await ofSecret.select('seq').where('action', '=', 'create').executeTakeFirst();
    const deleted = await ofSecret.select('seq').where('action', '=', 'delete').executeTakeFirst();
    // Sizes first, newest first: only the newest versions that fit one answer are read whole.
    const newestWrites = await ofSecret
      .select(['seq', sql<number | null>`pg_column_size(snapshot)`.as('size')])
      .orderBy('seq', 'desc')
      .limit(HISTORY_WRITES_MAX + 1)
      .execute();
    const keptWrites = Math.min(HISTORY_WRITES_MAX, fittingCount(newestWrites.map((w) => w.size)));
    const oldestKept = newestWrites[keptWrites - 1];
    const writes = oldestKept
      ? await ofSecret.selectAll().where('seq', '>=', oldestKept.seq).orderBy('seq').execute()
      : [];
    const newestReads = created
      ? await this.deps.db
          .selectFrom('events')
          .selectAll()
          .where('organisation_id', '=', org)
          .where('environment_id', '=', environment.id)
          .where('action', 'in', ['read', READ_BATCH_ACTION])
          .where('seq', '>', created.seq)
          .$if(deleted !== undefined, (q) => q.where('seq', '<', deleted!.seq))
          // A stored batch lists the secrets its reads named the same way (null: one read was unfiltered).
          .where((eb) => eb.or([eb('secret_ids', 'is', null), eb(sql`${secretId}::uuid`, '=', sql`any(secret_ids)`)]))
          .orderBy('seq', 'desc')
          .limit(HISTORY_READS_MAX + 1)
          .execute()
      : [];
    // Oldest first; a stored batch holds reads of other secrets too (filtered reads name theirs).
    const readsOfSecret = expandReadBatches(newestReads.slice(0, HISTORY_READS_MAX).reverse()).filter(
      (read) => read.secret_ids === null || read.secret_ids.includes(secretId),
    );
    const reads = readsOfSecret.slice(-HISTORY_READS_MAX);
    const truncated = newestWrites.length > keptWrites || newestReads.length > HISTORY_READS_MAX || readsOfSecret.length > reads.length;
    const cipher = await this.deps.keys.cipherFor(environment.id);
    const open = (text: string | null) => {
      if (text === null || !cipher) return null;
      try {
        return cipher.decryptOptionalField(text);
      } catch {
        return null;
      }
    };
    const entries = [...writes, ...reads]
      .sort((a, b) => a.seq - b.seq)
      .map((event) => ({
        event,
        key: open(snapshotText(event.snapshot, 'key')),
        value: open(snapshotText(event.snapshot, 'value')),
        comment: open(snapshotText(event.snapshot, 'comment')),
      }));
    // The answer holds the plaintext of every version: like any read, it is answered only once its
    // event is stored (fail-closed); it was not recorded at all before.
    await this.deps.readAudit.record(org, call, {
      kind: 'secret',
      action: HISTORY_READ_ACTION,
      appId: environment.app_id,
      environmentId: environment.id,
      secretId,
      description: `History of a secret read (${entries.length} entries)`,
    });
    return { entries, truncated };
  }

  /** The organisation's events the caller may see (visibleTo) after sequence number `after`, oldest first. */
  async organisationEvents(call: Call, after: number, limit: number): Promise<EventPage> {
    if (!allowsOrg(call.access, 'Logs', 'read')) throw forbidden("You don't have permission to read logs.");
    await this.deps.audit.sync();
    const org = call.principal.organisationId;
    const visible = visibleTo(call.access);
    // Sizes first: the page ends early if its snapshots would not fit one answer.
    const sizes = await this.deps.db
      .selectFrom('events')
      .select(['seq', sql<number | null>`pg_column_size(snapshot)`.as('size')])
      .where('organisation_id', '=', org)
      .where('seq', '>', after)
      .where(visible)
      .orderBy('seq')
      .limit(limit + 1)
      .execute();
    const count = fittingCount(sizes.slice(0, limit).map((row) => row.size));
    if (count === 0) return { events: [], next: null };
    const last = Number(sizes[count - 1]!.seq);
    const page = await this.deps.db
      .selectFrom('events')
      .selectAll()
      .where('organisation_id', '=', org)
      .where('seq', '>', after)
      .where('seq', '<=', last)
      .where(visible)
      .orderBy('seq')
      .execute();
    return { events: expandReadBatches(page).map((event) => withoutUnreadableSecret(call.access, event)), next: sizes.length > count ? last : null };
  }
}

/**
 * A secret write event carries the secret's ciphertexts (key, value, comment, override), path and
 * tags, which the environment's keys open: a role that reads an app's logs but not its secrets
 * (`Logs` without `Secrets`/read) sees that the write happened, not what was written. Holding the
 * environment is not enough, since its token unwraps those keys through the client protocol.
 */
function withoutUnreadableSecret(access: AccountAccess, event: EventRow): EventRow {
  if (event.kind !== 'secret' || event.action === 'read' || event.action === HISTORY_READ_ACTION || event.snapshot === null) return event;
  if (event.app_id !== null && allowsInApp(access, event.app_id, 'Secrets', 'read')) return event;
  return { ...event, snapshot: null };
}
