// Service accounts and their tokens, scoped to one organisation. Ids that are not UUIDs never
// reach SQL (the caller passes canonical ids from asUuid).
import type { ServiceAccountTokensTable } from './accounts.table.js';
import type { Insertable } from 'kysely';
import type { Executor } from './database.js';

export interface ServiceAccountRow {
  id: string;
  organisation_id: string;
  name: string;
  role_id: string | null;
  role_name: string | null;
  identity_key: string;
  server_wrapped_keyring: string;
  created_at: Date;
  updated_at: Date;
}

function selectServiceAccounts(db: Executor, organisationId: string) {
  return db
    .selectFrom('service_accounts as sa')
    .leftJoin('roles as r', 'r.id', 'sa.role_id')
    .select(['sa.id', 'sa.organisation_id', 'sa.name', 'sa.role_id', 'r.name as role_name', 'sa.identity_key', 'sa.server_wrapped_keyring', 'sa.created_at', 'sa.updated_at'])
    .where('sa.organisation_id', '=', organisationId)
    .where('sa.deleted_at', 'is', null);
}

/** Live service accounts, newest first (rest-api §1.7). */
export function listServiceAccounts(db: Executor, organisationId: string): Promise<ServiceAccountRow[]> {
  return selectServiceAccounts(db, organisationId).orderBy('sa.created_at', 'desc').orderBy('sa.id', 'desc').execute();
}

export function findServiceAccount(db: Executor, organisationId: string, id: string): Promise<ServiceAccountRow | undefined> {
  return selectServiceAccounts(db, organisationId).where('sa.id', '=', id).executeTakeFirst();
}

export async function insertServiceAccount(
  db: Executor,
  row: { id: string; organisation_id: string; name: string; role_id: string; identity_key: string; server_wrapped_keyring: string; created_at: Date },
): Promise<void> {
  await db
    .insertInto('service_accounts')
    .values({ ...row, updated_at: row.created_at, deleted_at: null })
    .execute();
}

/**
 * False when the account is not (or no longer) live. An UPDATE waits for a concurrent delete and then
 * re-checks `deleted_at` on the row it left, so a rename never lands on a deleted account.
 */
export async function updateServiceAccount(db: Executor, organisationId: string, id: string, changes: { name?: string; role_id?: string }, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('service_accounts')
    .set({ ...changes, updated_at: at })
    .where('organisation_id', '=', organisationId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * False when the account was already deleted (a concurrent delete that committed first). Its row lock
 * (FOR NO KEY UPDATE) waits for transactions holding the account FOR SHARE (src/store/apps.ts "Grantee
 * reads") but not for the FOR KEY SHARE of foreign keys, so a delete never deadlocks with a write that
 * inserts rows pointing at the account.
 */
/**
 * A live service account's role, its row held in SHARE until the transaction ends: the role cannot
 * change (nor the account be deleted) while a change the account makes is judged on it.
 */
export function lockServiceAccountRole(db: Executor, organisationId: string, id: string): Promise<{ role_id: string | null } | undefined> {
  return db.selectFrom('service_accounts').select('role_id').where('organisation_id', '=', organisationId).where('id', '=', id).where('deleted_at', 'is', null).forShare().executeTakeFirst();
}

export async function softDeleteServiceAccount(db: Executor, organisationId: string, id: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('service_accounts')
    .set({ deleted_at: at, updated_at: at })
    .where('organisation_id', '=', organisationId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface ServiceAccountTokenRow {
  id: string;
  name: string;
  created_at: Date;
  expires_at: Date | null;
}

/** Non-revoked tokens (expired ones included), newest first (rest-api §3.5). */
export function listLiveTokens(db: Executor, organisationId: string, serviceAccountId: string): Promise<ServiceAccountTokenRow[]> {
  return db
    .selectFrom('service_account_tokens')
    .select(['id', 'name', 'created_at', 'expires_at'])
    .where('organisation_id', '=', organisationId)
    .where('service_account_id', '=', serviceAccountId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

export function findLiveToken(db: Executor, organisationId: string, serviceAccountId: string, tokenId: string): Promise<ServiceAccountTokenRow | undefined> {
  return db
    .selectFrom('service_account_tokens')
    .select(['id', 'name', 'created_at', 'expires_at'])
    .where('organisation_id', '=', organisationId)
    .where('service_account_id', '=', serviceAccountId)
    .where('id', '=', tokenId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function insertServiceAccountToken(db: Executor, row: Insertable<ServiceAccountTokensTable>): Promise<void> {
  await db.insertInto('service_account_tokens').values(row).execute();
}

/** False when the token was already revoked (by a revocation that committed first). */
export async function revokeToken(db: Executor, organisationId: string, tokenId: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('service_account_tokens')
    .set({ deleted_at: at })
    .where('organisation_id', '=', organisationId)
    .where('id', '=', tokenId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function revokeAllTokens(db: Executor, organisationId: string, serviceAccountId: string, at: Date): Promise<void> {
  await db
    .updateTable('service_account_tokens')
    .set({ deleted_at: at })
    .where('organisation_id', '=', organisationId)
    .where('service_account_id', '=', serviceAccountId)
    .where('deleted_at', 'is', null)
    .execute();
}
