import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A column written once at insert time and never updated. */
export type Immutable<T> = ColumnType<T, T, never>;

export interface OrganisationsTable {
  id: Immutable<string>;
  name: string;
  created_at: Immutable<Date>;
  updated_at: Date;
}

export interface UsersTable {
  id: Immutable<string>;
  email: string;
  full_name: Generated<string>;
  login_hash: string | null;
  created_at: Immutable<Date>;
  updated_at: Date;
  /** The last password change or recovery; null until the first. */
  credentials_changed_at: Generated<Date | null>;
}

export interface PermissionMap {
  [resourceClass: string]: string[];
}

export interface RolesTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  name: string;
  description: Generated<string>;
  color: Generated<string>;
  is_default: Generated<boolean>;
  global_access: Generated<boolean>;
  permissions: ColumnType<PermissionMap | null, string | null, string | null>;
  app_permissions: ColumnType<PermissionMap | null, string | null, string | null>;
  created_at: Immutable<Date>;
}

export interface KdfParamsColumn {
  opsLimit: number;
  memLimit: number;
}

export interface MembersTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  user_id: Immutable<string>;
  role_id: string | null;
  identity_key: string;
  wrapped_keyring: string;
  wrapped_recovery: string;
  kdf_params: ColumnType<KdfParamsColumn, string, string>;
  created_at: Immutable<Date>;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface ServiceAccountsTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  name: string;
  role_id: string | null;
  identity_key: string;
  server_wrapped_keyring: string;
  created_at: Immutable<Date>;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface UserTokensTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  member_id: Immutable<string>;
  name: string;
  identity_key: string;
  bearer_hash: Immutable<string>;
  wrapped_key_share: string;
  expires_at: Date | null;
  created_at: Immutable<Date>;
  deleted_at: Date | null;
  last_used_at: Date | null;
}

export interface ServiceAccountTokensTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  service_account_id: Immutable<string>;
  name: string;
  identity_key: string;
  bearer_hash: Immutable<string>;
  wrapped_key_share: string;
  expires_at: Date | null;
  created_by_member_id: string | null;
  created_by_service_account_id: string | null;
  created_at: Immutable<Date>;
  deleted_at: Date | null;
  last_used_at: Date | null;
}

export interface InvitesTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  email: string;
  role_id: string | null;
  invited_by_member_id: string | null;
  invited_by_service_account_id: string | null;
  token_hash: Immutable<string>;
  valid: Generated<boolean>;
  created_at: Immutable<Date>;
  expires_at: Date;
}

export interface SessionsTable {
  id_hash: Immutable<string>;
  user_id: Immutable<string>;
  csrf_hash: string;
  created_at: Immutable<Date>;
  expires_at: Date;
}

export interface ServerStateTable {
  key: Immutable<string>;
  value: string;
  updated_at: Date;
}

export type Organisation = Selectable<OrganisationsTable>;
export type User = Selectable<UsersTable>;
export type Role = Selectable<RolesTable>;
export type NewRole = Insertable<RolesTable>;
export type Member = Selectable<MembersTable>;
export type ServiceAccount = Selectable<ServiceAccountsTable>;
export type UserToken = Selectable<UserTokensTable>;
export type ServiceAccountToken = Selectable<ServiceAccountTokensTable>;
export type Invite = Selectable<InvitesTable>;
export type RoleUpdate = Updateable<RolesTable>;
