// Changing an account's password, and recovering an account with a recovery phrase. The password
// protects one thing the server holds: every membership's keyring, wrapped on the client under the
// device key of (password, e-mail). Both operations therefore store keyrings rewrapped on the
// client (the server never sees the password, the phrase or a private key) together with the new
// password's login hash, in one transaction, and end the account's other console sessions.
// Personal access tokens are left alone: each carries its own share of the keyring, not the password.
import { hashPassword, verifyRecoveryStatement, type RecoveryStatement } from '../crypto/index.js';
import { asUuid } from '../store/directory.js';
import { deleteSessionsOfUser } from '../store/sessions.js';
import {
  findMemberKeyringOfUser,
  findMembershipsOfUser,
  findUserByEmail,
  findUserById,
  lockUserCredentials,
  rewrapMemberKeyring,
  updateUserCredentials,
  type RewrappedKeyring,
} from '../store/users.js';
import type { AppendEntry } from './audit.js';
import type { BodyReader } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, invalid, notFound, unauthenticated } from './errors.js';
import type { GuessLimiter } from './guess-limit.js';
import { normaliseEmail, validateWrappedKeyring } from './organisations.js';
import type { MemberPrincipal } from './principal.js';
import { inTransaction } from './transactions.js';
import { confirmLoginHash, CREDENTIALS_CHANGED_MEANWHILE, readLoginHash, USER_NOT_FOUND, WRONG_PASSWORD, type AccountCaller, type Users } from './users.js';

export const CURRENT_PASSWORD_REQUIRED = "'currentLoginHash' is required: changing the password needs the current one.";
export const NO_PASSWORD = 'This account has no password to change.';
export const RECOVERY_REFUSED = 'Recovery refused: the recovery phrase does not belong to an account with this e-mail address in this organisation.';
export const RECOVERY_USED = 'This recovery request was already used, or is older than the last change of the password. Run the recovery again.';
/** Looked up and verified against when there is no such account or membership (see recover). */
const NOBODY = '00000000-0000-0000-0000-000000000000';
const NOBODY_IDENTITY_KEY = '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29';
/** How far a recovery statement's time may be from the server's clock. */
export const RECOVERY_WINDOW_MS = 5 * 60_000;

export interface PasswordChanged {
  organisations: number;
  sessionsEnded: number;
}

export interface AccountRecovered {
  userId: string;
  organisationId: string;
  memberId: string;
  /** The account's other organisations: their keyrings are still wrapped under the old password. */
  otherOrganisations: Array<{ organisationId: string; organisationName: string }>;
  sessionsEnded: number;
}

