// The embedded store's autovacuum. PGlite is one backend and runs no autovacuum launcher, so
// planner statistics would stay as they were when a table was small (a read once went from 0.14 s
// to 17 s that way) and dead tuples would never be vacuumed. A pass decides as PostgreSQL 18's
// autovacuum does (relation_needs_vacanalyze, with the autovacuum_* settings PGlite reports) and
// runs ANALYZE / VACUUM one table at a time. PostgreSQL has its own autovacuum: nothing runs there.
//
// PGlite collects the cumulative statistics the decision reads (pg_stat_all_tables), but flushes a
// backend's pending counts at most once a second, after a later statement: a pass asks for a flush
// first. The counts start from zero each time the data directory is opened (PGlite writes no
// statistics file on close), so the first pass after opening also judges writes made before a
// restart, or by an admin command such as a restore, by how much a table's file grew past what
// pg_class recorded at its last ANALYZE (docs/performance.md "Planner statistics on the embedded
// store").
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

/** autovacuum_naptime's default: how often PostgreSQL's launcher looks at a database. */
export const DEFAULT_MAINTENANCE_INTERVAL_MS = 60_000;

export interface EmbeddedMaintenanceOptions {
  /** Milliseconds between passes; 0 starts no timer (passes run only through runOnce). */
  intervalMs?: number;
  /**
   * A statement of a pass that failed (the error carries SQLSTATE and message only, never
   * parameters); by default one line on stderr. A failure never stops later passes.
   */
  onError?: (error: MaintenanceError) => void;
}

export type MaintenanceCommand = 'analyze' | 'vacuum' | 'vacuum (analyze)' | 'vacuum toast';

export interface MaintenanceAction {
  readonly schema: string;
  readonly table: string;
  readonly command: MaintenanceCommand;
}

export interface EmbeddedMaintenance {
  /** One pass now (after a running one): what it ran, in order. */
  runOnce(): Promise<MaintenanceAction[]>;
  /** Stops the timer; a running pass ends after its current statement, which this waits for. */
  stop(): Promise<void>;
}

export class MaintenanceError extends Error {
  constructor(readonly table: string | undefined, message: string, readonly code: string | undefined) {
    super(message);
    this.name = 'MaintenanceError';
  }
}

/** The autovacuum_* settings relation_needs_vacanalyze reads. */
export interface AutovacuumSettings {
  vacuumThreshold: number;
  vacuumScaleFactor: number;
  vacuumMaxThreshold: number;
  insertThreshold: number;
  insertScaleFactor: number;
  analyzeThreshold: number;
  analyzeScaleFactor: number;
  freezeMaxAge: number;
  multixactFreezeMaxAge: number;
}

/** One table's row of the pass's catalog query. */
export interface TableStatistics {
  schema: string;
  table: string;
  /** 'r' table, 'm' materialized view, 't' TOAST table (vacuumed through its parent). */
  kind: 'r' | 'm' | 't';
  /** The TOAST table's owner. */
  parentSchema: string | null;
  parentTable: string | null;
  reltuples: number;
  relpages: number;
  relallfrozen: number;
  /** The heap's size now, in pages. */
  pages: number;
  modSinceAnalyze: number;
  deadTuples: number;
  insSinceVacuum: number;
  xidAge: number;
  mxidAge: number;
}

/**
 * relation_needs_vacanalyze (PostgreSQL 18, src/backend/postmaster/autovacuum.c) on one table,
 * without per-table reloptions (Coffer sets none). One addition, when `countsLost` (the first pass
 * after the store was opened): modifications since the last ANALYZE are at least the growth the
 * heap's size shows, so writes whose counts a restart lost still count.
 */
export function tableNeeds(t: TableStatistics, s: AutovacuumSettings, countsLost = false): { vacuum: boolean; analyze: boolean } {
  const forceVacuum = t.xidAge > s.freezeMaxAge || t.mxidAge > s.multixactFreezeMaxAge;
  // "If the table hasn't yet been vacuumed, take reltuples as zero"
  const reltuples = Math.max(t.reltuples, 0);
  let pcntUnfrozen = 1;
  if (t.relpages > 0 && t.relallfrozen > 0) pcntUnfrozen = 1 - Math.min(t.relallfrozen, t.relpages) / t.relpages;
  let vacThreshold = s.vacuumThreshold + s.vacuumScaleFactor * reltuples;
  if (s.vacuumMaxThreshold >= 0 && vacThreshold > s.vacuumMaxThreshold) vacThreshold = s.vacuumMaxThreshold;
  const insThreshold = s.insertThreshold + s.insertScaleFactor * reltuples * pcntUnfrozen;
  const anlThreshold = s.analyzeThreshold + s.analyzeScaleFactor * reltuples;
  const vacuum = forceVacuum || t.deadTuples > vacThreshold || (s.insertThreshold >= 0 && t.insSinceVacuum > insThreshold);
  // TOAST tables are never analyzed, and ANALYZE refuses pg_statistic (autovacuum skips both).
  const analyze = t.kind !== 't' && !(t.schema === 'pg_catalog' && t.table === 'pg_statistic') && Math.max(t.modSinceAnalyze, countsLost ? growthSinceAnalyze(t) : 0) > anlThreshold;
  return { vacuum, analyze };
}

