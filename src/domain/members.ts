// Organisation members (rest-api §12.1-§12.6): listing, role changes with the owner and
// global-access rules, removal (soft; their PATs then answer 404 `User not found`), and declarative
// app/environment access wrapped by the server to the member's Ed25519 identity key.
import { asUuid } from '../store/directory.js';
import type { Executor } from '../store/database.js';
import { lockMemberIdentity } from '../store/apps.js';
import { removeAllIndividualAccess } from '../store/individual-access.js';
import { findMember, listMembers, lockMembersForChange, setMemberRole, softDeleteMember, type MemberRow } from '../store/members.js';
import { lockRoleForAssignment } from '../store/roles.js';
import { lockServiceAccountRole } from '../store/service-accounts.js';
import { allowsOrg, mayAssignGlobalRole, memberChangeDenial, type MemberChangeDenial } from './access.js';
import type { BodyReader, Call } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import { applyDeclaredAccess, describeIndividualAccess, grantEverything, parseDeclaredAccess, type AppAccessView } from './individual-access.js';
import type { Action } from './role-definitions.js';
import { inTransaction } from './transactions.js';

export const MEMBER_NOT_FOUND = 'Member not found.';
export const CALLER_ROLE_CHANGED = 'Your own role changed while this request ran. Try again.';

export interface MemberAccess {
  member: MemberRow;
  apps: AppAccessView[];
}

const UPDATE_DENIALS: Record<MemberChangeDenial, string> = {
  self: 'You cannot update your own role.',
  'member-global': 'You cannot update the role of a member with global access.',
  'service-account-global': 'Service accounts cannot modify members with global access.',
};

const REMOVE_DENIALS: Record<MemberChangeDenial, string> = {
  self: 'You cannot remove yourself from the organisation.',
  'member-global': 'You cannot remove a member with a global access role.',
  'service-account-global': 'Service accounts cannot remove members with global access.',
};

function isOwner(member: MemberRow): boolean {
  return member.role_is_default === true && member.role_name?.toLowerCase() === 'owner';
}

function hasGlobalAccess(member: MemberRow): boolean {
  return member.role_global_access === true;
}

export class Members {
  constructor(private readonly deps: DomainDeps) {}

  /** §12.1 */
  async list(call: Call): Promise<MemberRow[]> {
    this.#require(call, 'read');
    return listMembers(this.deps.db, call.principal.organisationId);
  }

  /** §12.2 */
  async get(call: Call, memberId: string): Promise<MemberRow> {
    this.#require(call, 'read');
    return this.#find(this.deps.db, call, memberId);
  }

  /** §12.3, and OPEN-9: a promotion to a global-access role grants every app and environment. */
  async updateRole(call: Call, memberId: string, readBody: BodyReader): Promise<MemberRow> {
    this.#require(call, 'update');
    this.#judgeChange(call, await this.#find(this.deps.db, call, memberId), 'update');
    const roleId = readBody().role_id;
    if (roleId === undefined || roleId === null || roleId === '' || roleId === false || roleId === 0) throw invalid('Missing required field: role_id');
    const org = call.principal.organisationId;
    const id = typeof roleId === 'string' ? asUuid(roleId) : undefined;
    if (!id) throw notFound('Role not found.');
    const updated = await inTransaction(this.deps.db, async ({ trx }) => {
      const member = await this.#lockForChange(trx, call, memberId, 'update');
      // The role is judged as locked: held until commit, it cannot be deleted (see Roles.delete) nor
      // changed (see Roles.update) under the member.
      const role = await lockRoleForAssignment(trx, org, id);
      if (!role) throw notFound('Role not found.');
      if (role.name.toLowerCase() === 'owner') throw forbidden('You cannot assign the Owner role directly. Use the ownership transfer flow.');
      if (role.global_access && !mayAssignGlobalRole(call.principal, call.access)) throw forbidden(`You cannot assign the '${role.name}' role.`);
      const now = new Date();
      // A removal that committed first leaves no live member to change (nor to promote and grant to);
      // one that comes later waits for this row and then takes the grants along.
      if (!(await setMemberRole(trx, org, member.id, role.id, now))) throw notFound(MEMBER_NOT_FOUND);
      const promotion = role.global_access && !hasGlobalAccess(member)
        ? await grantEverything(trx, this.deps.keys, org, { memberId: member.id, identityKey: member.identity_key }, now)
        : undefined;
      await this.deps.audit.append(trx, [
        {
          organisationId: org,
          actor: call,
          event: { kind: 'audit', action: 'member.update', resourceId: member.id, snapshot: { oldRole: member.role_name, role: role.name, ...(promotion ? { granted: promotion } : {}) } },
        },
      ]);
      return (await findMember(trx, org, member.id))!;
    });
    this.deps.invalidateDirectory();
    return updated;
  }

