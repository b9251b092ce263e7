// The audit trail rows: events and each organisation's chain head.
import type { Executor, Tx } from './database.js';
import type { EventKind } from './events.table.js';

export interface ChainHead {
  organisation_id: string;
  seq: number;
  mac: string;
  wrapped_key: string;
}

/** Locks the heads of these organisations' chains until the transaction ends (ordered: no deadlocks). */
export function lockChainHeads(trx: Tx, organisationIds: string[]): Promise<ChainHead[]> {
  return trx
    .selectFrom('audit_heads')
    .select(['organisation_id', 'seq', 'mac', 'wrapped_key'])
    .where('organisation_id', 'in', organisationIds)
    .orderBy('organisation_id')
    .forUpdate()
    .execute();
}

export async function insertChainHead(db: Executor, head: ChainHead): Promise<void> {
  await db.insertInto('audit_heads').values(head).execute();
}

export async function updateChainHead(trx: Tx, organisationId: string, seq: number, mac: string): Promise<void> {
  await trx.updateTable('audit_heads').set({ seq, mac }).where('organisation_id', '=', organisationId).execute();
}

export interface EventInsert {
  organisation_id: string;
  seq: number;
  id: string;
  kind: EventKind;
  action: string;
  app_id: string | null;
  environment_id: string | null;
  environment_revision: number | null;
  secret_id: string | null;
  secret_ids: string[] | null;
  resource_id: string | null;
  snapshot: string | null;
  description: string | null;
  actor_member_id: string | null;
  actor_service_account_id: string | null;
  actor_token_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  prev_mac: string;
  mac: string;
}

export async function insertEvents(trx: Tx, events: EventInsert[]): Promise<void> {
  // Large batches are split so one statement stays below PostgreSQL's 65535-parameter limit.
  const chunk = 2000;
  for (let i = 0; i < events.length; i += chunk) {
    await trx.insertInto('events').values(events.slice(i, i + chunk)).execute();
  }
}
