// Secret rows and what hangs off them: folders, tags, personal overrides, environment revisions.
import { sql } from 'kysely';
import { BinaryCopyWriter } from './copy-binary.js';
import { copyFrom } from './copy.js';
import type { Db, Executor, Tx } from './database.js';
import { preparedAs } from './prepared.js';
import type { Ciphertext, SecretType } from './secrets.table.js';

/**
 * Takes an environment for a write: locks its row (writes to one environment are serialized),
 * bumps its revision (the read path's cache key) and updatedAt, and returns the new revision, in
 * one statement. Undefined if the environment is not in the organisation. A write that then
 * changes nothing rolls its transaction back, bump included.
 */
export async function claimEnvironmentRevision(trx: Tx, organisationId: string, environmentId: string, at: Date): Promise<number | undefined> {
  const row = await trx
    .updateTable('environments')
    .set((eb) => ({ revision: eb('revision', '+', 1), updated_at: at }))
    .where('organisation_id', '=', organisationId)
    .where('id', '=', environmentId)
    .returning('revision')
    .executeTakeFirst();
  return row?.revision;
}

/** Bumps the revision (the read path's cache key) and updatedAt; returns the new revision. */
export async function bumpEnvironmentRevision(trx: Tx, environmentId: string, at: Date): Promise<number> {
  const row = await trx
    .updateTable('environments')
    .set((eb) => ({ revision: eb('revision', '+', 1), updated_at: at }))
    .where('id', '=', environmentId)
    .returning('revision')
    .executeTakeFirstOrThrow();
  return row.revision;
}

export async function findRevisions(db: Executor, environmentIds: readonly string[]): Promise<Map<string, number>> {
  if (environmentIds.length === 0) return new Map();
  const { rows } = await sql<{ id: string; revision: number }>`${preparedAs('find-revisions')}
    select id, revision from environments where id = any(${[...environmentIds]}::uuid[])`.execute(db);
  return new Map(rows.map((r) => [r.id, Number(r.revision)]));
}

export interface StoredSecret {
  id: string;
  environment_id: string;
  folder_id: string | null;
  path: string;
  key_digest: string;
  key: Ciphertext;
  value: Ciphertext;
  comment: Ciphertext;
  type: SecretType;
  version: number;
  created_at: Date;
  updated_at: Date;
  /** Tag names in the order first assigned. */
  tags: string[];
}

const tagsOf = sql<string[]>`coalesce((select array_agg(t.name order by st.position) from secret_tags st join tags t on t.id = st.tag_id where st.secret_id = s.id), '{}')`;

/** Live secrets of an environment, oldest first (the deterministic order of rest-api §1.7). */
export function loadLiveSecrets(db: Executor, environmentId: string): Promise<StoredSecret[]> {
  return db
    .selectFrom('secrets as s')
    .select(['s.id', 's.environment_id', 's.folder_id', 's.path', 's.key_digest', 's.key', 's.value', 's.comment', 's.type', 's.version', 's.created_at', 's.updated_at'])
    .select(tagsOf.as('tags'))
    .where('s.environment_id', '=', environmentId)
    .where('s.deleted_at', 'is', null)
    .orderBy('s.created_at')
    .orderBy('s.id')
    .execute();
}

export function findLiveSecretsByIds(db: Executor, environmentId: string, ids: readonly string[]): Promise<StoredSecret[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('secrets as s')
    .select(['s.id', 's.environment_id', 's.folder_id', 's.path', 's.key_digest', 's.key', 's.value', 's.comment', 's.type', 's.version', 's.created_at', 's.updated_at'])
    .select(tagsOf.as('tags'))
    .where('s.environment_id', '=', environmentId)
    .where('s.deleted_at', 'is', null)
    .where('s.id', 'in', [...ids])
    .execute();
}

/** Live secrets holding any of these digests (duplicate detection). */
/** The live secrets holding any of these identities (path and key digest), by the unique index. */
export async function findLiveIdentities(
  db: Executor,
  environmentId: string,
  identities: ReadonlyArray<{ path: string; digest: string }>,
): Promise<Array<{ id: string; path: string; key_digest: string }>> {
  if (identities.length === 0) return [];
  // One index probe per identity; filtering the environment's rows by a list of digests scans them all.
  const result = await sql<{ id: string; path: string; key_digest: string }>`
    select s.id, s.path, s.key_digest
      from unnest(${identities.map((i) => i.path)}::text[], ${identities.map((i) => i.digest)}::text[]) as c(path, key_digest)
      join secrets as s on s.environment_id = ${environmentId} and s.path = c.path and s.key_digest = c.key_digest and s.deleted_at is null`.execute(db);
  return result.rows;
}

