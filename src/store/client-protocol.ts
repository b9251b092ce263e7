// Queries behind Phase's client protocol (crypto spec §4) and Coffer's E2EE app endpoints: the
// token's wrapped key share, a principal's environment keys with their environments and apps, and
// the identities that receive environment keys. Always scoped to one organisation.
import type { Executor, Tx } from './database.js';
import type { EnvType } from './apps.table.js';

/** The server half of a token's key: what `wrapped_key_share` answers (the token row id came from auth). */
export async function findTokenKeyShare(
  db: Executor,
  organisationId: string,
  token: { kind: 'user' | 'service_account'; id: string },
): Promise<string | undefined> {
  const row =
    token.kind === 'user'
      ? await db.selectFrom('user_tokens').select('wrapped_key_share').where('organisation_id', '=', organisationId).where('id', '=', token.id).executeTakeFirst()
      : await db
          .selectFrom('service_account_tokens')
          .select('wrapped_key_share')
          .where('organisation_id', '=', organisationId)
          .where('id', '=', token.id)
          .executeTakeFirst();
  return row?.wrapped_key_share;
}

export async function findOrganisationName(db: Executor, organisationId: string): Promise<string | undefined> {
  const row = await db.selectFrom('organisations').select('name').where('id', '=', organisationId).executeTakeFirst();
  return row?.name;
}

/** One EnvironmentKey row of a principal with what `/service/secrets/tokens/` shows about it. */
export interface PrincipalEnvironmentKeyRow {
  id: string;
  member_id: string | null;
  service_account_id: string | null;
  identity_key: string;
  wrapped_seed: string;
  wrapped_salt: string;
  created_at: Date;
  updated_at: Date;
  environment_id: string;
  environment_name: string;
  env_type: EnvType;
  environment_index: number;
  environment_created_at: Date;
  environment_updated_at: Date;
  app_id: string;
  app_name: string;
  app_sse_enabled: boolean;
  app_created_at: Date;
}

/** A principal's environment keys, apps oldest first, environments by index. */
export function listEnvironmentKeysOfPrincipal(
  db: Executor,
  organisationId: string,
  who: { memberId: string } | { serviceAccountId: string },
): Promise<PrincipalEnvironmentKeyRow[]> {
  let query = db
    .selectFrom('environment_keys as k')
    .innerJoin('environments as e', 'e.id', 'k.environment_id')
    .innerJoin('apps as a', 'a.id', 'e.app_id')
    .select([
      'k.id',
      'k.member_id',
      'k.service_account_id',
      'k.identity_key',
      'k.wrapped_seed',
      'k.wrapped_salt',
      'k.created_at',
      'k.updated_at',
      'e.id as environment_id',
      'e.name as environment_name',
      'e.env_type',
      'e.index as environment_index',
      'e.created_at as environment_created_at',
      'e.updated_at as environment_updated_at',
      'a.id as app_id',
      'a.name as app_name',
      'a.sse_enabled as app_sse_enabled',
      'a.created_at as app_created_at',
    ])
    .where('k.organisation_id', '=', organisationId);
  query = 'memberId' in who ? query.where('k.member_id', '=', who.memberId) : query.where('k.service_account_id', '=', who.serviceAccountId);
  return query.orderBy('a.created_at').orderBy('a.id').orderBy('e.index').orderBy('e.created_at').execute();
}

/** A principal that can receive environment keys: its Ed25519 identity key, and whether its role has global access. */
export interface RecipientRow {
  kind: 'member' | 'service_account';
  id: string;
  name: string;
  identity_key: string;
  global_access: boolean;
}

/** Live members (with their user's email as name) and live service accounts of an organisation. */
export async function listRecipientCandidates(db: Executor, organisationId: string): Promise<RecipientRow[]> {
  const members = await db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('roles as r', 'r.id', 'm.role_id')
    .select(['m.id', 'u.email', 'm.identity_key', 'r.global_access'])
    .where('m.organisation_id', '=', organisationId)
    .where('m.deleted_at', 'is', null)
    .orderBy('m.created_at')
    .orderBy('m.id')
    .execute();
  const accounts = await db
    .selectFrom('service_accounts')
    .select(['id', 'name', 'identity_key'])
    .where('organisation_id', '=', organisationId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return [
    ...members.map((m) => ({ kind: 'member' as const, id: m.id, name: m.email, identity_key: m.identity_key, global_access: m.global_access === true })),
    ...accounts.map((a) => ({ kind: 'service_account' as const, id: a.id, name: a.name, identity_key: a.identity_key, global_access: false })),
  ];
}

/** Locks an app for a change of its encryption mode; undefined when it is not in the organisation. */
export function lockApp(trx: Tx, organisationId: string, appId: string): Promise<{ id: string; name: string; sse_enabled: boolean } | undefined> {
  return trx
    .selectFrom('apps')
    .select(['id', 'name', 'sse_enabled'])
    .where('organisation_id', '=', organisationId)
    .where('id', '=', appId)
    .forUpdate()
    .executeTakeFirst();
}

export interface AppEnvironmentRow {
  id: string;
  name: string;
  identity_key: string;
}

export function listEnvironmentIdentities(db: Executor, organisationId: string, appId: string): Promise<AppEnvironmentRow[]> {
  return db
    .selectFrom('environments')
    .select(['id', 'name', 'identity_key'])
    .where('organisation_id', '=', organisationId)
    .where('app_id', '=', appId)
    .orderBy('index')
    .orderBy('created_at')
    .execute();
}

/**
 * Of the given members and service accounts, the live ones, locked FOR SHARE until commit (members,
 * then service accounts, each in id order) before keys are granted to them: see src/store/apps.ts
 * "Grantee reads". One removed meanwhile is missing from the answer.
 */
export async function lockLiveRecipients(trx: Tx, organisationId: string, memberIds: readonly string[], serviceAccountIds: readonly string[]): Promise<Set<string>> {
  const live = new Set<string>();
  if (memberIds.length > 0) {
    const rows = await trx.selectFrom('members').select('id').where('organisation_id', '=', organisationId).where('id', 'in', memberIds).where('deleted_at', 'is', null).orderBy('id').forShare().execute();
    for (const row of rows) live.add(`member:${row.id}`);
  }
  if (serviceAccountIds.length > 0) {
    const rows = await trx.selectFrom('service_accounts').select('id').where('organisation_id', '=', organisationId).where('id', 'in', serviceAccountIds).where('deleted_at', 'is', null).orderBy('id').forShare().execute();
    for (const row of rows) live.add(`service_account:${row.id}`);
  }
  return live;
}
