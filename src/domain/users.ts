// People and their memberships as the console and the CLI's account commands see them (Coffer's own
// /coffer/v1 API, not Phase's): who am I, my wrapped keyring, my personal access tokens, a new
// organisation of mine. A caller is a console session (any organisation of the user, chosen per
// request) or a personal access token (its own organisation only).
import type { Db, Tx } from '../store/database.js';
import { asUuid } from '../store/directory.js';
import { findMemberKeyringOfUser, findMembershipsOfUser, findUserById, lockUserCredentials, type MembershipRow } from '../store/users.js';
import { findUserTokensOfMember, revokeUserToken, type UserTokenListRow } from '../store/user-tokens.js';
import type { KdfParamsColumn } from '../store/accounts.table.js';
import { verifyPassword } from '../crypto/index.js';
import type { BodyReader } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import type { GuessLimiter } from './guess-limit.js';
import { validateKeyMaterial, type MemberKeyMaterial, type Organisations } from './organisations.js';
import type { NewPersonalToken, PersonalTokens, RegisteredToken } from './personal-tokens.js';
import type { Actor, MemberPrincipal } from './principal.js';
import type { SessionInfo } from './sessions.js';
import { parseIsoDateTime } from './iso-datetime.js';
import { inTransaction, isUniqueViolation } from './transactions.js';

interface CallerBase {
  readonly userId: string;
  /** For the audit trail: the client's address as reported (X-Real-IP / X-Forwarded-For). */
  readonly ip: string | null;
  /** For the guess budget: the address as far as it can be trusted (TRUST_PROXY), never a header the client wrote. */
  readonly address: string | null;
  readonly userAgent: string | null;
}

/** Who calls a /coffer/v1 endpoint that needs a signed-in user. */
export type AccountCaller =
  | (CallerBase & { readonly via: 'session'; readonly session: SessionInfo })
  | (CallerBase & { readonly via: 'token'; readonly principal: MemberPrincipal });

export interface UserView {
  id: string;
  email: string;
  fullName: string | null;
}

export interface MembershipView {
  organisationId: string;
  organisationName: string;
  memberId: string;
  role: { id: string; name: string } | null;
}

export interface KeyringView {
  organisationId: string;
  memberId: string;
  identityKey: string;
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: KdfParamsColumn;
}

export interface TokenView {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsed: Date | null;
}

export interface NewMembershipResult {
  organisationId: string;
  organisationName: string;
  userId: string;
  memberId: string;
  tokenId: string;
}

export const NOT_A_MEMBER = 'Organisation not found.';
export const USER_NOT_FOUND = 'User not found';
export const TOKEN_REGISTERED = 'This token is already registered; mint a new one.';
export const TOKEN_NEEDS_PASSWORD = "'loginHash' is required: registering a token with another token needs the account's password.";
export const WRONG_PASSWORD = 'Incorrect password.';
/** A keyring wrapped under a password that was replaced while the request ran. */
export const CREDENTIALS_CHANGED_MEANWHILE = 'The password of this account changed meanwhile. Sign in with the new password and try again.';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `keyring` of a request body: the member's public and wrapped material, made on the client. */
export function readKeyMaterial(value: unknown): MemberKeyMaterial {
  if (!isObject(value)) throw invalid("'keyring' must be an object with identityKey, wrappedKeyring, wrappedRecovery and kdfParams.");
  const kdf = value.kdfParams;
  return {
    identityKey: value.identityKey as string,
    wrappedKeyring: value.wrappedKeyring as string,
    wrappedRecovery: value.wrappedRecovery as string,
    kdfParams: isObject(kdf) ? { opsLimit: kdf.opsLimit as number, memLimit: kdf.memLimit as number } : (undefined as unknown as KdfParamsColumn),
  };
}

/**
 * `expiresAt`: absent or null (never), or an ISO-8601 instant in the future, read as service-account
 * token expiries are (one parser, src/domain/iso-datetime.ts): with an offset, never in the server's
 * own time zone, and within years 1 to 9999 in UTC.
 */
