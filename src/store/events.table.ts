import type { ColumnType, Selectable } from 'kysely';
import type { Immutable } from './accounts.table.js';

export type EventKind = 'secret' | 'audit';

export interface EventsTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  seq: Immutable<number>;
  kind: Immutable<EventKind>;
  /** secret: create | update | delete | read; audit: e.g. app.create, member.update */
  action: Immutable<string>;
  app_id: Immutable<string | null>;
  environment_id: Immutable<string | null>;
  environment_revision: Immutable<number | null>;
  secret_id: Immutable<string | null>;
  secret_ids: Immutable<string[] | null>;
  resource_id: Immutable<string | null>;
  snapshot: ColumnType<Record<string, unknown> | null, string | null, never>;
  description: Immutable<string | null>;
  actor_member_id: Immutable<string | null>;
  actor_service_account_id: Immutable<string | null>;
  actor_token_id: Immutable<string | null>;
  ip: Immutable<string | null>;
  user_agent: Immutable<string | null>;
  created_at: Immutable<Date>;
  prev_mac: Immutable<string>;
  mac: Immutable<string>;
}

export interface AuditHeadsTable {
  organisation_id: Immutable<string>;
  seq: number;
  mac: string;
  wrapped_key: string;
}

export type EventRow = Selectable<EventsTable>;