/** Who asks for a recovery (nobody is signed in): for the audit trail and the guess budget. */
export interface Requester {
  readonly ip: string | null;
  readonly address: string | null;
  readonly userAgent: string | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{wrappedKeyring, wrappedRecovery, kdfParams}` made on the client under the new password. */
function readRewrapped(value: unknown, field: string): RewrappedKeyring {
  if (!isObject(value)) throw invalid(`'${field}' must be an object with wrappedKeyring, wrappedRecovery and kdfParams.`);
  const kdf = value.kdfParams;
  const keyring = {
    wrappedKeyring: value.wrappedKeyring as string,
    wrappedRecovery: value.wrappedRecovery as string,
    kdfParams: isObject(kdf) ? { opsLimit: kdf.opsLimit as number, memLimit: kdf.memLimit as number } : (undefined as unknown as RewrappedKeyring['kdfParams']),
  };
  validateWrappedKeyring(keyring);
  return { wrappedKeyring: keyring.wrappedKeyring.toLowerCase(), wrappedRecovery: keyring.wrappedRecovery.toLowerCase(), kdfParams: keyring.kdfParams };
}

/** `keyrings`: one rewrapped keyring per organisation id, each organisation once. */
function readKeyringsByOrganisation(value: unknown): Map<string, RewrappedKeyring> {
  if (!Array.isArray(value)) throw invalid("'keyrings' must be an array: your keyring of every organisation you belong to, wrapped under the new password.");
  if (value.length > 1000) throw invalid("'keyrings' holds more than 1000 entries.");
  const byOrganisation = new Map<string, RewrappedKeyring>();
  value.forEach((entry, index) => {
    const organisationId = isObject(entry) && typeof entry.organisationId === 'string' ? asUuid(entry.organisationId) : undefined;
    if (!organisationId) throw invalid(`'keyrings[${index}].organisationId' must be a UUID.`);
    if (byOrganisation.has(organisationId)) throw invalid(`'keyrings' names organisation ${organisationId} twice.`);
    byOrganisation.set(organisationId, readRewrapped(entry, `keyrings[${index}]`));
  });
  return byOrganisation;
}

/** An ISO-8601 instant with an offset, within RECOVERY_WINDOW_MS of `now`. */
function readIssuedAt(value: unknown, now: Date): Date {
  const instant = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : undefined;
  if (!instant || Number.isNaN(instant.getTime())) throw invalid("'issuedAt' must be an ISO-8601 date-time with an offset, such as 2030-01-31T12:00:00.000Z.");
  if (Math.abs(instant.getTime() - now.getTime()) > RECOVERY_WINDOW_MS) {
    throw invalid(`'issuedAt' is more than 5 minutes from the server's clock (${now.toISOString()}): check this machine's clock and run the recovery again.`);
  }
  return instant;
}

export class AccountCredentials {
  constructor(
    private readonly deps: DomainDeps,
    private readonly users: Users,
    private readonly guesses: GuessLimiter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Body `{currentLoginHash, loginHash, keyrings: [{organisationId, wrappedKeyring, wrappedRecovery,
   * kdfParams}]}`: the current password's login hash, the new one's, and the keyring of every live
   * membership wrapped under the new password. Ends the account's other console sessions.
   */
  async changePassword(caller: AccountCaller, read: BodyReader): Promise<PasswordChanged> {
    await this.users.requireLiveToken(caller);
    const body = read();
    if (body.currentLoginHash === undefined) throw invalid(CURRENT_PASSWORD_REQUIRED);
    const newLoginHash = readLoginHash(body.loginHash);
    const keyrings = readKeyringsByOrganisation(body.keyrings);
    const user = await findUserById(this.deps.db, caller.userId);
    if (!user) throw notFound(USER_NOT_FOUND);
    await confirmLoginHash(this.guesses, { email: user.email, verifier: user.login_hash }, body.currentLoginHash, caller.address, {
      noPassword: NO_PASSWORD,
      wrongPassword: WRONG_PASSWORD,
      field: 'currentLoginHash',
    });
    const verifier = await hashPassword(newLoginHash);
    return inTransaction(this.deps.db, async ({ trx }) => {
      // Locked, and compared with what the current password was checked against: of two changes at
      // once, the second is refused rather than storing keyrings wrapped under a password that no
      // longer signs in. Invite acceptance takes the same lock.
      const locked = await lockUserCredentials(trx, user.id);
      if (!locked || locked.login_hash !== user.login_hash) throw conflict(CREDENTIALS_CHANGED_MEANWHILE);
      const memberships = await findMembershipsOfUser(trx, user.id);
      const missing = memberships.filter((m) => !keyrings.has(m.organisation_id));
      const unknown = [...keyrings.keys()].filter((id) => !memberships.some((m) => m.organisation_id === id));
      if (missing.length > 0 || unknown.length > 0) {
        const parts = [
          ...(missing.length > 0 ? [`no keyring for ${missing.map((m) => `${m.organisation_name} (${m.organisation_id})`).join(', ')}`] : []),
          ...(unknown.length > 0 ? [`not a member of ${unknown.join(', ')}`] : []),
        ];
        throw conflict(`'keyrings' must hold exactly the organisations you belong to: ${parts.join('; ')}. Fetch your memberships again.`);
      }
      const now = this.now();
      for (const membership of memberships) {
        await rewrapMemberKeyring(trx, membership.organisation_id, membership.member_id, keyrings.get(membership.organisation_id)!, now);
      }
      await updateUserCredentials(trx, user.id, { loginHash: verifier, changedAt: now, at: now });
      const sessionsEnded = await deleteSessionsOfUser(trx, user.id, caller.via === 'session' ? caller.session.idHash : null);
      const description = `Password changed${sessionsEnded > 0 ? `; ${sessionsEnded} other console session${sessionsEnded === 1 ? '' : 's'} ended` : ''}`;
      await this.deps.audit.append(
        trx,
        memberships.map((m) => this.#auditEntry(m.organisation_id, m.member_id, user.id, caller, 'account.password_change', description)),
      );
      return { organisations: memberships.length, sessionsEnded };
    });
  }

  /**
   * Body `{email, organisationId, issuedAt, loginHash, keyring: {wrappedKeyring, wrappedRecovery,
   * kdfParams}, signature}`: a statement of the new credentials signed with the keyring the recovery
   * phrase derives (crypto/account-recovery.ts). Sets the account's password and this membership's
   * keyring; the account's other memberships stay wrapped under the old password until each is
   * recovered with its own phrase. Every console session of the account ends.
   */
  async recover(read: BodyReader, requester: Requester): Promise<AccountRecovered> {
    const body = read();
    const email = normaliseEmail(body.email);
    const organisationId = typeof body.organisationId === 'string' ? asUuid(body.organisationId) : undefined;
    if (!organisationId) throw invalid("'organisationId' must be a UUID: the organisation whose recovery phrase this is.");
    const now = this.now();
    const issuedAt = readIssuedAt(body.issuedAt, now);
    const loginHash = readLoginHash(body.loginHash);
    const keyring = readRewrapped(body.keyring, 'keyring');
    const statement: RecoveryStatement = { organisationId, email, issuedAt: body.issuedAt as string, loginHash, ...keyring };
    const guess = this.guesses.begin([`recover-ip:${requester.address ?? 'unknown'}`, `recover-email:${email}`]);
    const user = await findUserByEmail(this.deps.db, email);
    // One answer for an unknown address, a non-member and a wrong phrase, after the same work (a
    // membership lookup, a signature check): nobody learns who is a member where, nor by timing.
    const member = await findMemberKeyringOfUser(this.deps.db, organisationId, user?.id ?? NOBODY);
    const verified = verifyRecoveryStatement(member?.identity_key ?? NOBODY_IDENTITY_KEY, statement, body.signature);
    if (!user || !member || !verified) throw unauthenticated(RECOVERY_REFUSED);
    guess.succeeded();
    const verifier = await hashPassword(loginHash);
    return inTransaction(this.deps.db, async ({ trx }) => {
      const locked = await lockUserCredentials(trx, user.id);
      if (!locked) throw unauthenticated(RECOVERY_REFUSED);
      if (locked.credentials_changed_at !== null && issuedAt.getTime() <= locked.credentials_changed_at.getTime()) throw conflict(RECOVERY_USED);
      const at = this.now();
      if (!(await rewrapMemberKeyring(trx, organisationId, member.id, keyring, at))) throw unauthenticated(RECOVERY_REFUSED);
      // Never earlier than the statement: a replay of it (or of any earlier one) is then refused.
      const changedAt = issuedAt.getTime() > at.getTime() ? issuedAt : at;
      await updateUserCredentials(trx, user.id, { loginHash: verifier, changedAt, at });
      const sessionsEnded = await deleteSessionsOfUser(trx, user.id, null);
      const others = (await findMembershipsOfUser(trx, user.id)).filter((m) => m.organisation_id !== organisationId);
      await this.deps.audit.append(trx, [
        this.#auditEntry(organisationId, member.id, user.id, requester, 'account.recover', `Account recovered with the recovery phrase; password reset, ${sessionsEnded} console session${sessionsEnded === 1 ? '' : 's'} ended`),
      ]);
      return {
        userId: user.id,
        organisationId,
        memberId: member.id,
        otherOrganisations: others.map((m) => ({ organisationId: m.organisation_id, organisationName: m.organisation_name })),
        sessionsEnded,
      };
    });
  }

  #auditEntry(organisationId: string, memberId: string, userId: string, who: Requester | AccountCaller, action: string, description: string): AppendEntry {
    const principal: MemberPrincipal =
      'via' in who && who.via === 'token' && who.principal.organisationId === organisationId
        ? who.principal
        : { kind: 'member', organisationId, memberId, userId, tokenId: null };
    return { organisationId, actor: { principal, ip: who.ip, userAgent: who.userAgent }, event: { kind: 'audit', action, resourceId: memberId, description } };
  }
}