export function readExpiry(value: unknown, now: Date): Date | null {
  if (value === undefined || value === null) return null;
  const parsed = typeof value === 'string' ? parseIsoDateTime(value) : undefined;
  if (!parsed) throw invalid("'expiresAt' must be an ISO-8601 date-time such as 2030-01-31T12:00:00Z, or null.");
  if (!parsed.hasOffset || !parsed.instant) throw invalid("'expiresAt' must include a timezone offset (e.g. 'Z' or '+00:00').");
  if (parsed.instant.getTime() <= now.getTime()) throw invalid("'expiresAt' must be in the future.");
  return parsed.instant;
}

/** `token` of a request body: the public parts of a personal access token minted on the client. */
export function readTokenInput(value: unknown, now = new Date()): NewPersonalToken {
  if (!isObject(value)) throw invalid("'token' must be an object with name, identityKey, bearerHash and wrappedKeyShare.");
  return {
    name: value.name,
    identityKey: value.identityKey,
    bearerHash: value.bearerHash,
    wrappedKeyShare: value.wrappedKeyShare,
    expiresAt: readExpiry(value.expiresAt, now),
  };
}

/** The client's Argon2id login hash: 32 bytes as hex. */
export function readLoginHash(value: unknown, field = 'loginHash'): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) throw invalid(`'${field}' must be 64 hexadecimal characters.`);
  return value.toLowerCase();
}

/**
 * Proves the account's password again (its client-derived login hash) where a valid credential alone
 * is not enough: accepting an invite as an existing user, registering a token with a token. Failures
 * count against the sign-in guess budget (per address and per e-mail address).
 */
export async function confirmLoginHash(
  guesses: GuessLimiter,
  account: { email: string; verifier: string | null },
  presented: unknown,
  address: string | null,
  refusals: { noPassword: string; wrongPassword: string; field?: string },
): Promise<void> {
  if (account.verifier === null) throw forbidden(refusals.noPassword);
  const field = refusals.field ?? 'loginHash';
  if (presented === undefined || presented === null) throw invalid(`'${field}' is required: the account's password (its login hash) must be proved here.`);
  const loginHash = readLoginHash(presented, field);
  const keys = [`login-ip:${address ?? 'unknown'}`, `login-email:${account.email}`];
  const guess = guesses.begin(keys);
  if (!(await verifyPassword(account.verifier, loginHash))) throw forbidden(refusals.wrongPassword);
  guess.succeeded();
}

export function membershipView(row: MembershipRow): MembershipView {
  return {
    organisationId: row.organisation_id,
    organisationName: row.organisation_name,
    memberId: row.member_id,
    role: row.role_id && row.role_name ? { id: row.role_id, name: row.role_name } : null,
  };
}

function tokenView(row: UserTokenListRow): TokenView {
  return { id: row.id, name: row.name, createdAt: row.created_at, expiresAt: row.expires_at, lastUsed: row.last_used_at };
}

export class Users {
  constructor(
    private readonly deps: DomainDeps,
    private readonly organisations: Organisations,
    private readonly personalTokens: PersonalTokens,
    private readonly guesses: GuessLimiter,
  ) {}

