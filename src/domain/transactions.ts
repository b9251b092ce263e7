// Transactions with completion hooks: caches owned by this process are updated only once the
// database has the change (and never for a rolled-back transaction).
import type { Db, Tx } from '../store/database.js';

export interface UnitOfWork {
  readonly trx: Tx;
  /** Runs after a successful commit, in registration order. */
  afterCommit(hook: () => void): void;
  /** Runs after the transaction was rolled back (the work threw or the commit failed). */
  afterRollback(hook: () => void): void;
}

const units = new WeakMap<Tx, UnitOfWork>();

/** The unit of work a transaction belongs to, when it was opened by inTransaction. */
export function unitOf(trx: Tx): UnitOfWork | undefined {
  return units.get(trx);
}

export async function inTransaction<T>(db: Db, work: (unit: UnitOfWork) => Promise<T>): Promise<T> {
  const committed: Array<() => void> = [];
  const rolledBack: Array<() => void> = [];
  let result: T;
  try {
    result = await db.transaction().execute((trx) => {
      const unit: UnitOfWork = { trx, afterCommit: (hook) => committed.push(hook), afterRollback: (hook) => rolledBack.push(hook) };
      units.set(trx, unit);
      return work(unit);
    });
  } catch (error) {
    for (const hook of rolledBack) hook();
    throw error;
  }
  for (const hook of committed) hook();
  return result;
}

/** Postgres error code of a unique violation, surfaced by pg and PGlite alike. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}
