// Frozen in time: a migration never imports application code and is never edited once released.
// Secret keys, values, comments and override values are stored only as `ph:v1` ciphertexts under the
// environment key; bearer tokens only as SHA-256 hashes; server-held key material only inside the
// master-key envelope (`cfr1:...`).
import { sql, type Kysely } from 'kysely';

const statements = [
  `create table organisations (
    id uuid primary key,
    name text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`,

  // A person. One account may belong to several organisations (one membership each).
  `create table users (
    id uuid primary key,
    email text not null,
    full_name text not null default '',
    -- Argon2id (server side) of the client-computed Argon2id login hash; never the password.
    login_hash text,
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`,
  `create unique index users_email_key on users (email)`,

  `create table roles (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    name text not null,
    description text not null default '',
    color text not null default '',
    is_default boolean not null default false,
    global_access boolean not null default false,
    permissions jsonb,
    app_permissions jsonb,
    created_at timestamptz not null
  )`,
  `create unique index roles_org_name_key on roles (organisation_id, lower(name))`,

  // An organisation membership. Keyring material is produced on the client; the server only stores
  // the public identity key and blobs it cannot open.
  `create table members (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,
    role_id uuid references roles (id) on delete set null,
    identity_key text not null,
    wrapped_keyring text not null,
    wrapped_recovery text not null,
    kdf_params jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    deleted_at timestamptz
  )`,
  `create unique index members_org_user_live_key on members (organisation_id, user_id) where deleted_at is null`,

  `create table service_accounts (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    name text not null,
    role_id uuid references roles (id) on delete set null,
    identity_key text not null,
    -- Ed25519 keyring sealed under the master key (purpose sa-keyring).
    server_wrapped_keyring text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    deleted_at timestamptz
  )`,

  // Personal access tokens (pss_user:v1). Only the SHA-256 of the bearer part is stored.
  `create table user_tokens (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    member_id uuid not null references members (id) on delete cascade,
    name text not null,
    identity_key text not null,
    bearer_hash text not null,
    wrapped_key_share text not null,
    expires_at timestamptz,
    created_at timestamptz not null,
    deleted_at timestamptz,
    last_used_at timestamptz
  )`,
  `create unique index user_tokens_bearer_key on user_tokens (bearer_hash)`,

  // Service-account tokens (pss_service:v2).
  `create table service_account_tokens (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    service_account_id uuid not null references service_accounts (id) on delete cascade,
    name text not null,
    identity_key text not null,
    bearer_hash text not null,
    wrapped_key_share text not null,
    expires_at timestamptz,
    created_by_member_id uuid references members (id) on delete set null,
    created_by_service_account_id uuid references service_accounts (id) on delete set null,
    created_at timestamptz not null,
    deleted_at timestamptz,
    last_used_at timestamptz
  )`,
  `create unique index service_account_tokens_bearer_key on service_account_tokens (bearer_hash)`,

  `create table apps (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    name text not null,
    description text,
    sse_enabled boolean not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`,
  `create index apps_org_idx on apps (organisation_id, created_at)`,

  // Individual app membership of a member or a service account (exactly one of the two is set).
  `create table app_members (
    app_id uuid not null references apps (id) on delete cascade,
    organisation_id uuid not null references organisations (id) on delete cascade,
    member_id uuid references members (id) on delete cascade,
    service_account_id uuid references service_accounts (id) on delete cascade,
    created_at timestamptz not null,
    check ((member_id is null) <> (service_account_id is null))
  )`,
  `create unique index app_members_member_key on app_members (app_id, member_id) where member_id is not null`,
  `create unique index app_members_sa_key on app_members (app_id, service_account_id) where service_account_id is not null`,

  // revision is bumped in the same transaction as every write to the environment's secrets; the read
  // path caches decrypted snapshots keyed by (environment id, revision).
  `create table environments (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    app_id uuid not null references apps (id) on delete cascade,
    name text not null,
    env_type text not null,
    index integer not null,
    identity_key text not null,
    revision bigint not null default 1,
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`,
  `create unique index environments_app_name_key on environments (app_id, lower(name))`,

  // SSE only: the server's own copy of an environment's seed and salt, sealed under the master key.
  `create table server_environment_keys (
    environment_id uuid primary key references environments (id) on delete cascade,
    organisation_id uuid not null references organisations (id) on delete cascade,
    wrapped_seed text not null,
    wrapped_salt text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`,

  // Access to an environment = its seed and salt wrapped (ph:v1) to the principal's kx public key.
  `create table environment_keys (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    environment_id uuid not null references environments (id) on delete cascade,
    member_id uuid references members (id) on delete cascade,
    service_account_id uuid references service_accounts (id) on delete cascade,
    identity_key text not null,
    wrapped_seed text not null,
    wrapped_salt text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    check ((member_id is null) <> (service_account_id is null))
  )`,
  `create unique index environment_keys_member_key on environment_keys (environment_id, member_id) where member_id is not null`,
  `create unique index environment_keys_sa_key on environment_keys (environment_id, service_account_id) where service_account_id is not null`,
  `create index environment_keys_member_idx on environment_keys (member_id) where member_id is not null`,
  `create index environment_keys_sa_idx on environment_keys (service_account_id) where service_account_id is not null`,

  `create table folders (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    environment_id uuid not null references environments (id) on delete cascade,
    parent_id uuid references folders (id) on delete cascade,
    name text not null,
    path text not null,
    created_at timestamptz not null
  )`,
  `create unique index folders_env_path_name_key on folders (environment_id, path, name)`,

  `create table tags (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    name text not null,
    color text not null default '',
    created_at timestamptz not null
  )`,
  `create unique index tags_org_name_key on tags (organisation_id, name)`,

  `create table secrets (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    environment_id uuid not null references environments (id) on delete cascade,
    folder_id uuid references folders (id) on delete set null,
    path text not null,
    key_digest text not null,
    key text not null,
    value text not null,
    comment text not null,
    type text not null,
    version integer not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    deleted_at timestamptz
  )`,
  // At most one live secret per identity (path, keyDigest): concurrent creates cannot both win.
  `create unique index secrets_live_identity_key on secrets (environment_id, path, key_digest) where deleted_at is null`,
  `create index secrets_env_live_idx on secrets (environment_id, created_at, id) where deleted_at is null`,

  `create table secret_tags (
    secret_id uuid not null references secrets (id) on delete cascade,
    tag_id uuid not null references tags (id) on delete cascade,
    position integer not null,
    primary key (secret_id, tag_id)
  )`,

  `create table personal_overrides (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    secret_id uuid not null references secrets (id) on delete cascade,
    member_id uuid not null references members (id) on delete cascade,
    value text not null,
    is_active boolean not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`,
  `create unique index personal_overrides_secret_member_key on personal_overrides (secret_id, member_id)`,
  `create index personal_overrides_member_idx on personal_overrides (member_id)`,

  // The audit trail: secret reads and writes and organisation-level actions, hash-chained per
  // organisation (seq is gap-free per organisation; mac covers the previous mac and the event).
  `create table events (
    organisation_id uuid not null references organisations (id) on delete cascade,
    seq bigint not null,
    id uuid not null,
    kind text not null,
    action text not null,
    app_id uuid,
    environment_id uuid,
    environment_revision bigint,
    secret_id uuid,
    secret_ids uuid[],
    resource_id uuid,
    snapshot jsonb,
    description text,
    actor_member_id uuid,
    actor_service_account_id uuid,
    actor_token_id uuid,
    ip text,
    user_agent text,
    created_at timestamptz not null,
    prev_mac text not null,
    mac text not null,
    primary key (organisation_id, seq)
  )`,
  `create index events_secret_idx on events (secret_id, seq) where secret_id is not null`,

  // Head of each organisation's chain; locked (FOR UPDATE) while events are appended.
  `create table audit_heads (
    organisation_id uuid primary key references organisations (id) on delete cascade,
    seq bigint not null,
    mac text not null,
    -- the organisation's random audit MAC key, sealed under the master key
    wrapped_key text not null
  )`,

  `create table invites (
    id uuid primary key,
    organisation_id uuid not null references organisations (id) on delete cascade,
    email text not null,
    role_id uuid references roles (id) on delete set null,
    invited_by_member_id uuid references members (id) on delete set null,
    invited_by_service_account_id uuid references service_accounts (id) on delete set null,
    token_hash text not null,
    valid boolean not null default true,
    created_at timestamptz not null,
    expires_at timestamptz not null
  )`,
  `create unique index invites_token_key on invites (token_hash)`,

  // Console sessions: only the SHA-256 of the cookie value is stored.
  `create table sessions (
    id_hash text primary key,
    user_id uuid not null references users (id) on delete cascade,
    csrf_hash text not null,
    created_at timestamptz not null,
    expires_at timestamptz not null
  )`,

  // Small server-wide facts, e.g. the hash of the one-time setup code.
  `create table server_state (
    key text primary key,
    value text not null,
    updated_at timestamptz not null
  )`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  const tables = [
    'server_state', 'sessions', 'invites', 'audit_heads', 'events', 'personal_overrides', 'secret_tags',
    'secrets', 'tags', 'folders', 'environment_keys', 'server_environment_keys', 'environments',
    'app_members', 'apps', 'service_account_tokens', 'user_tokens', 'service_accounts', 'members',
    'roles', 'users', 'organisations',
  ];
  for (const table of tables) await sql.raw(`drop table if exists ${table} cascade`).execute(db);
}
