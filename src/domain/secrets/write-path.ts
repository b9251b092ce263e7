// Writes of secrets through the REST API: plaintext in, encrypted here under the environment key,
// stored through the shared batch storage (batch.ts). Plaintext exists only in memory.
import { randomUUID } from 'node:crypto';
import type { EnvironmentCipher } from '../../crypto/index.js';
import type { Db } from '../../store/database.js';
import { asUuid } from '../../store/directory.js';
import type { Ciphertext } from '../../store/secrets.table.js';
import { findLiveSecretsByIds, type StoredSecret } from '../../store/secrets.js';
import type { AuditTrail } from '../audit.js';
import { invalid, notFound } from '../errors.js';
import type { Actor } from '../principal.js';
import {
  assertNoDuplicates,
  findOverrides,
  foldersFor,
  inLockedEnvironment,
  insertNewSecrets,
  saveSecrets,
  softDeleteSecrets,
  upsertOverrides,
  type OverrideRow,
  type WriteResult,
  type WriteTarget,
} from './batch.js';
import type { CreateEntry, OverrideInput, UpdateEntry } from './validate.js';
import { reassignedTags } from './tags.js';

export { DUPLICATE_SECRET, type WriteResult, type WriteTarget } from './batch.js';

/** A secret's state right after a write entry was applied (what the response shows). */
export interface WrittenSecret {
  /** As stored: ciphertexts. */
  row: StoredSecret;
  key: string;
  value: string;
  comment: string;
  override: WrittenOverride | null;
}

export interface WrittenOverride {
  row: OverrideRow;
  /** Plaintext of row.value. */
  value: string;
}

function encryptComment(cipher: EnvironmentCipher, comment: string): Ciphertext {
  return comment === '' ? ('' as Ciphertext) : cipher.encryptField(comment);
}

