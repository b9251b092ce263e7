// Personal access tokens of one membership: listing and revocation (never the bearer, which is
// stored only as a hash, nor the wrapped key share).
import type { Executor } from './database.js';

export interface UserTokenListRow {
  id: string;
  name: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

/** Live (not revoked) tokens of a member, newest first; expired ones included. */
export function findUserTokensOfMember(db: Executor, organisationId: string, memberId: string): Promise<UserTokenListRow[]> {
  return db
    .selectFrom('user_tokens')
    .select(['id', 'name', 'created_at', 'expires_at', 'last_used_at'])
    .where('organisation_id', '=', organisationId)
    .where('member_id', '=', memberId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/** Marks a live token of a member revoked; false when there is no such live token. */
export async function revokeUserToken(db: Executor, organisationId: string, memberId: string, tokenId: string, at: Date): Promise<boolean> {
  const row = await db
    .updateTable('user_tokens')
    .set({ deleted_at: at })
    .where('organisation_id', '=', organisationId)
    .where('member_id', '=', memberId)
    .where('id', '=', tokenId)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function touchUserToken(db: Executor, tokenId: string, at: Date): Promise<void> {
  await db.updateTable('user_tokens').set({ last_used_at: at }).where('id', '=', tokenId).execute();
}
