// Apps (rest-api §8): created SSE by default with three environments, or custom ones.
import { randomUUID } from 'node:crypto';
import type { App, Environment } from '../store/apps.table.js';
import { deleteApp, findApp, listAppsOfAccount } from '../store/apps.js';
import { allowsOrg, allowsOrgInApp } from './access.js';
import type { BodyReader, Call } from './context.js';
import type { DomainDeps } from './deps.js';
import { DEFAULT_ENVIRONMENTS, environmentGrantees, INVALID_ENVIRONMENT_NAME, isValidEnvironmentName, type Environments, type NewEnvironment } from './environments.js';
import { forbidden, invalid, notFound } from './errors.js';
import type { Action } from './role-definitions.js';
import { isPythonBlank, pythonStrip } from './secrets/python-literal.js';
import { applyTextRule } from './text-rule.js';
import { inTransaction } from './transactions.js';

export interface CreatedApp {
  app: App;
  environments: Environment[];
}

export const SSE_NOT_ENABLED_FOR_APP = 'SSE is not enabled for this App.';

/**
 * Coffer's bound on `environments` in one app creation, POST /v1/apps/ and the E2EE POST
 * /coffer/v1/apps/ alike (docs/security.md "Limits"): each costs rows per grantee (and here a key
 * pair) inside the one transaction, and 40,000 held it 70 s.
 */
export const ENVIRONMENTS_PER_NEW_APP_MAX = 100;

export class Apps {
  constructor(private readonly deps: DomainDeps, private readonly environments: Environments) {}

  /** §8.1: apps the caller is a member of, newest first. */
  async list(call: Call): Promise<App[]> {
    if (!allowsOrg(call.access, 'Apps', 'read')) throw forbidden("You don't have permission to read apps.");
    const p = call.principal;
    return listAppsOfAccount(this.deps.db, p.organisationId, p.kind === 'member' ? { memberId: p.memberId } : { serviceAccountId: p.serviceAccountId });
  }

  /** §8.2 */
  async create(call: Call, readBody: BodyReader, options: { sse?: boolean } = {}): Promise<CreatedApp> {
    if (!allowsOrg(call.access, 'Apps', 'create')) throw forbidden("You don't have permission to create apps.");
    const body = readBody();
    const name = applyTextRule(body.name, { field: 'name', max: 64, required: true })!;
    const description = body.description === undefined || body.description === null ? undefined : applyTextRule(body.description, { field: 'description', max: 10000, required: false });
    const specs = this.#environmentSpecs(body.environments);
    const sse = options.sse ?? true;
    const org = call.principal.organisationId;
    const created = await inTransaction(this.deps.db, async ({ trx, afterCommit }) => {
      const now = new Date();
      const app: App = { id: randomUUID(), organisation_id: org, name, description: description ?? null, sse_enabled: sse, created_at: now, updated_at: now };
      await trx.insertInto('apps').values(app).execute();
      const p = call.principal;
      // The members of the new app: the creator and the global-access members, locked until commit. One
      // removed meanwhile is left out, or its removal waits and then takes this app along.
      const grantees = await environmentGrantees(trx, p, null);
      const members = grantees.map((g) => ('memberId' in g ? { member_id: g.memberId, service_account_id: null } : { member_id: null, service_account_id: g.serviceAccountId }));
      if (members.length > 0) {
        await trx
          .insertInto('app_members')
          .values(members.map((m) => ({ app_id: app.id, organisation_id: org, ...m, created_at: now })))
          .execute();
      }
      const environments = await this.environments.insert(trx, org, app.id, specs, grantees, sse, afterCommit);
      await this.deps.audit.append(trx, [
        {
          organisationId: org,
          actor: call,
          event: { kind: 'audit', action: 'app.create', appId: app.id, resourceId: app.id, snapshot: { name, environments: environments.map((e) => e.id) } },
        },
      ]);
      return { app, environments };
    });
    this.deps.invalidateDirectory();
    return created;
  }

