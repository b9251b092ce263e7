// Service accounts (rest-api §10) with server-managed keyrings (crypto spec §2.4, §3.7 A1): the
// server generates each account's Ed25519 pair, keeps it sealed under the master key, and mints
// pss_service:v2 tokens from it. Tokens are returned once; only their bearer's SHA-256 is stored.
import { randomUUID } from 'node:crypto';
import {
  generateServiceAccountKeyring,
  kxKeyPairOfIdentity,
  mintServiceAccountToken,
  parseIdentityKeyring,
  serializeIdentityKeyring,
  toHex,
  wipeKeyring,
} from '../crypto/index.js';
import { lockServiceAccountIdentity } from '../store/apps.js';
import { asUuid } from '../store/directory.js';
import type { Executor, Tx } from '../store/database.js';
import { listGrantRows, removeAllIndividualAccess } from '../store/individual-access.js';
import { findRoleById, lockRoleForAssignment } from '../store/roles.js';
import {
  findLiveToken,
  findServiceAccount,
  insertServiceAccount,
  insertServiceAccountToken,
  listLiveTokens,
  listServiceAccounts,
  revokeAllTokens,
  revokeToken,
  softDeleteServiceAccount,
  updateServiceAccount,
  type ServiceAccountRow,
  type ServiceAccountTokenRow,
} from '../store/service-accounts.js';
import { allowsOrg, mayHoldServiceAccount, mayMintFor } from './access.js';
import type { BodyReader, Call } from './context.js';
import type { DomainDeps } from './deps.js';
import { forbidden, invalid, notFound } from './errors.js';
import {
  accountOf,
  applyDeclaredAccess,
  describeIndividualAccess,
  parseDeclaredAccess,
  type AppAccessView,
} from './individual-access.js';
import { LATEST_INSTANT_MS, parseIsoDateTime } from './iso-datetime.js';
import type { Action } from './role-definitions.js';
import { applyTextRule } from './text-rule.js';
import { inTransaction } from './transactions.js';

export const SERVICE_ACCOUNT_NOT_FOUND = 'Service account not found.';

export interface ServiceAccountDetail {
  account: ServiceAccountRow;
  tokens: ServiceAccountTokenRow[];
  apps: AppAccessView[];
}

/** A freshly minted token: `token` and `bearer` exist only in this response. */
export interface CreatedToken {
  row: ServiceAccountTokenRow;
  token: string;
  bearer: string;
}

/**
 * The token-creation body with the keys whose JSON value was a number written with a fraction or an
 * exponent (`3600.0`, `1e3`): Python reads those as floats, and `expires_in` must be an integer.
 */
export interface TokenBody {
  body: Record<string, unknown>;
  floatKeys: ReadonlySet<string>;
}

const EXPIRES_AT_NOT_STRING = "'expires_at' must be an ISO-8601 datetime string with timezone (e.g. '2026-12-31T23:59:59Z').";
const EXPIRES_IN_INVALID = "'expires_in' must be a positive integer (seconds).";

export function keyringContext(organisationId: string, serviceAccountId: string): string {
  return `org:${organisationId}/sa:${serviceAccountId}/keyring`;
}

function isFalsy(value: unknown): boolean {
  return value === undefined || value === null || value === '' || value === false || value === 0;
}

/** §10.7 steps 4-7: when the new token expires (null: never). */
export function parseTokenExpiry(input: TokenBody, now: Date): Date | null {
  const { body, floatKeys } = input;
  if ('expiry' in body) {
    throw invalid("Unknown field 'expiry'. Use 'expires_at' (ISO-8601 with timezone) or 'expires_in' (positive integer seconds).");
  }
  const expiresAt = body.expires_at;
  if (expiresAt !== undefined && expiresAt !== null) {
    if (typeof expiresAt !== 'string') throw invalid(EXPIRES_AT_NOT_STRING);
    const parsed = parseIsoDateTime(expiresAt);
    if (!parsed) throw invalid("'expires_at' is not a valid ISO-8601 datetime.");
    if (!parsed.hasOffset || !parsed.instant) throw invalid("'expires_at' must include a timezone offset (e.g. 'Z' or '+00:00').");
    if (parsed.instant.getTime() <= now.getTime()) throw invalid("'expires_at' must be in the future.");
    return parsed.instant;
  }
  const expiresIn = body.expires_in;
  if (expiresIn !== undefined && expiresIn !== null) {
    if (typeof expiresIn !== 'number' || floatKeys.has('expires_in') || !Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
      throw invalid(EXPIRES_IN_INVALID);
    }
    const at = now.getTime() + expiresIn * 1000;
    // Python's datetime.max: later expiries cannot be represented (Phase would crash).
    if (at > LATEST_INSTANT_MS) throw invalid(EXPIRES_IN_INVALID);
    return new Date(at);
  }
  return null;
}

