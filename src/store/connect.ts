// Opens the store: PGlite (PostgreSQL compiled to WASM, persisted in a directory) when no
// DATABASE_URL is given, a real PostgreSQL otherwise. Same dialect, same migrations, same queries.
import fs from 'node:fs';
import path from 'node:path';
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, sql, type LogEvent } from 'kysely';
import pg from 'pg';
import { flushTree } from '../durable-files.js';
import type { Database } from './database.js';
import { migrateToLatest } from './migrator.js';
import { loadTemplate } from './pglite-template.js';
import { runCopyFromStdin, withCopyFromStdin } from './copy.js';
import { runMarkedStatementsPrepared } from './prepared.js';
import { enforceStatementDeadline } from './statement-deadline.js';
import { startEmbeddedMaintenance, type EmbeddedMaintenance, type EmbeddedMaintenanceOptions } from './embedded-maintenance.js';

export type StoreKind = 'pglite' | 'postgres';

export interface Store {
  readonly db: Kysely<Database>;
  readonly kind: StoreKind;
  /**
   * PostgreSQL only: connections of their own for the read audit's batches (a few connections that
   * run one prepared statement; measured with scenario 1: 7,800–9,600 reads per second against
   * 5,600–6,300 when they shared `db`'s).
   * Those statements commit without waiting for the WAL flush (store/events.ts appendChained,
   * docs/audit.md); the setting is their transaction's, not the connection's.
   */
  readonly readAuditDb?: Kysely<Database>;
  /**
   * Embedded store only: ANALYZE and VACUUM where PostgreSQL's autovacuum would run them
   * (store/embedded-maintenance.ts). PostgreSQL runs its own autovacuum.
   */
  readonly maintenance?: EmbeddedMaintenance;
  /**
   * Embedded store on a data directory only: makes everything committed so far survive a crash of
   * the machine, not only of the process (PGlite runs with fsync off): a checkpoint, then every file
   * of the data directory flushed to disk. For the moments when losing the newest writes would cost
   * everything, as before a master-key rotation drops the old key. PostgreSQL flushes every commit.
   */
  readonly flushToDisk?: () => Promise<void>;
  /** Stops maintenance, then closes connections (and releases the data-directory lock of the embedded store). */
  close(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl?: string | undefined;
  /** Directory of the embedded store (used when databaseUrl is absent). */
  dataDir?: string | undefined;
  /** In-memory embedded store (tests only). */
  memory?: boolean;
  poolSize?: number;
  /** Receives SQL text and durations, never parameters. */
  onQuery?: (event: { sql: string; durationMs: number; error?: unknown }) => void;
  migrate?: boolean;
  /**
   * Embedded store: a new cluster starts from the prebuilt, fully migrated template (unless false:
   * an empty cluster, for a restore that must bring it to an older backup's schema).
   */
  template?: boolean;
  /** Embedded store: maintenance passes (on unless false; ignored with databaseUrl). */
  maintenance?: EmbeddedMaintenanceOptions | false;
}

const INT8_OID = 20;

// bigint columns (revisions, sequence numbers, counts) stay far below 2^53.
pg.types.setTypeParser(INT8_OID, (value) => Number(value));

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(
      `the data directory ${dataDir} is in use by process ${pid}; stop that process first ` +
        `(the embedded store allows one process at a time; use DATABASE_URL for several)`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** The embedded store's files exist but PGlite cannot start on them. */
export class DamagedStoreError extends Error {
  constructor(
    readonly dataDir: string,
    cause: unknown,
  ) {
    super(
      `the embedded store in ${dataDir} could not be opened (${(cause as Error)?.message ?? String(cause)}); its files are damaged or incomplete. ` +
        'Restore it from a backup: `coffer admin restore FILE` into a new data directory (COFFER_DATA_DIR), with the same master key',
      { cause },
    );
    this.name = 'DamagedStoreError';
  }
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const log = options.onQuery
    ? (event: LogEvent) => {
        options.onQuery!({
          sql: event.query.sql,
          durationMs: event.queryDurationMillis,
          ...(event.level === 'error' ? { error: event.error } : {}),
        });
      }
    : undefined;
  const store = options.databaseUrl
    ? openPostgres(options.databaseUrl, options.poolSize ?? 20, log)
    : await openPGlite(options, log);
  if (options.databaseUrl) await confirmReachable(store, options.databaseUrl);
  if (options.migrate !== false) {
    try {
      await migrateToLatest(store.db);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  if (store.kind === 'pglite' && options.maintenance !== false) {
    const maintenance = startEmbeddedMaintenance(store.db, options.maintenance ?? {});
    return {
      ...store,
      maintenance,
      close: async () => {
        try {
          await maintenance.stop();
        } finally {
          await store.close();
        }
      },
    };
  }
  return store;
}

/** Read-audit batches of one organisation commit one after another; a few connections serve several. */
const READ_AUDIT_POOL_SIZE = 4;

/** PostgreSQL cannot be reached where DATABASE_URL says (down, unknown host, no such database, refused login). */
export class StoreUnreachableError extends Error {
  constructor(databaseUrl: string, cause: unknown) {
    super(`cannot connect to the PostgreSQL database DATABASE_URL names (${whereIs(databaseUrl)}): ${(cause as Error)?.message ?? String(cause)}; check DATABASE_URL and that the server is up`, { cause });
    this.name = 'StoreUnreachableError';
  }
}

/** host:port/database of a URL, never its user or password. */
function whereIs(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'an unparsable URL';
  }
}

/** One round trip before anything else, so that an unreachable database is one clear error, not a failed migration. */
async function confirmReachable(store: Store, databaseUrl: string): Promise<void> {
  try {
    await sql`select 1`.execute(store.db);
  } catch (error) {
    await store.close().catch(() => {});
    throw new StoreUnreachableError(databaseUrl, error);
  }
}

/**
 * How long a read's audit statement may run before it is cancelled and its reads answered 503: a
 * batch takes about a millisecond, so only a lock held on `events` or an unresponsive database
 * reaches it (src/store/statement-deadline.ts).
 */
export const READ_AUDIT_STATEMENT_DEADLINE_MS = 5_000;

function openPostgres(databaseUrl: string, poolSize: number, log?: (event: LogEvent) => void): Store {
  const db = postgresPool(databaseUrl, 'coffer', poolSize, log);
  const readAuditDb = postgresPool(databaseUrl, 'coffer-read-audit', READ_AUDIT_POOL_SIZE, log, READ_AUDIT_STATEMENT_DEADLINE_MS);
  return {
    db,
    kind: 'postgres',
    readAuditDb,
    close: async () => {
      await Promise.all([db.destroy(), readAuditDb.destroy()]);
    },
  };
}

/** A pool named `applicationName` in pg_stat_activity; with `deadlineMs`, its statements are cancelled past it. */
function postgresPool(databaseUrl: string, applicationName: string, max: number, log?: (event: LogEvent) => void, deadlineMs?: number): Kysely<Database> {
  const config = { connectionString: databaseUrl, application_name: applicationName };
  const pool = new pg.Pool({ ...config, max });
  // A connection that fails (the server restarted, pg_terminate_backend, a failover) must not crash
  // the process: the pool listens on idle clients, and each client on itself while it is lent out
  // (pg-pool removes its listener then, and an error between two statements of a transaction would
  // be an unhandled 'error' event). The statement under way fails as usual, and the pool drops the
  // broken client when it comes back.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  pool.on('connect', runMarkedStatementsPrepared);
  pool.on('connect', runCopyFromStdin);
  if (deadlineMs !== undefined) pool.on('connect', enforceStatementDeadline(config, deadlineMs));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
}

/**
 * The embedded store's files are made with mode 0666 inside (PGlite's file system), so the data
 * directory itself must be closed to other users, also when it existed before Coffer first ran
 * (a plain `mkdir`, systemd's StateDirectory= and container volumes make it 0755).
 */
function makePrivate(dataDir: string): void {
  try {
    fs.chmodSync(dataDir, 0o700);
  } catch (error) {
    throw new Error(`cannot make the data directory ${dataDir} private to this user (${(error as NodeJS.ErrnoException).code ?? String(error)}): run Coffer as the directory's owner, or point COFFER_DATA_DIR at a directory it owns`);
  }
}

/** Whether a data directory holds an embedded store (a cluster PGlite created). */
export function embeddedStoreExists(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, 'pgdata', 'PG_VERSION'));
}

async function openPGlite(options: StoreOptions, log?: (event: LogEvent) => void): Promise<Store> {
  const parsers = { [pgliteTypes.INT8]: (value: string) => Number(value) };
  let releaseLock = () => {};
  let clusterDir: string | undefined;
  /** A cluster was already on disk: if it does not open, its files are damaged. */
  let existed = false;
  let pglite: PGlite;
  if (options.memory) {
    const template = loadTemplate();
    pglite = new PGlite({ parsers, ...(template ? { loadDataDir: template } : {}) });
  } else {
    if (!options.dataDir) throw new Error('openStore: dataDir is required for the embedded store');
    fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    makePrivate(options.dataDir);
    releaseLock = lockDataDir(options.dataDir);
    clusterDir = path.join(options.dataDir, 'pgdata');
    existed = embeddedStoreExists(options.dataDir);
    const template = existed || options.template === false ? undefined : loadTemplate();
    pglite = new PGlite(clusterDir, { parsers, ...(template ? { loadDataDir: template } : {}) });
  }
  try {
    await pglite.waitReady;
  } catch (error) {
    releaseLock();
    // A cluster that existed and no longer opens has damaged files (PGlite's own message, e.g.
    // "Aborted()" for a missing WAL, says nothing of where or what to do).
    if (existed) throw new DamagedStoreError(options.dataDir!, error);
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite: withCopyFromStdin(pglite) }), ...(log ? { log } : {}) });
  const onDisk = clusterDir;
  return {
    db,
    kind: 'pglite',
    ...(onDisk
      ? {
          flushToDisk: async () => {
            await sql`checkpoint`.execute(db);
            await flushTree(onDisk);
          },
        }
      : {}),
    close: async () => {
      try {
        await db.destroy();
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * PGlite is a single-process database: two processes writing one directory would corrupt it.
 * A lock file holding our pid keeps a second `coffer serve` (or admin command) out; a lock left
 * by a process that no longer exists (e.g. after SIGKILL) is taken over.
 */
const locksHeldHere = new Set<string>();

function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'coffer.lock');
  if (locksHeldHere.has(lockFile)) throw new DataDirLockedError(dataDir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
      locksHeldHere.add(lockFile);
      return () => {
        locksHeldHere.delete(lockFile);
        try {
          if (fs.readFileSync(lockFile, 'utf8') === String(process.pid)) fs.unlinkSync(lockFile);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(fs.readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid)) {
        throw new DataDirLockedError(dataDir, pid);
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock the data directory ${dataDir}`);
}

/** Whether a process of this id runs (another user's too). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
