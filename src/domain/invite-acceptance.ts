// Accepting an invite (rest-api OPEN-10). Invites are created through POST /v1/members/invites/,
// which stores the SHA-256 of a one-time token; the invitee's client opens the invite with that
// token, makes a keyring for the organisation's id (the server never sees the phrase, the password
// or the private key), mints a first personal access token, and accepts. The invite then stops
// working.
import { randomUUID } from 'node:crypto';
import { hashPassword } from '../crypto/index.js';
import { claimInvite, findInviteByTokenHash, type InviteByTokenRow } from '../store/invite-tokens.js';
import { lockRoleForAssignment } from '../store/roles.js';
import { findMembershipsOfUser, findUserByEmail, insertMember, insertUser, lockUserCredentials } from '../store/users.js';
import type { BodyReader } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import type { GuessLimiter } from './guess-limit.js';
import { normaliseEmail, validateKeyMaterial } from './organisations.js';
import type { PersonalTokens } from './personal-tokens.js';
import type { Actor, MemberPrincipal } from './principal.js';
import { sha256Hex } from './sessions.js';
import { applyTextRule } from './text-rule.js';
import { inTransaction, isUniqueViolation } from './transactions.js';
import { confirmLoginHash, CREDENTIALS_CHANGED_MEANWHILE, readKeyMaterial, readLoginHash, readTokenInput, TOKEN_REGISTERED, violatedConstraint, type NewMembershipResult } from './users.js';

export const INVITE_GONE = 'This invite does not exist, was already used or has expired. Ask for a new invite.';
export const INVITE_OTHER_EMAIL = 'This invite is for a different email address.';
export const EXISTING_ACCOUNT_PASSWORD = 'An account with this email address already exists and the password does not match it. Use that account\'s password.';
export const EXISTING_ACCOUNT_SIGN_IN = 'An account with this email address already exists without a password. Sign in with one of its personal access tokens to accept the invite.';

export interface InviteView {
  organisationId: string;
  organisationName: string;
  email: string;
  role: { id: string; name: string } | null;
  expiresAt: Date;
}

export interface AcceptedInvite extends NewMembershipResult {
  email: string;
  role: { id: string; name: string } | null;
}

/** Who accepts, as far as the request says: the user of a valid session or token, if any. */
export interface Acceptor {
  readonly userId: string | null;
  /** For the audit trail (X-Real-IP / X-Forwarded-For as the public API records it). */
  readonly ip: string | null;
  /** The peer address, or the forwarded one only with TRUST_PROXY: what guess budgets count. */
  readonly address: string | null;
  readonly userAgent: string | null;
}

function view(row: InviteByTokenRow): InviteView {
  return {
    organisationId: row.organisation_id,
    organisationName: row.organisation_name,
    email: row.email,
    role: row.role_id && row.role_name ? { id: row.role_id, name: row.role_name } : null,
    expiresAt: row.expires_at,
  };
}

export class InviteAcceptance {
  constructor(
    private readonly deps: DomainDeps,
    private readonly personalTokens: PersonalTokens,
    private readonly guesses: GuessLimiter,
  ) {}

