// Small shared vocabulary of the public-API conformance tests: apps with environments, secrets URLs,
// the wire formats every response must use, and direct reads of what the store recorded.
import assert from 'node:assert/strict';
import type { Domain } from '../../src/domain/index.js';
import { READ_BATCH_ACTION, expandReadBatches } from '../../src/domain/audit-read-batches.js';
import type { ApiClient } from './fixtures.js';

/** rest-api §1.5: random UUID v4, lower-case. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** rest-api §1.5 and D-18: UTC, `Z`, exactly 6 fractional digits. */
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export interface EnvironmentBody {
  id: string;
  name: string;
  envType: string;
  index: number;
  createdAt: string;
  updatedAt: string;
}

export interface CreatedApp {
  id: string;
  name: string;
  body: any;
  environments: EnvironmentBody[];
  /** Environment by lower-cased name. */
  env: Record<string, EnvironmentBody>;
}

export async function createApp(api: ApiClient, name = 'Shop', extra: Record<string, unknown> = {}): Promise<CreatedApp> {
  const res = await api.post('/v1/apps/', { name, ...extra });
  assert.equal(res.status, 201, res.text);
  const environments = res.body.environments as EnvironmentBody[];
  return {
    id: res.body.id,
    name: res.body.name,
    body: res.body,
    environments,
    env: Object.fromEntries(environments.map((e) => [e.name.toLowerCase(), e])),
  };
}

/** `/v1/secrets/?app_id=…&env=…` plus extra query text. */
export function secretsUrl(appId: string, env: string, extra = ''): string {
  return `/v1/secrets/?app_id=${appId}&env=${encodeURIComponent(env)}${extra}`;
}

/** POST secrets and return the created objects (asserting 200). */
export async function postSecrets(api: ApiClient, appId: string, env: string, secrets: unknown[]): Promise<any[]> {
  const res = await api.post(secretsUrl(appId, env), { secrets });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

export async function listSecrets(api: ApiClient, appId: string, env: string, extra = ''): Promise<any[]> {
  const res = await api.get(secretsUrl(appId, env, extra));
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** Value by key of a GET result. */
export function valuesByKey(secrets: any[]): Record<string, string> {
  return Object.fromEntries(secrets.map((s) => [s.key, s.value]));
}

export function assertError(res: { status: number; body: any; text: string }, status: number, message: string): void {
  assert.deepEqual({ status: res.status, body: res.body }, { status, body: { error: message } }, res.text);
}

export async function environmentRow(domain: Domain, environmentId: string) {
  return domain.deps.db.selectFrom('environments').selectAll().where('id', '=', environmentId).executeTakeFirst();
}

/** Secret events of an organisation (optionally one environment), oldest first, one per read; `writes` leaves reads out. */
export async function secretEvents(domain: Domain, organisationId: string, environmentId?: string, options: { writes?: boolean } = {}) {
  // Read events of the embedded store wait in its journal until the trail syncs.
  await domain.deps.audit.sync();
  let query = domain.deps.db
    .selectFrom('events')
    .selectAll()
    .where('organisation_id', '=', organisationId)
    .where('kind', '=', 'secret');
  if (environmentId) query = query.where('environment_id', '=', environmentId);
  if (options.writes) query = query.where('action', 'not in', ['read', READ_BATCH_ACTION]);
  return expandReadBatches(await query.orderBy('seq').execute());
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