/**
 * Rows the heap's growth suggests were added since pg_class was last updated: its tuple density
 * then, times the pages added since (the planner scales reltuples by the current size the same
 * way). Infinite for a heap that has pages but never had statistics, so it is analyzed once.
 */
function growthSinceAnalyze(t: TableStatistics): number {
  if (t.pages <= t.relpages) return 0;
  if (t.reltuples < 0 || t.relpages === 0) return Number.POSITIVE_INFINITY;
  return (t.reltuples / t.relpages) * (t.pages - t.relpages);
}

/** What one table needs, as the command a pass runs, or undefined. */
export function maintenanceFor(t: TableStatistics, s: AutovacuumSettings, countsLost = false): MaintenanceAction | undefined {
  const { vacuum, analyze } = tableNeeds(t, s, countsLost);
  if (t.kind === 't') {
    if (!vacuum || t.parentSchema === null || t.parentTable === null) return undefined;
    return { schema: t.parentSchema, table: t.parentTable, command: 'vacuum toast' };
  }
  if (vacuum) return { schema: t.schema, table: t.table, command: analyze ? 'vacuum (analyze)' : 'vacuum' };
  if (analyze) return { schema: t.schema, table: t.table, command: 'analyze' };
  return undefined;
}

/**
 * Starts passes over `db`, an embedded store's. Statements go through Kysely like any other: the
 * PGlite dialect has one connection behind a mutex, held by a transaction from BEGIN to COMMIT, so
 * a maintenance statement runs between transactions, never inside one (VACUUM could not).
 */
export function startEmbeddedMaintenance(db: Kysely<Database>, options: EmbeddedMaintenanceOptions = {}): EmbeddedMaintenance {
  const intervalMs = options.intervalMs ?? DEFAULT_MAINTENANCE_INTERVAL_MS;
  const report = options.onError ?? ((error: MaintenanceError) => process.stderr.write(`coffer: ${error.message}\n`));
  // Maintenance never takes the process down, not even through a reporter that throws.
  const onError = (error: MaintenanceError) => {
    try {
      report(error);
    } catch {
      // nothing left to tell
    }
  };
  let stopped = false;
  let running: Promise<MaintenanceAction[]> | undefined;
  // The statistics counts start from zero when PGlite opens a data directory.
  let countsLost = true;

  const runOnce = (): Promise<MaintenanceAction[]> => {
    if (stopped) return Promise.resolve([]);
    const previous = running ?? Promise.resolve([]);
    const pass = previous.catch(() => []).then(() => (stopped ? [] : runPass(db, onError, () => stopped, countsLost, () => (countsLost = false))));
    running = pass;
    pass
      .finally(() => {
        if (running === pass) running = undefined;
      })
      .catch(() => {});
    return pass;
  };

  const timer =
    intervalMs > 0
      ? setInterval(() => {
          // A pass still running when the next is due: skip this one, as autovacuum would.
          if (!running) runOnce().catch(() => {});
        }, intervalMs)
      : undefined;
  timer?.unref();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}

/** One pass: the tables past their thresholds, then one statement each (requests run in between). */
async function runPass(
  db: Kysely<Database>,
  onError: (error: MaintenanceError) => void,
  stopped: () => boolean,
  countsLost: boolean,
  judged: () => void,
): Promise<MaintenanceAction[]> {
  let due: MaintenanceAction[];
  try {
    due = await findMaintenanceDue(db, countsLost);
    judged();
  } catch (error) {
    onError(maintenanceError(undefined, error));
    return [];
  }
  const done: MaintenanceAction[] = [];
  for (const action of due) {
    if (stopped()) break;
    try {
      await runMaintenance(db, action);
      done.push(action);
    } catch (error) {
      onError(maintenanceError(`${action.schema}.${action.table}`, error));
    }
  }
  return done;
}

