// Organisation memberships with their user and role, scoped to one organisation.
import type { Executor } from './database.js';

export interface MemberRow {
  id: string;
  user_id: string;
  email: string;
  full_name: string;
  role_id: string | null;
  role_name: string | null;
  role_is_default: boolean | null;
  role_global_access: boolean | null;
  identity_key: string;
  created_at: Date;
  updated_at: Date;
}

function selectMembers(db: Executor, organisationId: string) {
  return db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('roles as r', 'r.id', 'm.role_id')
    .select([
      'm.id',
      'm.user_id',
      'u.email',
      'u.full_name',
      'm.role_id',
      'r.name as role_name',
      'r.is_default as role_is_default',
      'r.global_access as role_global_access',
      'm.identity_key',
      'm.created_at',
      'm.updated_at',
    ])
    .where('m.organisation_id', '=', organisationId)
    .where('m.deleted_at', 'is', null);
}

/** Active members, oldest first (rest-api §1.7). */
export function listMembers(db: Executor, organisationId: string): Promise<MemberRow[]> {
  return selectMembers(db, organisationId).orderBy('m.created_at').orderBy('m.id').execute();
}

export function findMember(db: Executor, organisationId: string, memberId: string): Promise<MemberRow | undefined> {
  return selectMembers(db, organisationId).where('m.id', '=', memberId).executeTakeFirst();
}

export function findMemberByEmail(db: Executor, organisationId: string, email: string): Promise<MemberRow | undefined> {
  return selectMembers(db, organisationId).where('u.email', '=', email).executeTakeFirst();
}

/** False when the member is not (or no longer) live. */
export async function setMemberRole(db: Executor, organisationId: string, memberId: string, roleId: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('members')
    .set({ role_id: roleId, updated_at: at })
    .where('organisation_id', '=', organisationId)
    .where('id', '=', memberId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function softDeleteMember(db: Executor, organisationId: string, memberId: string, at: Date): Promise<void> {
  await db.updateTable('members').set({ deleted_at: at, updated_at: at }).where('organisation_id', '=', organisationId).where('id', '=', memberId).execute();
}
