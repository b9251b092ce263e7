// Ciphertext-in writes of the client protocol (crypto spec §4.5–§4.7), through the same batch
// storage as REST writes (secrets/batch.ts): environment locked, duplicates checked against the
// database, one revision bump, one event per secret, all or nothing. Nothing is encrypted or
// digested here: the client did that, and its strings are stored verbatim.
import { randomUUID } from 'node:crypto';
import type { Db } from '../../store/database.js';
import { asUuid } from '../../store/directory.js';
import { findLiveSecretsByIds, type StoredSecret } from '../../store/secrets.js';
import type { AuditTrail } from '../audit.js';
import { invalid, notFound } from '../errors.js';
import type { Actor } from '../principal.js';
import {
  assertNoDuplicates,
  foldersFor,
  inLockedEnvironment,
  insertNewSecrets,
  saveSecrets,
  softDeleteSecrets,
  upsertOverrides,
  type OverrideRow,
  type WriteResult,
  type WriteTarget,
} from '../secrets/batch.js';
import type { CiphertextCreateEntry, CiphertextUpdateEntry, OverrideCiphertext } from './validate.js';
import { reassignedTags } from '../secrets/tags.js';

export const SECRET_NOT_FOUND = 'Secret not found';

function overrideRow(secretId: string, memberId: string, o: OverrideCiphertext, at: Date): OverrideRow {
  return { id: randomUUID(), secretId, memberId, value: o.value, isActive: o.isActive, createdAt: at, updatedAt: at };
}

export class CiphertextWriter {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** POST: new secrets at version 1; overrides are kept only for member (PAT) callers. */
  create(actor: Actor, target: WriteTarget, entries: CiphertextCreateEntry[]): Promise<WriteResult<StoredSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    return inLockedEnvironment(this.db, this.audit, actor, target, async (batch) => {
      const folders = await foldersFor(batch, entries.map((e) => e.path));
      const written: StoredSecret[] = entries.map((entry) => ({
        id: randomUUID(),
        environment_id: target.environmentId,
        folder_id: folders.get(entry.path) ?? null,
        path: entry.path,
        key_digest: entry.keyDigest,
        key: entry.key,
        value: entry.value,
        comment: entry.comment,
        type: entry.type,
        version: 1,
        created_at: batch.now,
        updated_at: batch.now,
        tags: entry.tags,
      }));
      // Phase misses duplicates inside one batch; Coffer refuses them too (spec §4.5).
      await insertNewSecrets(batch, written, entries.find((entry) => entry.tooLongTag)?.tooLongTag);
      if (memberId) {
        await upsertOverrides(batch, entries.flatMap((entry, index) => (entry.override ? [overrideRow(written[index]!.id, memberId, entry.override, batch.now)] : [])));
      }
      return { result: written, changes: written.map((row) => ({ action: 'create' as const, row })) };
    });
  }

  /**
   * PUT: entries apply in order, each +1 version. Every id must be a live secret of this very
   * environment (404 otherwise, nothing written): Phase looks ids up anywhere (spec §8.6), Coffer
   * never touches a secret outside the environment the request was authorised for.
   */
  update(actor: Actor, target: WriteTarget, entries: CiphertextUpdateEntry[]): Promise<WriteResult<StoredSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    return inLockedEnvironment(this.db, this.audit, actor, target, async (batch) => {
      const ids = [...new Set(entries.map((e) => asUuid(e.id)).filter((id): id is string => id !== undefined))];
      const current = new Map((await findLiveSecretsByIds(batch.trx, target.environmentId, ids)).map((row) => [row.id, row]));
      for (const entry of entries) {
        const id = asUuid(entry.id);
        if (!id || !current.has(id)) throw notFound(`${SECRET_NOT_FOUND}: ${entry.id}`);
        if (entry.tooLongTag) throw invalid(entry.tooLongTag);
      }

      const results: StoredSecret[] = [];
      const tagsChanged = new Set<string>();
      const overrides = new Map<string, OverrideRow>();
      for (const entry of entries) {
        const id = asUuid(entry.id)!;
        const before = current.get(id)!;
        if (before.type === 'sealed' && entry.type !== undefined && entry.type !== 'sealed') {
          throw invalid('Sealed secrets cannot be unsealed. Delete and recreate the secret instead.');
        }
        const next: StoredSecret = { ...before, version: before.version + 1, updated_at: batch.now };
        if (entry.key) {
          next.key = entry.key.ciphertext;
          next.key_digest = entry.key.keyDigest;
        }
        // A sealed secret keeps its value (rest-api §5.6; Phase does the same on this endpoint).
        if (entry.value !== undefined && before.type !== 'sealed') next.value = entry.value;
        if (entry.comment !== undefined) next.comment = entry.comment;
        if (entry.type !== undefined) next.type = entry.type;
        if (entry.path !== undefined) next.path = entry.path;
        if (entry.tags !== undefined) {
          next.tags = reassignedTags(next.tags, entry.tags);
          tagsChanged.add(id);
        }
        if (memberId && entry.override) overrides.set(id, overrideRow(id, memberId, entry.override, batch.now));
        current.set(id, next);
        results.push(next);
      }
      const finals = [...new Set(results.map((r) => r.id))].map((id) => current.get(id)!);
      await assertNoDuplicates(batch, finals.map((s) => ({ owner: s.id, path: s.path, digest: s.key_digest })));
      const folders = await foldersFor(batch, results.map((s) => s.path));
      for (const s of results) s.folder_id = folders.get(s.path) ?? null;
      await saveSecrets(batch, finals, tagsChanged);
      await upsertOverrides(batch, [...overrides.values()]);
      // One event per entry, each showing the state it left behind (as REST updates do).
      return { result: results, changes: results.map((row) => ({ action: 'update' as const, row })) };
    });
  }

  /**
   * DELETE: soft-deletes the live secrets of this environment among `ids`. Ids of other
   * environments or organisations, unknown ids and ids already deleted change nothing and are not
   * an error: Phase answers 200 "also when nothing matched" (spec §4.7), and the Node SDK's
   * delete() resolves only on 200. Returns the secrets deleted.
   */
  delete(actor: Actor, target: WriteTarget, ids: string[]): Promise<WriteResult<StoredSecret[]>> {
    return inLockedEnvironment(this.db, this.audit, actor, target, async (batch) => {
      const valid = [...new Set(ids.map(asUuid).filter((id): id is string => id !== undefined))];
      const live = await findLiveSecretsByIds(batch.trx, target.environmentId, valid);
      await softDeleteSecrets(batch, live.map((row) => row.id));
      return { result: live, changes: live.map((row) => ({ action: 'delete' as const, row })) };
    });
  }
}
