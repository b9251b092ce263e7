// Environments (rest-api §9): creation with key material and grants, listing, rename, deletion.
import { randomUUID } from 'node:crypto';
import type { Environment, EnvType } from '../store/apps.table.js';
import type { Tx } from '../store/database.js';
import { insertEnvironmentKeys } from '../store/environment-keys.js';
import {
  findEnvironment,
  findServiceAccountMembersOfApp,
  listEnvironmentsOfApp,
  lockAppMemberships,
  lockAppForNewEnvironment,
  lockEnvironment,
  lockGlobalAccessMembers,
  lockMemberIdentity,
  lockServiceAccountIdentity,
  maxEnvironmentIndex,
} from '../store/apps.js';
import { allowsInApp, hasEnvironmentAccess } from './access.js';
import type { BodyReader, Call } from './context.js';
import type { DomainDeps } from './deps.js';
import type { Grantee } from './environment-keys.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import type { Action } from './role-definitions.js';
import type { Principal } from './principal.js';
import { inTransaction, isUniqueViolation } from './transactions.js';

/** §9.4-9.6: the URL's environment is gone (also when it went while the request ran). */
const ENVIRONMENT_NOT_FOUND = 'Environment not found';

export const ENVIRONMENT_NAME = /^[a-zA-Z0-9\-_]{1,64}$/;
export const INVALID_ENVIRONMENT_NAME =
  'Environment name is invalid. Only letters, numbers, hyphens and underscores are allowed (max 64 characters).';

export const DEFAULT_ENVIRONMENTS: ReadonlyArray<{ name: string; envType: EnvType }> = [
  { name: 'Development', envType: 'dev' },
  { name: 'Staging', envType: 'staging' },
  { name: 'Production', envType: 'prod' },
];

/** Python truthiness of a JSON value: Phase answers `if not name:` with "Missing required field". */
function isFalsy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

export function isValidEnvironmentName(name: unknown): name is string {
  return typeof name === 'string' && ENVIRONMENT_NAME.test(name) && !name.includes('\n');
}

/**
 * The principals that receive a new environment (§2.8): the creator, global-access members, the app's
 * service accounts. Their rows (every live member's, to decide who is global) and the app's
 * memberships stay locked until commit, so an account removed meanwhile is either left out or loses
 * the new grants with the rest, and a member promoted meanwhile is either included or granted the new
 * environment by the promotion (src/store/apps.ts "Grantee reads"). Call it after locking the app,
 * before inserting the grants.
 */
export async function environmentGrantees(trx: Tx, principal: Principal, appId: string | null): Promise<Grantee[]> {
  const org = principal.organisationId;
  const grantees = new Map<string, Grantee>();
  const creator =
    principal.kind === 'member'
      ? await lockMemberIdentity(trx, org, principal.memberId)
      : await lockServiceAccountIdentity(trx, org, principal.serviceAccountId);
  if (creator) {
    grantees.set(creator.id, principal.kind === 'member' ? { memberId: creator.id, identityKey: creator.identity_key } : { serviceAccountId: creator.id, identityKey: creator.identity_key });
  }
  for (const member of await lockGlobalAccessMembers(trx, org)) grantees.set(member.id, { memberId: member.id, identityKey: member.identity_key });
  if (appId) {
    await lockAppMemberships(trx, org, appId);
    for (const sa of await findServiceAccountMembersOfApp(trx, org, appId)) grantees.set(sa.id, { serviceAccountId: sa.id, identityKey: sa.identity_key });
  }
  return [...grantees.values()];
}

export interface NewEnvironment {
  name: string;
  envType: EnvType;
  index: number;
}

export class Environments {
  constructor(private readonly deps: DomainDeps) {}

  /**
   * Inserts environments with fresh seeds and salts: the server's sealed copy (SSE) and a grant per
   * grantee. Returns the rows in creation order.
   */
  async insert(trx: Tx, organisationId: string, appId: string, specs: NewEnvironment[], grantees: Grantee[], sse: boolean, afterCommit: (hook: () => void) => void): Promise<Environment[]> {
    const created: Environment[] = [];
    const now = new Date();
    for (const spec of specs) {
      const id = randomUUID();
      const secrets = this.deps.keys.generate();
      const row: Environment = {
        id,
        organisation_id: organisationId,
        app_id: appId,
        name: spec.name,
        env_type: spec.envType,
        index: spec.index,
        identity_key: secrets.identityKey,
        revision: 1,
        created_at: now,
        updated_at: now,
      };
      await trx.insertInto('environments').values(row).execute();
      if (sse) {
        await trx
          .insertInto('server_environment_keys')
          .values({ environment_id: id, organisation_id: organisationId, ...this.deps.keys.serverCopy(organisationId, id, secrets), created_at: now, updated_at: now })
          .execute();
      }
      await insertEnvironmentKeys(trx, this.deps.keys.grants(organisationId, id, secrets, grantees, now));
      if (sse) afterCommit(() => this.deps.keys.remember(id, secrets));
      created.push(row);
    }
    return created;
  }

  /** §9.2 */
  async list(call: Call): Promise<Environment[]> {
    const app = this.#requireApp(call);
    this.#requirePermission(call, app, 'read');
    const environments = await listEnvironmentsOfApp(this.deps.db, call.principal.organisationId, app);
    return environments.filter((env) => hasEnvironmentAccess(call.access, env.id));
  }

