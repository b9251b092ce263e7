// Invitations to join an organisation. Only the SHA-256 of the one-time invite token is stored.
import { sql } from 'kysely';
import type { Executor } from './database.js';

export interface InviteRow {
  id: string;
  email: string;
  role_id: string | null;
  role_name: string | null;
  inviter_member_email: string | null;
  inviter_service_account_name: string | null;
  valid: boolean;
  created_at: Date;
  expires_at: Date;
}

function selectInvites(db: Executor, organisationId: string) {
  return db
    .selectFrom('invites as i')
    .leftJoin('roles as r', 'r.id', 'i.role_id')
    .leftJoin('members as m', 'm.id', 'i.invited_by_member_id')
    .leftJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('service_accounts as sa', 'sa.id', 'i.invited_by_service_account_id')
    .select([
      'i.id',
      'i.email',
      'i.role_id',
      'r.name as role_name',
      'u.email as inviter_member_email',
      'sa.name as inviter_service_account_name',
      'i.valid',
      'i.created_at',
      'i.expires_at',
    ])
    .where('i.organisation_id', '=', organisationId);
}

/** Valid, unexpired invites, newest first (rest-api §1.7, §12.7). */
export function listActiveInvites(db: Executor, organisationId: string, now: Date): Promise<InviteRow[]> {
  return selectInvites(db, organisationId)
    .where('i.valid', '=', true)
    .where('i.expires_at', '>=', now)
    .orderBy('i.created_at', 'desc')
    .orderBy('i.id', 'desc')
    .execute();
}

export function findInvite(db: Executor, organisationId: string, inviteId: string): Promise<InviteRow | undefined> {
  return selectInvites(db, organisationId).where('i.id', '=', inviteId).executeTakeFirst();
}

/**
 * Holds, until the transaction ends, the right to invite one address to one organisation: the checks
 * (already a member, an active invite) and the insert then run one creation at a time. Without it,
 * concurrent creations on PostgreSQL all passed the checks (20 of 20 got an active invite).
 */
export async function lockInviteAddress(trx: Executor, organisationId: string, email: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`invite:${organisationId}:${email}`}, 0))`.execute(trx);
}

export async function hasActiveInviteFor(db: Executor, organisationId: string, email: string, now: Date): Promise<boolean> {
  const row = await db
    .selectFrom('invites')
    .select('id')
    .where('organisation_id', '=', organisationId)
    .where('email', '=', email)
    .where('valid', '=', true)
    .where('expires_at', '>=', now)
    .executeTakeFirst();
  return row !== undefined;
}

export interface InviteInsert {
  id: string;
  organisation_id: string;
  email: string;
  role_id: string;
  invited_by_member_id: string | null;
  invited_by_service_account_id: string | null;
  token_hash: string;
  created_at: Date;
  expires_at: Date;
}

export async function insertInvite(db: Executor, invite: InviteInsert): Promise<void> {
  await db.insertInto('invites').values({ ...invite, valid: true }).execute();
}

/** False when the invite was already deleted (by a delete that committed first). */
export async function deleteInvite(db: Executor, organisationId: string, inviteId: string): Promise<boolean> {
  const result = await db.deleteFrom('invites').where('organisation_id', '=', organisationId).where('id', '=', inviteId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