/** The tables past PostgreSQL's autovacuum thresholds, from the catalog (pg_stat_all_tables, pg_class). */
export async function findMaintenanceDue(db: Kysely<Database>, countsLost = false): Promise<MaintenanceAction[]> {
  // The counts of the statements before this one reach pg_stat_* once this statement has ended.
  await sql`select pg_stat_force_next_flush()`.execute(db);
  const settings = await readSettings(db);
  const tables = await readTableStatistics(db);
  const due = tables.flatMap((table) => maintenanceFor(table, settings, countsLost) ?? []);
  // A VACUUM of the table itself covers its TOAST table.
  const vacuumed = new Set(due.filter((a) => a.command === 'vacuum' || a.command === 'vacuum (analyze)').map((a) => key(a)));
  return due.filter((a) => a.command !== 'vacuum toast' || !vacuumed.has(key(a)));
}

const key = (action: MaintenanceAction) => JSON.stringify([action.schema, action.table]);

async function readSettings(db: Kysely<Database>): Promise<AutovacuumSettings> {
  const { rows } = await sql<{ name: string; setting: string }>`
    select name, setting from pg_settings where name in (
      'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_max_threshold',
      'autovacuum_vacuum_insert_threshold', 'autovacuum_vacuum_insert_scale_factor',
      'autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor',
      'autovacuum_freeze_max_age', 'autovacuum_multixact_freeze_max_age')`.execute(db);
  const byName = new Map(rows.map((r) => [r.name, Number(r.setting)]));
  // PostgreSQL 18's defaults, for a setting PGlite would not report.
  const get = (name: string, fallback: number) => byName.get(name) ?? fallback;
  return {
    vacuumThreshold: get('autovacuum_vacuum_threshold', 50),
    vacuumScaleFactor: get('autovacuum_vacuum_scale_factor', 0.2),
    vacuumMaxThreshold: get('autovacuum_vacuum_max_threshold', 100_000_000),
    insertThreshold: get('autovacuum_vacuum_insert_threshold', 1000),
    insertScaleFactor: get('autovacuum_vacuum_insert_scale_factor', 0.2),
    analyzeThreshold: get('autovacuum_analyze_threshold', 50),
    analyzeScaleFactor: get('autovacuum_analyze_scale_factor', 0.1),
    freezeMaxAge: get('autovacuum_freeze_max_age', 200_000_000),
    multixactFreezeMaxAge: get('autovacuum_multixact_freeze_max_age', 400_000_000),
  };
}

async function readTableStatistics(db: Kysely<Database>): Promise<TableStatistics[]> {
  const { rows } = await sql<TableStatistics>`
    select s.schemaname as "schema", s.relname as "table", c.relkind as "kind",
      pn.nspname as "parentSchema", p.relname as "parentTable",
      c.reltuples::float8 as "reltuples", c.relpages as "relpages", c.relallfrozen as "relallfrozen",
      (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as "pages",
      s.n_mod_since_analyze::float8 as "modSinceAnalyze", s.n_dead_tup::float8 as "deadTuples",
      s.n_ins_since_vacuum::float8 as "insSinceVacuum",
      age(c.relfrozenxid) as "xidAge", mxid_age(c.relminmxid) as "mxidAge"
    from pg_stat_all_tables s
    join pg_class c on c.oid = s.relid
    left join pg_class p on c.relkind = 't' and p.reltoastrelid = c.oid
    left join pg_namespace pn on pn.oid = p.relnamespace
    where c.relkind in ('r', 'm', 't') and c.relpersistence = 'p'
    order by s.schemaname, s.relname`.execute(db);
  return rows;
}

/** Identifiers come from the catalog and are quoted by sql.id, never spliced into the text. */
async function runMaintenance(db: Kysely<Database>, action: MaintenanceAction): Promise<void> {
  const table = sql.id(action.schema, action.table);
  switch (action.command) {
    case 'analyze':
      await sql`analyze ${table}`.execute(db);
      return;
    case 'vacuum':
      await sql`vacuum ${table}`.execute(db);
      return;
    case 'vacuum (analyze)':
      await sql`vacuum (analyze) ${table}`.execute(db);
      return;
    case 'vacuum toast':
      await sql`vacuum (process_main false) ${table}`.execute(db);
      return;
  }
}

/** SQLSTATE and message only: PGlite's errors also carry the statement's parameters. */
function maintenanceError(table: string | undefined, error: unknown): MaintenanceError {
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return new MaintenanceError(table, table ? `maintenance of ${table} failed: ${message}` : `maintenance pass failed: ${message}`, code);
}
