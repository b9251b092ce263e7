// Users (people) and their memberships, as the console and the CLI's account commands see them.
import { sql } from 'kysely';
import type { KdfParamsColumn } from './accounts.table.js';
import type { Executor } from './database.js';

export interface UserRow {
  id: string;
  email: string;
  full_name: string;
  login_hash: string | null;
}

export function findUserByEmail(db: Executor, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').select(['id', 'email', 'full_name', 'login_hash']).where('email', '=', email).executeTakeFirst();
}

export function findUserById(db: Executor, userId: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').select(['id', 'email', 'full_name', 'login_hash']).where('id', '=', userId).executeTakeFirst();
}

export async function insertUser(db: Executor, user: { id: string; email: string; fullName: string; loginHash: string | null; at: Date }): Promise<void> {
  await db
    .insertInto('users')
    .values({ id: user.id, email: user.email, full_name: user.fullName, login_hash: user.loginHash, created_at: user.at, updated_at: user.at })
    .execute();
}

export interface MembershipRow {
  organisation_id: string;
  organisation_name: string;
  member_id: string;
  role_id: string | null;
  role_name: string | null;
  created_at: Date;
}

/** The live memberships of a user, oldest first; optionally only the one in `organisationId`. */
export function findMembershipsOfUser(db: Executor, userId: string, organisationId?: string): Promise<MembershipRow[]> {
  let query = db
    .selectFrom('members as m')
    .innerJoin('organisations as o', 'o.id', 'm.organisation_id')
    .leftJoin('roles as r', 'r.id', 'm.role_id')
    .select(['m.organisation_id', 'o.name as organisation_name', 'm.id as member_id', 'm.role_id', 'r.name as role_name', 'm.created_at'])
    .where('m.user_id', '=', userId)
    .where('m.deleted_at', 'is', null);
  if (organisationId !== undefined) query = query.where('m.organisation_id', '=', organisationId);
  return query.orderBy('m.created_at').orderBy('m.id').execute();
}

export interface MemberKeyringRow {
  id: string;
  organisation_id: string;
  identity_key: string;
  wrapped_keyring: string;
  wrapped_recovery: string;
  kdf_params: KdfParamsColumn;
}

/** The live membership of a user in one organisation, with its wrapped keyring. */
export function findMemberKeyringOfUser(db: Executor, organisationId: string, userId: string): Promise<MemberKeyringRow | undefined> {
  return db
    .selectFrom('members')
    .select(['id', 'organisation_id', 'identity_key', 'wrapped_keyring', 'wrapped_recovery', 'kdf_params'])
    .where('organisation_id', '=', organisationId)
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export interface UserCredentialsRow {
  login_hash: string | null;
  credentials_changed_at: Date | null;
}

/** The user's credentials, locked until the transaction ends: one password change at a time. */
export function lockUserCredentials(db: Executor, userId: string): Promise<UserCredentialsRow | undefined> {
  return db.selectFrom('users').select(['login_hash', 'credentials_changed_at']).where('id', '=', userId).forUpdate().executeTakeFirst();
}

/**
 * A new password verifier. `credentials_changed_at` never moves back: a recovery may set it ahead
 * of the clock (to its statement's time), and a later change must not bring a replay of that
 * statement back into the window.
 */
export async function updateUserCredentials(db: Executor, userId: string, credentials: { loginHash: string; changedAt: Date; at: Date }): Promise<void> {
  await db
    .updateTable('users')
    .set({
      login_hash: credentials.loginHash,
      credentials_changed_at: sql<Date>`greatest(credentials_changed_at, ${credentials.changedAt}::timestamptz)`,
      updated_at: credentials.at,
    })
    .where('id', '=', userId)
    .execute();
}

export interface RewrappedKeyring {
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: KdfParamsColumn;
}

/** Stores a live membership's keyring wrapped under a new password; false if it is not live. */
export async function rewrapMemberKeyring(db: Executor, organisationId: string, memberId: string, keyring: RewrappedKeyring, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('members')
    .set({ wrapped_keyring: keyring.wrappedKeyring, wrapped_recovery: keyring.wrappedRecovery, kdf_params: JSON.stringify(keyring.kdfParams), updated_at: at })
    .where('organisation_id', '=', organisationId)
    .where('id', '=', memberId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function hasAnyOrganisation(db: Executor): Promise<boolean> {
  const row = await db.selectFrom('organisations').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}

export interface NewMemberRow {
  id: string;
  organisationId: string;
  userId: string;
  roleId: string | null;
  identityKey: string;
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: KdfParamsColumn;
  at: Date;
}

export async function insertMember(db: Executor, member: NewMemberRow): Promise<void> {
  await db
    .insertInto('members')
    .values({
      id: member.id,
      organisation_id: member.organisationId,
      user_id: member.userId,
      role_id: member.roleId,
      identity_key: member.identityKey,
      wrapped_keyring: member.wrappedKeyring,
      wrapped_recovery: member.wrappedRecovery,
      kdf_params: JSON.stringify(member.kdfParams),
      created_at: member.at,
      updated_at: member.at,
      deleted_at: null,
    })
    .execute();
}
