// The storage half of a secret write batch, shared by the REST writer (plaintext in, encrypted by
// the server) and the client-protocol writer (client ciphertext stored verbatim). A batch is one
// transaction (all or nothing, DEVIATION D-16) with the environment locked; it bumps the
// environment's revision once and appends one event per change.
import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../../store/database.js';
import type { Ciphertext } from '../../store/secrets.table.js';
import {
  claimEnvironmentRevision,
  ensureFolders,
  ensureTags,
  findLiveIdentities,
  insertSecretRows,
  insertSecretTags,
  replaceSecretTags,
  type StoredSecret,
} from '../../store/secrets.js';
import { WRITE_AUDIT_UNAVAILABLE, type AppendEntry, type AuditTrail, type NewEvent } from '../audit.js';
import { conflict, DomainError, invalid, notFound } from '../errors.js';
import type { Actor } from '../principal.js';
import { inTransaction, isUniqueViolation } from '../transactions.js';

export const DUPLICATE_SECRET = 'Duplicate secret found';

export interface WriteTarget {
  organisationId: string;
  appId: string;
  environmentId: string;
}

export interface WriteResult<T> {
  result: T;
  /** The environment's revision after the batch (0 when the batch changed nothing). */
  revision: number;
}

/** A personal override as stored (value is client or server ciphertext). */
export interface OverrideRow {
  id: string;
  secretId: string;
  memberId: string;
  value: Ciphertext;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Secrets are identified within an environment by (path, key digest) (rest-api §4.6). */
export function identity(path: string, digest: string): string {
  return `${path}\u0000${digest}`;
}

/** The event of one change: the secret's state as stored (ciphertexts only). */
export function secretEvent(action: 'create' | 'update' | 'delete', target: WriteTarget, revision: number, row: StoredSecret): NewEvent {
  return {
    kind: 'secret',
    action,
    appId: target.appId,
    environmentId: target.environmentId,
    environmentRevision: revision,
    secretId: row.id,
    // Keys in sorted order: the event's JSON is then written without a sorted copy (stableStringify).
    snapshot: {
      comment: row.comment,
      folder: row.folder_id,
      key: row.key,
      keyDigest: row.key_digest,
      path: row.path,
      tags: row.tags,
      type: row.type,
      value: row.value,
      version: row.version,
    },
  };
}

export interface BatchContext {
  readonly trx: Tx;
  readonly target: WriteTarget;
  readonly now: Date;
}

/** What a batch's work did: its result, the changed secrets, and its statements still running. */
export interface BatchWork<T> {
  result: T;
  /** The secrets' state after each change, with the event action. */
  changes: Array<{ action: 'create' | 'update' | 'delete'; row: StoredSecret }>;
  /**
   * Statements the work started but did not wait for (they run in order on the transaction's
   * connection): the batch chains the events meanwhile, then waits for them before appending.
   */
  writing?: Promise<void>;
}

/**
 * Runs `work` with the environment locked and its revision bumped (one statement). `work` returns
 * a BatchWork; the batch then appends one event per change, or rolls back if nothing changed. A
 * unique violation (a live duplicate found while inserting, or a concurrent create of the same
 * key) is the same 409 as a detected duplicate.
 */
export async function inLockedEnvironment<T>(
  db: Db,
  audit: AuditTrail,
  actor: Actor,
  target: WriteTarget,
  work: (batch: BatchContext) => Promise<BatchWork<T>>,
): Promise<WriteResult<T>> {
  try {
    return await inTransaction(db, async ({ trx }) => {
      const now = new Date();
      const revision = await claimEnvironmentRevision(trx, target.organisationId, target.environmentId, now);
      if (revision === undefined) throw notFound('Environment not found');
      const { result, changes, writing } = await work({ trx, target, now });
      const events: AppendEntry[] = changes.map(({ action, row }) => ({ organisationId: target.organisationId, actor, event: secretEvent(action, target, revision, row), at: now }));
      // Chained while the work's last statements run (nothing may be awaited before `writing`:
      // its failure would go unhandled meanwhile).
      const prepared = events.length > 0 ? audit.prepare(events) : undefined;
      await writing;
      // Nothing written: roll the revision bump back too (caches stay valid).
      if (changes.length === 0) throw new NothingChanged(result);
      try {
        await audit.append(trx, events, prepared);
      } catch (cause) {
        // No audit, no write: the transaction rolls back and the client is told to retry.
        throw new DomainError('unavailable', WRITE_AUDIT_UNAVAILABLE, {}, cause);
      }
      return { result, revision };
    });
  } catch (error) {
    if (error instanceof NothingChanged) return { result: error.result as T, revision: 0 };
    if (isUniqueViolation(error)) throw conflict(DUPLICATE_SECRET);
    throw error;
  }
}

/** Thrown out of a batch that changed nothing, so that its transaction rolls back. */
class NothingChanged {
  constructor(readonly result: unknown) {}
}

/**
 * Duplicate detection: the identities a batch leaves behind (identity -> the secret that holds it)
 * must be distinct, and must not belong to any other live secret of the environment.
 */
export async function assertNoDuplicates(batch: BatchContext, claims: ReadonlyArray<{ owner: string; path: string; digest: string }>): Promise<void> {
  const owners = assertDistinct(claims);
  const live = await findLiveIdentities(batch.trx, batch.target.environmentId, claims);
  for (const row of live) {
    const owner = owners.get(identity(row.path, row.key_digest));
    if (owner !== undefined && owner !== row.id) throw conflict(DUPLICATE_SECRET);
  }
}

/** The identities of a batch must be distinct; returns identity -> owner. */
function assertDistinct(claims: ReadonlyArray<{ owner: string; path: string; digest: string }>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const claim of claims) {
    const key = identity(claim.path, claim.digest);
    const owner = owners.get(key);
    if (owner !== undefined && owner !== claim.owner) throw conflict(DUPLICATE_SECRET);
    owners.set(key, claim.owner);
  }
  return owners;
}

