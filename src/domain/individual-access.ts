// Declarative app/environment access of one account (rest-api §10.6, §12.6): validating the desired
// state against what the caller itself may pass on, and applying it in one transaction. For SSE apps
// the server opens its own copy of each environment's seed and salt and wraps them to the account's
// identity key (crypto spec §2.4, §2.6).
import { asUuid } from '../store/directory.js';
import type { Executor, Tx } from '../store/database.js';
import {
  addAppMemberships,
  findAppsByIds,
  insertGrants,
  lockAllAppAndEnvironmentIds,
  listAppsOfAccountMembership,
  listEnvironmentIdsOfApps,
  listGrantedEnvironments,
  listGrantRows,
  removeAppMemberships,
  removeEnvironmentGrants,
  type AccountRef,
  type AppWithEnvironmentsRow,
} from '../store/individual-access.js';
import { lockAppsForNewRows, lockEnvironmentsForNewRows } from '../store/apps.js';
import { mayGrantApp, mayGrantEnvironment } from './access.js';
import type { Call } from './context.js';
import type { EnvironmentKeys, Grantee } from './environment-keys.js';
import { forbidden, invalid, notFound } from './errors.js';
import { pythonLiteral } from './secrets/python-literal.js';

/** One app of the desired state, validated. */
export interface DeclaredApp {
  readonly id: string;
  readonly name: string;
  /** Canonical ids of the environments to hold, in request order. */
  readonly environmentIds: readonly string[];
  /** Every environment of the app (grants outside `environmentIds` are revoked). */
  readonly allEnvironmentIds: readonly string[];
}

export interface AppAccessView {
  id: string;
  name: string;
  environments: Array<{ id: string; name: string; envType: string }>;
}

/** How Phase prints a value it got from JSON inside a message: strings as is, the rest as Python would. */
function pythonText(value: unknown): string {
  return typeof value === 'string' ? value : pythonLiteral(value);
}

function isPythonFalsy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

export function accountOf(grantee: Grantee): AccountRef {
  return 'memberId' in grantee ? { memberId: grantee.memberId } : { serviceAccountId: grantee.serviceAccountId };
}

/**
 * Validates `{"apps": [{"id", "environments": [...]}]}` in Phase's order (§10.6 steps 3-4). `entirely`
 * selects the member endpoint's wording of the empty-environments message (§12.6).
 */
export async function parseDeclaredAccess(db: Executor, call: Call, body: Record<string, unknown>, options: { entirely: boolean }): Promise<DeclaredApp[]> {
  const apps = body.apps;
  if (apps === undefined || apps === null) throw invalid('Missing required field: apps');
  if (!Array.isArray(apps)) throw invalid("'apps' must be a list.");
  const organisationId = call.principal.organisationId;
  const desired = new Map<string, DeclaredApp>();
  // An app listed many times is looked up once (20,000 entries made 40,000 queries).
  const appsById = new Map<string, AppWithEnvironmentsRow | undefined>();
  const environmentsOf = new Map<string, string[]>();
  for (const entry of apps) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw invalid("Each entry in 'apps' must be an object with 'id' and 'environments'.");
    }
    const { id: rawId, environments } = entry as Record<string, unknown>;
    if (isPythonFalsy(rawId)) throw invalid("Each app entry must have an 'id' field.");
    const appId = typeof rawId === 'string' ? asUuid(rawId) : undefined;
    if (appId && !appsById.has(appId)) appsById.set(appId, (await findAppsByIds(db, organisationId, [appId]))[0]);
    const app = appId ? appsById.get(appId) : undefined;
    if (!app) throw notFound(`App not found: ${pythonText(rawId)}`);
    if (!app.sse_enabled) throw invalid(`App '${app.name}' does not have SSE enabled. Only SSE apps are supported.`);
    if (!mayGrantApp(call.access, app.id)) throw forbidden(`You don't have access to app '${app.name}'.`);
    if (!Array.isArray(environments)) throw invalid("Each app entry must have an 'environments' list of environment IDs.");
    if (environments.length === 0) {
      const tail = options.entirely ? 'remove the app from the list entirely.' : 'remove the app from the list.';
      throw invalid(`'environments' for app '${pythonText(rawId)}' must not be empty. To revoke all access, ${tail}`);
    }
    let allEnvironmentIds = environmentsOf.get(app.id);
    if (!allEnvironmentIds) {
      allEnvironmentIds = (await listEnvironmentIdsOfApps(db, organisationId, [app.id])).map((e) => e.id);
      environmentsOf.set(app.id, allEnvironmentIds);
    }
    const known = new Set(allEnvironmentIds);
    // Sets keep first positions and find repeats in one pass (Array.includes made this quadratic).
    const wanted = new Set<string>();
    const unknown = new Set<string>();
    for (const raw of environments) {
      const id = typeof raw === 'string' ? asUuid(raw) : undefined;
      if (id && known.has(id)) wanted.add(id);
      else unknown.add(pythonText(raw));
    }
    if (unknown.size > 0) throw notFound(`Environment(s) not found in app '${app.name}': ${[...unknown].join(', ')}`);
    if (![...wanted].every((id) => mayGrantEnvironment(call.access, id))) {
      throw forbidden(`You don't have access to one or more environments in app '${app.name}'.`);
    }
    // The same app listed twice: the later entry wins (§10.6).
    desired.delete(app.id);
    desired.set(app.id, { id: app.id, name: app.name, environmentIds: [...wanted], allEnvironmentIds });
  }
  return [...desired.values()];
}

export interface AccessChange {
  appsAdded: string[];
  appsRemoved: string[];
  environmentsGranted: string[];
  environmentsRevoked: string[];
}

