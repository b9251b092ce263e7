// Organisations and their owners. The keyring of every member is made on the member's own client
// (CLI or console); the server receives only the public identity key and blobs it cannot open.
import { randomUUID } from 'node:crypto';
import { isEd25519PublicKey, isKdfParams, KDF_PARAM_LIMITS } from '../crypto/index.js';
import type { KdfParamsColumn } from '../store/accounts.table.js';
import type { Db, Tx } from '../store/database.js';
import type { AuditTrail } from './audit.js';
import { DEFAULT_ROLES } from './role-definitions.js';
import { asUuid } from '../store/directory.js';
import { invalid, type DomainError } from './errors.js';
import { applyTextRule } from './text-rule.js';
import { inTransaction } from './transactions.js';

/** What a client sends to become a member: public and wrapped material only. */
export interface MemberKeyMaterial {
  /** hex Ed25519 public key */
  identityKey: string;
  /** hex(encryptRaw(keyring JSON, device key)) */
  wrappedKeyring: string;
  /** hex(encryptRaw(mnemonic, device key)) */
  wrappedRecovery: string;
  kdfParams: KdfParamsColumn;
}

export interface NewOwner extends MemberKeyMaterial {
  email: string;
  fullName?: string | undefined;
  /** Server-side Argon2id of the client login hash (absent for token-only accounts). */
  loginHash?: string | null | undefined;
}

export interface CreatedOrganisation {
  organisationId: string;
  userId: string;
  memberId: string;
  ownerRoleId: string;
}

const HEX = /^[0-9a-f]+$/i;

export function validateKeyMaterial(material: MemberKeyMaterial): void {
  if (typeof material.identityKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(material.identityKey)) {
    throw invalid("'identityKey' must be 64 hexadecimal characters.");
  }
  // Its key-exchange key is derived at once (the member's first token): a non-point is refused here.
  if (!isEd25519PublicKey(material.identityKey)) throw invalid("'identityKey' must be an Ed25519 public key.");
  validateWrappedKeyring(material);
}

/** The wrapped blobs and their kdf parameters (made on the client; the server cannot open them). */
export function validateWrappedKeyring(material: Pick<MemberKeyMaterial, 'wrappedKeyring' | 'wrappedRecovery' | 'kdfParams'>): void {
  for (const field of ['wrappedKeyring', 'wrappedRecovery'] as const) {
    const value = material[field];
    if (typeof value !== 'string' || value.length < 80 || value.length > 8192 || value.length % 2 !== 0 || !HEX.test(value)) {
      throw invalid(`'${field}' must be hexadecimal text.`);
    }
  }
  if (!isKdfParams(material.kdfParams)) {
    const { opsLimitMin, opsLimitMax, memLimitMin, memLimitMax } = KDF_PARAM_LIMITS;
    throw invalid(`'kdfParams' must be {opsLimit, memLimit} integers: opsLimit ${opsLimitMin} to ${opsLimitMax}, memLimit ${memLimitMin} to ${memLimitMax} bytes.`);
  }
}

/** Longest address an account may have (RFC 5321's path limit less its angle brackets). */
export const MAX_EMAIL_LENGTH = 254;
/** How much of a refused address its 400 repeats: a 2 MB body is not echoed back (docs/security.md "Limits"). */
const EMAIL_ECHO_MAX = 64;

/** The one length rule for addresses, accounts and invites alike (an invite becomes an account). */
export function isEmailTooLong(cleaned: string): boolean {
  return cleaned.length > MAX_EMAIL_LENGTH;
}

/** `'<cleaned email>' is not a valid email address.`, the address cut to its first 64 characters. */
export function notAnEmail(cleaned: string): DomainError {
  const chars = [...cleaned];
  const shown = chars.length > EMAIL_ECHO_MAX ? `${chars.slice(0, EMAIL_ECHO_MAX).join('')}…` : cleaned;
  return invalid(`'${shown}' is not a valid email address.`);
}

