// Transactions with after-commit hooks: caches owned by this process are updated only once the
// database has the change (and never for a rolled-back transaction).
import type { Db, Tx } from '../store/database.js';

export interface UnitOfWork {
  readonly trx: Tx;
  /** Runs after a successful commit, in registration order. */
  afterCommit(hook: () => void): void;
}

export async function inTransaction<T>(db: Db, work: (unit: UnitOfWork) => Promise<T>): Promise<T> {
  const hooks: Array<() => void> = [];
  const result = await db.transaction().execute((trx) => work({ trx, afterCommit: (hook) => hooks.push(hook) }));
  for (const hook of hooks) hook();
  return result;
}

/** Postgres error code of a unique violation, surfaced by pg and PGlite alike. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}
