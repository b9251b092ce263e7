// One account's individual access: its app memberships and its environment grants (EnvironmentKey
// rows). Every function is scoped to the organisation; the account is a member or a service account.
import type { Executor, Tx } from './database.js';
import type { EnvironmentKeyInsert } from './environment-keys.js';

export type AccountRef = { memberId: string } | { serviceAccountId: string };

function accountColumn(account: AccountRef) {
  return 'memberId' in account
    ? ({ column: 'member_id', id: account.memberId } as const)
    : ({ column: 'service_account_id', id: account.serviceAccountId } as const);
}

export interface MemberAppRow {
  id: string;
  name: string;
  created_at: Date;
}

/** Apps the account is an individual member of, newest first (rest-api §1.7). */
export function listAppsOfAccountMembership(db: Executor, organisationId: string, account: AccountRef): Promise<MemberAppRow[]> {
  const { column, id } = accountColumn(account);
  return db
    .selectFrom('app_members as am')
    .innerJoin('apps as a', 'a.id', 'am.app_id')
    .select(['a.id', 'a.name', 'a.created_at'])
    .where('am.organisation_id', '=', organisationId)
    .where(`am.${column}`, '=', id)
    .orderBy('a.created_at', 'desc')
    .orderBy('a.id', 'desc')
    .execute();
}

export interface GrantedEnvironmentRow {
  id: string;
  app_id: string;
  name: string;
  env_type: string;
  index: number;
}

/** Environments the account holds a grant for, by app and index. */
export function listGrantedEnvironments(db: Executor, organisationId: string, account: AccountRef): Promise<GrantedEnvironmentRow[]> {
  const { column, id } = accountColumn(account);
  return db
    .selectFrom('environment_keys as ek')
    .innerJoin('environments as e', 'e.id', 'ek.environment_id')
    .select(['e.id', 'e.app_id', 'e.name', 'e.env_type', 'e.index'])
    .where('ek.organisation_id', '=', organisationId)
    .where(`ek.${column}`, '=', id)
    .orderBy('e.app_id')
    .orderBy('e.index')
    .orderBy('e.created_at')
    .execute();
}

export interface GrantRow {
  environment_id: string;
  identity_key: string;
  wrapped_seed: string;
  wrapped_salt: string;
}

/** The account's EnvironmentKey rows (what a token of the account must be able to open). */
export function listGrantRows(db: Executor, organisationId: string, account: AccountRef): Promise<GrantRow[]> {
  const { column, id } = accountColumn(account);
  return db
    .selectFrom('environment_keys')
    .select(['environment_id', 'identity_key', 'wrapped_seed', 'wrapped_salt'])
    .where('organisation_id', '=', organisationId)
    .where(column, '=', id)
    .execute();
}

/** Makes the account a member of the apps it is not a member of yet; the apps it joined now. */
export async function addAppMemberships(db: Executor, organisationId: string, account: AccountRef, appIds: readonly string[], at: Date): Promise<string[]> {
  if (appIds.length === 0) return [];
  const who = 'memberId' in account ? { member_id: account.memberId, service_account_id: null } : { member_id: null, service_account_id: account.serviceAccountId };
  const inserted = await db
    .insertInto('app_members')
    .values(appIds.map((appId) => ({ app_id: appId, organisation_id: organisationId, ...who, created_at: at })))
    .onConflict((oc) => oc.doNothing())
    .returning('app_id')
    .execute();
  return inserted.map((row) => row.app_id);
}

/** Takes the account out of the apps; the apps it was a member of. */
export async function removeAppMemberships(db: Executor, organisationId: string, account: AccountRef, appIds: readonly string[]): Promise<string[]> {
  if (appIds.length === 0) return [];
  const { column, id } = accountColumn(account);
  const removed = await db.deleteFrom('app_members').where('organisation_id', '=', organisationId).where(column, '=', id).where('app_id', 'in', appIds).returning('app_id').execute();
  return removed.map((row) => row.app_id);
}

/** Deletes the account's grants of the environments; the environments it held. */
export async function removeEnvironmentGrants(db: Executor, organisationId: string, account: AccountRef, environmentIds: readonly string[]): Promise<string[]> {
  if (environmentIds.length === 0) return [];
  const { column, id } = accountColumn(account);
  const removed = await db
    .deleteFrom('environment_keys')
    .where('organisation_id', '=', organisationId)
    .where(column, '=', id)
    .where('environment_id', 'in', environmentIds)
    .returning('environment_id')
    .execute();
  return removed.map((row) => row.environment_id);
}

/**
 * Drops every app membership and environment grant of the account (removal, deletion). Call it after
 * the account row was soft-deleted. Memberships go first: deleting one waits for environment creates
 * that hold it (lockAppMemberships), and the grants those wrote are then seen and deleted here.
 */
export async function removeAllIndividualAccess(db: Executor, organisationId: string, account: AccountRef): Promise<void> {
  const { column, id } = accountColumn(account);
  await db.deleteFrom('app_members').where('organisation_id', '=', organisationId).where(column, '=', id).execute();
  await db.deleteFrom('environment_keys').where('organisation_id', '=', organisationId).where(column, '=', id).execute();
}

export async function insertGrants(db: Executor, rows: EnvironmentKeyInsert[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('environment_keys').values(rows).onConflict((oc) => oc.doNothing()).execute();
}

export interface AppWithEnvironmentsRow {
  id: string;
  name: string;
  sse_enabled: boolean;
}

/** Apps of the organisation by id (ids already canonical UUIDs). */
export function findAppsByIds(db: Executor, organisationId: string, appIds: readonly string[]): Promise<AppWithEnvironmentsRow[]> {
  if (appIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('apps').select(['id', 'name', 'sse_enabled']).where('organisation_id', '=', organisationId).where('id', 'in', appIds).execute();
}

export interface EnvironmentOfAppRow {
  id: string;
  app_id: string;
}

export function listEnvironmentIdsOfApps(db: Executor, organisationId: string, appIds: readonly string[]): Promise<EnvironmentOfAppRow[]> {
  if (appIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('environments').select(['id', 'app_id']).where('organisation_id', '=', organisationId).where('app_id', 'in', appIds).execute();
}

/** Every app and environment of the organisation, locked FOR KEY SHARE (promotion to a global-access role). */
export async function lockAllAppAndEnvironmentIds(trx: Tx, organisationId: string): Promise<{ appIds: string[]; environmentIds: string[] }> {
  // Locked until commit (apps before environments, each in id order), so none is deleted under the
  // memberships and grants about to be written; one deleted first is simply not listed.
  const apps = await trx.selectFrom('apps').select('id').where('organisation_id', '=', organisationId).orderBy('id').forKeyShare().execute();
  const environments = await trx.selectFrom('environments').select('id').where('organisation_id', '=', organisationId).orderBy('id').forKeyShare().execute();
  return { appIds: apps.map((a) => a.id), environmentIds: environments.map((e) => e.id) };
}
