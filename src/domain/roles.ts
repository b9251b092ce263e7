// Roles (rest-api §11): the five built-in roles of every organisation and custom roles with
// validated permission maps (§11.6). A custom role can never have global access.
import { randomUUID } from 'node:crypto';
import type { Role } from '../store/accounts.table.js';
import type { Tx } from '../store/database.js';
import { asUuid } from '../store/directory.js';
import { deleteRole, findRoleById, findRoleByName, insertRole, listRoles, lockRoleForDelete, roleHolders, updateRole, type RoleChanges } from '../store/roles.js';
import { allowsOrg } from './access.js';
import type { BodyReader, Call } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import { APP_PERMISSION_CLASSES, DEFAULT_ROLES, ORG_PERMISSION_CLASSES, validActions, type Action } from './role-definitions.js';
import { checkWellFormedField } from './secrets/validate.js';
import { pythonLiteral } from './secrets/python-literal.js';
import { applyTextRule } from './text-rule.js';
import { inTransaction, isUniqueViolation } from './transactions.js';

export const ROLE_NOT_FOUND = 'Role not found.';
const NAME_TAKEN = 'A role with this name already exists.';

/** What GET /v1/roles/{id}/ shows as `permissions` (§3.4; D-14 adds globalAccess to custom roles). */
export interface RolePermissionsView {
  permissions: Record<string, unknown> | null;
  appPermissions: Record<string, unknown> | null;
  globalAccess: boolean;
}

export interface ValidatedPermissions {
  permissions: Record<string, unknown> | null;
  app_permissions: Record<string, unknown> | null;
}

/** Code-point order, as Python's sorted() (upper case before lower case). */
function sortCodePoints(values: string[]): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateClassMap(map: Record<string, unknown>, scope: 'org' | 'app'): void {
  const classes: readonly string[] = scope === 'org' ? ORG_PERMISSION_CLASSES : APP_PERMISSION_CLASSES;
  const label = scope === 'org' ? 'org permission class' : 'app permission class';
  for (const [resourceClass, actions] of Object.entries(map)) {
    if (!classes.includes(resourceClass)) {
      throw invalid(`Unknown ${label}: '${resourceClass}'. Valid classes: ${sortCodePoints([...classes]).join(', ')}.`);
    }
    if (!Array.isArray(actions)) throw invalid(`Actions for '${resourceClass}' must be an array.`);
    const valid: string[] = validActions(scope, resourceClass);
    for (const action of actions) {
      if (typeof action !== 'string' || !valid.includes(action)) {
        const text = typeof action === 'string' ? action : pythonLiteral(action);
        throw invalid(`Unknown action '${text}' for ${label} '${resourceClass}'. Valid actions: ${sortCodePoints(valid).join(', ')}.`);
      }
    }
  }
}

/** §11.6, on a value already known to be an object. */
export function validatePermissionObject(input: Record<string, unknown>): ValidatedPermissions {
  // `appPermissions` is an alias; when both keys are present the later one in the JSON text wins.
  // No prototype: a key named `__proto__` is then a key like any other (and refused as unknown),
  // not the object's prototype, through which the nested keys would pass for the real ones.
  const normalised: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(input)) normalised[key === 'appPermissions' ? 'app_permissions' : key] = value;
  const allowed = ['permissions', 'app_permissions'];
  const unknown = Object.keys(normalised).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw invalid(`Unknown top-level keys: ${sortCodePoints(unknown).join(', ')}. Allowed keys: permissions, app_permissions.`);
  }
  const missing = allowed.filter((k) => !(k in normalised));
  if (missing.length > 0) {
    throw invalid(`Missing required keys: ${sortCodePoints(missing).join(', ')}. Required keys: permissions, app_permissions.`);
  }
  const permissions = normalised.permissions;
  if (permissions !== null) {
    if (!isObject(permissions)) throw invalid('permissions must be a JSON object.');
    validateClassMap(permissions, 'org');
  }
  const appPermissions = normalised.app_permissions;
  if (appPermissions !== null) {
    if (!isObject(appPermissions)) throw invalid('app_permissions must be a JSON object.');
    validateClassMap(appPermissions, 'app');
  }
  return { permissions: permissions as Record<string, unknown> | null, app_permissions: appPermissions as Record<string, unknown> | null };
}

// Control characters: PostgreSQL refuses NUL in text, and the others have no place in a color.
const CONTROL = /\p{Cc}/u;

/**
 * `color`: at most 7 characters, no format check (rest-api §11.3; `#RRGGBB` intended); a non-string
 * is refused (D-2 extension), and so are control characters and unpaired surrogates (Coffer
 * messages). Undefined when not given.
 */
function validateColor(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid("'color' must be a string.");
  if ([...value].length > 7) throw invalid('Role color cannot exceed 7 characters.');
  if (CONTROL.test(value)) throw invalid("'color' must not contain control characters.");
  checkWellFormedField('color', value);
  return value;
}

/** The permissions a role grants as the API shows them: built-in roles from their definition. */
export function rolePermissionsView(role: Role): RolePermissionsView {
  const builtIn = role.is_default ? DEFAULT_ROLES.find((d) => d.name === role.name) : undefined;
  if (builtIn) return { permissions: builtIn.permissions, appPermissions: builtIn.appPermissions, globalAccess: builtIn.globalAccess };
  return { permissions: role.permissions, appPermissions: role.app_permissions, globalAccess: false };
}

