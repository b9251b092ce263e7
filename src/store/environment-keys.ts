// Environment key material rows: the server's sealed copy (SSE) and per-principal grants.
import type { Executor } from './database.js';

export interface ServerEnvironmentKeyRow {
  environment_id: string;
  organisation_id: string;
  wrapped_seed: string;
  wrapped_salt: string;
}

/** The server's sealed copy of an environment's key (the environment id was resolved within its organisation). */
export function findServerEnvironmentKey(db: Executor, environmentId: string): Promise<ServerEnvironmentKeyRow | undefined> {
  return db
    .selectFrom('server_environment_keys')
    .select(['environment_id', 'organisation_id', 'wrapped_seed', 'wrapped_salt'])
    .where('environment_id', '=', environmentId)
    .executeTakeFirst();
}

export interface EnvironmentKeyInsert {
  id: string;
  organisation_id: string;
  environment_id: string;
  member_id: string | null;
  service_account_id: string | null;
  identity_key: string;
  wrapped_seed: string;
  wrapped_salt: string;
  created_at: Date;
  updated_at: Date;
}

/** Inserts grants, leaving existing grants of the same principal untouched; the environments of the rows it inserted. */
export async function insertEnvironmentKeys(db: Executor, rows: EnvironmentKeyInsert[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await db.insertInto('environment_keys').values(rows).onConflict((oc) => oc.doNothing()).returning('environment_id').execute();
  return inserted.map((row) => row.environment_id);
}
