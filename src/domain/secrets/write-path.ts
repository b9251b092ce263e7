// Writes of secrets: every batch is one transaction (all or nothing, DEVIATION D-16) that locks
// the environment, checks what needs the database, writes rows, bumps the environment's revision
// and appends one event per change. Plaintext exists only in memory; rows get ciphertext.
import { randomUUID } from 'node:crypto';
import type { EnvironmentCipher } from '../../crypto/index.js';
import type { Db, Tx } from '../../store/database.js';
import { asUuid } from '../../store/directory.js';
import type { Ciphertext, SecretType } from '../../store/secrets.table.js';
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
import type { AuditTrail, NewEvent } from '../audit.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { Actor } from '../principal.js';
import { inTransaction, isUniqueViolation } from '../transactions.js';
import type { CreateEntry, OverrideInput, UpdateEntry } from './validate.js';

export const DUPLICATE_SECRET = 'Duplicate secret found';

/** A secret's state right after a write entry was applied (what the response shows). */
export interface WrittenSecret {
  id: string;
  environmentId: string;
  folderId: string | null;
  path: string;
  keyDigest: string;
  key: string;
  value: string;
  comment: string;
  ciphertext: { key: Ciphertext; value: Ciphertext; comment: Ciphertext };
  type: SecretType;
  version: number;
  tags: string[];
  createdAt: Date;
  updatedAt: Date;
  override: WrittenOverride | null;
}

export interface WrittenOverride {
  id: string;
  memberId: string;
  value: string;
  valueCiphertext: Ciphertext;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface WriteTarget {
  organisationId: string;
  appId: string;
  environmentId: string;
}

export interface WriteResult<T> {
  result: T;
  revision: number;
}

function identity(path: string, digest: string): string {
  return `${path}\u0000${digest}`;
}

export function secretEvent(action: 'create' | 'update' | 'delete', target: WriteTarget, revision: number, s: WrittenSecret | StoredSecret): NewEvent {
  const written = 'keyDigest' in s;
  return {
    kind: 'secret',
    action,
    appId: target.appId,
    environmentId: target.environmentId,
    environmentRevision: revision,
    secretId: s.id,
    snapshot: {
      key: written ? s.ciphertext.key : s.key,
      value: written ? s.ciphertext.value : s.value,
      comment: written ? s.ciphertext.comment : s.comment,
      keyDigest: written ? s.keyDigest : s.key_digest,
      path: s.path,
      folder: written ? s.folderId : s.folder_id,
      version: s.version,
      type: s.type,
      tags: s.tags,
    },
  };
}

export class SecretWriter {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** POST /v1/secrets/ (rest-api §4.3). */
  async create(actor: Actor, target: WriteTarget, cipher: EnvironmentCipher, entries: CreateEntry[]): Promise<WriteResult<WrittenSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    const digests = entries.map((entry) => cipher.keyDigest(entry.key));
    // Duplicates inside the request (DEVIATION D-12).
    const seen = new Set<string>();
    for (const [index, entry] of entries.entries()) {
      const id = identity(entry.path, digests[index]!);
      if (seen.has(id)) throw conflict(DUPLICATE_SECRET);
      seen.add(id);
    }
    return this.#transaction(target, async (trx, revisionAfter) => {
      const existing = await findLiveIdentities(trx, target.environmentId, digests);
      if (existing.some((row) => seen.has(identity(row.path, row.key_digest)))) throw conflict(DUPLICATE_SECRET);
      const tooLong = entries.find((entry) => entry.tooLongTag);
      if (tooLong) throw invalid(tooLong.tooLongTag!);

