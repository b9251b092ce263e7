// Backups of the whole store (`coffer admin backup` / `coffer admin restore`, docs/cli.md): every
// table, read in one REPEATABLE READ, READ ONLY transaction (one consistent snapshot, also on the
// embedded store, where a running server answers through its admin socket), written as a versioned,
// self-describing JSON Lines file:
//
//   {"format":"coffer-backup","version":1, header: migrations, tables with columns and row counts, …}
//   {"table":"organisations","row":{…}}          one line per row, tables in foreign-key order
//   {"end":{"rows":N,"sha256":"<hex of every byte before this line>"}}
//
// What the store holds is what the backup holds: secrets as ph:v1 ciphertexts, bearer tokens as
// SHA-256 hashes, server-held keys in cfr1 envelopes under the master key. The master key itself is
// NOT in the backup: without it the SSE environment keys, service-account keyrings and audit keys
// in the file cannot be opened.
//
// Restore runs in one transaction: it refuses a store that holds an organisation or a user unless
// forced, empties every table, and inserts the rows table by table with
// json_populate_recordset (PostgreSQL converts every type, uuid[] and jsonb included).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { sql, type Kysely, type Transaction } from 'kysely';
import { flushPath } from '../durable-files.js';
import { VERSION } from '../version.js';
import { processExists, type StoreKind } from './connect.js';
import { appliedMigrations, MIGRATION_TABLE } from './migrator.js';
export { appliedMigrations };

export const BACKUP_FORMAT = 'coffer-backup';
export const BACKUP_VERSION = 1;
export const MASTER_KEY_NOTICE =
  'This backup does NOT contain the master key. Keep the master key (COFFER_MASTER_KEY, or the key file) safe and separate: without it, a restored store cannot decrypt any SSE environment, service-account keyring or audit key.';

export interface BackupColumn {
  name: string;
  type: string;
}

export interface BackupTableInfo {
  name: string;
  columns: BackupColumn[];
  rows: number;
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  createdAt: string;
  coffer: string;
  store: StoreKind;
  /** Migrations applied to the store the backup was taken from, in order. */
  migrations: string[];
  /** In foreign-key order: a table comes after the tables it references. */
  tables: BackupTableInfo[];
  /** Ids of the master keys the backup's cfr1 envelopes are sealed under (the keys are not included). */
  masterKeyIds: string[];
  masterKeyIncluded: false;
  notice: string;
}

export interface BackupSnapshot {
  header: BackupHeader;
  /** Rows as JSON text (row_to_json), by table. */
  rows: Record<string, string[]>;
}

type Db = Kysely<any>;

const EXCLUDED = new Set([MIGRATION_TABLE, `${MIGRATION_TABLE}_lock`]);

async function userTables(db: Db | Transaction<any>): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return result.rows.map((r) => r.name).filter((name) => !EXCLUDED.has(name));
}

/** Tables ordered so each comes after the tables its foreign keys reference; self-references noted. */
async function foreignKeyOrder(db: Db | Transaction<any>, tables: string[]): Promise<{ order: string[]; selfReferencing: Set<string> }> {
  const result = await sql<{ child: string; parent: string }>`
    select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent
    from pg_constraint c join pg_namespace n on n.oid = c.connamespace
    where c.contype = 'f' and n.nspname = current_schema()`.execute(db);
  const known = new Set(tables);
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  const selfReferencing = new Set<string>();
  for (const { child, parent } of result.rows) {
    if (!known.has(child) || !known.has(parent)) continue;
    if (child === parent) selfReferencing.add(child);
    else parents.get(child)!.add(parent);
  }
  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < tables.length) {
    const ready = tables.filter((t) => !placed.has(t) && [...parents.get(t)!].every((p) => placed.has(p)));
    if (ready.length === 0) throw new Error(`foreign keys form a cycle among: ${tables.filter((t) => !placed.has(t)).join(', ')}`);
    for (const t of ready) {
      order.push(t);
      placed.add(t);
    }
  }
  return { order, selfReferencing };
}

async function columnsOf(db: Db | Transaction<any>, table: string): Promise<BackupColumn[]> {
  const result = await sql<BackupColumn>`
    select column_name as name, data_type as type from information_schema.columns
    where table_schema = current_schema() and table_name = ${table} order by ordinal_position`.execute(db);
  return result.rows.map((r) => ({ name: r.name, type: r.type }));
}