export class ServiceAccounts {
  constructor(private readonly deps: DomainDeps) {}

  /** §10.2 */
  async list(call: Call): Promise<ServiceAccountRow[]> {
    this.#require(call, 'ServiceAccounts', 'read', 'service accounts');
    return listServiceAccounts(this.deps.db, call.principal.organisationId);
  }

  /** §10.3: the account, its keyring and its first token, in one transaction. */
  async create(call: Call, readBody: BodyReader): Promise<{ account: ServiceAccountRow; token: CreatedToken }> {
    this.#require(call, 'ServiceAccounts', 'create', 'service accounts');
    const body = readBody();
    const name = applyTextRule(body.name, { field: 'name', max: 64, required: true })!;
    const tokenName = 'token_name' in body ? applyTextRule(body.token_name, { field: 'token_name', max: 64, required: true })! : 'Default';
    const org = call.principal.organisationId;
    const role = await this.#role(org, body.role_id);
    // Teams are not built: no team can be found (team-owned accounts, §10.1).
    if (body.team_id !== undefined && body.team_id !== null) throw notFound('Team not found.');
    if (!mayHoldServiceAccount(role)) throw invalid(`Service accounts cannot be assigned the '${role.name}' role.`);

    const created = await inTransaction(this.deps.db, async ({ trx }) => {
      // Held until commit, so the role cannot be deleted under the new account (see Roles.delete).
      if (!(await lockRoleForAssignment(trx, org, role.id))) throw notFound('Role not found.');
      const now = new Date();
      const id = randomUUID();
      const keyring = generateServiceAccountKeyring();
      try {
        await insertServiceAccount(trx, {
          id,
          organisation_id: org,
          name,
          role_id: role.id,
          identity_key: toHex(keyring.publicKey),
          server_wrapped_keyring: this.deps.masterKeyring.seal('sa-keyring', keyringContext(org, id), serializeIdentityKeyring(keyring)),
          created_at: now,
        });
      } finally {
        wipeKeyring(keyring);
      }
      const account = (await findServiceAccount(trx, org, id))!;
      const token = await this.#mint(trx, call, account, tokenName, null, now);
      await this.deps.audit.append(trx, [
        {
          organisationId: org,
          actor: call,
          event: { kind: 'audit', action: 'service_account.create', resourceId: id, snapshot: { name, roleId: role.id, tokenId: token.row.id, tokenName } },
        },
      ]);
      return { account, token };
    });
    this.deps.invalidateDirectory();
    return created;
  }

  /** §10.4 */
  async get(call: Call, serviceAccountId: string): Promise<ServiceAccountDetail> {
    this.#require(call, 'ServiceAccounts', 'read', 'service accounts');
    const account = await this.#find(this.deps.db, call, serviceAccountId);
    return this.#detail(this.deps.db, account);
  }

  /** §10.5 PUT */
  async update(call: Call, serviceAccountId: string, readBody: BodyReader): Promise<ServiceAccountDetail> {
    this.#require(call, 'ServiceAccounts', 'update', 'service accounts');
    const account = await this.#find(this.deps.db, call, serviceAccountId);
    const body = readBody();
    const nameGiven = body.name !== undefined && body.name !== null;
    const roleGiven = body.role_id !== undefined && body.role_id !== null;
    if (!nameGiven && !roleGiven) throw invalid("At least one of 'name' or 'role_id' must be provided.");
    const name = nameGiven ? applyTextRule(body.name, { field: 'name', max: 64, required: true })! : undefined;
    const org = call.principal.organisationId;
    let roleId: string | undefined;
    if (roleGiven) {
      const role = await this.#findRole(org, body.role_id);
      if (!role) throw notFound('Role not found.');
      if (!mayHoldServiceAccount(role)) throw invalid(`Service accounts cannot be assigned the '${role.name}' role.`);
      roleId = role.id;
    }
    const detail = await inTransaction(this.deps.db, async ({ trx }) => {
      if (roleId !== undefined && !(await lockRoleForAssignment(trx, org, roleId))) throw notFound('Role not found.');
      // After the role (lock order: role, service account): a delete that committed first leaves nothing to update.
      const changes = { ...(name !== undefined ? { name } : {}), ...(roleId !== undefined ? { role_id: roleId } : {}) };
      if (!(await updateServiceAccount(trx, org, account.id, changes, new Date()))) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
      await this.deps.audit.append(trx, [
        {
          organisationId: org,
          actor: call,
          event: { kind: 'audit', action: 'service_account.update', resourceId: account.id, snapshot: { oldName: account.name, name: name ?? account.name, oldRoleId: account.role_id, roleId: roleId ?? account.role_id } },
        },
      ]);
      return this.#detail(trx, (await findServiceAccount(trx, org, account.id))!);
    });
    this.deps.invalidateDirectory();
    return detail;
  }

