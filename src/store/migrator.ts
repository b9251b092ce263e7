// Versioned migrations, imported statically so the compiled package needs no file scanning.
// On PostgreSQL, Kysely's migrator holds an advisory lock while it runs: several nodes starting
// together against one database migrate exactly once.
import { sql, type Kysely, type Transaction } from 'kysely';
import { Migrator, type Migration, type MigrationResultSet } from 'kysely/migration';
import * as m0001 from './migrations/0001_initial.js';
import * as m0002 from './migrations/0002_events_without_foreign_key.js';
import * as m0003 from './migrations/0003_user_credentials_changed_at.js';

export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_events_without_foreign_key': m0002,
  '0003_user_credentials_changed_at': m0003,
};

export const MIGRATION_TABLE = 'coffer_migrations';

export class MigrationFailedError extends Error {
  constructor(readonly migration: string | undefined, override readonly cause: unknown) {
    super(`database migration ${migration ?? '(unknown)'} failed: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'MigrationFailedError';
  }
}

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
}

/** The store was migrated by a newer Coffer than this one: this one does not know its schema. */
export class StoreNewerThanCodeError extends Error {
  constructor(readonly unknownMigrations: readonly string[]) {
    super(
      `the store was upgraded by a newer Coffer (migration ${unknownMigrations.join(', ')}, which this version does not know): ` +
        'run that version or a later one; an older one cannot use the store any more',
    );
    this.name = 'StoreNewerThanCodeError';
  }
}

/** The migrations the store has applied, by name (none when it holds no Coffer schema yet). */
export async function appliedMigrations(db: Kysely<any> | Transaction<any>): Promise<string[]> {
  const exists = await sql<{ present: boolean }>`select to_regclass(${MIGRATION_TABLE}) is not null as present`.execute(db);
  if (!exists.rows[0]?.present) return [];
  const result = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return result.rows.map((r) => r.name);
}

/** Migrations this version knows and the store has not applied, oldest first. */
export function pendingMigrations(applied: readonly string[]): string[] {
  const done = new Set(applied);
  return Object.keys(migrations).filter((name) => !done.has(name));
}

/** Refuses a store that has applied migrations this version does not know. */
export function assertSchemaKnown(applied: readonly string[]): void {
  const unknown = applied.filter((name) => !(name in migrations));
  if (unknown.length > 0) throw new StoreNewerThanCodeError(unknown);
}

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = createMigrator(db);
  // Kysely would report this as a failed migration "(unknown)", with a stack trace.
  assertSchemaKnown(await appliedMigrations(db));
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationFailedError(failed?.migrationName, result.error);
  }
  return result;
}
