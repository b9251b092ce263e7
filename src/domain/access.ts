// The one place that decides what a principal may do (rest-api §2.8, §2.9). Everything else asks
// here; nothing else reads roles, app memberships or environment grants to make a decision.
// Deny by default: a missing role, an unknown class or an unknown action grants nothing.
import type { Db } from '../store/database.js';
import {
  findAppMemberships,
  findEnvironmentGrants,
  findMemberAccount,
  findRole,
  findServiceAccountAccount,
} from '../store/access.js';
import type { Action } from './role-definitions.js';

/** A role's permission map as stored: class name -> actions. */
export type StoredPermissionMap = Record<string, readonly string[]>;
import type { Principal } from './principal.js';
import { principalId } from './principal.js';
import { TtlCache } from './ttl-cache.js';

export interface RoleGrants {
  readonly id: string;
  readonly name: string;
  readonly permissions: StoredPermissionMap | null;
  readonly appPermissions: StoredPermissionMap | null;
  readonly globalAccess: boolean;
}

/** Everything needed to decide a principal's requests, loaded once and cached briefly. */
export interface AccountAccess {
  /** false when the membership was removed or the service account deleted. */
  readonly live: boolean;
  readonly role: RoleGrants | null;
  readonly appIds: ReadonlySet<string>;
  readonly environmentIds: ReadonlySet<string>;
}

function grants(map: StoredPermissionMap | null | undefined, resourceClass: string, action: Action): boolean {
  const actions = map?.[resourceClass];
  return Array.isArray(actions) && actions.includes(action);
}

/** Organisation-level permission (apps list/create, members, roles, service accounts, ...). */
export function allowsOrg(access: AccountAccess, resourceClass: string, action: Action): boolean {
  return access.live && grants(access.role?.permissions, resourceClass, action);
}

/** App-contextual permission from the app map: the account must be a member of the app. */
export function allowsInApp(access: AccountAccess, appId: string, resourceClass: string, action: Action): boolean {
  return access.live && access.appIds.has(appId) && grants(access.role?.appPermissions, resourceClass, action);
}

/** App-contextual permission from the organisation map (app detail endpoints, §2.9). */
export function allowsOrgInApp(access: AccountAccess, appId: string, resourceClass: string, action: Action): boolean {
  return access.live && access.appIds.has(appId) && grants(access.role?.permissions, resourceClass, action);
}

export function hasAppAccess(access: AccountAccess, appId: string): boolean {
  return access.live && access.appIds.has(appId);
}

export function hasEnvironmentAccess(access: AccountAccess, environmentId: string): boolean {
  return access.live && access.environmentIds.has(environmentId);
}

export function isGlobal(access: AccountAccess): boolean {
  return access.live && access.role?.globalAccess === true;
}

export const NO_ACCESS: AccountAccess = { live: false, role: null, appIds: new Set(), environmentIds: new Set() };

export class AccessControl {
  readonly #cache: TtlCache<string, Promise<AccountAccess>>;

  /** @param maxAgeMs how long a loaded decision basis may be reused (Infinity on the embedded store). */
  constructor(private readonly db: Db, maxAgeMs: number) {
    this.#cache = new TtlCache(10_000, maxAgeMs);
  }

  accountAccess(principal: Principal): Promise<AccountAccess> {
    const key = `${principal.kind}:${principalId(principal)}`;
    let pending = this.#cache.get(key);
    if (!pending) {
      pending = this.#load(principal);
      pending.catch(() => this.#cache.delete(key));
      this.#cache.set(key, pending);
    }
    return pending;
  }

  /** Called after any committed change to roles, memberships, grants, members or service accounts. */
  invalidate(): void {
    this.#cache.clear();
  }

  async #load(principal: Principal): Promise<AccountAccess> {
    const org = principal.organisationId;
    const account =
      principal.kind === 'member'
        ? await findMemberAccount(this.db, org, principal.memberId)
        : await findServiceAccountAccount(this.db, org, principal.serviceAccountId);
    if (!account || account.deleted_at !== null) return NO_ACCESS;
    const who = principal.kind === 'member' ? { memberId: principal.memberId } : { serviceAccountId: principal.serviceAccountId };
    const [role, appIds, environmentIds] = await Promise.all([
      account.role_id ? findRole(this.db, org, account.role_id) : Promise.resolve(undefined),
      findAppMemberships(this.db, org, who),
      findEnvironmentGrants(this.db, org, who),
    ]);
    return {
      live: true,
      role: role
        ? {
            id: role.id,
            name: role.name,
            permissions: role.permissions,
            appPermissions: role.app_permissions,
            // Service accounts can never hold a global-access role (§2.8).
            globalAccess: role.global_access && principal.kind === 'member',
          }
        : null,
      appIds: new Set(appIds),
      environmentIds: new Set(environmentIds),
    };
  }
}
