// Authentication (rest-api §2.2, §2.3; DESIGN §1 "Bearer form"): the Authorization header names a
// token; the token names a principal. Only the SHA-256 of a bearer is ever stored or looked up.
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
  /** The header held a whole token (its key share too), not just the bearer. */
  wholeToken: boolean;
}

const TYPES: ReadonlySet<string> = new Set(['User', 'ServiceAccount', 'Service']);

export const NO_CREDENTIALS = 'Authentication credentials were not provided.';
export const INVALID_TOKEN = 'Invalid token';
export const TOKEN_EXPIRED_OR_DELETED = 'Token expired or deleted';

/** A whole `pss_user:v1:...` / `pss_service:v2:...` token; a malformed one is an invalid token. */
function parseWholeToken(text: string): ReturnType<typeof parseToken> {
  try {
    return parseToken(text);
  } catch (error) {
    if (error instanceof TokenFormatError) throw unauthenticated(INVALID_TOKEN);
    throw error;
  }
}

/**
 * `Bearer <type> <token>[ ...]` split on single spaces (§2.2), or — Coffer's addition — the full
 * token string `Bearer pss_user:v1:...` / `Bearer pss_service:v2:...` (also after its type, `Bearer
 * User pss_user:v1:...`), which authenticates as its third field with the type its prefix implies.
 */
export function parseAuthorization(header: string | undefined): Credential {
  if (header === undefined || header === '') throw unauthenticated(NO_CREDENTIALS);
  const parts = header.split(' ');
  if (parts.length === 2 && parts[0]!.toLowerCase() === 'bearer' && parts[1]!.startsWith('pss_')) {
    const token = parseWholeToken(parts[1]!);
    return { type: token.authType, bearer: token.bearer, wholeToken: true };
  }
  if (parts.length < 3 || parts[0]!.toLowerCase() !== 'bearer' || parts[1] === '' || parts[2] === '' || parts[0] === '') {
    throw unauthenticated(INVALID_TOKEN);
  }
  if (!TYPES.has(parts[1]!)) throw unauthenticated(INVALID_TOKEN);
  // `Bearer User pss_user:v1:...`: the whole token where its bearer field belongs (what a person
  // holding "the token" writes after reading "Bearer User <token>"); its prefix must fit the type.
  if (parts.length === 3 && parts[2]!.startsWith('pss_')) {
    const token = parseWholeToken(parts[2]!);
    if (token.authType !== parts[1]) throw unauthenticated(INVALID_TOKEN);
    return { type: token.authType, bearer: token.bearer, wholeToken: true };
  }
  return { type: parts[1] as TokenType, bearer: parts[2]!, wholeToken: false };
}

/**
 * A bearer as tokens carry it: 32 bytes in hex, which Coffer writes in lower case and reads in
 * either (crypto spec §1.2; the Node SDK's token pattern allows both). Its hash is of the lower case.
 */
const HEX_BEARER = /^[0-9a-fA-F]{64}$/;

type CachedToken =
  | { kind: 'user'; row: UserTokenAuthRow }
  | { kind: 'service_account'; row: ServiceAccountTokenAuthRow };

/** How often a service-account token's last_used_at is written (it is not exposed; a rough value suffices). */
const TOUCH_INTERVAL_MS = 60_000;

/** Where a header's token is cached and looked up: its type and bearer hash. */
interface TokenKey {
  type: 'User' | 'ServiceAccount';
  hash: string;
  /** `<type>:<hash>` */
  cacheKey: string;
}

/** The last Authorization header a connection sent that named a token, and that token's key. */
interface ConnectionCredential {
  header: string;
  key: TokenKey;
}

export class Authenticator {
  readonly #tokens: TtlCache<string, CachedToken>;
  readonly #touched = new Map<string, number>();
  /**
   * Per keep-alive connection: a client sends the same header on every request, and parsing and
   * hashing it again cost about a twentieth of a small read. Only the header -> cache key step is
   * remembered; the token itself is still looked up in #tokens (so revocation and expiry work as
   * without it). Entries go with their connection; the header is held no longer than the socket
   * that received it, and a header holding a whole token (with its key share) is not held at all.
   */
  readonly #connections = new WeakMap<object, ConnectionCredential>();

  /**
   * @param maxAgeMs how long a token lookup may be reused: a revocation on another node takes effect
   *   within this time (1 s on PostgreSQL; Infinity on the embedded store, where revocations are local
   *   and clear the cache).
   */
  constructor(private readonly db: Db, maxAgeMs: number, private readonly now: () => Date = () => new Date()) {
    this.#tokens = new TtlCache(50_000, maxAgeMs);
  }

  /**
   * @param connection the connection the request came on (its socket), if any: a header it sent
   *   before is not parsed and hashed again.
   */
  async authenticate(header: string | undefined, connection?: object): Promise<Principal> {
    const remembered = connection && this.#connections.get(connection);
    // Equal strings name the same token: the key is derived from the header alone. A plain
    // comparison: the only header it is compared with came on this same connection.
    const key = remembered && remembered.header === header ? remembered.key : this.#tokenKey(header, connection);
    let token = this.#tokens.get(key.cacheKey);
    if (!token) {
      // Timed from before the query: a revocation committed while it ran is seen within maxAgeMs.
      const readAt = Date.now();
      token = await this.#lookup(key);
      if (!token) throw unauthenticated(TOKEN_EXPIRED_OR_DELETED);
      this.#tokens.set(key.cacheKey, token, readAt);
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

  /** The header's token key, remembered for the connection; throws 401 for a header naming no usable token. */
  #tokenKey(header: string | undefined, connection: object | undefined): TokenKey {
    const { type, bearer, wholeToken } = parseAuthorization(header);
    if (type === 'Service') throw unauthenticated(TOKEN_EXPIRED_OR_DELETED);
    const hash = bearerHash(HEX_BEARER.test(bearer) ? bearer.toLowerCase() : bearer);
    const key: TokenKey = { type, hash, cacheKey: `${type}:${hash}` };
    if (connection && !wholeToken) this.#connections.set(connection, { header: header!, key });
    return key;
  }

  async #lookup({ type, hash }: TokenKey): Promise<CachedToken | undefined> {
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
