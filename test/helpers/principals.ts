// More principals for conformance tests: members with any role, service accounts with tokens, custom
// roles and access grants. They are written through the store and the crypto module exactly as the
// (future) members and service-account APIs would write them, then the domain's directory caches are
// cleared as those APIs do after a commit.
import { randomUUID } from 'node:crypto';
import {
  generateServiceAccountKeyring,
  kxKeyPairOfIdentity,
  mintServiceAccountToken,
  mintUserToken,
  serializeIdentityKeyring,
  toHex,
  type UserKeyring,
} from '../../src/crypto/index.js';
import type { Domain } from '../../src/domain/index.js';
import type { Grantee } from '../../src/domain/environment-keys.js';
import { insertEnvironmentKeys } from '../../src/store/environment-keys.js';
import { clientKeyMaterial, type ApiClient } from './fixtures.js';

export type DefaultRoleName = 'Owner' | 'Admin' | 'Manager' | 'Developer' | 'Service';

export interface MemberFixture {
  kind: 'member';
  organisationId: string;
  memberId: string;
  userId: string;
  email: string;
  identityKey: string;
  /** `Bearer User <bearer>` */
  authorization: string;
}

export interface ServiceAccountFixture {
  kind: 'service_account';
  organisationId: string;
  serviceAccountId: string;
  identityKey: string;
  tokenId: string;
  /** `Bearer ServiceAccount <bearer>` */
  authorization: string;
}

export type PrincipalFixture = MemberFixture | ServiceAccountFixture;