  /** §9.3 */
  async create(call: Call, readBody: BodyReader): Promise<Environment> {
    const appId = this.#requireApp(call);
    this.#requirePermission(call, appId, 'create');
    const name = readBody().name;
    if (isFalsy(name)) throw invalid('Missing required field: name');
    if (!isValidEnvironmentName(name)) throw invalid(INVALID_ENVIRONMENT_NAME);
    const org = call.principal.organisationId;
    try {
      const env = await inTransaction(this.deps.db, async ({ trx, afterCommit }) => {
        // Held until commit: a concurrent delete of the app waits for this environment (and takes it
        // along), or, when it committed first, the app is gone and the answer is the unknown app's.
        // Concurrent creates in the app wait too, so each takes the next index.
        const app = await lockAppForNewEnvironment(trx, org, appId);
        if (!app) throw notFound(`App with ID ${appId} not found`);
        const taken = await trx
          .selectFrom('environments')
          .select('id')
          .where('app_id', '=', appId)
          .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
          .executeTakeFirst();
        if (taken) throw invalid(`An environment named '${name}' already exists in this app.`);
        const max = await maxEnvironmentIndex(trx, appId);
        const grantees = await environmentGrantees(trx, call.principal, appId);
        const [row] = await this.insert(trx, org, appId, [{ name, envType: 'custom', index: max === null ? 0 : max + 1 }], grantees, app.sse_enabled, afterCommit);
        await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'environment.create', appId, environmentId: row!.id, resourceId: row!.id, description: `Created environment ${name}` } }]);
        return row!;
      });
      this.deps.invalidateDirectory();
      return env;
    } catch (error) {
      if (isUniqueViolation(error)) throw invalid(`An environment named '${name}' already exists in this app.`);
      throw error;
    }
  }

  /** §9.4: the environment named in the URL, after the checks the detail endpoints share. */
  async get(call: Call, action: Action): Promise<Environment> {
    const environment = call.target.urlEnvironment!;
    this.#requirePermission(call, environment.app_id, action);
    if (!hasEnvironmentAccess(call.access, environment.id)) {
      throw forbidden(call.principal.kind === 'member' ? "You don't have access to this environment." : "Service account doesn't have access to this environment.");
    }
    const row = await findEnvironment(this.deps.db, call.principal.organisationId, environment.id);
    // Deleted since the request's target was resolved: gone, as for a request that came later.
    if (!row) throw notFound(ENVIRONMENT_NOT_FOUND);
    return row;
  }

  /** §9.5 */
  async rename(call: Call, readBody: BodyReader): Promise<Environment> {
    const environment = await this.get(call, 'update');
    const name = readBody().name;
    if (isFalsy(name)) throw invalid('Missing required field: name');
    if (!isValidEnvironmentName(name)) throw invalid(INVALID_ENVIRONMENT_NAME);
    const org = call.principal.organisationId;
    try {
      const updated = await inTransaction(this.deps.db, async ({ trx }) => {
        // Locked: a delete or another rename at the same moment goes first or after, never between.
        const current = await lockEnvironment(trx, org, environment.id);
        if (!current) throw notFound(ENVIRONMENT_NOT_FOUND);
        const other = await trx
          .selectFrom('environments')
          .select('id')
          .where('app_id', '=', environment.app_id)
          .where('id', '!=', environment.id)
          .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
          .executeTakeFirst();
        if (other) throw conflict(`An environment named '${name}' already exists in this app.`);
        const row = await trx
          .updateTable('environments')
          .set({ name, updated_at: new Date() })
          .where('id', '=', environment.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'environment.update', appId: environment.app_id, environmentId: environment.id, resourceId: environment.id, snapshot: { oldName: current.name, newName: name } } }]);
        return row;
      });
      this.deps.invalidateDirectory();
      return updated;
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`An environment named '${name}' already exists in this app.`);
      throw error;
    }
  }

  /** §9.6: the environment and everything in it (secret events stay in the audit trail, undecryptable). */
  async delete(call: Call): Promise<void> {
    const environment = await this.get(call, 'delete');
    const org = call.principal.organisationId;
    await inTransaction(this.deps.db, async ({ trx }) => {
      // Locked first: of two deletes at once, the second finds nothing (404) and records nothing.
      const current = await lockEnvironment(trx, org, environment.id);
      if (!current) throw notFound(ENVIRONMENT_NOT_FOUND);
      await trx.deleteFrom('environments').where('id', '=', environment.id).where('organisation_id', '=', org).execute();
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'environment.delete', appId: environment.app_id, environmentId: environment.id, resourceId: environment.id, snapshot: { name: current.name } } }]);
    });
    this.deps.forgetEnvironment(environment.id);
    this.deps.invalidateDirectory();
  }

  #requireApp(call: Call): string {
    if (!call.target.app) throw forbidden('Could not resolve app from request.');
    return call.target.app.id;
  }

  #requirePermission(call: Call, appId: string, action: Action): void {
    if (!allowsInApp(call.access, appId, 'Environments', action)) throw forbidden(`You don't have permission to ${action} environments.`);
  }
}
