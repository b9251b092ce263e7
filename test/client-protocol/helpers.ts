// Fixtures for the client-protocol and SDK tests: apps made the way clients make them (SSE through
// the REST API, E2EE through the client library), service accounts through the REST API, and a guard that turns the Node SDK's unhandled rejections into test failures.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { PhaseSession } from '../../src/client/index.js';
import type { Domain } from '../../src/domain/index.js';
import { expandReadBatches } from '../../src/domain/audit-read-batches.js';
import { apiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { joinMember, roleId } from '../helpers/principals.js';
import type { TestServer } from '../helpers/server.js';

// The SDK is a CommonJS bundle whose module.exports is the Phase class.
const require = createRequire(import.meta.url);
export const Phase = require('@phase.dev/phase-node') as typeof import('@phase.dev/phase-node').default;
export type PhaseSdk = InstanceType<typeof Phase>;

export interface AppFixture {
  id: string;
  name: string;
  environments: Array<{ id: string; name: string }>;
}

/** An SSE app created through POST /v1/apps/ (Development, Staging, Production). */
export async function createSseApp(server: TestServer, owner: OwnerFixture, name = `sse-${randomUUID().slice(0, 8)}`): Promise<AppFixture> {
  const created = await apiClient(server.url, owner.authorization).post('/v1/apps/', { name });
  if (created.status !== 201) throw new Error(`POST /v1/apps/ answered ${created.status}: ${created.text}`);
  return { id: created.body.id, name, environments: created.body.environments.map((e: any) => ({ id: e.id, name: e.name })) };
}

/** An E2EE app created by the client library with the owner's token (keys made client-side). */
export async function createE2eeApp(server: TestServer, token: string, name = `e2ee-${randomUUID().slice(0, 8)}`, extra: { serviceAccountIds?: string[] } = {}): Promise<AppFixture> {
  const session = await PhaseSession.open({ host: server.url, token });
  try {
    const created = await session.createE2eeApp({ name, ...extra });
    return { id: created.id, name, environments: created.environments.map((e) => ({ id: e.id, name: e.name })) };
  } finally {
    session.close();
  }
}

export interface ServiceAccountWithToken {
  serviceAccountId: string;
  /** Full pss_service:v2 token string. */
  token: string;
  authorization: string;
  identityKey: string;
}

/**
 * A service account (role Service) with its initial token, created through POST
 * /v1/service-accounts/, and access granted through PUT /v1/service-accounts/{id}/access/.
 */
export async function createServiceAccount(server: TestServer, owner: OwnerFixture, access: { appId: string; environmentIds: string[] } | null): Promise<ServiceAccountWithToken> {
  const api = apiClient(server.url, owner.authorization);
  const roles = await api.get('/v1/roles/');
  const serviceRole = roles.body?.data?.find((r: any) => r.name === 'Service');
  if (!serviceRole) throw new Error(`GET /v1/roles/ answered ${roles.status}: ${roles.text}`);
  const created = await api.post('/v1/service-accounts/', { name: `sa-${randomUUID().slice(0, 8)}`, role_id: serviceRole.id });
  if (created.status !== 201) throw new Error(`POST /v1/service-accounts/ answered ${created.status}: ${created.text}`);
  const serviceAccountId = created.body.id;
  if (access) {
    const granted = await api.put(`/v1/service-accounts/${serviceAccountId}/access/`, { apps: [{ id: access.appId, environments: access.environmentIds }] });
    if (granted.status !== 200) throw new Error(`PUT /v1/service-accounts/{id}/access/ answered ${granted.status}: ${granted.text}`);
  }
  const row = await server.domain.deps.db.selectFrom('service_accounts').select('identity_key').where('id', '=', serviceAccountId).executeTakeFirstOrThrow();
  return { serviceAccountId, token: created.body.initialToken.token, authorization: `Bearer ${created.body.initialToken.bearerToken}`, identityKey: row.identity_key };
}

/**
 * The Node SDK throws inside `new Promise(async …)` on HTTP errors (crypto spec §4.10): the error
 * becomes an unhandled rejection and the SDK's promise never settles. `sdk(promise)` settles with
 * that error instead, so a server bug fails the test rather than the runner or a timeout.
 */
export class SdkGuard {
  readonly rejections: unknown[] = [];
  #current: ((reason: unknown) => void) | undefined;
  readonly #listener = (reason: unknown) => {
    this.rejections.push(reason);
    this.#current?.(reason);
  };

  install(): void {
    process.on('unhandledRejection', this.#listener);
  }

  uninstall(): void {
    process.off('unhandledRejection', this.#listener);
  }

  run<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#current = (reason) => reject(new Error(`the Phase SDK failed: ${String(reason)}`));
      promise.then(resolve, reject);
    }).finally(() => {
      this.#current = undefined;
    });
  }
}

/** Every event row of an environment, oldest first. */
export async function eventsOf(server: TestServer, environmentId: string) {
  // Read events of the embedded store wait in its journal until the trail syncs.
  await server.domain.deps.audit.sync();
  return expandReadBatches(await server.domain.deps.db.selectFrom('events').selectAll().where('environment_id', '=', environmentId).orderBy('seq').execute());
}

export function byKey<T extends { key: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A member with a default role and a PAT, written as invite acceptance does; unlike addMember it returns the full token. */
export async function addMemberWithToken(domain: Domain, organisationId: string, role: 'Admin' | 'Manager' | 'Developer'): Promise<{ memberId: string; token: string; authorization: string }> {
  const { memberId, token, authorization } = await joinMember(domain, organisationId, { roleId: await roleId(domain, organisationId, role) });
  return { memberId, token, authorization };
}
