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

/**
 * Locks the app an environment is being created in, FOR NO KEY UPDATE until commit: as
 * lockAppsForNewRows, and creates in one app also wait for each other, so each reads the highest
 * index after the previous one committed. It conflicts with FOR SHARE and stronger only: access
 * changes and promotions lock apps FOR KEY SHARE and foreign keys check them so, which it lets
 * through; what waits for it (app renames, deletes, enabling SSE, other creates in the app) locks the
 * app before anything else. Undefined when the app is gone.
 */
export function lockAppForNewEnvironment(trx: Tx, organisationId: string, appId: string): Promise<App | undefined> {
  return trx.selectFrom('apps').selectAll().where('organisation_id', '=', organisationId).where('id', '=', appId).forNoKeyUpdate().executeTakeFirst();
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

/**
 * The environment's row, locked until the transaction ends (a rename or a delete): of two at once,
 * the second sees what the first left. Undefined when it is gone.
 */
export function lockEnvironment(trx: Tx, organisationId: string, environmentId: string): Promise<Environment | undefined> {
  return trx.selectFrom('environments').selectAll().where('organisation_id', '=', organisationId).where('id', '=', environmentId).forUpdate().executeTakeFirst();
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
// - every live member row of the organisation FOR SHARE, not only the global-access ones
//   (lockGlobalAccessMembers): a role change updates the member row (FOR NO KEY UPDATE) before a
//   promotion lists the environments to grant (grantEverything). So a promotion that came first makes
//   the read wait and then see the new role, and one that comes later waits for the new environment
//   to commit and then grants it too. Locking only the members that were global when read would miss
//   the member being promoted.
// - the app's memberships FOR SHARE (lockAppMemberships). Taking an account out of an app (access PUT,
//   service-account deletion, member removal) deletes the membership first, which conflicts, and only
//   then lists the app's environments whose grants go.
// Creates take them after the app lock and before the audit head, account rows before memberships,
// as removals do (account row, then memberships, then grants). Access changes lock their account
// first (role, account, apps, environments; Members.setAccess, ServiceAccounts.setAccess). The two
// orders cannot deadlock: app, account and membership locks taken by creates and access changes are
// all share modes (FOR KEY SHARE, FOR SHARE), which never wait for each other (an environment
// create's FOR NO KEY UPDATE on its app conflicts with none of the FOR KEY SHARE app locks). Nor does locking every
// member row add one: those rows are updated (FOR NO KEY UPDATE) only by a role change or a removal,
// one row per transaction, locked before anything else but the role (FOR SHARE, which creates do not
// take). What those take afterwards is never held by a create waiting for the member row: apps and
// environments FOR KEY SHARE (no conflict with a create's app lock or foreign-key locks), the member's
// memberships and grants (a create locks memberships only after every member row, this one included,
// so the update would have waited for it) and the audit head (a create takes it after all its row
// locks). Member rows are locked by several transactions only in share modes, so the order (creator
// first, then all in id order) cannot matter either.

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
 * environment. Every live member row of the organisation is locked FOR SHARE until commit, in id
 * order, and who is global is decided from the rows as locked (see above), by a second statement: a
 * join with roles in the locking statement would, after waiting for a promotion, be re-checked
 * against the old role's row.
 */
export async function lockGlobalAccessMembers(trx: Tx, organisationId: string): Promise<IdentityRow[]> {
  const members = await trx
    .selectFrom('members')
    .select(['id', 'identity_key', 'role_id'])
    .where('organisation_id', '=', organisationId)
    .where('deleted_at', 'is', null)
    .orderBy('id')
    .forShare()
    .execute();
  if (members.length === 0) return [];
  const globalRoles = await trx.selectFrom('roles').select('id').where('organisation_id', '=', organisationId).where('global_access', '=', true).execute();
  const global = new Set(globalRoles.map((r) => r.id));
  return members.filter((m) => m.role_id !== null && global.has(m.role_id)).map((m) => ({ id: m.id, identity_key: m.identity_key }));
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
