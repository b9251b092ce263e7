// Server-wide facts in the server_state table (key -> text value).
import type { Executor } from './database.js';

/** Prefix of the rows holding setup-code hashes: one row per code (each node may log its own). */
export const SETUP_CODE_PREFIX = 'setup_code:';
/** Written once, in the setup transaction; its primary key makes a second setup fail. */
export const SETUP_COMPLETED_KEY = 'setup_completed';

export async function findState(db: Executor, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('server_state').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Inserts a fact; false when the key already exists. */
export async function insertStateIfAbsent(db: Executor, key: string, value: string, at: Date): Promise<boolean> {
  const inserted = await db
    .insertInto('server_state')
    .values({ key, value, updated_at: at })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function upsertState(db: Executor, key: string, value: string, at: Date): Promise<void> {
  await db
    .insertInto('server_state')
    .values({ key, value, updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
    .execute();
}

export function findStatesByPrefix(db: Executor, prefix: string): Promise<Array<{ key: string; value: string }>> {
  return db.selectFrom('server_state').select(['key', 'value']).where('key', 'like', `${prefix}%`).execute();
}

export async function deleteStatesByPrefix(db: Executor, prefix: string): Promise<void> {
  await db.deleteFrom('server_state').where('key', 'like', `${prefix}%`).execute();
}
