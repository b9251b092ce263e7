// Events are an append-only trail: a foreign key to organisations adds a referential check (a row
// lock on the organisation) to every event written, which on the embedded store costs more than
// writing the event itself. Organisations are never deleted while their trail matters; nothing
// else relies on the constraint.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table events drop constraint if exists events_organisation_id_fkey`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table events add constraint events_organisation_id_fkey foreign key (organisation_id) references organisations (id) on delete cascade`.execute(db);
}
