// Organisation memberships with their user and role, scoped to one organisation.
import { sql } from 'kysely';
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
  await db.updateTable('members').set({ deleted_at: at, updated_at: at }).where('organisation_id', '=', organisationId).where('id', '=', memberId).where('deleted_at', 'is', null).execute();
}

/**
 * Locks a member about to be changed (NO KEY UPDATE, the lock an UPDATE of the row takes anyway:
 * inserts referencing it, its grants, take KEY SHARE and are not held up) and, when a member makes
 * the change, the caller's row (SHARE: its role cannot change meanwhile, while the creates of apps
 * and environments, which hold members' rows in SHARE too, are not held up). In id order, so that
 * two changes locking the same two members cannot deadlock. Returns both live rows, with their
 * roles, read after the locks: of two changes at once, the second judges what the first left.
 */
export async function lockMembersForChange(db: Executor, organisationId: string, targetId: string, callerId: string | undefined): Promise<MemberRow[]> {
  const locks: Array<[string, 'no key update' | 'share']> = [[targetId, 'no key update']];
  if (callerId !== undefined && callerId !== targetId) locks.push([callerId, 'share']);
  locks.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, mode] of locks) {
    await db.selectFrom('members').select('id').where('organisation_id', '=', organisationId).where('id', '=', id).modifyEnd(sql`for ${sql.raw(mode)}`).execute();
  }
  // Read by a statement of its own: a locked row that changed while this waited is re-read by
  // PostgreSQL, but not the role joined to it (the left join then found no role, and a member just
  // made Admin passed for one without global access).
  return selectMembers(db, organisationId).where('m.id', 'in', locks.map(([id]) => id)).execute();
}