  /** §10.5 DELETE: soft delete, every token revoked, every grant removed. */
  async delete(call: Call, serviceAccountId: string): Promise<void> {
    this.#require(call, 'ServiceAccounts', 'delete', 'service accounts');
    const account = await this.#find(this.deps.db, call, serviceAccountId);
    const org = call.principal.organisationId;
    await inTransaction(this.deps.db, async ({ trx }) => {
      const now = new Date();
      // The row first, as in Members.remove (src/store/apps.ts "Grantee reads"): access changes and
      // mints holding the account FOR SHARE commit first, so what they wrote is removed below; when
      // another delete committed first, the account is gone.
      if (!(await softDeleteServiceAccount(trx, org, account.id, now))) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
      await revokeAllTokens(trx, org, account.id, now);
      await removeAllIndividualAccess(trx, org, { serviceAccountId: account.id });
      await this.deps.audit.append(trx, [
        { organisationId: org, actor: call, event: { kind: 'audit', action: 'service_account.delete', resourceId: account.id, snapshot: { name: account.name } } },
      ]);
    });
    this.deps.invalidateDirectory();
  }

  /** The access endpoint checks its permission before the method (§10.6). */
  requireAccessPermission(call: Call): void {
    this.#require(call, 'ServiceAccounts', 'update', 'service accounts');
  }

  /** §10.6 */
  async setAccess(call: Call, serviceAccountId: string, readBody: BodyReader): Promise<ServiceAccountDetail> {
    this.requireAccessPermission(call);
    const account = await this.#find(this.deps.db, call, serviceAccountId);
    const desired = await parseDeclaredAccess(this.deps.db, call, readBody(), { entirely: false });
    const org = call.principal.organisationId;
    const detail = await inTransaction(this.deps.db, async ({ trx }) => {
      // Held until commit, before the apps and environments applyDeclaredAccess locks: a concurrent
      // delete of the account waits and then removes this access, or, when it committed first, the
      // account is gone and the answer is the unknown account's.
      if (!(await lockServiceAccountIdentity(trx, org, account.id))) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
      const change = await applyDeclaredAccess(trx, this.deps.keys, org, { serviceAccountId: account.id, identityKey: account.identity_key }, desired, new Date());
      await this.deps.audit.append(trx, [
        { organisationId: org, actor: call, event: { kind: 'audit', action: 'service_account.access', resourceId: account.id, snapshot: { ...change } } },
      ]);
      return this.#detail(trx, account);
    });
    this.deps.invalidateDirectory();
    return detail;
  }

  /** Token endpoints check their permission before the method (§10.7, §10.8). */
  requireTokenPermission(call: Call, action: 'create' | 'delete'): void {
    this.#require(call, 'ServiceAccountTokens', action, 'service account tokens');
  }

  /** §10.7 */
  async mintToken(call: Call, serviceAccountId: string, readBody: () => TokenBody): Promise<CreatedToken> {
    this.requireTokenPermission(call, 'create');
    const account = await this.#findMintable(call, serviceAccountId);
    const input = readBody();
    const name = applyTextRule(input.body.name, { field: 'name', max: 64, required: true })!;
    const now = new Date();
    const expiresAt = parseTokenExpiry(input, now);
    const org = call.principal.organisationId;
    const token = await inTransaction(this.deps.db, async ({ trx }) => {
      // Held until commit: a concurrent delete revokes this token too, or committed first (404).
      if (!(await lockServiceAccountIdentity(trx, org, account.id))) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
      const minted = await this.#mint(trx, call, account, name, expiresAt, now);
      await this.deps.audit.append(trx, [
        {
          organisationId: org,
          actor: call,
          event: { kind: 'audit', action: 'service_account_token.create', resourceId: minted.row.id, snapshot: { serviceAccountId: account.id, name, expiresAt: expiresAt?.toISOString() ?? null } },
        },
      ]);
      return minted;
    });
    this.deps.invalidateDirectory();
    return token;
  }