  async describe(token: string): Promise<InviteView> {
    return view(await this.#live(token));
  }

  /**
   * Body: `{email?, fullName?, loginHash, keyring, token}`. A new user is created with the login
   * hash; an existing user proves it is them with the same login hash (or by calling with one of
   * their sessions or tokens).
   */
  async accept(inviteToken: string, read: BodyReader, acceptor: Acceptor): Promise<AcceptedInvite> {
    const invite = await this.#live(inviteToken);
    const body = read();
    if (body.email !== undefined && body.email !== null && normaliseEmail(body.email) !== invite.email.toLowerCase()) throw invalid(INVITE_OTHER_EMAIL);
    const fullName = applyTextRule(body.fullName, { field: 'fullName', max: 150, required: false }) ?? '';
    const keyring = readKeyMaterial(body.keyring);
    validateKeyMaterial(keyring);
    const token = readTokenInput(body.token);
    const email = invite.email.toLowerCase();
    const existing = await findUserByEmail(this.deps.db, email);
    let newUser: { id: string; verifier: string } | undefined;
    if (existing) {
      // An account with a password proves it here even when signed in: the new keyring is wrapped
      // under the password the client used, which must be the current one. One without a password
      // (token-only) can only accept while signed in as itself.
      if (existing.login_hash !== null || acceptor.userId !== existing.id) await this.#proveExisting(existing.login_hash, body.loginHash, email, acceptor.address);
    } else {
      newUser = { id: randomUUID(), verifier: await hashPassword(readLoginHash(body.loginHash)) };
    }
    const userId = existing?.id ?? newUser!.id;
    try {
      return await inTransaction(this.deps.db, async ({ trx, afterCommit }) => {
        // The invite's role is locked before the invite (the order Roles.delete takes them in), so it
        // cannot be deleted or changed under the new member, and the answer names it as locked. A
        // valid invite holds its role; one whose role is gone had expired meanwhile.
        const role = invite.role_id === null ? undefined : await lockRoleForAssignment(trx, invite.organisation_id, invite.role_id);
        if (!role) throw notFound(INVITE_GONE);
        if (!(await claimInvite(trx, invite.id))) throw notFound(INVITE_GONE);
        const now = new Date();
        if (newUser) {
          await insertUser(trx, { id: newUser.id, email, fullName, loginHash: newUser.verifier, at: now });
        } else {
          // The keyring was wrapped under the password checked above: if it changed since, this
          // membership could never be unlocked with the new one (the password change takes this lock).
          const credentials = await lockUserCredentials(trx, userId);
          if (!credentials || credentials.login_hash !== existing!.login_hash) throw conflict(CREDENTIALS_CHANGED_MEANWHILE);
          if ((await findMembershipsOfUser(trx, userId, invite.organisation_id)).length > 0) throw conflict(`'${email}' is already a member of this organisation.`);
        }
        const memberId = randomUUID();
        await insertMember(trx, {
          id: memberId,
          organisationId: invite.organisation_id,
          userId,
          roleId: role.id,
          identityKey: keyring.identityKey.toLowerCase(),
          wrappedKeyring: keyring.wrappedKeyring.toLowerCase(),
          wrappedRecovery: keyring.wrappedRecovery.toLowerCase(),
          kdfParams: { opsLimit: keyring.kdfParams.opsLimit, memLimit: keyring.kdfParams.memLimit },
          at: now,
        });
        const registered = await this.personalTokens.register(invite.organisation_id, memberId, token, trx);
        const principal: MemberPrincipal = { kind: 'member', organisationId: invite.organisation_id, memberId, userId, tokenId: null };
        const actor: Actor = { principal, ip: acceptor.ip, userAgent: acceptor.userAgent };
        await this.deps.audit.append(trx, [
          {
            organisationId: invite.organisation_id,
            actor,
            event: { kind: 'audit', action: 'invite.accept', resourceId: invite.id, description: `Invite accepted by ${email}; member ${memberId} joined` },
          },
        ]);
        afterCommit(() => this.deps.invalidateDirectory());
        return {
          organisationId: invite.organisation_id,
          organisationName: invite.organisation_name,
          userId,
          memberId,
          tokenId: registered.id,
          email,
          role: { id: role.id, name: role.name },
        };
      });
    } catch (error) {
      // A concurrent acceptance created the same user (two invites, one address): nothing was written.
      if (isUniqueViolation(error)) {
        if (violatedConstraint(error) === 'user_tokens_bearer_key') throw conflict(TOKEN_REGISTERED);
        throw conflict(`'${email}' is already a member of this organisation, or joined it at the same moment; sign in instead.`);
      }
      throw error;
    }
  }

  async #live(token: string): Promise<InviteByTokenRow> {
    if (typeof token !== 'string' || token.length < 16 || token.length > 256) throw notFound(INVITE_GONE);
    const row = await findInviteByTokenHash(this.deps.db, sha256Hex(token));
    if (!row || !row.valid || row.expires_at.getTime() < Date.now()) throw notFound(INVITE_GONE);
    return row;
  }

  async #proveExisting(verifier: string | null, presented: unknown, email: string, address: string | null): Promise<void> {
    await confirmLoginHash(this.guesses, { email, verifier }, presented, address, {
      noPassword: EXISTING_ACCOUNT_SIGN_IN,
      wrongPassword: EXISTING_ACCOUNT_PASSWORD,
    });
  }
}
