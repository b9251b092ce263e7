// When an account's password last changed (a change or a recovery). A recovery statement signed
// before that moment is refused, so a recovery request cannot be replayed to undo a later change.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table users add column credentials_changed_at timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table users drop column credentials_changed_at`.execute(db);
}