/** One consistent snapshot of every table. */
export async function takeSnapshot(db: Db, store: StoreKind): Promise<BackupSnapshot> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const migrations = await appliedMigrations(trx);
      const { order } = await foreignKeyOrder(trx, await userTables(trx));
      const tables: BackupTableInfo[] = [];
      const rows: Record<string, string[]> = {};
      const keyIds = new Set<string>();
      for (const name of order) {
        const result = await sql<{ r: string }>`select row_to_json(t)::text as r from ${sql.table(name)} as t`.execute(trx);
        rows[name] = result.rows.map((row) => row.r);
        for (const text of rows[name]) for (const match of text.matchAll(/"cfr1:([0-9a-f]{16}):/g)) keyIds.add(match[1]!);
        tables.push({ name, columns: await columnsOf(trx, name), rows: result.rows.length });
      }
      const header: BackupHeader = {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        createdAt: new Date().toISOString(),
        coffer: VERSION,
        store,
        migrations,
        tables,
        masterKeyIds: [...keyIds].sort(),
        masterKeyIncluded: false,
        notice: MASTER_KEY_NOTICE,
      };
      return { header, rows };
    });
}

/**
 * Temporary files that earlier backups to the same file left when they were killed mid-write (their
 * process is gone), as large as the backup itself; the one of a process of this id is gone too.
 */
function removeAbandonedTemporaries(file: string): void {
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(file));
  } catch {
    return; // no directory: the write that follows says so
  }
  for (const name of names) {
    const pid = name.startsWith(`${base}.`) ? /^(\d+)\.tmp$/.exec(name.slice(base.length + 1))?.[1] : undefined;
    if (pid === undefined || (Number(pid) !== process.pid && processExists(Number(pid)))) continue;
    fs.rmSync(path.join(path.dirname(file), name), { force: true });
  }
}

/**
 * Writes the snapshot as a backup file (mode 0600): into a temporary file, flushed to disk, renamed
 * into place, the directory flushed, so that a backup reported as written survives a crash of the
 * machine and a failed one (a full disk, a missing directory) leaves nothing behind.
 */
export async function writeBackupFile(file: string, snapshot: BackupSnapshot): Promise<{ bytes: number; sha256: string }> {
  const temporary = `${file}.${process.pid}.tmp`;
  const hash = createHash('sha256');
  let bytes = 0;
  removeAbandonedTemporaries(file);
  const handle = await fs.promises.open(temporary, 'wx', 0o600);
  try {
    // Lines are gathered into chunks of about 1 MB: one write per chunk, not per row.
    let pending: string[] = [];
    let pendingLength = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const chunk = Buffer.from(pending.join(''), 'utf8');
      pending = [];
      pendingLength = 0;
      // A write can be short (the disk filling up): the rest follows, or fails.
      for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
    };
    const write = async (line: string) => {
      const text = `${line}\n`;
      hash.update(text);
      bytes += Buffer.byteLength(text);
      pending.push(text);
      pendingLength += text.length;
      if (pendingLength >= 1 << 20) await flush();
    };
    await write(JSON.stringify(snapshot.header));
    let count = 0;
    for (const table of snapshot.header.tables) {
      for (const row of snapshot.rows[table.name] ?? []) {
        await write(`{"table":${JSON.stringify(table.name)},"row":${row}}`);
        count++;
      }
    }
    const sha256 = hash.digest('hex');
    const end = `${JSON.stringify({ end: { rows: count, sha256 } })}\n`;
    pending.push(end);
    bytes += Buffer.byteLength(end);
    await flush();
    await handle.sync();
    await handle.close();
    await fs.promises.rename(temporary, file);
    flushPath(path.dirname(file));
    return { bytes, sha256 };
  } catch (error) {
    await handle.close().catch(() => {});
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}

export class BackupFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupFileError';
  }
}

