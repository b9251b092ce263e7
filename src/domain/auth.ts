// Authentication (rest-api §2.2, §2.3; DESIGN §1 "Bearer form"): the Authorization header names a
// token; the token names a principal. Only the SHA-256 of a bearer is ever stored or compared.
import { bearerHash, parseToken, TokenFormatError } from '../crypto/index.js';
import type { Db } from '../store/database.js';
import {
  findServiceAccountTokenForAuth,
  findUserTokenForAuth,
  touchServiceAccountToken,
  type ServiceAccountTokenAuthRow,
  type UserTokenAuthRow,
} from '../store/tokens.js';
import { touchUserToken } from '../store/user-tokens.js';
import { unauthenticated } from './errors.js';
import type { Principal } from './principal.js';
import { TtlCache } from './ttl-cache.js';

export type TokenType = 'User' | 'ServiceAccount' | 'Service';

export interface Credential {
  type: TokenType;
  bearer: string;
}

const TYPES: ReadonlySet<string> = new Set(['User', 'ServiceAccount', 'Service']);

export const NO_CREDENTIALS = 'Authentication credentials were not provided.';
export const INVALID_TOKEN = 'Invalid token';
export const TOKEN_EXPIRED_OR_DELETED = 'Token expired or deleted';

/**
 * `Bearer <type> <token>[ ...]` split on single spaces (§2.2), or — Coffer's addition — the full
 * token string `Bearer pss_user:v1:...` / `Bearer pss_service:v2:...`, which authenticates as its
 * third field with the type its prefix implies.
 */
export function parseAuthorization(header: string | undefined): Credential {
  if (header === undefined || header === '') throw unauthenticated(NO_CREDENTIALS);
  const parts = header.split(' ');
  if (parts.length === 2 && parts[0]!.toLowerCase() === 'bearer' && parts[1]!.startsWith('pss_')) {
    try {
      const token = parseToken(parts[1]!);
      return { type: token.authType, bearer: token.bearer };
    } catch (error) {
      if (error instanceof TokenFormatError) throw unauthenticated(INVALID_TOKEN);
      throw error;
    }
  }
  if (parts.length < 3 || parts[0]!.toLowerCase() !== 'bearer' || parts[1] === '' || parts[2] === '' || parts[0] === '') {
    throw unauthenticated(INVALID_TOKEN);
  }
  if (!TYPES.has(parts[1]!)) throw unauthenticated(INVALID_TOKEN);
  return { type: parts[1] as TokenType, bearer: parts[2]! };
}

type CachedToken =
  | { kind: 'user'; row: UserTokenAuthRow }
  | { kind: 'service_account'; row: ServiceAccountTokenAuthRow };

/** How often a service-account token's last_used_at is written (it is not exposed; a rough value suffices). */
const TOUCH_INTERVAL_MS = 60_000;

export class Authenticator {
  readonly #tokens: TtlCache<string, CachedToken>;
  readonly #touched = new Map<string, number>();

  /**
   * @param maxAgeMs how long a token lookup may be reused: a revocation on another node takes effect
   *   within this time (1 s on PostgreSQL; Infinity on the embedded store, where revocations are local
   *   and clear the cache).
   */
  constructor(private readonly db: Db, maxAgeMs: number, private readonly now: () => Date = () => new Date()) {
    this.#tokens = new TtlCache(50_000, maxAgeMs);
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    const credential = parseAuthorization(header);
    if (credential.type === 'Service') throw unauthenticated(TOKEN_EXPIRED_OR_DELETED);
    const hash = bearerHash(credential.bearer);
    const cacheKey = `${credential.type}:${hash}`;
    let token = this.#tokens.get(cacheKey);
    if (!token) {
      // Timed from before the query: a revocation committed while it ran is seen within maxAgeMs.
      const readAt = Date.now();
      token = await this.#lookup(credential.type, hash);
      if (!token) throw unauthenticated(TOKEN_EXPIRED_OR_DELETED);
      this.#tokens.set(cacheKey, token, readAt);
    }
    const now = this.now();
    const row = token.row;
    if (row.deleted_at !== null || (row.expires_at !== null && row.expires_at.getTime() < now.getTime())) {
      throw unauthenticated(TOKEN_EXPIRED_OR_DELETED);
    }
    if (token.kind === 'user') {
      this.#touch(row.id, now, 'user');
      return { kind: 'member', organisationId: row.organisation_id, memberId: token.row.member_id, userId: token.row.user_id, tokenId: row.id };
    }
    if (token.row.account_deleted_at !== null) throw unauthenticated(TOKEN_EXPIRED_OR_DELETED);
    this.#touch(row.id, now, 'service_account');
    return { kind: 'service_account', organisationId: row.organisation_id, serviceAccountId: token.row.service_account_id, tokenId: row.id };
  }

  /** Called after a token, member or service account is revoked or deleted on this node. */
  invalidate(): void {
    this.#tokens.clear();
  }

  async #lookup(type: TokenType, hash: string): Promise<CachedToken | undefined> {
    if (type === 'User') {
      const row = await findUserTokenForAuth(this.db, hash);
      return row ? { kind: 'user', row } : undefined;
    }
    const row = await findServiceAccountTokenForAuth(this.db, hash);
    return row ? { kind: 'service_account', row } : undefined;
  }

  /**
   * Phase records when a service-account token was last used (Coffer also shows it for personal
   * tokens); done off the request path, at most once a minute per token.
   */
  #touch(tokenId: string, now: Date, kind: 'user' | 'service_account'): void {
    const last = this.#touched.get(tokenId) ?? 0;
    if (now.getTime() - last < TOUCH_INTERVAL_MS) return;
    this.#touched.set(tokenId, now.getTime());
    if (this.#touched.size > 50_000) this.#touched.clear();
    (kind === 'user' ? touchUserToken : touchServiceAccountToken)(this.db, tokenId, now).catch(() => {});
  }
}
