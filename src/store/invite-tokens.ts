// Invites looked up by the SHA-256 of their one-time token (the token itself is never stored).
import type { Executor, Tx } from './database.js';

export interface InviteByTokenRow {
  id: string;
  organisation_id: string;
  organisation_name: string;
  email: string;
  role_id: string | null;
  role_name: string | null;
  valid: boolean;
  expires_at: Date;
}

export function findInviteByTokenHash(db: Executor, tokenHash: string): Promise<InviteByTokenRow | undefined> {
  return db
    .selectFrom('invites as i')
    .innerJoin('organisations as o', 'o.id', 'i.organisation_id')
    .leftJoin('roles as r', 'r.id', 'i.role_id')
    .select(['i.id', 'i.organisation_id', 'o.name as organisation_name', 'i.email', 'i.role_id', 'r.name as role_name', 'i.valid', 'i.expires_at'])
    .where('i.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Marks a valid invite used; false when another request used it first (the row lock decides). */
export async function claimInvite(trx: Tx, inviteId: string): Promise<boolean> {
  const row = await trx.updateTable('invites').set({ valid: false }).where('id', '=', inviteId).where('valid', '=', true).returning('id').executeTakeFirst();
  return row !== undefined;
}