export class Roles {
  constructor(private readonly deps: DomainDeps) {}

  /** §11.1 */
  async list(call: Call): Promise<Role[]> {
    this.#require(call, 'read');
    return listRoles(this.deps.db, call.principal.organisationId);
  }

  /** §11.2 */
  async get(call: Call, roleId: string): Promise<Role> {
    this.#require(call, 'read');
    return this.#find(call, roleId);
  }

  /** §11.3 */
  async create(call: Call, readBody: BodyReader): Promise<Role> {
    this.#require(call, 'create');
    const body = readBody();
    const org = call.principal.organisationId;
    const name = applyTextRule(body.name, { field: 'name', max: 64, required: true })!;
    if (await findRoleByName(this.deps.db, org, name)) throw conflict(NAME_TAKEN);
    const input = body.permissions;
    if (!isObject(input) || Object.keys(input).length === 0) throw invalid('Missing required field: permissions (must be a JSON object)');
    const permissions = validatePermissionObject(input);
    const description = applyTextRule(body.description, { field: 'description', max: 500, required: false }) ?? '';
    const color = validateColor(body.color) ?? '';
    const role = await this.#write(async (trx) => {
      const created = await insertRole(trx, { id: randomUUID(), organisation_id: org, name, description, color, ...permissions, created_at: new Date() });
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'role.create', resourceId: created.id, snapshot: { name, ...permissions } } }]);
      return created;
    });
    return role;
  }

  /** §11.4 */
  async update(call: Call, roleId: string, readBody: BodyReader): Promise<Role> {
    this.#require(call, 'update');
    const role = await this.#find(call, roleId);
    if (role.is_default) throw forbidden('Default roles cannot be modified.');
    const body = readBody();
    const given = (key: string) => body[key] !== undefined && body[key] !== null;
    if (!['name', 'description', 'color', 'permissions'].some(given)) throw invalid('At least one field must be provided.');
    const org = call.principal.organisationId;
    const changes: RoleChanges = {};
    if (given('name')) {
      changes.name = applyTextRule(body.name, { field: 'name', max: 64, required: true })!;
      if (await findRoleByName(this.deps.db, org, changes.name, role.id)) throw conflict(NAME_TAKEN);
    }
    if (given('description')) changes.description = applyTextRule(body.description, { field: 'description', max: 500, required: false }) ?? '';
    if (given('color')) changes.color = validateColor(body.color)!;
    if (given('permissions')) {
      if (!isObject(body.permissions)) throw invalid('Permissions must be a JSON object.');
      Object.assign(changes, validatePermissionObject(body.permissions));
    }
    return this.#write(async (trx) => {
      // The UPDATE waits for assignments of the role in flight (they hold it FOR SHARE and judge it on
      // the row they locked), and assignments arriving now wait for this commit and see the change.
      const updated = await updateRole(trx, org, role.id, changes);
      // Deleted since it was looked up.
      if (!updated) throw notFound('Role not found.');
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'role.update', resourceId: role.id, snapshot: { oldName: role.name, ...changes } } }]);
      return updated;
    });
  }

  /** §11.5 */
  async delete(call: Call, roleId: string): Promise<void> {
    this.#require(call, 'delete');
    const role = await this.#find(call, roleId);
    if (role.is_default) throw forbidden('Default roles cannot be deleted.');
    const org = call.principal.organisationId;
    await this.#write(async (trx) => {
      // The role row is locked first: transactions assigning it (which hold it FOR SHARE) finish
      // before its holders are counted, and later ones wait and then find it gone (404).
      if (!(await lockRoleForDelete(trx, org, role.id))) throw notFound(ROLE_NOT_FOUND);
      const holders = await roleHolders(trx, org, role.id, new Date());
      if (holders.members) throw conflict('Cannot delete a role that has members assigned to it.');
      if (holders.serviceAccounts) throw conflict('Cannot delete a role that has service accounts assigned to it.');
      if (holders.invites) throw conflict('Cannot delete a role that has pending invites assigned to it.');
      await deleteRole(trx, org, role.id);
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'role.delete', resourceId: role.id, snapshot: { name: role.name } } }]);
    });
  }

  /** A write that changes what holders of roles may do: caches are dropped after commit. */
  async #write<T>(work: (trx: Tx) => Promise<T>): Promise<T> {
    try {
      const result = await inTransaction(this.deps.db, ({ trx }) => work(trx));
      this.deps.invalidateDirectory();
      return result;
    } catch (error) {
      // Two requests creating the same name at once: the unique index decides.
      if (isUniqueViolation(error)) throw conflict(NAME_TAKEN);
      throw error;
    }
  }

  async #find(call: Call, roleId: string): Promise<Role> {
    const id = asUuid(roleId);
    const role = id ? await findRoleById(this.deps.db, call.principal.organisationId, id) : undefined;
    if (!role) throw notFound(ROLE_NOT_FOUND);
    return role;
  }

  #require(call: Call, action: Action): void {
    if (!allowsOrg(call.access, 'Roles', action)) throw forbidden(`You don't have permission to ${action} roles.`);
  }
}