  get #db(): Db {
    return this.deps.db;
  }

  /** The user and their memberships (a token sees only its own organisation). */
  async me(caller: AccountCaller): Promise<{ user: UserView; memberships: MembershipView[] }> {
    const user = await findUserById(this.#db, caller.userId);
    if (!user) throw notFound(USER_NOT_FOUND);
    const memberships = caller.via === 'token' ? await this.#tokenMembership(caller) : await findMembershipsOfUser(this.#db, caller.userId);
    if (caller.via === 'token' && memberships.length === 0) throw notFound(USER_NOT_FOUND);
    return { user: { id: user.id, email: user.email, fullName: user.full_name === '' ? null : user.full_name }, memberships: memberships.map(membershipView) };
  }

  /** Every live membership of a user (what a fresh session may act in). */
  async memberships(userId: string): Promise<MembershipView[]> {
    return (await findMembershipsOfUser(this.#db, userId)).map(membershipView);
  }

  /**
   * The caller as a member of one organisation: a session names it (`organisation_id`), a token
   * is bound to its own. Other organisations behave like unknown ones.
   */
  async member(caller: AccountCaller, organisationId: string | undefined): Promise<MemberPrincipal> {
    if (caller.via === 'token') {
      const own = caller.principal.organisationId;
      if (organisationId !== undefined && organisationId !== '' && asUuid(organisationId) !== own) throw notFound(NOT_A_MEMBER);
      if ((await this.#tokenMembership(caller)).length === 0) throw notFound(USER_NOT_FOUND);
      return caller.principal;
    }
    if (organisationId === undefined || organisationId === '') throw invalid('Missing required parameter: organisation_id');
    const id = asUuid(organisationId);
    const membership = id ? (await findMembershipsOfUser(this.#db, caller.userId, id))[0] : undefined;
    if (!membership) throw notFound(NOT_A_MEMBER);
    return { kind: 'member', organisationId: membership.organisation_id, memberId: membership.member_id, userId: caller.userId, tokenId: null };
  }

  /**
   * Refuses a token whose membership was removed (404 User not found, as on every other route): it
   * no longer proves who calls, also where a caller is optional (accepting an invite).
   */
  async requireLiveToken(caller: AccountCaller): Promise<void> {
    if (caller.via === 'token' && (await this.#tokenMembership(caller)).length === 0) throw notFound(USER_NOT_FOUND);
  }

  /**
   * The membership a token was made for, if still live (empty otherwise). Not any membership of the
   * same person there: a member removed and invited again has a new membership, and the tokens of
   * the old one stay refused, as on the public API.
   */
  async #tokenMembership(caller: AccountCaller & { via: 'token' }): Promise<MembershipRow[]> {
    const live = await findMembershipsOfUser(this.#db, caller.userId, caller.principal.organisationId);
    return live.filter((membership) => membership.member_id === caller.principal.memberId);
  }

  /** What a client needs to unlock its keyring for one organisation (blobs only it can open). */
  async keyring(caller: AccountCaller, organisationId: string | undefined): Promise<KeyringView> {
    const principal = await this.member(caller, organisationId);
    const row = await findMemberKeyringOfUser(this.#db, principal.organisationId, caller.userId);
    if (!row) throw notFound(USER_NOT_FOUND);
    return {
      organisationId: row.organisation_id,
      memberId: row.id,
      identityKey: row.identity_key,
      wrappedKeyring: row.wrapped_keyring,
      wrappedRecovery: row.wrapped_recovery,
      kdfParams: row.kdf_params,
    };
  }

  /**
   * A new organisation owned by the caller's user: body `{organisation: {id, name}, keyring, token}`,
   * the keyring made on the client for that organisation id and a first token minted from it.
   */
  async createOrganisation(caller: AccountCaller, read: BodyReader): Promise<NewMembershipResult> {
    const body = read();
    const organisation = isObject(body.organisation) ? body.organisation : undefined;
    if (!organisation) throw invalid("'organisation' must be an object with id and name.");
    if (typeof organisation.id !== 'string' || asUuid(organisation.id) === undefined) throw invalid("'organisation.id' must be a UUID chosen by the client.");
    const keyring = readKeyMaterial(body.keyring);
    validateKeyMaterial(keyring);
    const token = readTokenInput(body.token);
    const user = await findUserById(this.#db, caller.userId);
    if (!user) throw notFound(USER_NOT_FOUND);
    if (caller.via === 'token') await this.member(caller, undefined);
    // The new keyring is wrapped under the password the client used: it must be the current one,
    // also when it changes while this request runs (the password change takes the same lock).
    if (user.login_hash !== null) {
      await confirmLoginHash(this.guesses, { email: user.email, verifier: user.login_hash }, body.loginHash, caller.address, {
        noPassword: WRONG_PASSWORD,
        wrongPassword: WRONG_PASSWORD,
      });
    }
    try {
      return await inTransaction(this.#db, async ({ trx, afterCommit }) => {
        const credentials = await lockUserCredentials(trx, user.id);
        if (!credentials || credentials.login_hash !== user.login_hash) throw conflict(CREDENTIALS_CHANGED_MEANWHILE);
        const created = await this.organisations.create(
          { name: organisation.name, organisationId: organisation.id as string, owner: { email: user.email, ...keyring } },
          trx,
        );
        const registered = await this.personalTokens.register(created.organisationId, created.memberId, token, trx);
        await this.#auditToken(trx, created.organisationId, caller, created, registered, 'token.create');
        afterCommit(() => this.deps.invalidateDirectory());
        const name = await trx.selectFrom('organisations').select('name').where('id', '=', created.organisationId).executeTakeFirstOrThrow();
        return { organisationId: created.organisationId, organisationName: name.name, userId: created.userId, memberId: created.memberId, tokenId: registered.id };
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        if (violatedConstraint(error) === 'user_tokens_bearer_key') throw conflict(TOKEN_REGISTERED);
        throw conflict('An organisation with this id already exists; generate a new id and a keyring for it.');
      }
      throw error;
    }
  }

  async listTokens(caller: AccountCaller, organisationId: string | undefined): Promise<TokenView[]> {
    const member = await this.member(caller, organisationId);
    return (await findUserTokensOfMember(this.#db, member.organisationId, member.memberId)).map(tokenView);
  }

  /** Registers a personal access token minted on the client from the member's own key pair. */
  async createToken(caller: AccountCaller, organisationId: string | undefined, read: BodyReader): Promise<RegisteredToken> {
    const member = await this.member(caller, organisationId);
    const body = read();
    const input = readTokenInput(body);
    if (caller.via === 'token') await this.#confirmPasswordForToken(caller, body);
    try {
      return await inTransaction(this.#db, async ({ trx, afterCommit }) => {
        const registered = await this.personalTokens.register(member.organisationId, member.memberId, input, trx);
        await this.#auditToken(trx, member.organisationId, caller, member, registered, 'token.create');
        afterCommit(() => this.deps.invalidateDirectory());
        return registered;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(TOKEN_REGISTERED);
      throw error;
    }
  }

  /**
   * A token registering another token must also carry the account's login hash: otherwise anyone
   * holding a token (one about to expire, or leaked) could mint a lasting one that survives its
   * revocation. A session has proved the password at sign-in.
   */
  async #confirmPasswordForToken(caller: AccountCaller, body: Record<string, unknown>): Promise<void> {
    if (body.loginHash === undefined) throw invalid(TOKEN_NEEDS_PASSWORD);
    const user = await findUserById(this.#db, caller.userId);
    if (!user) throw notFound(USER_NOT_FOUND);
    await confirmLoginHash(this.guesses, { email: user.email, verifier: user.login_hash }, body.loginHash, caller.address, {
      noPassword: 'This account has no password: register new tokens from a console session.',
      wrongPassword: WRONG_PASSWORD,
    });
  }

  /** Revokes one of the caller's own tokens; the next request with it gets 401 `Token expired or deleted`. */
  async revokeToken(caller: AccountCaller, organisationId: string | undefined, tokenId: string): Promise<void> {
    const member = await this.member(caller, organisationId);
    const id = asUuid(tokenId);
    if (!id) throw notFound('Token not found.');
    await inTransaction(this.#db, async ({ trx, afterCommit }) => {
      if (!(await revokeUserToken(trx, member.organisationId, member.memberId, id, new Date()))) throw notFound('Token not found.');
      await this.#auditToken(trx, member.organisationId, caller, member, { id, name: '' }, 'token.revoke');
      afterCommit(() => this.deps.invalidateDirectory());
    });
  }

  async #auditToken(
    trx: Tx,
    organisationId: string,
    caller: AccountCaller,
    member: { memberId: string },
    token: { id: string; name: string },
    action: 'token.create' | 'token.revoke',
  ): Promise<void> {
    const principal: MemberPrincipal =
      caller.via === 'token' && caller.principal.organisationId === organisationId
        ? caller.principal
        : { kind: 'member', organisationId, memberId: member.memberId, userId: caller.userId, tokenId: null };
    const actor: Actor = { principal, ip: caller.ip, userAgent: caller.userAgent };
    const description = action === 'token.create' ? `Personal access token '${token.name}' created` : 'Personal access token revoked';
    await this.deps.audit.append(trx, [{ organisationId, actor, event: { kind: 'audit', action, resourceId: token.id, description } }]);
  }
}

/** Refused on endpoints that act for a person (service-account tokens have no user). */
export const PERSON_REQUIRED = 'This endpoint needs a console session or a personal access token (Bearer User ...).';
export const personRequired = () => forbidden(PERSON_REQUIRED);

/** The name of the unique index a write ran into (pg and PGlite both report it). */
export function violatedConstraint(error: unknown): string | undefined {
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}
