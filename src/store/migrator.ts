// Versioned migrations, imported statically so the compiled package needs no file scanning.
// On PostgreSQL, Kysely's migrator holds an advisory lock while it runs: several nodes starting
// together against one database migrate exactly once.
import type { Kysely } from 'kysely';
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

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await createMigrator(db).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationFailedError(failed?.migrationName, result.error);
  }
  return result;
}