const SECRET_COPY_TARGET = 'secrets (id, organisation_id, environment_id, folder_id, path, key_digest, key, value, comment, type, version, created_at, updated_at)';

function secretsCopyBinary(organisationId: string, rows: readonly StoredSecret[]): Uint8Array {
  const out = new BinaryCopyWriter(rows.length * 512);
  for (const row of rows) {
    out.row(13);
    out.uuid(row.id);
    out.uuid(organisationId);
    out.uuid(row.environment_id);
    out.uuid(row.folder_id);
    out.text(row.path);
    out.text(row.key_digest);
    out.text(row.key);
    out.text(row.value);
    out.text(row.comment);
    out.text(row.type);
    out.int4(row.version);
    out.timestamptz(row.created_at);
    out.timestamptz(row.updated_at);
  }
  return out.finish();
}

/**
 * Inserts new secrets with one binary COPY. All or nothing: a secret whose identity (path, key
 * digest) is held by a live secret fails the statement with a unique violation (the caller's 409),
 * as does a concurrent create of the same identity once the other transaction commits.
 */
export async function insertSecretRows(trx: Tx, organisationId: string, rows: readonly StoredSecret[]): Promise<void> {
  if (rows.length > 0) await copyFrom(trx, SECRET_COPY_TARGET, secretsCopyBinary(organisationId, rows), 'binary');
}

export interface StoredOverride {
  id: string;
  secret_id: string;
  member_id: string;
  value: Ciphertext;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

export function loadOverrides(db: Executor, environmentId: string): Promise<StoredOverride[]> {
  return db
    .selectFrom('personal_overrides as o')
    .innerJoin('secrets as s', 's.id', 'o.secret_id')
    .select(['o.id', 'o.secret_id', 'o.member_id', 'o.value', 'o.is_active', 'o.created_at', 'o.updated_at'])
    .where('s.environment_id', '=', environmentId)
    .where('s.deleted_at', 'is', null)
    .execute();
}

/**
 * Folder ids for normalised paths, creating missing folders (and their parents). "/" has no folder.
 */
export async function ensureFolders(trx: Tx, organisationId: string, environmentId: string, paths: Iterable<string>, newId: () => string): Promise<Map<string, string | null>> {
  const result = new Map<string, string | null>([['/', null]]);
  const wanted = new Set<string>();
  for (const path of paths) {
    if (path === '/') continue;
    const segments = path.slice(1).split('/');
    for (let i = 1; i <= segments.length; i++) wanted.add(`/${segments.slice(0, i).join('/')}`);
  }
  if (wanted.size === 0) return result;
  const existing = await trx
    .selectFrom('folders')
    .select(['id', 'path', 'name'])
    .where('environment_id', '=', environmentId)
    .execute();
  for (const folder of existing) result.set(folder.path === '/' ? `/${folder.name}` : `${folder.path}/${folder.name}`, folder.id);
  const now = new Date();
  // Parents before children: sort by depth.
  for (const full of [...wanted].sort((a, b) => a.split('/').length - b.split('/').length)) {
    if (result.has(full)) continue;
    const cut = full.lastIndexOf('/');
    const parentPath = cut === 0 ? '/' : full.slice(0, cut);
    const id = newId();
    await trx
      .insertInto('folders')
      .values({ id, organisation_id: organisationId, environment_id: environmentId, parent_id: result.get(parentPath) ?? null, name: full.slice(cut + 1), path: parentPath, created_at: now })
      .execute();
    result.set(full, id);
  }
  return result;
}

/** Tag ids for names, creating the organisation's missing tags (empty colour). */
export async function ensureTags(trx: Tx, organisationId: string, names: Iterable<string>, newId: () => string): Promise<Map<string, string>> {
  const unique = [...new Set(names)];
  const result = new Map<string, string>();
  if (unique.length === 0) return result;
  const now = new Date();
  await trx
    .insertInto('tags')
    .values(unique.map((name) => ({ id: newId(), organisation_id: organisationId, name, color: '', created_at: now })))
    .onConflict((oc) => oc.columns(['organisation_id', 'name']).doNothing())
    .execute();
  const rows = await trx.selectFrom('tags').select(['id', 'name']).where('organisation_id', '=', organisationId).where('name', 'in', unique).execute();
  for (const row of rows) result.set(row.name, row.id);
  return result;
}

export async function replaceSecretTags(trx: Tx, secretId: string, tagIds: string[]): Promise<void> {
  await trx.deleteFrom('secret_tags').where('secret_id', '=', secretId).execute();
  if (tagIds.length > 0) {
    await trx.insertInto('secret_tags').values(tagIds.map((tag_id, position) => ({ secret_id: secretId, tag_id, position }))).execute();
  }
}

