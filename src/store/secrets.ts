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

/**
 * A secret's tag names, each looked up by primary key. Written as a join, the embedded store's
 * planner (its statistics are never refreshed: PGlite runs no autovacuum) hashed the organisation's
 * whole tag table for every secret once tags had grown: after 28,000 tags one environment read took
 * 2.5 s, after 200,000 tags 17 s (test/reliability/limits.test.ts reads the plan).
 */
const tagsOf = sql<string[]>`coalesce((select array_agg((select t.name from tags t where t.id = st.tag_id) order by st.position) from secret_tags st where st.secret_id = s.id), '{}')`;

/** The query of loadLiveSecrets (a test reads its plan). */
export function liveSecretsQuery(db: Executor, environmentId: string) {
  return db
    .selectFrom('secrets as s')
    .select(['s.id', 's.environment_id', 's.folder_id', 's.path', 's.key_digest', 's.key', 's.value', 's.comment', 's.type', 's.version', 's.created_at', 's.updated_at'])
    .select(tagsOf.as('tags'))
    .where('s.environment_id', '=', environmentId)
    .where('s.deleted_at', 'is', null)
    .orderBy('s.created_at')
    .orderBy('s.id');
}

/** Live secrets of an environment, oldest first (the deterministic order of rest-api §1.7). */
export function loadLiveSecrets(db: Executor, environmentId: string): Promise<StoredSecret[]> {
  return liveSecretsQuery(db, environmentId).execute();
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
 * Missing folders go in one statement per depth (parents first), each column one array parameter:
 * a batch may name thousands of folders, past the 65,535 parameters of one statement.
 */
export async function ensureFolders(trx: Tx, organisationId: string, environmentId: string, paths: Iterable<string>, newId: () => string): Promise<Map<string, string | null>> {
  const result = new Map<string, string | null>([['/', null]]);
  const wanted = new Set<string>();
  for (const path of paths) {
    if (path === '/') continue;
    // Every prefix ending at a "/" is a parent folder.
    for (let cut = path.indexOf('/', 1); cut !== -1; cut = path.indexOf('/', cut + 1)) wanted.add(path.slice(0, cut));
    wanted.add(path);
  }
  if (wanted.size === 0) return result;
  const existing = await trx
    .selectFrom('folders')
    .select(['id', 'path', 'name'])
    .where('environment_id', '=', environmentId)
    .execute();
  for (const folder of existing) result.set(folder.path === '/' ? `/${folder.name}` : `${folder.path}/${folder.name}`, folder.id);
  const byDepth = new Map<number, string[]>();
  for (const full of wanted) {
    if (result.has(full)) continue;
    const depth = full.split('/').length;
    const level = byDepth.get(depth);
    if (level) level.push(full);
    else byDepth.set(depth, [full]);
  }
  const now = new Date();
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    const folders = byDepth.get(depth)!.map((full) => {
      const cut = full.lastIndexOf('/');
      const parentPath = cut === 0 ? '/' : full.slice(0, cut);
      return { full, id: newId(), parentId: result.get(parentPath) ?? null, name: full.slice(cut + 1), parentPath };
    });
    await sql`
      insert into folders (id, organisation_id, environment_id, parent_id, name, path, created_at)
      select f.id, ${organisationId}::uuid, ${environmentId}::uuid, f.parent_id, f.name, f.path, ${now}::timestamptz
        from unnest(${folders.map((f) => f.id)}::uuid[], ${folders.map((f) => f.parentId)}::uuid[], ${folders.map((f) => f.name)}::text[],
                    ${folders.map((f) => f.parentPath)}::text[]) as f(id, parent_id, name, path)`.execute(trx);
    for (const folder of folders) result.set(folder.full, folder.id);
  }
  return result;
}

/**
 * Tag ids for names, creating the organisation's missing tags (empty colour). Names travel as one
 * array parameter (a batch may carry tens of thousands of tags).
 */
export async function ensureTags(trx: Tx, organisationId: string, names: Iterable<string>, newId: () => string): Promise<Map<string, string>> {
  // Sorted: tags belong to the organisation, so writes to different environments may insert the
  // same new names at once, and each waits on the other's uncommitted ones. In one order they
  // queue; in request order two writes with the names reversed deadlocked (PostgreSQL).
  const unique = [...new Set(names)].sort();
  const result = new Map<string, string>();
  if (unique.length === 0) return result;
  await sql`
    insert into tags (id, organisation_id, name, color, created_at)
    select t.id, ${organisationId}::uuid, t.name, '', ${new Date()}::timestamptz
      from unnest(${unique.map(() => newId())}::uuid[], ${unique}::text[]) as t(id, name)
    on conflict (organisation_id, name) do nothing`.execute(trx);
  const rows = await sql<{ id: string; name: string }>`
    select id, name from tags where organisation_id = ${organisationId}::uuid and name = any(${unique}::text[])`.execute(trx);
  for (const row of rows.rows) result.set(row.name, row.id);
  return result;
}

/** Links secrets to tags (position: the tag's place in the secret's list), as three array parameters. */
export async function insertSecretTags(trx: Tx, links: ReadonlyArray<{ secret_id: string; tag_id: string; position: number }>): Promise<void> {
  if (links.length === 0) return;
  await sql`
    insert into secret_tags (secret_id, tag_id, position)
    select * from unnest(${links.map((l) => l.secret_id)}::uuid[], ${links.map((l) => l.tag_id)}::uuid[], ${links.map((l) => l.position)}::int[])`.execute(trx);
}

export async function replaceSecretTags(trx: Tx, secretId: string, tagIds: string[]): Promise<void> {
  await trx.deleteFrom('secret_tags').where('secret_id', '=', secretId).execute();
  await insertSecretTags(trx, tagIds.map((tag_id, position) => ({ secret_id: secretId, tag_id, position })));
}

