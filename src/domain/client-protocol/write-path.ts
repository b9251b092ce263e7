// Ciphertext-in writes of the client protocol (crypto spec §4.5–§4.7). The same transaction shape
// as SecretWriter (secrets/write-path.ts): lock the environment, check duplicates against the
// database, write rows, bump the environment revision once and append one event per secret (the
// same event as a REST write), all or nothing. Unlike SecretWriter nothing is encrypted or digested
// here: the client did that, and its strings are stored verbatim.
import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../../store/database.js';
import { asUuid } from '../../store/directory.js';
import type { Ciphertext } from '../../store/secrets.table.js';
import {
  bumpEnvironmentRevision,
  ensureFolders,
  ensureTags,
  findLiveIdentities,
  findLiveSecretsByIds,
  lockEnvironment,
  replaceSecretTags,
  type StoredSecret,
} from '../../store/secrets.js';
import type { AuditTrail } from '../audit.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { Actor } from '../principal.js';
import { DUPLICATE_SECRET, secretEvent, type WriteResult, type WriteTarget } from '../secrets/write-path.js';
import { inTransaction, isUniqueViolation } from '../transactions.js';
import type { CiphertextCreateEntry, CiphertextUpdateEntry, OverrideCiphertext } from './validate.js';

export const SECRET_NOT_FOUND = 'Secret not found';

function identity(path: string, digest: string): string {
  return `${path}\u0000${digest}`;
}

export class CiphertextWriter {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** POST: new secrets at version 1; overrides are kept only for member (PAT) callers. */
  async create(actor: Actor, target: WriteTarget, entries: CiphertextCreateEntry[]): Promise<WriteResult<StoredSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    // Phase misses duplicates inside one batch; Coffer refuses them (spec §4.5).
    const seen = new Set<string>();
    for (const entry of entries) {
      const id = identity(entry.path, entry.keyDigest);
      if (seen.has(id)) throw conflict(DUPLICATE_SECRET);
      seen.add(id);
    }
    return this.#transaction(target, async (trx, revisionAfter) => {
      const existing = await findLiveIdentities(trx, target.environmentId, entries.map((e) => e.keyDigest));
      if (existing.some((row) => seen.has(identity(row.path, row.key_digest)))) throw conflict(DUPLICATE_SECRET);
      const tooLong = entries.find((entry) => entry.tooLongTag);
      if (tooLong) throw invalid(tooLong.tooLongTag!);

