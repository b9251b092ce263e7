// Roles of an organisation and the rows that hold them.
import { sql } from 'kysely';
import type { Role } from './accounts.table.js';
import type { Executor, Tx } from './database.js';

/** Every role, oldest first: the five defaults (created in Phase's order) come first (rest-api §1.7). */
export function listRoles(db: Executor, organisationId: string): Promise<Role[]> {
  return db.selectFrom('roles').selectAll().where('organisation_id', '=', organisationId).orderBy('created_at').orderBy('id').execute();
}

export function findRoleById(db: Executor, organisationId: string, roleId: string): Promise<Role | undefined> {
  return db.selectFrom('roles').selectAll().where('organisation_id', '=', organisationId).where('id', '=', roleId).executeTakeFirst();
}

/**
 * Locks a role that is about to be assigned (to a member, service account or invite) until the
 * transaction ends, and returns it as locked: the assignment is judged on this row. FOR SHARE, not
 * FOR KEY SHARE: a role update is a plain UPDATE of non-key columns (FOR NO KEY UPDATE), which FOR
 * KEY SHARE lets through, so an update could commit new permissions between this read and the
 * assignment's commit. FOR SHARE makes updates (updateRole) and deletes (lockRoleForDelete) wait for
 * the assignment, and the assignment wait for them and then read the committed row; share locks do
 * not conflict with each other, so assignments of one role still run side by side. Every writer of
 * the role is covered without taking a lock of its own first. Undefined when the role no longer
 * exists.
 */
export function lockRoleForAssignment(trx: Tx, organisationId: string, roleId: string): Promise<Role | undefined> {
  return trx.selectFrom('roles').selectAll().where('organisation_id', '=', organisationId).where('id', '=', roleId).forShare().executeTakeFirst();
}

/** Locks a role before its holders are counted and it is deleted: assignments in flight finish first, new ones wait. */
export function lockRoleForDelete(trx: Tx, organisationId: string, roleId: string): Promise<{ id: string } | undefined> {
  return trx.selectFrom('roles').select('id').where('organisation_id', '=', organisationId).where('id', '=', roleId).forUpdate().executeTakeFirst();
}

/** A role whose name equals `name` case-insensitively, other than `exceptId`. */
export function findRoleByName(db: Executor, organisationId: string, name: string, exceptId?: string): Promise<{ id: string } | undefined> {
  let query = db.selectFrom('roles').select('id').where('organisation_id', '=', organisationId).where(sql`lower(name)`, '=', name.toLowerCase());
  if (exceptId) query = query.where('id', '!=', exceptId);
  return query.executeTakeFirst();
}

export interface RoleInsert {
  id: string;
  organisation_id: string;
  name: string;
  description: string;
  color: string;
  permissions: unknown;
  app_permissions: unknown;
  created_at: Date;
}

export async function insertRole(db: Executor, role: RoleInsert): Promise<Role> {
  return db
    .insertInto('roles')
    .values({
      ...role,
      is_default: false,
      global_access: false,
      permissions: role.permissions === null ? null : JSON.stringify(role.permissions),
      app_permissions: role.app_permissions === null ? null : JSON.stringify(role.app_permissions),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface RoleChanges {
  name?: string;
  description?: string;
  color?: string;
  permissions?: unknown;
  app_permissions?: unknown;
}

/** The role as changed; undefined when it no longer exists. */
export async function updateRole(db: Executor, organisationId: string, roleId: string, changes: RoleChanges): Promise<Role | undefined> {
  const set: Record<string, string | null> = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.description !== undefined) set.description = changes.description;
  if (changes.color !== undefined) set.color = changes.color;
  if (changes.permissions !== undefined) set.permissions = changes.permissions === null ? null : JSON.stringify(changes.permissions);
  if (changes.app_permissions !== undefined) set.app_permissions = changes.app_permissions === null ? null : JSON.stringify(changes.app_permissions);
  return db
    .updateTable('roles')
    .set(set)
    .where('organisation_id', '=', organisationId)
    .where('id', '=', roleId)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteRole(db: Executor, organisationId: string, roleId: string): Promise<void> {
  await db.deleteFrom('roles').where('organisation_id', '=', organisationId).where('id', '=', roleId).execute();
}

/** What still holds a role: active members, live service accounts, valid unexpired invites. */
export async function roleHolders(db: Executor, organisationId: string, roleId: string, now: Date): Promise<{ members: boolean; serviceAccounts: boolean; invites: boolean }> {
  const [member, serviceAccount, invite] = await Promise.all([
    db.selectFrom('members').select('id').where('organisation_id', '=', organisationId).where('role_id', '=', roleId).where('deleted_at', 'is', null).executeTakeFirst(),
    db.selectFrom('service_accounts').select('id').where('organisation_id', '=', organisationId).where('role_id', '=', roleId).where('deleted_at', 'is', null).executeTakeFirst(),
    db
      .selectFrom('invites')
      .select('id')
      .where('organisation_id', '=', organisationId)
      .where('role_id', '=', roleId)
      .where('valid', '=', true)
      .where('expires_at', '>=', now)
      .executeTakeFirst(),
  ]);
  return { members: member !== undefined, serviceAccounts: serviceAccount !== undefined, invites: invite !== undefined };
}
