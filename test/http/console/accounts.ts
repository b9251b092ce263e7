// Client-made material for the /coffer/v1 tests, made the way the CLI makes it (with the fast test
// Argon2 parameters), and a scan of database rows for anything that must never be stored.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  derivePasswordLoginHash,
  hashPassword,
  kxKeyPairOfIdentity,
  mintUserToken,
  TEST_KDF_FAST,
  toHex,
  type UserKeyring,
} from '../../../src/crypto/index.js';
import type { Domain } from '../../../src/domain/index.js';
import type { Db } from '../../../src/store/database.js';
import { clientKeyMaterial, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { request, type JsonResponse } from '../../helpers/server.js';

export const PASSWORD = TEST_PASSWORD;

export interface MintedPat {
  /** Full pss_user:v1 string. */
  token: string;
  bearer: string;
  authorization: string;
  body: { name: string; identityKey: string; bearerHash: string; wrappedKeyShare: string; expiresAt?: string | null };
}

export function mintPat(keyring: UserKeyring, name = 'first', expiresAt?: string | null): MintedPat {
  const minted = mintUserToken(kxKeyPairOfIdentity(keyring));
  return {
    token: minted.token,
    bearer: minted.bearer,
    authorization: `Bearer User ${minted.bearer}`,
    body: { name, identityKey: minted.identityKey, bearerHash: minted.bearerHash, wrappedKeyShare: minted.wrappedKeyShare, ...(expiresAt !== undefined ? { expiresAt } : {}) },
  };
}

export interface Material {
  organisationId: string;
  email: string;
  password: string;
  loginHash: string;
  mnemonic: string;
  keyring: UserKeyring;
  keyringBody: { identityKey: string; wrappedKeyring: string; wrappedRecovery: string; kdfParams: { opsLimit: number; memLimit: number } };
  pat: MintedPat;
}

/** Everything a client makes to join `organisationId` as `email`. */
export async function makeMaterial(organisationId: string, email: string, password = PASSWORD): Promise<Material> {
  const { keyring, mnemonic, material } = await clientKeyMaterial(organisationId, email, password);
  const loginHash = await derivePasswordLoginHash(password, email, TEST_KDF_FAST);
  return { organisationId, email, password, loginHash, mnemonic, keyring, keyringBody: material, pat: mintPat(keyring) };
}

export const uniqueEmail = (prefix = 'user') => `${prefix}-${randomUUID().slice(0, 8)}@example.com`;

export interface Account extends Material {
  userId: string;
  memberId: string;
}

/** An organisation whose owner can sign in with a password (as `coffer setup` leaves one). */
export async function createAccount(domain: Domain, options: { email?: string; orgName?: string } = {}): Promise<Account> {
  const organisationId = randomUUID();
  const material = await makeMaterial(organisationId, options.email ?? uniqueEmail('owner'));
  const created = await domain.organisations.create({
    name: options.orgName ?? 'Acme',
    organisationId,
    owner: { email: material.email, loginHash: await hashPassword(material.loginHash), ...material.keyringBody },
  });
  const { expiresAt: _never, ...token } = material.pat.body;
  await domain.personalTokens.register(organisationId, created.memberId, token);
  return { ...material, userId: created.userId, memberId: created.memberId };
}

export interface SignedIn {
  cookie: string;
  csrfToken: string;
  setCookie: string;
  response: JsonResponse;
}

export async function signIn(url: string, email: string, loginHash: string, headers: Record<string, string> = {}): Promise<SignedIn> {
  const response = await request(`${url}/coffer/v1/auth/login/`, { method: 'POST', json: { email, loginHash }, headers });
  assert.equal(response.status, 200, response.text);
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, csrfToken: response.body.csrfToken, setCookie, response };
}

/** Every row of every table, as one JSON text. */
export async function dumpDatabase(db: Db): Promise<string> {
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  const parts: string[] = [];
  for (const { table_name } of tables.rows) {
    const rows = await sql`select * from ${sql.table(table_name)}`.execute(db);
    parts.push(JSON.stringify(rows.rows));
  }
  return parts.join('\n');
}

/** What a client keeps to itself: none of it may appear in any database row. */
export function clientSecrets(material: Material, extra: string[] = []): string[] {
  return [
    material.password,
    material.loginHash,
    material.mnemonic,
    material.mnemonic.split(' ').slice(0, 4).join('-'),
    toHex(material.keyring.privateKey),
    toHex(material.keyring.privateKey).slice(0, 64),
    toHex(material.keyring.symmetricKey),
    material.pat.token,
    material.pat.bearer,
    ...extra,
  ];
}

export function assertNotStored(dump: string, secrets: string[]): void {
  const lower = dump.toLowerCase();
  for (const secret of secrets) {
    assert.ok(!lower.includes(secret.toLowerCase()), `a database row contains a client secret (${secret.slice(0, 6)}...)`);
  }
}

/** A valid invite stored directly (Developer unless `role`; 14 days unless `expiresAt`): its token. */
export async function invite(db: Db, organisationId: string, email: string, options: { role?: string; expiresAt?: Date } = {}): Promise<string> {
  const token = randomBytes(32).toString('hex');
  const role = await db.selectFrom('roles').select('id').where('organisation_id', '=', organisationId).where('name', '=', options.role ?? 'Developer').executeTakeFirstOrThrow();
  const now = new Date();
  await db
    .insertInto('invites')
    .values({
      id: randomUUID(),
      organisation_id: organisationId,
      email,
      role_id: role.id,
      invited_by_member_id: null,
      invited_by_service_account_id: null,
      token_hash: createHash('sha256').update(token).digest('hex'),
      valid: true,
      created_at: now,
      expires_at: options.expiresAt ?? new Date(now.getTime() + 14 * 86400_000),
    })
    .execute();
  return token;
}
