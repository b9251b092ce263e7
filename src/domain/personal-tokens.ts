// Personal access tokens (pss_user:v1). The CLI or console mints them from the member's own key
// pair; the server stores the bearer's hash, the wrapped key share and the public key.
import { randomUUID } from 'node:crypto';
import { ed25519PublicKeyToKx, toHex } from '../crypto/index.js';
import type { Db, Executor } from '../store/database.js';
import { invalid } from './errors.js';
import { applyTextRule } from './text-rule.js';

export interface NewPersonalToken {
  name: unknown;
  /** hex kx public key (token part 3) */
  identityKey: unknown;
  /** SHA-256 hex of the bearer (token part 2); the bearer itself never reaches the server */
  bearerHash: unknown;
  /** 208 hex */
  wrappedKeyShare: unknown;
  expiresAt?: Date | null;
}

export interface RegisteredToken {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
}

export class PersonalTokens {
  constructor(private readonly db: Db) {}

  /** Registers a PAT for a member; its public key must be the member's own kx key. */
  async register(organisationId: string, memberId: string, input: NewPersonalToken, db: Executor = this.db): Promise<RegisteredToken> {
    const name = applyTextRule(input.name, { field: 'name', max: 64, required: true })!;
    if (typeof input.bearerHash !== 'string' || !/^[0-9a-f]{64}$/.test(input.bearerHash)) throw invalid("'bearerHash' must be 64 lower-case hexadecimal characters.");
    if (typeof input.identityKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(input.identityKey)) throw invalid("'identityKey' must be 64 hexadecimal characters.");
    if (typeof input.wrappedKeyShare !== 'string' || !/^[0-9a-fA-F]{208}$/.test(input.wrappedKeyShare)) throw invalid("'wrappedKeyShare' must be 208 hexadecimal characters.");
    const member = await db
      .selectFrom('members')
      .select(['identity_key'])
      .where('organisation_id', '=', organisationId)
      .where('id', '=', memberId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!member) throw invalid('Member not found.');
    if (toHex(ed25519PublicKeyToKx(member.identity_key)) !== input.identityKey.toLowerCase()) {
      throw invalid("'identityKey' is not this member's key-exchange public key.");
    }
    const now = new Date();
    const id = randomUUID();
    await db
      .insertInto('user_tokens')
      .values({
        id,
        organisation_id: organisationId,
        member_id: memberId,
        name,
        identity_key: input.identityKey.toLowerCase(),
        bearer_hash: input.bearerHash,
        wrapped_key_share: input.wrappedKeyShare.toLowerCase(),
        expires_at: input.expiresAt ?? null,
        created_at: now,
        deleted_at: null,
        last_used_at: null,
      })
      .execute();
    return { id, name, createdAt: now, expiresAt: input.expiresAt ?? null };
  }
}