      const now = new Date();
      const folders = await ensureFolders(trx, target.organisationId, target.environmentId, entries.map((e) => e.path), randomUUID);
      const tagIds = await ensureTags(trx, target.organisationId, entries.flatMap((e) => e.tags), randomUUID);
      const written: WrittenSecret[] = entries.map((entry, index) => {
        const ciphertext = {
          key: cipher.encryptField(entry.key),
          value: cipher.encryptField(entry.value),
          comment: entry.comment === '' ? ('' as Ciphertext) : cipher.encryptField(entry.comment),
        };
        const override = memberId && entry.override ? this.#newOverride(cipher, memberId, entry.override, now) : null;
        return {
          id: randomUUID(),
          environmentId: target.environmentId,
          folderId: folders.get(entry.path) ?? null,
          path: entry.path,
          keyDigest: digests[index]!,
          key: entry.key,
          value: entry.value,
          comment: entry.comment,
          ciphertext,
          type: entry.type,
          version: 1,
          tags: entry.tags,
          createdAt: now,
          updatedAt: now,
          override,
        };
      });
      await trx
        .insertInto('secrets')
        .values(
          written.map((s) => ({
            id: s.id,
            organisation_id: target.organisationId,
            environment_id: target.environmentId,
            folder_id: s.folderId,
            path: s.path,
            key_digest: s.keyDigest,
            key: s.ciphertext.key,
            value: s.ciphertext.value,
            comment: s.ciphertext.comment,
            type: s.type,
            version: 1,
            created_at: now,
            updated_at: now,
            deleted_at: null,
          })),
        )
        .execute();
      const tagRows = written.flatMap((s) => s.tags.map((name, position) => ({ secret_id: s.id, tag_id: tagIds.get(name)!, position })));
      if (tagRows.length > 0) await trx.insertInto('secret_tags').values(tagRows).execute();
      const overrides = written.filter((s) => s.override);
      if (overrides.length > 0) {
        await trx.insertInto('personal_overrides').values(overrides.map((s) => this.#overrideRow(target, s.id, s.override!))).execute();
      }
      const revision = await revisionAfter(now);
      await this.audit.append(trx, written.map((s) => ({ organisationId: target.organisationId, actor, event: secretEvent('create', target, revision, s), at: now })));
      return written;
    });
  }