  /** §7: E2EE apps are not served by the app detail and environment endpoints. */
  assertSse(call: Call): void {
    if (call.target.app && !call.target.app.sse_enabled) throw forbidden(SSE_NOT_ENABLED_FOR_APP);
  }

  /** §8.3 */
  async get(call: Call, action: Action = 'read'): Promise<App> {
    const appId = call.target.app!.id;
    if (!allowsOrgInApp(call.access, appId, 'Apps', action)) throw forbidden(`You don't have permission to ${action} apps.`);
    const app = await findApp(this.deps.db, call.principal.organisationId, appId);
    if (!app) throw notFound(`App with ID ${appId} not found`);
    return app;
  }

  /** §8.4 */
  async update(call: Call, readBody: BodyReader): Promise<App> {
    const app = await this.get(call, 'update');
    const body = readBody();
    const nameGiven = body.name !== undefined && body.name !== null;
    const descriptionGiven = body.description !== undefined && body.description !== null;
    if (!nameGiven && !descriptionGiven) throw invalid("At least one of 'name' or 'description' must be provided.");
    const name = nameGiven ? applyTextRule(body.name, { field: 'name', max: 64, required: true })! : app.name;
    const description = descriptionGiven ? (applyTextRule(body.description, { field: 'description', max: 10000, required: false }) ?? null) : app.description;
    const org = call.principal.organisationId;
    const updated = await inTransaction(this.deps.db, async ({ trx }) => {
      const row = await trx
        .updateTable('apps')
        .set({ name, description, updated_at: new Date() })
        .where('id', '=', app.id)
        .where('organisation_id', '=', org)
        .returningAll()
        .executeTakeFirst();
      // Deleted since the request's target was resolved.
      if (!row) throw notFound(`App with ID ${app.id} not found`);
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'app.update', appId: app.id, resourceId: app.id, snapshot: { name, description } } }]);
      return row;
    });
    this.deps.invalidateDirectory();
    return updated;
  }

  /** §8.5: everything under the app goes (its secret events stay in the audit trail, undecryptable). */
  async delete(call: Call): Promise<void> {
    const app = await this.get(call, 'delete');
    const org = call.principal.organisationId;
    const environmentIds = await inTransaction(this.deps.db, async ({ trx }) => {
      const deleted = await deleteApp(trx, org, app.id);
      if (!deleted) throw notFound(`App with ID ${app.id} not found`);
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'app.delete', appId: app.id, resourceId: app.id, snapshot: { name: app.name } } }]);
      return deleted;
    });
    for (const id of environmentIds) this.deps.forgetEnvironment(id);
    this.deps.invalidateDirectory();
  }

  #environmentSpecs(value: unknown): NewEnvironment[] {
    if (value === undefined || value === null) {
      return DEFAULT_ENVIRONMENTS.map((env, index) => ({ name: env.name, envType: env.envType, index }));
    }
    if (!Array.isArray(value)) throw invalid("'environments' must be a list of environment names.");
    if (value.length === 0) throw invalid("'environments' must not be empty.");
    if (value.length > ENVIRONMENTS_PER_NEW_APP_MAX) {
      throw invalid(`At most ${ENVIRONMENTS_PER_NEW_APP_MAX} environments can be created with an app (got ${value.length}); add more with POST /v1/environments/.`);
    }
    // Every element is checked before names are compared (the bullets of §8.2 step 4, in order).
    for (const entry of value) {
      if (typeof entry !== 'string' || isPythonBlank(entry)) throw invalid('Each environment name must be a non-empty string.');
    }
    const names = (value as string[]).map(pythonStrip);
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name.toLowerCase())) throw invalid(`Duplicate environment name: '${name}'.`);
      seen.add(name.toLowerCase());
    }
    for (const name of names) if (!isValidEnvironmentName(name)) throw invalid(INVALID_ENVIRONMENT_NAME);
    return names.map((name, index) => ({ name, envType: 'custom', index }));
  }
}
