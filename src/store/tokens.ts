// Token rows, looked up by the SHA-256 of the bearer (the only form stored).
import type { Executor } from './database.js';

export interface UserTokenAuthRow {
  id: string;
  organisation_id: string;
  member_id: string;
  user_id: string;
  expires_at: Date | null;
  deleted_at: Date | null;
  member_deleted_at: Date | null;
}

export function findUserTokenForAuth(db: Executor, bearerHash: string): Promise<UserTokenAuthRow | undefined> {
  return db
    .selectFrom('user_tokens as t')
    .innerJoin('members as m', 'm.id', 't.member_id')
    .select(['t.id', 't.organisation_id', 't.member_id', 'm.user_id', 't.expires_at', 't.deleted_at', 'm.deleted_at as member_deleted_at'])
    .where('t.bearer_hash', '=', bearerHash)
    .executeTakeFirst();
}

export interface ServiceAccountTokenAuthRow {
  id: string;
  organisation_id: string;
  service_account_id: string;
  expires_at: Date | null;
  deleted_at: Date | null;
  account_deleted_at: Date | null;
  last_used_at: Date | null;
}

export function findServiceAccountTokenForAuth(db: Executor, bearerHash: string): Promise<ServiceAccountTokenAuthRow | undefined> {
  return db
    .selectFrom('service_account_tokens as t')
    .innerJoin('service_accounts as sa', 'sa.id', 't.service_account_id')
    .select(['t.id', 't.organisation_id', 't.service_account_id', 't.expires_at', 't.deleted_at', 'sa.deleted_at as account_deleted_at', 't.last_used_at'])
    .where('t.bearer_hash', '=', bearerHash)
    .executeTakeFirst();
}

export async function touchServiceAccountToken(db: Executor, tokenId: string, at: Date): Promise<void> {
  await db.updateTable('service_account_tokens').set({ last_used_at: at }).where('id', '=', tokenId).execute();
}
