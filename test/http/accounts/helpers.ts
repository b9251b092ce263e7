// Members and service accounts for the organisation-level tests. A member is added the way an
// accepted invite adds one (a user row, a membership with client-made key material, a PAT minted
// from the member's own keyring); service accounts are made through the public API.
import { randomUUID } from 'node:crypto';
import type { UserKeyring } from '../../../src/crypto/index.js';
import { apiClient, type ApiClient } from '../../helpers/fixtures.js';
import { joinMember } from '../../helpers/principals.js';
import type { TestServer } from '../../helpers/server.js';

export interface MemberFixture {
  memberId: string;
  email: string;
  keyring: UserKeyring;
  authorization: string;
  api: ApiClient;
}

export async function roleId(server: TestServer, organisationId: string, name: string): Promise<string> {
  const row = await server.store.db.selectFrom('roles').select('id').where('organisation_id', '=', organisationId).where('name', '=', name).executeTakeFirstOrThrow();
  return row.id;
}

/** A member of `organisationId` holding the role named `roleName`, with a PAT. */
export async function addMember(server: TestServer, organisationId: string, roleName: string, options: { email?: string; fullName?: string } = {}): Promise<MemberFixture> {
  const { memberId, email, keyring, authorization } = await joinMember(server.domain, organisationId, {
    roleId: await roleId(server, organisationId, roleName),
    email: options.email ?? `${roleName.toLowerCase()}-${randomUUID().slice(0, 8)}@example.com`,
    fullName: options.fullName,
    tokenName: 'test token',
  });
  return { memberId, email, keyring, authorization, api: apiClient(server.url, authorization) };
}

export interface ServiceAccountFixture {
  id: string;
  tokenId: string;
  token: string;
  authorization: string;
  api: ApiClient;
}

/** A service account created through the API by `creator`, with its initial token. */
export async function addServiceAccount(server: TestServer, creator: ApiClient, organisationId: string, options: { name?: string; role?: string } = {}): Promise<ServiceAccountFixture> {
  const created = await creator.post('/v1/service-accounts/', { name: options.name ?? 'bot', role_id: await roleId(server, organisationId, options.role ?? 'Service') });
  if (created.status !== 201) throw new Error(`service account creation failed: ${created.status} ${created.text}`);
  const authorization = `Bearer ${created.body.initialToken.bearerToken}`;
  return { id: created.body.id, tokenId: created.body.initialToken.id, token: created.body.initialToken.token, authorization, api: apiClient(server.url, authorization) };
}

/** An app made by `api` with the default environments; returns ids by environment name. */
export async function addApp(api: ApiClient, name = 'App'): Promise<{ id: string; environments: Record<string, string> }> {
  const created = await api.post('/v1/apps/', { name });
  if (created.status !== 201) throw new Error(`app creation failed: ${created.status} ${created.text}`);
  const environments: Record<string, string> = {};
  for (const env of created.body.environments) environments[env.name] = env.id;
  return { id: created.body.id, environments };
}