/** Reads and checks a backup file: format, version, every line, row counts and the checksum. */
export async function readBackupFile(file: string): Promise<BackupSnapshot> {
  const input = fs.createReadStream(file);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  const hash = createHash('sha256');
  let header: BackupHeader | undefined;
  const rows: Record<string, string[]> = {};
  let count = 0;
  let end: { rows: number; sha256: string } | undefined;
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (end) throw new BackupFileError(`line ${lineNumber} follows the end marker; the file was altered`);
    let value: any;
    try {
      value = JSON.parse(line);
    } catch {
      throw new BackupFileError(lineNumber === 1 ? 'it is not a Coffer backup (the first line is not JSON)' : `line ${lineNumber} is not JSON; the file is damaged`);
    }
    if (!header) {
      if (value?.format !== BACKUP_FORMAT) throw new BackupFileError('it is not a Coffer backup (no "format": "coffer-backup" header)');
      if (value.version !== BACKUP_VERSION) throw new BackupFileError(`it is a version ${value.version} backup; this Coffer reads version ${BACKUP_VERSION}`);
      header = value as BackupHeader;
      for (const table of header.tables) rows[table.name] = [];
    } else if (value && typeof value === 'object' && 'end' in value) {
      end = value.end;
      continue;
    } else {
      const table = typeof value?.table === 'string' ? rows[value.table] : undefined;
      if (!table || typeof value.row !== 'object' || value.row === null) throw new BackupFileError(`line ${lineNumber} is not a row of a table the header lists`);
      table.push(JSON.stringify(value.row));
      count++;
    }
    hash.update(`${line}\n`);
  }
  if (!header) throw new BackupFileError('it is empty');
  if (!end) throw new BackupFileError('it has no end marker; the file is truncated');
  if (end.sha256 !== hash.digest('hex') || end.rows !== count) throw new BackupFileError('its checksum does not match; the file is damaged or was altered');
  for (const table of header.tables) {
    if (rows[table.name]!.length !== table.rows) throw new BackupFileError(`table ${table.name} has ${rows[table.name]!.length} rows, the header says ${table.rows}`);
  }
  return { header, rows };
}

export class StoreNotEmptyError extends Error {
  constructor(readonly organisations: number, readonly users: number) {
    super(`the store is not empty: it holds ${organisations} organisation(s) and ${users} user(s)`);
    this.name = 'StoreNotEmptyError';
  }
}

export class SchemaMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaMismatchError';
  }
}

export interface RestoreResult {
  tables: number;
  rows: number;
  /** The store held data before (restored with force). */
  replaced: boolean;
}

const CHUNK_ROWS = 2000;

/**
 * Replaces the store's content with the snapshot, in one transaction. The schema (tables and
 * columns) must be the backup's. A store that holds any organisation or user is refused unless
 * `force`; with force, every environment's revision is raised above all revisions the store held,
 * so no server can mistake a cached snapshot of the old data for the restored one.
 */
export async function restoreSnapshot(db: Db, snapshot: BackupSnapshot, options: { force: boolean }): Promise<RestoreResult> {
  return db.transaction().execute(async (trx) => {
    const present = await userTables(trx);
    const wanted = snapshot.header.tables.map((t) => t.name);
    const missing = wanted.filter((t) => !present.includes(t));
    const extra = present.filter((t) => !wanted.includes(t));
    if (missing.length > 0 || extra.length > 0) {
      throw new SchemaMismatchError(`the store's tables differ from the backup's (${[...missing.map((t) => `missing ${t}`), ...extra.map((t) => `extra ${t}`)].join(', ')})`);
    }
    for (const table of snapshot.header.tables) {
      const columns = await columnsOf(trx, table.name);
      if (JSON.stringify(columns) !== JSON.stringify(table.columns)) throw new SchemaMismatchError(`the columns of ${table.name} differ from the backup's`);
    }
    const counts = await sql<{ organisations: number; users: number; revision: number }>`
      select (select count(*) from organisations)::int as organisations, (select count(*) from users)::int as users,
             (select coalesce(max(revision), 0) from environments)::int as revision`.execute(trx);
    const { organisations, users, revision } = counts.rows[0]!;
    const replaced = organisations > 0 || users > 0;
    if (replaced && !options.force) throw new StoreNotEmptyError(organisations, users);

    await sql`truncate table ${sql.join(wanted.map((t) => sql.table(t)))}`.execute(trx);
    const { order, selfReferencing } = await foreignKeyOrder(trx, wanted);
    let total = 0;
    for (const name of order) {
      const rows = snapshot.rows[name] ?? [];
      // Foreign keys are checked at the end of each statement: a table that references itself
      // (folders) goes in one statement, so parents and children may come in any order.
      const size = selfReferencing.has(name) ? Math.max(rows.length, 1) : CHUNK_ROWS;
      for (let i = 0; i < rows.length; i += size) {
        const json = `[${rows.slice(i, i + size).join(',')}]`;
        await sql`insert into ${sql.table(name)} select * from json_populate_recordset(null::${sql.table(name)}, ${json}::json)`.execute(trx);
      }
      total += rows.length;
    }
    if (replaced && revision > 0) await sql`update environments set revision = revision + ${revision}`.execute(trx);
    return { tables: order.length, rows: total, replaced };
  });
}
