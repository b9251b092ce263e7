// Apps, their members and environments.
import { sql } from 'kysely';
import type { App, Environment } from './apps.table.js';
import type { Executor } from './database.js';

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

/** Live members whose role has global access (Owner, Admin): they receive every new app and environment. */
export function findGlobalAccessMembers(db: Executor, organisationId: string): Promise<IdentityRow[]> {
  return db
    .selectFrom('members as m')
    .innerJoin('roles as r', 'r.id', 'm.role_id')
    .select(['m.id', 'm.identity_key'])
    .where('m.organisation_id', '=', organisationId)
    .where('m.deleted_at', 'is', null)
    .where('r.global_access', '=', true)
    .orderBy('m.created_at')
    .execute();
}

/** Live service accounts that are individual members of an app. */
export function findServiceAccountMembersOfApp(db: Executor, organisationId: string, appId: string): Promise<IdentityRow[]> {
  return db
    .selectFrom('app_members as am')
    .innerJoin('service_accounts as sa', 'sa.id', 'am.service_account_id')
    .select(['sa.id', 'sa.identity_key'])
    .where('am.organisation_id', '=', organisationId)
    .where('am.app_id', '=', appId)
    .where('sa.deleted_at', 'is', null)
    .execute();
}

export async function findMemberIdentity(db: Executor, organisationId: string, memberId: string): Promise<IdentityRow | undefined> {
  return db
    .selectFrom('members')
    .select(['id', 'identity_key'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', memberId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function findServiceAccountIdentity(db: Executor, organisationId: string, serviceAccountId: string): Promise<IdentityRow | undefined> {
  return db
    .selectFrom('service_accounts')
    .select(['id', 'identity_key'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', serviceAccountId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function maxEnvironmentIndex(db: Executor, appId: string): Promise<number | null> {
  const row = await db.selectFrom('environments').select((eb) => eb.fn.max('index').as('max')).where('app_id', '=', appId).executeTakeFirst();
  return row?.max ?? null;
}