// Control characters (PostgreSQL refuses NUL in text; the others have no place in an address) and
// unpaired surrogates (not UTF-8: refused by PostgreSQL's json in the audit event naming the user).
const CONTROL_OR_SURROGATE = /[\p{Cc}\p{Surrogate}]/u;

export function normaliseEmail(email: unknown): string {
  if (email === undefined || email === null || (typeof email === 'string' && email.trim() === '')) throw invalid('Missing required field: email');
  if (typeof email !== 'string') throw invalid("'email' must be a string.");
  const cleaned = email.trim().toLowerCase();
  // The length first: neither the pattern nor the message sees a long input whole.
  if (isEmailTooLong(cleaned) || CONTROL_OR_SURROGATE.test(cleaned) || !/^[^\s@]+@[^\s@]+$/.test(cleaned)) throw notAnEmail(cleaned);
  return cleaned;
}

export class Organisations {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /** A new organisation with its five default roles and its owner (rest-api Appendix A, OPEN-5). */
  async create(input: { name: unknown; owner: NewOwner; organisationId?: string | undefined }, existing?: Tx): Promise<CreatedOrganisation> {
    const name = applyTextRule(input.name, { field: 'name', max: 64, required: true })!;
    // The client may choose the id: its keyring's Argon2id salt is derived from it (crypto spec §2.3).
    if (input.organisationId !== undefined && asUuid(input.organisationId) === undefined) throw invalid("'organisationId' must be a UUID.");
    const email = normaliseEmail(input.owner.email);
    validateKeyMaterial(input.owner);
    const work = async (trx: Tx) => {
      const now = new Date();
      const organisationId = input.organisationId ? asUuid(input.organisationId)! : randomUUID();
      await trx.insertInto('organisations').values({ id: organisationId, name, created_at: now, updated_at: now }).execute();
      const roleIds = await this.#insertDefaultRoles(trx, organisationId, now);
      const user = await trx.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
      const userId = user?.id ?? randomUUID();
      if (!user) {
        await trx
          .insertInto('users')
          .values({ id: userId, email, full_name: input.owner.fullName ?? '', login_hash: input.owner.loginHash ?? null, created_at: now, updated_at: now })
          .execute();
      }
      const memberId = randomUUID();
      await trx
        .insertInto('members')
        .values({
          id: memberId,
          organisation_id: organisationId,
          user_id: userId,
          role_id: roleIds.Owner!,
          identity_key: input.owner.identityKey.toLowerCase(),
          wrapped_keyring: input.owner.wrappedKeyring.toLowerCase(),
          wrapped_recovery: input.owner.wrappedRecovery.toLowerCase(),
          kdf_params: JSON.stringify(input.owner.kdfParams),
          created_at: now,
          updated_at: now,
          deleted_at: null,
        })
        .execute();
      await this.audit.startChain(trx, organisationId);
      await this.audit.append(trx, [
        {
          organisationId,
          actor: null,
          event: { kind: 'audit', action: 'organisation.create', resourceId: organisationId, description: `Organisation created with owner member ${memberId}` },
        },
      ]);
      return { organisationId, userId, memberId, ownerRoleId: roleIds.Owner! };
    };
    return existing ? work(existing) : inTransaction(this.db, ({ trx }) => work(trx));
  }

  async #insertDefaultRoles(trx: Tx, organisationId: string, now: Date): Promise<Record<string, string>> {
    const ids: Record<string, string> = {};
    // Distinct creation times keep Phase's order (Owner, Admin, Manager, Developer, Service) under
    // the "oldest first" ordering of GET /v1/roles/.
    const rows = DEFAULT_ROLES.map((role, index) => {
      const id = randomUUID();
      ids[role.name] = id;
      return {
        id,
        organisation_id: organisationId,
        name: role.name,
        description: role.description,
        color: '',
        is_default: true,
        global_access: role.globalAccess,
        permissions: JSON.stringify(role.permissions),
        app_permissions: JSON.stringify(role.appPermissions),
        created_at: new Date(now.getTime() - (DEFAULT_ROLES.length - index)),
      };
    });
    await trx.insertInto('roles').values(rows).execute();
    return ids;
  }
}