/**
 * Makes the account's individual access exactly `desired` (§10.6 step 6): memberships of unlisted
 * apps and their grants go, listed apps are joined, and per app the grants follow the list. Existing
 * grants are kept as they are (no re-wrapping). The caller has locked the account row first (lock
 * order: role, account, apps, environments), so a removal waits for the grants written here and
 * deletes them with the rest, or came first and the caller answered 404 (src/store/apps.ts "Grantee
 * reads").
 */
export async function applyDeclaredAccess(
  trx: Tx,
  keys: EnvironmentKeys,
  organisationId: string,
  grantee: Grantee,
  desired: readonly DeclaredApp[],
  at: Date,
): Promise<AccessChange> {
  const account = accountOf(grantee);
  // The listed apps, then their listed environments, are locked until commit and must still exist:
  // one deleted since the request was checked is answered as parseDeclaredAccess answers an unknown one.
  const liveApps = new Set((await lockAppsForNewRows(trx, organisationId, desired.map((a) => a.id))).map((a) => a.id));
  const goneApp = desired.find((a) => !liveApps.has(a.id));
  if (goneApp) throw notFound(`App not found: ${goneApp.id}`);
  const liveEnvironments = new Set(await lockEnvironmentsForNewRows(trx, organisationId, desired.flatMap((a) => a.environmentIds)));
  for (const app of desired) {
    const gone = app.environmentIds.filter((id) => !liveEnvironments.has(id));
    if (gone.length > 0) throw notFound(`Environment(s) not found in app '${app.name}': ${gone.join(', ')}`);
  }
  const currentApps = (await listAppsOfAccountMembership(trx, organisationId, account)).map((a) => a.id);
  const desiredAppIds = new Set(desired.map((a) => a.id));
  const appsRemoved = currentApps.filter((id) => !desiredAppIds.has(id));
  const appsAdded = [...desiredAppIds].filter((id) => !currentApps.includes(id));
  // Memberships before grants: deleting one waits for environment creates in that app (they hold the
  // app's memberships), so the environments listed next include theirs and no new grant stays behind.
  await removeAppMemberships(trx, organisationId, account, appsRemoved);
  const removedAppEnvironments = (await listEnvironmentIdsOfApps(trx, organisationId, appsRemoved)).map((e) => e.id);
  await removeEnvironmentGrants(trx, organisationId, account, removedAppEnvironments);
  await addAppMemberships(trx, organisationId, account, appsAdded, at);

  const held = new Set((await listGrantRows(trx, organisationId, account)).map((g) => g.environment_id));
  const environmentsRevoked: string[] = removedAppEnvironments.filter((id) => held.has(id));
  const environmentsGranted: string[] = [];
  for (const app of desired) {
    const wanted = new Set(app.environmentIds);
    const revoke = app.allEnvironmentIds.filter((id) => held.has(id) && !wanted.has(id));
    await removeEnvironmentGrants(trx, organisationId, account, revoke);
    environmentsRevoked.push(...revoke);
    for (const environmentId of app.environmentIds) {
      if (held.has(environmentId)) continue;
      if (await grantEnvironment(trx, keys, organisationId, environmentId, grantee, at)) environmentsGranted.push(environmentId);
    }
  }
  return { appsAdded, appsRemoved, environmentsGranted, environmentsRevoked };
}

/** Wraps an SSE environment's seed and salt to the grantee; false for an environment without a server copy. */
async function grantEnvironment(trx: Tx, keys: EnvironmentKeys, organisationId: string, environmentId: string, grantee: Grantee, at: Date): Promise<boolean> {
  const secrets = await keys.secretsOf(environmentId, trx);
  if (!secrets) return false;
  await insertGrants(trx, keys.grants(organisationId, environmentId, secrets, [grantee], at));
  return true;
}

/**
 * OPEN-9: a member promoted to a global-access role joins every app and receives every SSE
 * environment, as if they had held the role when each was created (§2.8).
 */
export async function grantEverything(trx: Tx, keys: EnvironmentKeys, organisationId: string, grantee: Grantee, at: Date): Promise<AccessChange> {
  const account = accountOf(grantee);
  const { appIds, environmentIds } = await lockAllAppAndEnvironmentIds(trx, organisationId);
  const currentApps = new Set((await listAppsOfAccountMembership(trx, organisationId, account)).map((a) => a.id));
  await addAppMemberships(trx, organisationId, account, appIds, at);
  const held = new Set((await listGrantRows(trx, organisationId, account)).map((g) => g.environment_id));
  const environmentsGranted: string[] = [];
  for (const environmentId of environmentIds) {
    if (held.has(environmentId)) continue;
    if (await grantEnvironment(trx, keys, organisationId, environmentId, grantee, at)) environmentsGranted.push(environmentId);
  }
  return { appsAdded: appIds.filter((id) => !currentApps.has(id)), appsRemoved: [], environmentsGranted, environmentsRevoked: [] };
}

/** The `apps` of SA detail and member access (§3.5): individual memberships, newest first, with the environments held. */
export async function describeIndividualAccess(db: Executor, organisationId: string, account: AccountRef): Promise<AppAccessView[]> {
  const [apps, environments] = await Promise.all([
    listAppsOfAccountMembership(db, organisationId, account),
    listGrantedEnvironments(db, organisationId, account),
  ]);
  return apps.map((app) => ({
    id: app.id,
    name: app.name,
    environments: environments.filter((e) => e.app_id === app.id).map((e) => ({ id: e.id, name: e.name, envType: e.env_type })),
  }));
}
