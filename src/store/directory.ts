// Lookups of apps, environments and secrets by id or name, always scoped to one organisation:
// an id of another organisation is indistinguishable from one that does not exist.
import { sql } from 'kysely';
import type { Executor } from './database.js';

export interface AppRef {
  id: string;
  organisation_id: string;
  name: string;
  sse_enabled: boolean;
}

export interface EnvironmentRef {
  id: string;
  organisation_id: string;
  app_id: string;
  name: string;
}

export async function findAppRef(db: Executor, organisationId: string, appId: string): Promise<AppRef | undefined> {
  const id = asUuid(appId);
  if (!id) return undefined;
  return db
    .selectFrom('apps')
    .select(['id', 'organisation_id', 'name', 'sse_enabled'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findEnvironmentRef(db: Executor, organisationId: string, environmentId: string): Promise<EnvironmentRef | undefined> {
  const id = asUuid(environmentId);
  if (!id) return undefined;
  return db
    .selectFrom('environments')
    .select(['id', 'organisation_id', 'app_id', 'name'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The environment of app `appId` whose name equals `name` case-insensitively. */
export async function findEnvironmentRefByName(db: Executor, organisationId: string, appId: string, name: string): Promise<EnvironmentRef | undefined> {
  const id = asUuid(appId);
  // PostgreSQL refuses NUL in text parameters; no environment name contains one.
  if (!id || name.includes('\u0000')) return undefined;
  return db
    .selectFrom('environments')
    .select(['id', 'organisation_id', 'app_id', 'name'])
    .where('organisation_id', '=', organisationId)
    .where('app_id', '=', id)
    .where(sql`lower(name)`, '=', name.toLowerCase())
    .executeTakeFirst();
}

/** The environment holding a secret (deleted or not): the Secret-Id context selector. */
export async function findEnvironmentIdOfSecret(db: Executor, organisationId: string, secretId: string): Promise<string | undefined> {
  const id = asUuid(secretId);
  if (!id) return undefined;
  const row = await db
    .selectFrom('secrets')
    .select('environment_id')
    .where('organisation_id', '=', organisationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.environment_id;
}

/** Canonical lower-case UUID text, or undefined: ids that are not UUIDs never match a record. */
export function asUuid(value: string): string | undefined {
  return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value) ? value.toLowerCase() : undefined;
}
