import type { ColumnType, Generated, Selectable } from 'kysely';
import type { Immutable } from './accounts.table.js';

export interface AppsTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  name: string;
  description: string | null;
  sse_enabled: boolean;
  created_at: Immutable<Date>;
  updated_at: Date;
}

export interface AppMembersTable {
  app_id: Immutable<string>;
  organisation_id: Immutable<string>;
  member_id: Immutable<string | null>;
  service_account_id: Immutable<string | null>;
  created_at: Immutable<Date>;
}

export type EnvType = 'dev' | 'staging' | 'prod' | 'custom';

export interface EnvironmentsTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  app_id: Immutable<string>;
  name: string;
  env_type: Immutable<EnvType>;
  index: Immutable<number>;
  identity_key: Immutable<string>;
  revision: ColumnType<number, number | undefined, number>;
  created_at: Immutable<Date>;
  updated_at: Date;
}

export interface ServerEnvironmentKeysTable {
  environment_id: Immutable<string>;
  organisation_id: Immutable<string>;
  wrapped_seed: string;
  wrapped_salt: string;
  created_at: Immutable<Date>;
  updated_at: Date;
}

export interface EnvironmentKeysTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  environment_id: Immutable<string>;
  member_id: Immutable<string | null>;
  service_account_id: Immutable<string | null>;
  identity_key: string;
  wrapped_seed: string;
  wrapped_salt: string;
  created_at: Immutable<Date>;
  updated_at: Date;
}

export type App = Selectable<AppsTable>;
export type Environment = Selectable<EnvironmentsTable>;
export type EnvironmentKey = Selectable<EnvironmentKeysTable>;
export type ServerEnvironmentKey = Selectable<ServerEnvironmentKeysTable>;
export type GeneratedId = Generated<string>;
