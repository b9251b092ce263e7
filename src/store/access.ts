// The rows that decide access: roles, app memberships and environment grants.
import type { Role } from './accounts.table.js';
import type { Executor } from './database.js';

export function findRole(db: Executor, organisationId: string, roleId: string): Promise<Role | undefined> {
  return db.selectFrom('roles').selectAll().where('organisation_id', '=', organisationId).where('id', '=', roleId).executeTakeFirst();
}

export interface AccountAccessRow {
  role_id: string | null;
  deleted_at: Date | null;
}

export function findMemberAccount(db: Executor, organisationId: string, memberId: string): Promise<AccountAccessRow | undefined> {
  return db
    .selectFrom('members')
    .select(['role_id', 'deleted_at'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', memberId)
    .executeTakeFirst();
}

export function findServiceAccountAccount(db: Executor, organisationId: string, serviceAccountId: string): Promise<AccountAccessRow | undefined> {
  return db
    .selectFrom('service_accounts')
    .select(['role_id', 'deleted_at'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', serviceAccountId)
    .executeTakeFirst();
}

type Account = { memberId: string } | { serviceAccountId: string };

export async function findAppMemberships(db: Executor, organisationId: string, account: Account): Promise<string[]> {
  let query = db.selectFrom('app_members').select('app_id').where('organisation_id', '=', organisationId);
  query = 'memberId' in account ? query.where('member_id', '=', account.memberId) : query.where('service_account_id', '=', account.serviceAccountId);
  return (await query.execute()).map((row) => row.app_id);
}

export async function findEnvironmentGrants(db: Executor, organisationId: string, account: Account): Promise<string[]> {
  let query = db.selectFrom('environment_keys').select('environment_id').where('organisation_id', '=', organisationId);
  query = 'memberId' in account ? query.where('member_id', '=', account.memberId) : query.where('service_account_id', '=', account.serviceAccountId);
  return (await query.execute()).map((row) => row.environment_id);
}
