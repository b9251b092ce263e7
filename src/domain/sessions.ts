// Console sessions (Coffer's own API). A password login sends the client's Argon2id login hash,
// never the password; the server keeps only an Argon2id verifier of that hash (crypto_pwhash_str).
// A session is a random id in an HttpOnly cookie plus a random CSRF token the client must echo in
// `X-CSRF-Token` on every state-changing call; only SHA-256 hashes of both are stored.
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { hashPassword, verifyPassword } from '../crypto/index.js';
import type { Db } from '../store/database.js';
import { deleteExpiredSessions, deleteSession, findSession, insertSessionIfPasswordCurrent } from '../store/sessions.js';
import { findUserByEmail } from '../store/users.js';
import { forbidden, unauthenticated } from './errors.js';
import type { GuessLimiter } from './guess-limit.js';
import { normaliseEmail } from './organisations.js';
import { readLoginHash, type UserView } from './users.js';

/** A session as the domain sees it: hashes only. */
export interface SessionInfo {
  readonly idHash: string;
  readonly userId: string;
  readonly csrfHash: string;
  readonly expiresAt: Date;
}

export interface NewSession {
  /** The cookie value. Secret: sent once in Set-Cookie, never stored. */
  sessionId: string;
  /** Echoed by the client in X-CSRF-Token. Secret: returned once, never stored. */
  csrfToken: string;
  expiresAt: Date;
  user: UserView;
}

/** Absolute lifetime of a console session. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export const BAD_CREDENTIALS = 'Incorrect email or password.';
export const SESSION_EXPIRED = 'Your session has expired or was ended. Sign in again.';
export const CSRF_REJECTED = 'Missing or invalid X-CSRF-Token header. Send the csrfToken returned at sign-in with every state-changing request.';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

export class Sessions {
  /** Verified against when the e-mail is unknown, so both failures cost the same. */
  #dummyVerifier: Promise<string> | undefined;

  constructor(
    private readonly db: Db,
    private readonly guesses: GuessLimiter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * `{email, loginHash}` -> a new session; 401 for an unknown e-mail or a wrong hash alike.
   * `address` is the caller's address as far as it can be trusted (guess budget).
   */
  async login(body: Record<string, unknown>, address: string | null): Promise<NewSession> {
    const email = normaliseEmail(body.email);
    const loginHash = readLoginHash(body.loginHash);
    const keys = [`login-ip:${address ?? 'unknown'}`, `login-email:${email}`];
    const guess = this.guesses.begin(keys);
    const user = await findUserByEmail(this.db, email);
    const verifier = user?.login_hash ?? (await this.#dummy());
    const matches = await verifyPassword(verifier, loginHash);
    if (!user || user.login_hash === null || !matches) throw unauthenticated(BAD_CREDENTIALS);
    guess.succeeded();
    this.guesses.forget([`login-email:${email}`]);
    const now = this.now();
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('hex');
    const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
    await deleteExpiredSessions(this.db, now);
    const row = { id_hash: sha256Hex(sessionId), user_id: user.id, csrf_hash: sha256Hex(csrfToken), created_at: now, expires_at: expiresAt };
    // The password may have changed since it was checked (a change ends every other session): then
    // this sign-in used a password that no longer is one.
    if (!(await insertSessionIfPasswordCurrent(this.db, row, user.login_hash))) throw unauthenticated(BAD_CREDENTIALS);
    return { sessionId, csrfToken, expiresAt, user: { id: user.id, email: user.email, fullName: user.full_name === '' ? null : user.full_name } };
  }

  /** The live session behind a cookie value, or undefined (unknown, ended or expired). */
  async find(sessionId: string): Promise<SessionInfo | undefined> {
    if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 128) return undefined;
    const row = await findSession(this.db, sha256Hex(sessionId));
    if (!row) return undefined;
    if (row.expires_at.getTime() <= this.now().getTime()) {
      await deleteSession(this.db, row.id_hash);
      return undefined;
    }
    return { idHash: row.id_hash, userId: row.user_id, csrfHash: row.csrf_hash, expiresAt: row.expires_at };
  }

  /** Like find, but a missing session is a 401 with a sentence saying what to do. */
  async require(sessionId: string): Promise<SessionInfo> {
    const session = await this.find(sessionId);
    if (!session) throw unauthenticated(SESSION_EXPIRED);
    return session;
  }

  /** Throws 403 unless `presented` is the session's CSRF token (compared in constant time). */
  checkCsrf(session: SessionInfo, presented: string | undefined): void {
    if (typeof presented !== 'string' || !/^[0-9a-f]{64}$/.test(presented)) throw forbidden(CSRF_REJECTED);
    if (!sameDigest(sha256Hex(presented), session.csrfHash)) throw forbidden(CSRF_REJECTED);
  }

  async logout(session: SessionInfo): Promise<void> {
    await deleteSession(this.db, session.idHash);
  }

  #dummy(): Promise<string> {
    this.#dummyVerifier ??= hashPassword(randomBytes(32).toString('hex'));
    return this.#dummyVerifier;
  }
}
