// Invitations (rest-api §12.7). Creating one also makes a one-time invite token: 32 random bytes,
// hex; only hex(SHA-256(UTF-8 of that hex text)) is stored in invites.token_hash, so the acceptance
// flow looks an invite up exactly as bearer tokens are looked up (bearerHash).
import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { bearerHash } from '../crypto/index.js';
import { asUuid } from '../store/directory.js';
import { deleteInvite, findInvite, hasActiveInviteFor, insertInvite, listActiveInvites, lockInviteAddress, type InviteRow } from '../store/invites.js';
import { findMemberByEmail } from '../store/members.js';
import type { Role } from '../store/accounts.table.js';
import { lockRoleForAssignment } from '../store/roles.js';
import { allowsOrg, roleAllowsOrg } from './access.js';
import type { BodyReader, Call } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import { isEmailTooLong, notAnEmail } from './organisations.js';
import type { Action } from './role-definitions.js';
import { inTransaction } from './transactions.js';

export const INVITE_LIFETIME_MS = 14 * 24 * 3600 * 1000;

// Django's EmailValidator (what Phase validates invitee addresses with), OPEN-11 for exotic forms.
const DOT_ATOM = /^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$/i;
// eslint-disable-next-line no-control-regex
const QUOTED = /^"([\x01-\x08\x0b\x0c\x0e-\x1f!#-[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"$/i;
const DOMAIN = /^(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+(?:[A-Z0-9-]{2,63}(?<!-))$/i;
const LITERAL = /^\[([A-F0-9:.]+)\]$/i;

function isValidDomainPart(domain: string): boolean {
  if (DOMAIN.test(domain)) return true;
  const literal = LITERAL.exec(domain);
  return literal !== null && isIP(literal[1]!) !== 0;
}

export function isValidEmail(value: string): boolean {
  // The account length rule, not Django's 320: the invitee must be able to become an account.
  if (value === '' || !value.includes('@') || isEmailTooLong(value)) return false;
  const at = value.lastIndexOf('@');
  const user = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (!DOT_ATOM.test(user) && !QUOTED.test(user)) return false;
  if (domain === 'localhost' || isValidDomainPart(domain)) return true;
  // An internationalised domain is checked in its ASCII (punycode) form.
  const ascii = domainToASCII(domain);
  return ascii !== '' && ascii !== domain && isValidDomainPart(ascii);
}

/** §12.7 step 1: trimmed, lower-cased, validated. */
export function cleanInviteEmail(value: unknown): string {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) throw invalid('Missing required field: email');
  if (typeof value !== 'string') throw invalid("'email' must be a string.");
  const email = value.trim().toLowerCase();
  if (!isValidEmail(email)) throw notAnEmail(email);
  return email;
}

/** §12.7 steps 4 and 5: roles no invitee may be given. */
function refuseInviteRole(role: Role): void {
  if (role.global_access) throw invalid(`Members cannot be invited with the '${role.name}' role.`);
  if (roleAllowsOrg(role, 'ServiceAccountTokens', 'create')) throw invalid('Members cannot be invited with a role that allows creating service account tokens.');
}

export interface CreatedInvite {
  invite: InviteRow;
  /** The one-time invite token (64 hex). Returned once; only its hash is stored. */
  token: string;
}

export class Invites {
  constructor(private readonly deps: DomainDeps) {}

  /** GET /v1/members/invites/ */
  async list(call: Call): Promise<InviteRow[]> {
    this.#require(call, 'read');
    return listActiveInvites(this.deps.db, call.principal.organisationId, new Date());
  }

  /** POST /v1/members/invites/ */
  async create(call: Call, readBody: BodyReader): Promise<CreatedInvite> {
    this.#require(call, 'create');
    const body = readBody();
    const email = cleanInviteEmail(body.email);
    const roleId = body.role_id;
    if (roleId === undefined || roleId === null || roleId === '' || roleId === false || roleId === 0) throw invalid('Missing required field: role_id');
    const org = call.principal.organisationId;
    const id = typeof roleId === 'string' ? asUuid(roleId) : undefined;
    if (!id) throw notFound('Role not found.');
    const token = randomBytes(32).toString('hex');
    const inviteId = randomUUID();
    const p = call.principal;
    const invite = await inTransaction(this.deps.db, async ({ trx }) => {
      // The role is judged as locked: held until commit, it cannot be deleted (see Roles.delete) nor
      // given other permissions (see Roles.update) under the new invite.
      const role = await lockRoleForAssignment(trx, org, id);
      if (!role) throw notFound('Role not found.');
      refuseInviteRole(role);
      await lockInviteAddress(trx, org, email);
      const now = new Date();
      if (await findMemberByEmail(trx, org, email)) throw conflict(`'${email}' is already a member of this organisation.`);
      if (await hasActiveInviteFor(trx, org, email, now)) throw conflict(`An active invite already exists for '${email}'.`);
      if ('apps' in body) {
        throw invalid("The 'apps' field is not accepted when creating an invite. Use PUT /v1/members/<id>/access/ after the invitee accepts and completes their key ceremony.");
      }
      await insertInvite(trx, {
        id: inviteId,
        organisation_id: org,
        email,
        role_id: role.id,
        invited_by_member_id: p.kind === 'member' ? p.memberId : null,
        invited_by_service_account_id: p.kind === 'service_account' ? p.serviceAccountId : null,
        token_hash: bearerHash(token),
        created_at: now,
        expires_at: new Date(now.getTime() + INVITE_LIFETIME_MS),
      });
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'invite.create', resourceId: inviteId, snapshot: { roleId: role.id } } }]);
      return (await findInvite(trx, org, inviteId))!;
    });
    return { invite, token };
  }

  /** DELETE /v1/members/invites/{id}/: any invite of the organisation, used or expired too. */
  async delete(call: Call, inviteId: string): Promise<void> {
    this.#require(call, 'delete');
    const org = call.principal.organisationId;
    const id = asUuid(inviteId);
    const invite = id ? await findInvite(this.deps.db, org, id) : undefined;
    if (!invite) throw notFound('Invite not found.');
    await inTransaction(this.deps.db, async ({ trx }) => {
      if (!(await deleteInvite(trx, org, invite.id))) throw notFound('Invite not found.');
      await this.deps.audit.append(trx, [{ organisationId: org, actor: call, event: { kind: 'audit', action: 'invite.delete', resourceId: invite.id } }]);
    });
  }

  #require(call: Call, action: Action): void {
    if (!allowsOrg(call.access, 'Members', action)) throw forbidden(`You don't have permission to ${action} members.`);
  }
}
