// First run (DESIGN §1 "Organisations, owners, PATs"; rest-api OPEN-5). A server whose store has no
// organisation holds a one-time setup code: generated at start and logged once, or taken from
// COFFER_SETUP_CODE. Only its SHA-256 is stored. `POST /coffer/v1/setup/` with the code and the
// client-made material creates the first organisation, its owner and the owner's first personal
// access token in one transaction; after that every code is deleted and setup answers 409.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashPassword } from '../crypto/index.js';
import type { Db } from '../store/database.js';
import { asUuid } from '../store/directory.js';
import {
  deleteStatesByPrefix,
  findState,
  findStatesByPrefix,
  insertStateIfAbsent,
  SETUP_CODE_PREFIX,
  SETUP_COMPLETED_KEY,
  upsertState,
} from '../store/server-state.js';
import { hasAnyOrganisation } from '../store/users.js';
import type { BodyReader } from './context.js';
import type { DomainDeps } from './deps.js';
import { conflict, forbidden, invalid } from './errors.js';
import { GuessLimiter } from './guess-limit.js';
import { normaliseEmail, validateKeyMaterial, type Organisations } from './organisations.js';
import type { PersonalTokens } from './personal-tokens.js';
import { sha256Hex } from './sessions.js';
import { applyTextRule } from './text-rule.js';
import { inTransaction, isUniqueViolation } from './transactions.js';
import { readKeyMaterial, readLoginHash, readTokenInput, type NewMembershipResult } from './users.js';

export const SETUP_DONE = 'Setup has already been completed. Sign in instead, or ask an owner of an organisation for an invite.';
export const WRONG_SETUP_CODE = 'Wrong setup code. Use the one-time code the server logged at its first start, or the value of COFFER_SETUP_CODE.';

/** Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand survives. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 20 symbols of 5 bits (100 bits) in groups of five: `K7QX2-9DM3P-...`. */
export function generateSetupCode(): string {
  const bytes = randomBytes(20);
  const symbols = [...bytes].map((b) => CODE_ALPHABET[b & 31]);
  return [0, 5, 10, 15].map((i) => symbols.slice(i, i + 5).join('')).join('-');
}

/** What is compared: case, spaces and dashes do not matter. */
export function normaliseSetupCode(code: string): string {
  return code.trim().toUpperCase().replace(/[\s-]+/g, '');
}

export type SetupPreparation =
  | { required: false }
  | { required: true; generated: false }
  | { required: true; generated: true; code: string };

export class Setup {
  /**
   * Wrong codes from every address together. Addresses can be many (or spoofed behind a proxy that
   * is not trusted), so this caps guessing of a weak COFFER_SETUP_CODE; a restart resets it.
   */
  readonly #allGuesses = new GuessLimiter({ max: 100, windowMs: 15 * 60_000 });

  constructor(
    private readonly deps: DomainDeps,
    private readonly organisations: Organisations,
    private readonly personalTokens: PersonalTokens,
    private readonly guesses: GuessLimiter,
  ) {}

