// Apps, their members and environments.
import { sql } from 'kysely';
import type { App, Environment } from './apps.table.js';
import type { Executor, Tx } from './database.js';

export function listAppsOfAccount(db: Executor, organisationId: string, account: { memberId: string } | { serviceAccountId: string }): Promise<App[]> {
  return db
    .selectFrom('apps')
    .selectAll('apps')
    .where('apps.organisation_id', '=', organisationId)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('app_members as am')
          .select(sql`1`.as('one'))
          .whereRef('am.app_id', '=', 'apps.id')
          .where('memberId' in account ? 'am.member_id' : 'am.service_account_id', '=', 'memberId' in account ? account.memberId : account.serviceAccountId),
      ),
    )
    .orderBy('apps.created_at', 'desc')
    .orderBy('apps.id', 'desc')
    .execute();
}

export function findApp(db: Executor, organisationId: string, appId: string): Promise<App | undefined> {
  return db.selectFrom('apps').selectAll().where('organisation_id', '=', organisationId).where('id', '=', appId).executeTakeFirst();
}

/**
 * Locks apps that are about to get rows under them (environments, memberships) until the
 * transaction ends: FOR KEY SHARE lets renames and other such writes through but makes a concurrent
 * delete of the app wait, and one that committed first leaves its app out. Returns the apps that
 * still exist, locked in id order.
 */
export function lockAppsForNewRows(trx: Tx, organisationId: string, appIds: readonly string[]): Promise<App[]> {
  if (appIds.length === 0) return Promise.resolve([]);
  return trx.selectFrom('apps').selectAll().where('organisation_id', '=', organisationId).where('id', 'in', appIds).orderBy('id').forKeyShare().execute();
}

/** As lockAppsForNewRows, for environments about to be granted: the ids that still exist. Apps are locked before environments. */
export async function lockEnvironmentsForNewRows(trx: Tx, organisationId: string, environmentIds: readonly string[]): Promise<string[]> {
  if (environmentIds.length === 0) return [];
  const rows = await trx.selectFrom('environments').select('id').where('organisation_id', '=', organisationId).where('id', 'in', environmentIds).orderBy('id').forKeyShare().execute();
  return rows.map((row) => row.id);
}

/**
 * Deletes an app and (by cascade) everything under it. The app row is locked first, so creates
 * under it that hold it (lockAppsForNewRows) have committed and their environments are among the
 * ids returned. Undefined when the app was already gone.
 */
export async function deleteApp(trx: Tx, organisationId: string, appId: string): Promise<string[] | undefined> {
  const app = await trx.selectFrom('apps').select('id').where('organisation_id', '=', organisationId).where('id', '=', appId).forUpdate().executeTakeFirst();
  if (!app) return undefined;
  const environments = await trx.selectFrom('environments').select('id').where('organisation_id', '=', organisationId).where('app_id', '=', appId).execute();
  await trx.deleteFrom('apps').where('organisation_id', '=', organisationId).where('id', '=', appId).execute();
  return environments.map((env) => env.id);
}

export function findEnvironment(db: Executor, organisationId: string, environmentId: string): Promise<Environment | undefined> {
  return db.selectFrom('environments').selectAll().where('organisation_id', '=', organisationId).where('id', '=', environmentId).executeTakeFirst();
}

export function listEnvironmentsOfApp(db: Executor, organisationId: string, appId: string): Promise<Environment[]> {
  return db
    .selectFrom('environments')
    .selectAll()
    .where('organisation_id', '=', organisationId)
    .where('app_id', '=', appId)
    .orderBy('index')
    .orderBy('created_at')
    .execute();
}

export interface IdentityRow {
  id: string;
  identity_key: string;
}

// Grantee reads. Whoever wraps a new environment key to accounts reads them with these, inside the
// transaction that inserts the grants, and holds what they read until commit:
// - the accounts' rows FOR SHARE. A removal (member removal, service-account deletion) first updates
//   the account row (soft delete: FOR NO KEY UPDATE, which conflicts with FOR SHARE but not with the
//   FOR KEY SHARE the grants' foreign keys take) and only then deletes the account's grants. So a
//   removal that came first makes the read wait and then drop the account (PostgreSQL re-checks
//   `deleted_at` on the new row version), and one that comes later waits for the grants to commit and
//   then deletes them with the rest.
// - the app's memberships FOR SHARE (lockAppMemberships). Taking an account out of an app (access PUT,
//   service-account deletion, member removal) deletes the membership first, which conflicts, and only
//   then lists the app's environments whose grants go.
// Creates take them after the app lock and before the audit head, account rows before memberships,
// as removals do (account row, then memberships, then grants). Access changes lock their account
// first (role, account, apps, environments; Members.setAccess, ServiceAccounts.setAccess). The two
// orders cannot deadlock: app, account and membership locks taken by creates and access changes are
// all share modes (FOR KEY SHARE, FOR SHARE), which never wait for each other.

/** The live member, locked FOR SHARE until commit (see above). */
export async function lockMemberIdentity(trx: Tx, organisationId: string, memberId: string): Promise<IdentityRow | undefined> {
  return trx
    .selectFrom('members')
    .select(['id', 'identity_key'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', memberId)
    .where('deleted_at', 'is', null)
    .forShare()
    .executeTakeFirst();
}

/** The live service account, locked FOR SHARE until commit (see above). */
export async function lockServiceAccountIdentity(trx: Tx, organisationId: string, serviceAccountId: string): Promise<IdentityRow | undefined> {
  return trx
    .selectFrom('service_accounts')
    .select(['id', 'identity_key'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', serviceAccountId)
    .where('deleted_at', 'is', null)
    .forShare()
    .executeTakeFirst();
}

/**
 * Live members whose role has global access (Owner, Admin): they receive every new app and
 * environment. Their rows are locked FOR SHARE until commit, in id order (see above).
 */
export function lockGlobalAccessMembers(trx: Tx, organisationId: string): Promise<IdentityRow[]> {
  return trx
    .selectFrom('members as m')
    .innerJoin('roles as r', 'r.id', 'm.role_id')
    .select(['m.id', 'm.identity_key'])
    .where('m.organisation_id', '=', organisationId)
    .where('m.deleted_at', 'is', null)
    .where('r.global_access', '=', true)
    .orderBy('m.id')
    .forShare('m')
    .execute();
}

/** Locks every membership of the app FOR SHARE until commit (see above); memberships deleted meanwhile are skipped. */
export async function lockAppMemberships(trx: Tx, organisationId: string, appId: string): Promise<void> {
  await trx.selectFrom('app_members').select('app_id').where('organisation_id', '=', organisationId).where('app_id', '=', appId).forShare().execute();
}

/**
 * Live service accounts that are individual members of an app. Called after lockAppMemberships, so
 * it reads (as a new statement) the memberships that survived any removal it waited for.
 */
export function findServiceAccountMembersOfApp(trx: Tx, organisationId: string, appId: string): Promise<IdentityRow[]> {
  return trx
    .selectFrom('app_members as am')
    .innerJoin('service_accounts as sa', 'sa.id', 'am.service_account_id')
    .select(['sa.id', 'sa.identity_key'])
    .where('am.organisation_id', '=', organisationId)
    .where('am.app_id', '=', appId)
    .where('sa.deleted_at', 'is', null)
    .execute();
}

export async function maxEnvironmentIndex(db: Executor, appId: string): Promise<number | null> {
  const row = await db.selectFrom('environments').select((eb) => eb.fn.max('index').as('max')).where('app_id', '=', appId).executeTakeFirst();
  return row?.max ?? null;
}