export class SecretWriter {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** POST /v1/secrets/ (rest-api §4.3). */
  create(actor: Actor, target: WriteTarget, cipher: EnvironmentCipher, entries: CreateEntry[]): Promise<WriteResult<WrittenSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    const digests = entries.map((entry) => cipher.keyDigest(entry.key));
    return inLockedEnvironment(this.db, this.audit, actor, target, async (batch) => {
      const folders = await foldersFor(batch, entries.map((e) => e.path));
      const written: WrittenSecret[] = entries.map((entry, index) => {
        const id = randomUUID();
        return {
          row: {
            id,
            environment_id: target.environmentId,
            folder_id: folders.get(entry.path) ?? null,
            path: entry.path,
            key_digest: digests[index]!,
            key: cipher.encryptField(entry.key),
            value: cipher.encryptField(entry.value),
            comment: encryptComment(cipher, entry.comment),
            type: entry.type,
            version: 1,
            created_at: batch.now,
            updated_at: batch.now,
            tags: entry.tags,
          },
          key: entry.key,
          value: entry.value,
          comment: entry.comment,
          override: memberId && entry.override ? newOverride(cipher, id, memberId, entry.override, batch.now) : null,
        };
      });
      // Duplicates inside the request and against the environment (DEVIATION D-12), then tags (step 5).
      const writing = (async () => {
        await insertNewSecrets(batch, written.map((s) => s.row), entries.find((entry) => entry.tooLongTag)?.tooLongTag);
        await upsertOverrides(batch, written.flatMap((s) => (s.override ? [s.override.row] : [])));
      })();
      return { result: written, changes: written.map((s) => ({ action: 'create' as const, row: s.row })), writing };
    });
  }

  /** PUT /v1/secrets/ (rest-api §4.4): entries apply in order, each one +1 version. */
  update(actor: Actor, target: WriteTarget, cipher: EnvironmentCipher, entries: UpdateEntry[]): Promise<WriteResult<WrittenSecret[]>> {
    const memberId = actor.principal.kind === 'member' ? actor.principal.memberId : null;
    return inLockedEnvironment(this.db, this.audit, actor, target, async (batch) => {
      const ids = [...new Set(entries.map((e) => asUuid(e.id)).filter((id): id is string => id !== undefined))];
      const current = new Map<string, WrittenSecret>();
      for (const row of await findLiveSecretsByIds(batch.trx, target.environmentId, ids)) current.set(row.id, fromStored(row, cipher));

      // Step 4 (DEVIATION D-15) runs before the existence checks of step 5, as in Phase.
      await assertNoDuplicates(batch, effectiveIdentities(cipher, entries, current));

      // Step 5, entry by entry, on the state the previous entries leave behind.
      const simulatedType = new Map([...current].map(([id, s]) => [id, s.row.type]));
      for (const entry of entries) {
        const id = asUuid(entry.id);
        if (!id || !current.has(id)) throw notFound(`Secret not found: ${entry.id}`);
        if (simulatedType.get(id) === 'sealed' && entry.type !== undefined && entry.type !== 'sealed') {
          throw invalid('Sealed secrets cannot be unsealed. Delete and recreate the secret instead.');
        }
        if (entry.tooLongTag) throw invalid(entry.tooLongTag);
        if (entry.type !== undefined) simulatedType.set(id, entry.type);
      }

      const now = batch.now;
      const folders = await foldersFor(batch, entries.flatMap((e) => (e.path ? [e.path] : [])));
      const overrides = new Map<string, WrittenOverride>();
      if (memberId) {
        for (const [secretId, row] of await findOverrides(batch, memberId, ids)) overrides.set(secretId, { row, value: cipher.decryptOptionalField(row.value) });
      }
      const results: WrittenSecret[] = [];
      const tagsChanged = new Set<string>();
      const overridesChanged = new Set<string>();
      for (const entry of entries) {
        const id = asUuid(entry.id)!;
        const before = current.get(id)!;
        const next: WrittenSecret = { ...before, row: { ...before.row, version: before.row.version + 1, updated_at: now } };
        if (entry.key !== undefined) {
          next.key = entry.key;
          next.row.key_digest = cipher.keyDigest(entry.key);
          next.row.key = cipher.encryptField(entry.key);
        }
        // A sealed secret keeps its value (§5.6); sealing applies from the next write on.
        if (entry.value !== undefined && before.row.type !== 'sealed') {
          next.value = entry.value;
          next.row.value = cipher.encryptField(entry.value);
        }
        if (entry.comment !== undefined) {
          next.comment = entry.comment;
          next.row.comment = encryptComment(cipher, entry.comment);
        }
        if (entry.type !== undefined) next.row.type = entry.type;
        if (entry.path !== undefined) {
          next.row.path = entry.path;
          next.row.folder_id = folders.get(entry.path) ?? null;
        }
        if (entry.tags !== undefined) {
          next.row.tags = reassignedTags(next.row.tags, entry.tags);
          tagsChanged.add(id);
        }
        if (memberId && entry.override) {
          const existing = overrides.get(id);
          overrides.set(
            id,
            existing
              ? { row: { ...existing.row, value: cipher.encryptField(entry.override.value), isActive: entry.override.isActive, updatedAt: now }, value: entry.override.value }
              : newOverride(cipher, id, memberId, entry.override, now),
          );
          overridesChanged.add(id);
        }
        next.override = memberId ? (overrides.get(id) ?? null) : null;
        current.set(id, next);
        results.push(next);
      }
      await saveSecrets(batch, [...new Set(results.map((r) => r.row.id))].map((id) => current.get(id)!.row), tagsChanged);
      await upsertOverrides(batch, [...overridesChanged].map((id) => overrides.get(id)!.row));
      return { result: results, changes: results.map((s) => ({ action: 'update' as const, row: s.row })) };
    });
  }

  /** DELETE /v1/secrets/ (rest-api §4.5): soft deletion; returns the number of distinct secrets. */
  delete(actor: Actor, target: WriteTarget, ids: string[]): Promise<WriteResult<number>> {
    return inLockedEnvironment(this.db, this.audit, actor, target, async (batch) => {
      const valid = [...new Set(ids.map(asUuid).filter((id): id is string => id !== undefined))];
      const live = new Map((await findLiveSecretsByIds(batch.trx, target.environmentId, valid)).map((row) => [row.id, row]));
      const missing = ids.filter((id) => !live.has(asUuid(id) ?? ''));
      if (missing.length > 0) throw notFound(`Secret(s) not found in this environment: ${missing.join(', ')}`);
      await softDeleteSecrets(batch, [...live.keys()]);
      return { result: live.size, changes: [...live.values()].map((row) => ({ action: 'delete' as const, row })) };
    });
  }
}

/**
 * DEVIATION D-15: every entry's effective identity (new or current key, new or current path); an
 * entry whose id names no live secret is checked with its own key and path (`/` when absent).
 */
function effectiveIdentities(cipher: EnvironmentCipher, entries: UpdateEntry[], current: Map<string, WrittenSecret>) {
  const working = new Map<string, { path: string; digest: string }>();
  for (const [id, s] of current) working.set(id, { path: s.row.path, digest: s.row.key_digest });
  const claims: Array<{ owner: string; path: string; digest: string }> = [];
  for (const entry of entries) {
    const owner = asUuid(entry.id) ?? entry.id;
    const state = working.get(owner);
    if (!state && entry.key === undefined) continue;
    const digest = entry.key !== undefined ? cipher.keyDigest(entry.key) : state!.digest;
    const path = entry.path ?? state?.path ?? '/';
    if (state) working.set(owner, { path, digest });
    claims.push({ owner, path, digest });
  }
  return claims;
}

function fromStored(row: StoredSecret, cipher: EnvironmentCipher): WrittenSecret {
  return {
    row,
    key: cipher.decryptField(row.key),
    value: cipher.decryptField(row.value),
    comment: cipher.decryptOptionalField(row.comment),
    override: null,
  };
}

function newOverride(cipher: EnvironmentCipher, secretId: string, memberId: string, input: OverrideInput, now: Date): WrittenOverride {
  return {
    row: { id: randomUUID(), secretId, memberId, value: cipher.encryptField(input.value), isActive: input.isActive, createdAt: now, updatedAt: now },
    value: input.value,
  };
}