  get #db(): Db {
    return this.deps.db;
  }

  /** Run at start: nothing to do once an organisation exists; otherwise register this node's code. */
  async prepare(configuredCode: string | undefined): Promise<SetupPreparation> {
    if (!(await this.required())) return { required: false };
    const now = new Date();
    if (configuredCode !== undefined) {
      await upsertState(this.#db, `${SETUP_CODE_PREFIX}configured`, sha256Hex(normaliseSetupCode(configuredCode)), now);
      return { required: true, generated: false };
    }
    // One row per generated code: several nodes starting together each log a code that works.
    const code = generateSetupCode();
    const hash = sha256Hex(normaliseSetupCode(code));
    await insertStateIfAbsent(this.#db, `${SETUP_CODE_PREFIX}${hash.slice(0, 16)}`, hash, now);
    return { required: true, generated: true, code };
  }

  /** True until the first organisation exists. */
  async required(): Promise<boolean> {
    if ((await findState(this.#db, SETUP_COMPLETED_KEY)) !== undefined) return false;
    return !(await hasAnyOrganisation(this.#db));
  }

  /**
   * Checks a code without using it (`{code}`), so a client can refuse a mistyped code before it
   * spends seconds deriving keys. Same order and the same guess budget as `complete`.
   */
  async checkCode(read: BodyReader, address: string | null): Promise<void> {
    if (!(await this.required())) throw conflict(SETUP_DONE);
    await this.#verifyCode(read().code, address);
  }

  async #verifyCode(code: unknown, address: string | null): Promise<void> {
    const keys = [`setup-ip:${address ?? 'unknown'}`];
    this.#allGuesses.check(['setup']);
    const guess = this.guesses.begin(keys);
    const overall = this.#allGuesses.begin(['setup']);
    if (typeof code !== 'string' || !(await this.#codeMatches(code))) throw forbidden(WRONG_SETUP_CODE);
    guess.succeeded();
    overall.succeeded();
  }

  /**
   * Body: `{code, organisation: {id, name}, user: {email, fullName?, loginHash}, keyring: {...},
   * token: {...}}`. `address` is the caller's address as far as it can be trusted (guess budget). Checks in order: setup still open (409), guess budget (429), the code (403),
   * then the material (400).
   */
  async complete(read: BodyReader, address: string | null): Promise<NewMembershipResult & { email: string }> {
    if (!(await this.required())) throw conflict(SETUP_DONE);
    const body = read();
    await this.#verifyCode(body.code, address);
    const organisation = isObject(body.organisation) ? body.organisation : undefined;
    if (!organisation) throw invalid("'organisation' must be an object with id and name.");
    if (typeof organisation.id !== 'string' || asUuid(organisation.id) === undefined) throw invalid("'organisation.id' must be a UUID chosen by the client.");
    const name = applyTextRule(organisation.name, { field: 'name', max: 64, required: true })!;
    const user = isObject(body.user) ? body.user : undefined;
    if (!user) throw invalid("'user' must be an object with email and loginHash.");
    const email = normaliseEmail(user.email);
    const fullName = applyTextRule(user.fullName, { field: 'fullName', max: 150, required: false }) ?? '';
    const loginHash = readLoginHash(user.loginHash);
    const keyring = readKeyMaterial(body.keyring);
    validateKeyMaterial(keyring);
    const token = readTokenInput(body.token);
    // Slow on purpose (Argon2id), so done before the transaction opens.
    const verifier = await hashPassword(loginHash);
    try {
      return await inTransaction(this.#db, async ({ trx, afterCommit }) => {
        if (!(await insertStateIfAbsent(trx, SETUP_COMPLETED_KEY, new Date().toISOString(), new Date()))) throw conflict(SETUP_DONE);
        if (await hasAnyOrganisation(trx)) throw conflict(SETUP_DONE);
        const created = await this.organisations.create(
          { name, organisationId: organisation.id as string, owner: { email, fullName, loginHash: verifier, ...keyring } },
          trx,
        );
        // A user row left over from a deleted organisation is reused: it gets this setup's password.
        await trx.updateTable('users').set({ login_hash: verifier, updated_at: new Date() }).where('id', '=', created.userId).execute();
        const registered = await this.personalTokens.register(created.organisationId, created.memberId, token, trx);
        await deleteStatesByPrefix(trx, SETUP_CODE_PREFIX);
        afterCommit(() => {
          this.guesses.forget([`setup-ip:${address ?? 'unknown'}`]);
          this.deps.invalidateDirectory();
        });
        return { organisationId: created.organisationId, organisationName: name, userId: created.userId, memberId: created.memberId, tokenId: registered.id, email };
      });
    } catch (error) {
      // Two setups racing: the second insert of SETUP_COMPLETED_KEY waits for the first, then fails.
      if (isUniqueViolation(error)) throw conflict(SETUP_DONE);
      throw error;
    }
  }

  async #codeMatches(code: string): Promise<boolean> {
    const presented = Buffer.from(sha256Hex(normaliseSetupCode(code)), 'hex');
    const stored = await findStatesByPrefix(this.#db, SETUP_CODE_PREFIX);
    let matched = false;
    // Every stored code is compared (no early exit), each in constant time.
    for (const row of stored) {
      const candidate = Buffer.from(row.value, 'hex');
      if (candidate.length === presented.length && timingSafeEqual(candidate, presented)) matched = true;
    }
    return matched;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