export async function roleId(domain: Domain, organisationId: string, name: string): Promise<string> {
  const row = await domain.deps.db
    .selectFrom('roles')
    .select('id')
    .where('organisation_id', '=', organisationId)
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A custom role (no global access) with the given permission maps. */
export async function createCustomRole(
  domain: Domain,
  organisationId: string,
  name: string,
  permissions: Record<string, string[]>,
  appPermissions: Record<string, string[]>,
): Promise<string> {
  const id = randomUUID();
  await domain.deps.db
    .insertInto('roles')
    .values({
      id,
      organisation_id: organisationId,
      name,
      description: '',
      color: '',
      is_default: false,
      global_access: false,
      permissions: JSON.stringify(permissions),
      app_permissions: JSON.stringify(appPermissions),
      created_at: new Date(),
    })
    .execute();
  domain.deps.invalidateDirectory();
  return id;
}

/** What joinMember made: the membership, the member's keyring and a PAT (full token and header). */
export interface JoinedMember {
  memberId: string;
  userId: string;
  email: string;
  keyring: UserKeyring;
  identityKey: string;
  token: string;
  /** `Bearer User <bearer>` */
  authorization: string;
}

/**
 * A membership written as an accepted invite writes it: a user (reused when the email has one), a
 * member with client-made key material, and a PAT minted from the member's own keyring.
 */
export async function joinMember(
  domain: Domain,
  organisationId: string,
  options: { roleId: string; email?: string; fullName?: string; tokenName?: string },
): Promise<JoinedMember> {
  const db = domain.deps.db;
  const email = options.email ?? `member-${randomUUID().slice(0, 8)}@example.com`;
  const { keyring, material } = await clientKeyMaterial(organisationId, email);
  const now = new Date();
  const existing = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
  const userId = existing?.id ?? randomUUID();
  if (!existing) {
    await db.insertInto('users').values({ id: userId, email, full_name: options.fullName ?? '', login_hash: null, created_at: now, updated_at: now }).execute();
  }
  const memberId = randomUUID();
  await db
    .insertInto('members')
    .values({
      id: memberId,
      organisation_id: organisationId,
      user_id: userId,
      role_id: options.roleId,
      identity_key: material.identityKey,
      wrapped_keyring: material.wrappedKeyring,
      wrapped_recovery: material.wrappedRecovery,
      kdf_params: JSON.stringify(material.kdfParams),
      created_at: now,
      updated_at: now,
      deleted_at: null,
    })
    .execute();
  const minted = mintUserToken(kxKeyPairOfIdentity(keyring));
  await domain.personalTokens.register(organisationId, memberId, {
    name: options.tokenName ?? 'member token',
    identityKey: minted.identityKey,
    bearerHash: minted.bearerHash,
    wrappedKeyShare: minted.wrappedKeyShare,
  });
  domain.deps.invalidateDirectory();
  return { memberId, userId, email, keyring, identityKey: material.identityKey, token: minted.token, authorization: `Bearer User ${minted.bearer}` };
}

/** A second member of an organisation (its own user, keyring and PAT), with a default or custom role. */
export async function addMember(domain: Domain, organisationId: string, role: DefaultRoleName | { id: string }): Promise<MemberFixture> {
  const joined = await joinMember(domain, organisationId, {
    roleId: typeof role === 'string' ? await roleId(domain, organisationId, role) : role.id,
    fullName: 'Test Member',
  });
  const { memberId, userId, email, identityKey, authorization } = joined;
  return { kind: 'member', organisationId, memberId, userId, email, identityKey, authorization };
}

/**
 * A service account with one token, made through POST /v1/service-accounts/ by `via` (a client allowed
 * to create service accounts, e.g. the owner's). Without `via`, the rows are written as that endpoint
 * writes them (server-managed keyring sealed under the master key; only the bearer's hash stored).
 */
export async function addServiceAccount(
  domain: Domain,
  organisationId: string,
  role: DefaultRoleName | { id: string } = 'Service',
  options: { via?: ApiClient } = {},
): Promise<ServiceAccountFixture> {
  const db = domain.deps.db;
  const role_id = typeof role === 'string' ? await roleId(domain, organisationId, role) : role.id;
  if (options.via) {
    const created = await options.via.post('/v1/service-accounts/', { name: `sa-${randomUUID().slice(0, 8)}`, role_id });
    if (created.status !== 201) throw new Error(`POST /v1/service-accounts/ answered ${created.status}: ${created.text}`);
    const row = await db.selectFrom('service_accounts').select('identity_key').where('id', '=', created.body.id).executeTakeFirstOrThrow();
    return {
      kind: 'service_account',
      organisationId,
      serviceAccountId: created.body.id,
      identityKey: row.identity_key,
      tokenId: created.body.initialToken.id,
      authorization: `Bearer ${created.body.initialToken.bearerToken}`,
    };
  }
  const keyring = generateServiceAccountKeyring();
  const serviceAccountId = randomUUID();
  const now = new Date();
  const identityKey = toHex(keyring.publicKey);
  await db
    .insertInto('service_accounts')
    .values({
      id: serviceAccountId,
      organisation_id: organisationId,
      name: `sa-${serviceAccountId.slice(0, 8)}`,
      role_id,
      identity_key: identityKey,
      server_wrapped_keyring: domain.deps.masterKeyring.seal('sa-keyring', `org:${organisationId}/sa:${serviceAccountId}/keyring`, serializeIdentityKeyring(keyring)),
      created_at: now,
      updated_at: now,
      deleted_at: null,
    })
    .execute();
  const minted = mintServiceAccountToken(kxKeyPairOfIdentity(keyring));
  const tokenId = randomUUID();
  await db
    .insertInto('service_account_tokens')
    .values({
      id: tokenId,
      organisation_id: organisationId,
      service_account_id: serviceAccountId,
      name: 'test token',
      identity_key: minted.identityKey,
      bearer_hash: minted.bearerHash,
      wrapped_key_share: minted.wrappedKeyShare,
      expires_at: null,
      created_by_member_id: null,
      created_by_service_account_id: null,
      created_at: now,
      deleted_at: null,
      last_used_at: null,
    })
    .execute();
  domain.deps.invalidateDirectory();
  return { kind: 'service_account', organisationId, serviceAccountId, identityKey, tokenId, authorization: `Bearer ServiceAccount ${minted.bearer}` };
}

function granteeOf(principal: PrincipalFixture): Grantee {
  return principal.kind === 'member'
    ? { memberId: principal.memberId, identityKey: principal.identityKey }
    : { serviceAccountId: principal.serviceAccountId, identityKey: principal.identityKey };
}

/** Makes the principal an individual member of the app (no environment grants). */
export async function addToApp(domain: Domain, principal: PrincipalFixture, appId: string): Promise<void> {
  await domain.deps.db
    .insertInto('app_members')
    .values({
      app_id: appId,
      organisation_id: principal.organisationId,
      member_id: principal.kind === 'member' ? principal.memberId : null,
      service_account_id: principal.kind === 'service_account' ? principal.serviceAccountId : null,
      created_at: new Date(),
    })
    .execute();
  domain.deps.invalidateDirectory();
}

/** Grants environments (SSE) to the principal, wrapping each environment's seed and salt to its key. */
export async function grantEnvironments(domain: Domain, principal: PrincipalFixture, environmentIds: readonly string[]): Promise<void> {
  for (const environmentId of environmentIds) {
    const secrets = await domain.deps.keys.secretsOf(environmentId);
    if (!secrets) throw new Error(`environment ${environmentId} has no server key (E2EE)`);
    await insertEnvironmentKeys(domain.deps.db, domain.deps.keys.grants(principal.organisationId, environmentId, secrets, [granteeOf(principal)]));
  }
  domain.deps.invalidateDirectory();
}

/** App membership plus grants: what the access endpoints do for "app X with environments Y". */
export async function grantAccess(domain: Domain, principal: PrincipalFixture, appId: string, environmentIds: readonly string[]): Promise<void> {
  await addToApp(domain, principal, appId);
  await grantEnvironments(domain, principal, environmentIds);
}