  /** §10.8 */
  async revokeToken(call: Call, serviceAccountId: string, tokenId: string): Promise<void> {
    this.requireTokenPermission(call, 'delete');
    const account = await this.#findMintable(call, serviceAccountId);
    const org = call.principal.organisationId;
    const id = asUuid(tokenId);
    const token = id ? await findLiveToken(this.deps.db, org, account.id, id) : undefined;
    if (!token) throw notFound('Token not found.');
    await inTransaction(this.deps.db, async ({ trx }) => {
      if (!(await revokeToken(trx, org, token.id, new Date()))) throw notFound('Token not found.');
      await this.deps.audit.append(trx, [
        { organisationId: org, actor: call, event: { kind: 'audit', action: 'service_account_token.delete', resourceId: token.id, snapshot: { serviceAccountId: account.id, name: token.name } } },
      ]);
    });
    this.deps.invalidateDirectory();
  }

  /**
   * Crypto spec §3.7 steps C and D: opens the account's keyring, splits its kx private key into a new
   * token, and checks (before anything is returned) that the token reconstructs the key and opens every
   * environment the account holds.
   */
  async #mint(trx: Tx, call: Call, account: ServiceAccountRow, name: string, expiresAt: Date | null, now: Date): Promise<CreatedToken> {
    const org = account.organisation_id;
    const json = await this.deps.masterKeyring.openText(account.server_wrapped_keyring, 'sa-keyring', keyringContext(org, account.id));
    const keyring = parseIdentityKeyring(json);
    const kx = kxKeyPairOfIdentity(keyring);
    try {
      const grants = (await listGrantRows(trx, org, { serviceAccountId: account.id })).map((g) => ({
        identityKey: g.identity_key,
        wrappedSeed: g.wrapped_seed,
        wrappedSalt: g.wrapped_salt,
      }));
      const minted = mintServiceAccountToken(kx, { grants });
      const row: ServiceAccountTokenRow = { id: randomUUID(), name, created_at: now, expires_at: expiresAt };
      const p = call.principal;
      await insertServiceAccountToken(trx, {
        ...row,
        organisation_id: org,
        service_account_id: account.id,
        identity_key: minted.identityKey,
        bearer_hash: minted.bearerHash,
        wrapped_key_share: minted.wrappedKeyShare,
        created_by_member_id: p.kind === 'member' ? p.memberId : null,
        created_by_service_account_id: p.kind === 'service_account' ? p.serviceAccountId : null,
        deleted_at: null,
        last_used_at: null,
      });
      return { row, token: minted.token, bearer: minted.bearer };
    } finally {
      wipeKeyring(keyring);
      kx.privateKey.fill(0);
    }
  }

  async #detail(db: Executor, account: ServiceAccountRow): Promise<ServiceAccountDetail> {
    const org = account.organisation_id;
    const [tokens, apps] = await Promise.all([listLiveTokens(db, org, account.id), describeIndividualAccess(db, org, accountOf({ serviceAccountId: account.id, identityKey: account.identity_key }))]);
    return { account, tokens, apps };
  }

  async #find(db: Executor, call: Call, serviceAccountId: string): Promise<ServiceAccountRow> {
    const id = asUuid(serviceAccountId);
    const account = id ? await findServiceAccount(db, call.principal.organisationId, id) : undefined;
    if (!account) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
    return account;
  }

  /** §10.7: accounts outside the caller's minting scope are reported as not found. */
  async #findMintable(call: Call, serviceAccountId: string): Promise<ServiceAccountRow> {
    const account = await this.#find(this.deps.db, call, serviceAccountId);
    if (!mayMintFor(call.principal, call.access, account.id)) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
    return account;
  }

  async #findRole(organisationId: string, roleId: unknown) {
    const id = typeof roleId === 'string' ? asUuid(roleId) : undefined;
    return id ? findRoleById(this.deps.db, organisationId, id) : undefined;
  }

  /** §10.3 step 3 */
  async #role(organisationId: string, roleId: unknown) {
    if (isFalsy(roleId)) throw invalid('Missing required field: role_id');
    const role = await this.#findRole(organisationId, roleId);
    if (!role) throw notFound('Role not found.');
    return role;
  }

  #require(call: Call, resourceClass: string, action: Action, what: string): void {
    if (!allowsOrg(call.access, resourceClass, action)) throw forbidden(`You don't have permission to ${action} ${what}.`);
  }
}