      const now = new Date();
      const folders = await ensureFolders(trx, target.organisationId, target.environmentId, entries.map((e) => e.path), randomUUID);
      const tagIds = await ensureTags(trx, target.organisationId, entries.flatMap((e) => e.tags), randomUUID);
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
        created_at: now,
        updated_at: now,
        tags: entry.tags,
      }));
      await trx
        .insertInto('secrets')
        .values(written.map((s) => ({ ...withoutTags(s), organisation_id: target.organisationId, deleted_at: null })))
        .execute();
      const tagRows = written.flatMap((s) => s.tags.map((name, position) => ({ secret_id: s.id, tag_id: tagIds.get(name)!, position })));
      if (tagRows.length > 0) await trx.insertInto('secret_tags').values(tagRows).execute();
      if (memberId) {
        const overrides = entries.flatMap((entry, index) => (entry.override ? [overrideRow(target, written[index]!.id, memberId, entry.override, now)] : []));
        if (overrides.length > 0) await trx.insertInto('personal_overrides').values(overrides).execute();
      }
      const revision = await revisionAfter(now);
      await this.audit.append(trx, written.map((s) => ({ organisationId: target.organisationId, actor, event: secretEvent('create', target, revision, s), at: now })));
      return written;
    });
  }

  /**
   * PUT: entries apply in order, each +1 version. Every id must be a live secret of this very
   * environment (404 otherwise, nothing written): Phase looks ids up anywhere (spec §8.6), Coffer
   * never touches a secret outside the environment the request was authorised for.
   */
  async update(actor: Actor, target: WriteTarget, entries: CiphertextUpdateEntry[]): Promise<WriteResult<StoredSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    return this.#transaction(target, async (trx, revisionAfter) => {
      const ids = [...new Set(entries.map((e) => asUuid(e.id)).filter((id): id is string => id !== undefined))];
      const current = new Map((await findLiveSecretsByIds(trx, target.environmentId, ids)).map((row) => [row.id, row]));
      for (const entry of entries) {
        const id = asUuid(entry.id);
        if (!id || !current.has(id)) throw notFound(`${SECRET_NOT_FOUND}: ${entry.id}`);
        if (entry.tooLongTag) throw invalid(entry.tooLongTag);
      }

      const now = new Date();
      const results: StoredSecret[] = [];
      const tagsChanged = new Set<string>();
      const overrides = new Map<string, OverrideCiphertext>();
      for (const entry of entries) {
        const id = asUuid(entry.id)!;
        const before = current.get(id)!;
        if (before.type === 'sealed' && entry.type !== undefined && entry.type !== 'sealed') {
          throw invalid('Sealed secrets cannot be unsealed. Delete and recreate the secret instead.');
        }
        const next: StoredSecret = { ...before, version: before.version + 1, updated_at: now };
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
          next.tags = entry.tags;
          tagsChanged.add(id);
        }
        if (memberId && entry.override) overrides.set(id, entry.override);
        current.set(id, next);
        results.push(next);
      }
      await this.#checkDuplicates(trx, target, [...new Set(results.map((r) => r.id))].map((id) => current.get(id)!));

      const folders = await ensureFolders(trx, target.organisationId, target.environmentId, results.map((s) => s.path), randomUUID);
      const tagIds = await ensureTags(trx, target.organisationId, results.flatMap((s) => (tagsChanged.has(s.id) ? s.tags : [])), randomUUID);
      for (const s of results) s.folder_id = folders.get(s.path) ?? null;
      for (const id of new Set(results.map((r) => r.id))) {
        const s = current.get(id)!;
        await trx
          .updateTable('secrets')
          .set({ key: s.key, key_digest: s.key_digest, value: s.value, comment: s.comment, type: s.type, path: s.path, folder_id: s.folder_id, version: s.version, updated_at: now })
          .where('id', '=', id)
          .where('environment_id', '=', target.environmentId)
          .execute();
        if (tagsChanged.has(id)) await replaceSecretTags(trx, id, s.tags.map((name) => tagIds.get(name)!));
        const override = overrides.get(id);
        if (override && memberId) {
          await trx
            .insertInto('personal_overrides')
            .values(overrideRow(target, id, memberId, override, now))
            .onConflict((oc) => oc.columns(['secret_id', 'member_id']).doUpdateSet({ value: override.value, is_active: override.isActive, updated_at: now }))
            .execute();
        }
      }
      const revision = await revisionAfter(now);
      // One event per entry, each showing the state it left behind (as REST updates do).
      const events = results.map((s) => ({ organisationId: target.organisationId, actor, event: secretEvent('update', target, revision, s), at: now }));
      await this.audit.append(trx, events);
      return results;
    });
  }

  /**
   * DELETE: soft-deletes the live secrets of this environment among `ids`. Ids of other
   * environments or organisations, unknown ids and ids already deleted change nothing and are not
   * an error: Phase answers 200 "also when nothing matched" (spec §4.7), and the Node SDK's
   * delete() resolves only on 200. Returns the secrets deleted.
   */
  async delete(actor: Actor, target: WriteTarget, ids: string[]): Promise<WriteResult<StoredSecret[]>> {
    return this.#transaction(target, async (trx, revisionAfter) => {
      const valid = [...new Set(ids.map(asUuid).filter((id): id is string => id !== undefined))];
      const live = await findLiveSecretsByIds(trx, target.environmentId, valid);
      if (live.length === 0) return live;
      const now = new Date();
      await trx
        .updateTable('secrets')
        .set({ deleted_at: now })
        .where('environment_id', '=', target.environmentId)
        .where('id', 'in', live.map((row) => row.id))
        .execute();
      const revision = await revisionAfter(now);
      await this.audit.append(trx, live.map((row) => ({ organisationId: target.organisationId, actor, event: secretEvent('delete', target, revision, row), at: now })));
      return live;
    });
  }

  /** Each secret's final identity (path, digest) must not be another live secret's, nor another entry's. */
  async #checkDuplicates(trx: Tx, target: WriteTarget, finals: StoredSecret[]): Promise<void> {
    const owners = new Map<string, string>();
    for (const s of finals) {
      const id = identity(s.path, s.key_digest);
      const owner = owners.get(id);
      if (owner !== undefined && owner !== s.id) throw conflict(DUPLICATE_SECRET);
      owners.set(id, s.id);
    }
    const live = await findLiveIdentities(trx, target.environmentId, finals.map((s) => s.key_digest));
    for (const row of live) {
      const owner = owners.get(identity(row.path, row.key_digest));
      if (owner !== undefined && owner !== row.id) throw conflict(DUPLICATE_SECRET);
    }
  }

  /**
   * `work` runs with the environment locked; `revisionAfter` bumps the revision once. A work that
   * changes nothing does not call it, and the result's revision is 0.
   */
  async #transaction<T>(target: WriteTarget, work: (trx: Tx, revisionAfter: (at: Date) => Promise<number>) => Promise<T>): Promise<WriteResult<T>> {
    try {
      return await inTransaction(this.db, async ({ trx }) => {
        if ((await lockEnvironment(trx, target.organisationId, target.environmentId)) === undefined) throw notFound('Environment not found');
        let revision = 0;
        const result = await work(trx, async (at) => (revision = await bumpEnvironmentRevision(trx, target.environmentId, at)));
        return { result, revision };
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(DUPLICATE_SECRET);
      throw error;
    }
  }
}

function withoutTags(s: StoredSecret) {
  const { tags: _tags, ...row } = s;
  return row;
}

function overrideRow(target: WriteTarget, secretId: string, memberId: string, o: OverrideCiphertext, at: Date) {
  return {
    id: randomUUID(),
    organisation_id: target.organisationId,
    secret_id: secretId,
    member_id: memberId,
    value: o.value as Ciphertext,
    is_active: o.isActive,
    created_at: at,
    updated_at: at,
  };
}