  /** §12.5: soft removal; the member's grants and app memberships go with it. */
  async remove(call: Call, memberId: string): Promise<void> {
    this.#require(call, 'delete');
    this.#judgeChange(call, await this.#find(this.deps.db, call, memberId), 'remove');
    const org = call.principal.organisationId;
    await inTransaction(this.deps.db, async ({ trx }) => {
      // The row first: it waits for environment creates that locked it as a grantee, so their grants
      // are among those removed next, and creates that come later skip the member.
      const member = await this.#lockForChange(trx, call, memberId, 'remove');
      await softDeleteMember(trx, org, member.id, new Date());
      await removeAllIndividualAccess(trx, org, { memberId: member.id });
      await this.deps.audit.append(trx, [
        { organisationId: org, actor: call, event: { kind: 'audit', action: 'member.delete', resourceId: member.id, snapshot: { role: member.role_name } } },
      ]);
    });
    this.deps.invalidateDirectory();
  }

  /** The owner and global-access rules of §12.3 and §12.5, on the member as given. */
  #judgeChange(call: Call, member: MemberRow, change: 'update' | 'remove'): void {
    if (isOwner(member)) {
      throw forbidden(change === 'update' ? 'The Owner role cannot be changed via the API. Use the ownership transfer flow.' : 'The Owner cannot be removed via the API. Use the ownership transfer flow.');
    }
    const denial = memberChangeDenial(call.principal, call.access, { memberId: member.id, globalAccess: hasGlobalAccess(member) });
    if (denial) throw forbidden((change === 'update' ? UPDATE_DENIALS : REMOVE_DENIALS)[denial]);
  }

  /**
   * The member (and a calling member) locked, and the rules judged again on the rows as locked: on
   * PostgreSQL, two changes at once were both judged on what they had read before, so a Manager
   * could demote a member being promoted to Admin, and two Admins could demote each other. A caller
   * whose own role changed meanwhile is refused (its permissions were read under the old one).
   */
  async #lockForChange(trx: Executor, call: Call, memberId: string, change: 'update' | 'remove'): Promise<MemberRow> {
    const org = call.principal.organisationId;
    const caller = call.principal.kind === 'member' ? call.principal.memberId : undefined;
    const rows = await lockMembersForChange(trx, org, memberId, caller);
    const member = rows.find((row) => row.id === memberId);
    if (!member) throw notFound(MEMBER_NOT_FOUND);
    const judgedUnder = call.access.role?.id ?? null;
    if (caller) {
      const own = rows.find((row) => row.id === caller);
      if (!own || (own.role_id ?? null) !== judgedUnder) throw conflict(CALLER_ROLE_CHANGED);
    } else if (call.principal.kind === 'service_account') {
      const account = await lockServiceAccountRole(trx, org, call.principal.serviceAccountId);
      if (!account || (account.role_id ?? null) !== judgedUnder) throw conflict(CALLER_ROLE_CHANGED);
    }
    this.#judgeChange(call, member, change);
    return member;
  }

  /** §12.6 GET */
  async getAccess(call: Call, memberId: string): Promise<MemberAccess> {
    this.#require(call, 'read');
    const member = await this.#find(this.deps.db, call, memberId);
    return { member, apps: await describeIndividualAccess(this.deps.db, call.principal.organisationId, { memberId: member.id }) };
  }

  /** §12.6 PUT */
  async setAccess(call: Call, memberId: string, readBody: BodyReader): Promise<MemberAccess> {
    this.#require(call, 'update');
    const member = await this.#find(this.deps.db, call, memberId);
    if (hasGlobalAccess(member)) throw forbidden('Access cannot be changed for members with a global access role.');
    const desired = await parseDeclaredAccess(this.deps.db, call, readBody(), { entirely: true });
    const org = call.principal.organisationId;
    const result = await inTransaction(this.deps.db, async ({ trx }) => {
      // Held until commit, before the apps and environments applyDeclaredAccess locks: a removal waits
      // and then deletes this access, or, when it committed first, the member is gone.
      if (!(await lockMemberIdentity(trx, org, member.id))) throw notFound(MEMBER_NOT_FOUND);
      const change = await applyDeclaredAccess(trx, this.deps.keys, org, { memberId: member.id, identityKey: member.identity_key }, desired, new Date());
      await this.deps.audit.append(trx, [
        { organisationId: org, actor: call, event: { kind: 'audit', action: 'member.access', resourceId: member.id, snapshot: { ...change } } },
      ]);
      return { member, apps: await describeIndividualAccess(trx, org, { memberId: member.id }) };
    });
    this.deps.invalidateDirectory();
    return result;
  }

  async #find(db: Executor, call: Call, memberId: string): Promise<MemberRow> {
    const id = asUuid(memberId);
    const member = id ? await findMember(db, call.principal.organisationId, id) : undefined;
    if (!member) throw notFound(MEMBER_NOT_FOUND);
    return member;
  }

  #require(call: Call, action: Action): void {
    if (!allowsOrg(call.access, 'Members', action)) throw forbidden(`You don't have permission to ${action} members.`);
  }
}