/** Folder ids for paths (created when missing). */
export function foldersFor(batch: BatchContext, paths: Iterable<string>): Promise<Map<string, string | null>> {
  return ensureFolders(batch.trx, batch.target.organisationId, batch.target.environmentId, paths, randomUUID);
}

/**
 * Creates secrets, in the check order of rest-api §4.3: duplicates (inside the request, then against
 * the environment's live secrets), then tag lengths, then the tags themselves (unknown names are
 * created for the organisation). A duplicate of a live secret is found by the unique index while
 * the rows are inserted (a unique violation, answered 409 by inLockedEnvironment), so a create makes
 * no separate lookup; any error rolls the batch back.
 */
export async function insertNewSecrets(batch: BatchContext, rows: StoredSecret[], tooLongTag: string | undefined): Promise<void> {
  assertDistinct(rows.map((row) => ({ owner: row.id, path: row.path, digest: row.key_digest })));
  await insertSecretRows(batch.trx, batch.target.organisationId, rows);
  if (tooLongTag) throw invalid(tooLongTag);
  const tagIds = await ensureTags(batch.trx, batch.target.organisationId, rows.flatMap((row) => row.tags), randomUUID);
  const tagRows = rows.flatMap((row) => row.tags.map((name, position) => ({ secret_id: row.id, tag_id: tagIds.get(name)!, position })));
  await insertSecretTags(batch.trx, tagRows);
}

/** Saves the final state of updated secrets; tags are replaced only for the ids in `tagsChanged`. */
export async function saveSecrets(batch: BatchContext, rows: StoredSecret[], tagsChanged: ReadonlySet<string>): Promise<void> {
  const tagIds = await ensureTags(batch.trx, batch.target.organisationId, rows.flatMap((row) => (tagsChanged.has(row.id) ? row.tags : [])), randomUUID);
  for (const row of rows) {
    await batch.trx
      .updateTable('secrets')
      .set({ key: row.key, key_digest: row.key_digest, value: row.value, comment: row.comment, type: row.type, path: row.path, folder_id: row.folder_id, version: row.version, updated_at: row.updated_at })
      .where('id', '=', row.id)
      .where('environment_id', '=', batch.target.environmentId)
      .execute();
    if (tagsChanged.has(row.id)) await replaceSecretTags(batch.trx, row.id, row.tags.map((name) => tagIds.get(name)!));
  }
}

/** Creates or replaces personal overrides (one per secret and member). */
export async function upsertOverrides(batch: BatchContext, overrides: OverrideRow[]): Promise<void> {
  for (const o of overrides) {
    await batch.trx
      .insertInto('personal_overrides')
      .values({ id: o.id, organisation_id: batch.target.organisationId, secret_id: o.secretId, member_id: o.memberId, value: o.value, is_active: o.isActive, created_at: o.createdAt, updated_at: o.updatedAt })
      .onConflict((oc) => oc.columns(['secret_id', 'member_id']).doUpdateSet({ value: o.value, is_active: o.isActive, updated_at: o.updatedAt }))
      .execute();
  }
}

/** The member's current overrides of these secrets, by secret id. */
export async function findOverrides(batch: BatchContext, memberId: string, secretIds: string[]): Promise<Map<string, OverrideRow>> {
  if (secretIds.length === 0) return new Map();
  const rows = await batch.trx.selectFrom('personal_overrides').selectAll().where('member_id', '=', memberId).where('secret_id', 'in', secretIds).execute();
  return new Map(rows.map((r) => [r.secret_id, { id: r.id, secretId: r.secret_id, memberId, value: r.value, isActive: r.is_active, createdAt: r.created_at, updatedAt: r.updated_at }]));
}

export async function softDeleteSecrets(batch: BatchContext, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await batch.trx.updateTable('secrets').set({ deleted_at: batch.now }).where('environment_id', '=', batch.target.environmentId).where('id', 'in', ids).execute();
}