  /** PUT /v1/secrets/ (rest-api §4.4): entries apply in order, each one +1 version. */
  async update(actor: Actor, target: WriteTarget, cipher: EnvironmentCipher, entries: UpdateEntry[]): Promise<WriteResult<WrittenSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    return this.#transaction(target, async (trx, revisionAfter) => {
      const ids = [...new Set(entries.map((e) => asUuid(e.id)).filter((id): id is string => id !== undefined))];
      const stored = new Map((await findLiveSecretsByIds(trx, target.environmentId, ids)).map((row) => [row.id, row]));
      const current = new Map<string, WrittenSecret>();
      for (const row of stored.values()) current.set(row.id, this.#fromStored(row, cipher));

      await this.#checkUpdateDuplicates(trx, target, cipher, entries, current);

      // Step 5, entry by entry, on the state the previous entries leave behind.
      const simulatedType = new Map([...current].map(([id, s]) => [id, s.type]));
      for (const entry of entries) {
        const id = asUuid(entry.id);
        if (!id || !current.has(id)) throw notFound(`Secret not found: ${entry.id}`);
        const storedType = simulatedType.get(id)!;
        if (storedType === 'sealed' && entry.type !== undefined && entry.type !== 'sealed') {
          throw invalid('Sealed secrets cannot be unsealed. Delete and recreate the secret instead.');
        }
        if (entry.tooLongTag) throw invalid(entry.tooLongTag);
        if (entry.type !== undefined) simulatedType.set(id, entry.type);
      }

      const now = new Date();
      const folders = await ensureFolders(trx, target.organisationId, target.environmentId, entries.flatMap((e) => (e.path ? [e.path] : [])), randomUUID);
      const tagIds = await ensureTags(trx, target.organisationId, entries.flatMap((e) => e.tags ?? []), randomUUID);
      const overrides = memberId ? await this.#loadOverrides(trx, memberId, ids, cipher) : new Map<string, WrittenOverride>();
      const results: WrittenSecret[] = [];
      const tagsChanged = new Set<string>();
      const overridesChanged = new Set<string>();
      for (const entry of entries) {
        const id = asUuid(entry.id)!;
        const before = current.get(id)!;
        const next: WrittenSecret = { ...before, ciphertext: { ...before.ciphertext }, version: before.version + 1, updatedAt: now };
        if (entry.key !== undefined) {
          next.key = entry.key;
          next.keyDigest = cipher.keyDigest(entry.key);
          next.ciphertext.key = cipher.encryptField(entry.key);
        }
        // A sealed secret keeps its value (§5.6); sealing applies from the next write on.
        if (entry.value !== undefined && before.type !== 'sealed') {
          next.value = entry.value;
          next.ciphertext.value = cipher.encryptField(entry.value);
        }
        if (entry.comment !== undefined) {
          next.comment = entry.comment;
          next.ciphertext.comment = entry.comment === '' ? ('' as Ciphertext) : cipher.encryptField(entry.comment);
        }
        if (entry.type !== undefined) next.type = entry.type;
        if (entry.path !== undefined) {
          next.path = entry.path;
          next.folderId = folders.get(entry.path) ?? null;
        }
        if (entry.tags !== undefined) {
          next.tags = entry.tags;
          tagsChanged.add(id);
        }
        if (memberId && entry.override) {
          const existing = overrides.get(id);
          const override: WrittenOverride = existing
            ? { ...existing, value: entry.override.value, valueCiphertext: cipher.encryptField(entry.override.value), isActive: entry.override.isActive, updatedAt: now }
            : this.#newOverride(cipher, memberId, entry.override, now);
          overrides.set(id, override);
          overridesChanged.add(id);
        }
        next.override = memberId ? (overrides.get(id) ?? null) : null;
        current.set(id, next);
        results.push(next);
      }

      for (const id of new Set(results.map((r) => r.id))) {
        const s = current.get(id)!;
        await trx
          .updateTable('secrets')
          .set({ key: s.ciphertext.key, key_digest: s.keyDigest, value: s.ciphertext.value, comment: s.ciphertext.comment, type: s.type, path: s.path, folder_id: s.folderId, version: s.version, updated_at: now })
          .where('id', '=', id)
          .where('environment_id', '=', target.environmentId)
          .execute();
        if (tagsChanged.has(id)) await replaceSecretTags(trx, id, s.tags.map((name) => tagIds.get(name)!));
        if (overridesChanged.has(id)) {
          const o = overrides.get(id)!;
          await trx
            .insertInto('personal_overrides')
            .values(this.#overrideRow(target, id, o))
            .onConflict((oc) => oc.columns(['secret_id', 'member_id']).doUpdateSet({ value: o.valueCiphertext, is_active: o.isActive, updated_at: o.updatedAt }))
            .execute();
        }
      }
      const revision = await revisionAfter(now);
      await this.audit.append(trx, results.map((s) => ({ organisationId: target.organisationId, actor, event: secretEvent('update', target, revision, s), at: now })));
      return results;
    });
  }

  /** DELETE /v1/secrets/ (rest-api §4.5): soft deletion; returns the number of distinct secrets. */
  async delete(actor: Actor, target: WriteTarget, ids: string[]): Promise<WriteResult<number>> {
    return this.#transaction(target, async (trx, revisionAfter) => {
      const valid = [...new Set(ids.map(asUuid).filter((id): id is string => id !== undefined))];
      const live = new Map((await findLiveSecretsByIds(trx, target.environmentId, valid)).map((row) => [row.id, row]));
      const missing = ids.filter((id) => !live.has(asUuid(id) ?? ''));
      if (missing.length > 0) throw notFound(`Secret(s) not found in this environment: ${missing.join(', ')}`);
      const now = new Date();
      await trx.updateTable('secrets').set({ deleted_at: now }).where('environment_id', '=', target.environmentId).where('id', 'in', [...live.keys()]).execute();
      const revision = await revisionAfter(now);
      await this.audit.append(trx, [...live.values()].map((row) => ({ organisationId: target.organisationId, actor, event: secretEvent('delete', target, revision, row), at: now })));
      return live.size;
    });
  }

  /**
   * Runs `work` with the environment locked; `revisionAfter` bumps the revision once. A unique
   * violation (a concurrent create of the same key) is the same 409 as a detected duplicate.
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

  /**
   * DEVIATION D-15: every entry's effective identity (new or current key, new or current path) must
   * not equal a live secret other than itself, nor another entry's for a different secret.
   */
  async #checkUpdateDuplicates(trx: Tx, target: WriteTarget, cipher: EnvironmentCipher, entries: UpdateEntry[], current: Map<string, WrittenSecret>): Promise<void> {
    const working = new Map<string, { path: string; digest: string }>();
    for (const [id, s] of current) working.set(id, { path: s.path, digest: s.keyDigest });
    const effective: Array<{ id: string; identity: string; digest: string }> = [];
    for (const entry of entries) {
      const id = asUuid(entry.id) ?? entry.id;
      const state = working.get(id);
      if (!state && entry.key === undefined) continue;
      const digest = entry.key !== undefined ? cipher.keyDigest(entry.key) : state!.digest;
      const path = entry.path ?? state?.path ?? '/';
      if (state) working.set(id, { path, digest });
      effective.push({ id, identity: identity(path, digest), digest });
    }
    const owners = new Map<string, string>();
    for (const e of effective) {
      const owner = owners.get(e.identity);
      if (owner !== undefined && owner !== e.id) throw conflict(DUPLICATE_SECRET);
      owners.set(e.identity, e.id);
    }
    const live = await findLiveIdentities(trx, target.environmentId, effective.map((e) => e.digest));
    for (const row of live) {
      const owner = owners.get(identity(row.path, row.key_digest));
      if (owner !== undefined && owner !== row.id) throw conflict(DUPLICATE_SECRET);
    }
  }

  #fromStored(row: StoredSecret, cipher: EnvironmentCipher): WrittenSecret {
    return {
      id: row.id,
      environmentId: row.environment_id,
      folderId: row.folder_id,
      path: row.path,
      keyDigest: row.key_digest,
      key: cipher.decryptField(row.key),
      value: cipher.decryptField(row.value),
      comment: cipher.decryptOptionalField(row.comment),
      ciphertext: { key: row.key, value: row.value, comment: row.comment },
      type: row.type,
      version: row.version,
      tags: row.tags,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      override: null,
    };
  }

  #newOverride(cipher: EnvironmentCipher, memberId: string, input: OverrideInput, now: Date): WrittenOverride {
    return { id: randomUUID(), memberId, value: input.value, valueCiphertext: cipher.encryptField(input.value), isActive: input.isActive, createdAt: now, updatedAt: now };
  }

  #overrideRow(target: WriteTarget, secretId: string, o: WrittenOverride) {
    return {
      id: o.id,
      organisation_id: target.organisationId,
      secret_id: secretId,
      member_id: o.memberId,
      value: o.valueCiphertext,
      is_active: o.isActive,
      created_at: o.createdAt,
      updated_at: o.updatedAt,
    };
  }

  async #loadOverrides(trx: Tx, memberId: string, secretIds: string[], cipher: EnvironmentCipher): Promise<Map<string, WrittenOverride>> {
    if (secretIds.length === 0) return new Map();
    const rows = await trx.selectFrom('personal_overrides').selectAll().where('member_id', '=', memberId).where('secret_id', 'in', secretIds).execute();
    return new Map(
      rows.map((row) => [
        row.secret_id,
        { id: row.id, memberId, value: cipher.decryptOptionalField(row.value), valueCiphertext: row.value, isActive: row.is_active, createdAt: row.created_at, updatedAt: row.updated_at },
      ]),
    );
  }
}
