// Console sessions. The cookie value and the CSRF token are never stored, only their SHA-256.
import type { Db, Executor } from './database.js';

export interface SessionRow {
  id_hash: string;
  user_id: string;
  csrf_hash: string;
  created_at: Date;
  expires_at: Date;
}

export async function insertSession(db: Executor, row: SessionRow): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

/**
 * Inserts a sign-in's session only if the user's password is still the one it was checked against
 * (`verifier`), reading the user row under a share lock: a password change holds the row's update
 * lock until it has ended every session, so a sign-in with the old password that was being checked
 * meanwhile waits for it, then finds the new verifier and stores nothing. False when it did not.
 */
export function insertSessionIfPasswordCurrent(db: Db, row: SessionRow, verifier: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select('id').where('id', '=', row.user_id).where('login_hash', '=', verifier).forShare().executeTakeFirst();
    if (!user) return false;
    await insertSession(trx, row);
    return true;
  });
}

export function findSession(db: Executor, idHash: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
}

export async function deleteSession(db: Executor, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteExpiredSessions(db: Executor, now: Date): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<', now).execute();
}

/** Ends every session of a user but `keepIdHash` (the caller's own); returns how many ended. */
export async function deleteSessionsOfUser(db: Executor, userId: string, keepIdHash: string | null): Promise<number> {
  let query = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepIdHash !== null) query = query.where('id_hash', '<>', keepIdHash);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}
