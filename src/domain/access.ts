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

import type { Principal } from './principal.js';
import { principalId } from './principal.js';
import { TtlCache } from './ttl-cache.js';

/** A role's permission map as stored: class name -> actions. */
export type StoredPermissionMap = Record<string, readonly string[]>;

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

/**
 * May the caller hand out access to this app (§10.6, §12.6)? The server wraps keys itself, so a
 * caller may only pass on what it holds, unless it has global access.
 */
export function mayGrantApp(access: AccountAccess, appId: string): boolean {
  return isGlobal(access) || hasAppAccess(access, appId);
}

export function mayGrantEnvironment(access: AccountAccess, environmentId: string): boolean {
  return isGlobal(access) || hasEnvironmentAccess(access, environmentId);
}

/** A role as stored, for decisions about the role being assigned (not the caller's). */
export interface AssignableRole {
  readonly global_access: boolean;
  readonly permissions: StoredPermissionMap | null;
}

export function roleAllowsOrg(role: AssignableRole, resourceClass: string, action: Action): boolean {
  return grants(role.permissions, resourceClass, action);
}

/** Service accounts never hold a global-access role (§2.8). */
export function mayHoldServiceAccount(role: AssignableRole): boolean {
  return !role.global_access;
}

/**
 * §10.7 minting scope: a service account mints only for itself; a member only with global access
 * (team-owned accounts, the other case Phase allows, do not exist in Coffer).
 */
export function mayMintFor(principal: Principal, access: AccountAccess, serviceAccountId: string): boolean {
  if (!access.live) return false;
  if (principal.kind === 'service_account') return principal.serviceAccountId === serviceAccountId;
  return isGlobal(access);
}

/** Why a caller may not change or remove another member (§12.3 step 3, §12.5), or undefined when it may. */
export type MemberChangeDenial = 'self' | 'member-global' | 'service-account-global';

export function memberChangeDenial(
  principal: Principal,
  access: AccountAccess,
  target: { memberId: string; globalAccess: boolean },
): MemberChangeDenial | undefined {
  if (principal.kind === 'member') {
    if (principal.memberId === target.memberId) return 'self';
    if (target.globalAccess && !isGlobal(access)) return 'member-global';
    return undefined;
  }
  return target.globalAccess ? 'service-account-global' : undefined;
}

/** Only a member with global access may hand out a global-access role (§12.3 step 7). */
export function mayAssignGlobalRole(principal: Principal, access: AccountAccess): boolean {
  return principal.kind === 'member' && isGlobal(access);
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
