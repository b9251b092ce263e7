// Organisations, members and tokens for tests, made the way a client makes them: keyrings on the
// "client" side (fast Argon2 parameters), only public and wrapped material handed to the server.
import { randomUUID } from 'node:crypto';
import {
  deriveDeviceKey,
  derivePasswordLoginHash,
  generateMnemonic,
  hashPassword,
  keyringFromMnemonic,
  kxKeyPairOfIdentity,
  mintUserToken,
  TEST_KDF_FAST,
  toHex,
  wrapRecoveryPhrase,
  wrapUserKeyring,
  type KdfParams,
  type UserKeyring,
} from '../../src/crypto/index.js';
import type { Domain } from '../../src/domain/index.js';
import { request, type JsonResponse } from './server.js';

export interface OwnerFixture {
  organisationId: string;
  memberId: string;
  userId: string;
  email: string;
  keyring: UserKeyring;
  /** Full pss_user:v1 token string. */
  token: string;
  /** `Bearer User <bearer>` */
  authorization: string;
}

/** The password test accounts' keyrings are wrapped with. */
export const TEST_PASSWORD = 'correct horse battery staple';

export async function clientKeyMaterial(organisationId: string, email: string, password = TEST_PASSWORD) {
  const mnemonic = generateMnemonic();
  const keyring = await keyringFromMnemonic(mnemonic, organisationId, TEST_KDF_FAST);
  const deviceKey = await deriveDeviceKey(password, email, TEST_KDF_FAST);
  return {
    keyring,
    mnemonic,
    material: {
      identityKey: toHex(keyring.publicKey),
      wrappedKeyring: wrapUserKeyring(keyring, deviceKey),
      wrappedRecovery: wrapRecoveryPhrase(mnemonic, deviceKey),
      kdfParams: { ...TEST_KDF_FAST },
    },
  };
}

/** A new organisation with its owner and a personal access token for the owner. */
export async function createOwner(domain: Domain, options: { name?: string; email?: string } = {}): Promise<OwnerFixture> {
  const organisationId = randomUUID();
  const email = options.email ?? `owner-${randomUUID().slice(0, 8)}@example.com`;
  const { keyring, material } = await clientKeyMaterial(organisationId, email);
  const created = await domain.organisations.create({ name: options.name ?? 'Acme', organisationId, owner: { email, ...material } });
  const minted = mintUserToken(kxKeyPairOfIdentity(keyring));
  await domain.personalTokens.register(organisationId, created.memberId, {
    name: 'test token',
    identityKey: minted.identityKey,
    bearerHash: minted.bearerHash,
    wrappedKeyShare: minted.wrappedKeyShare,
  });
  return {
    organisationId,
    memberId: created.memberId,
    userId: created.userId,
    email,
    keyring,
    token: minted.token,
    authorization: `Bearer User ${minted.bearer}`,
  };
}

/**
 * Gives the owner the password `clientKeyMaterial` wraps its keyring with (a verifier made with the
 * fast test parameters) and returns its login hash, for calls that must prove the password again.
 * `loginKdf`: the parameters the login hash itself is derived with (the console uses Phase's).
 */
export async function ownerLoginHash(domain: Domain, owner: OwnerFixture, password = TEST_PASSWORD, loginKdf: KdfParams = TEST_KDF_FAST): Promise<string> {
  const loginHash = await derivePasswordLoginHash(password, owner.email, loginKdf);
  const verifier = await hashPassword(loginHash, TEST_KDF_FAST);
  await domain.deps.db.updateTable('users').set({ login_hash: verifier }).where('id', '=', owner.userId).execute();
  return loginHash;
}

/** A JSON API client bound to one server and one Authorization header. */
export function apiClient(baseUrl: string, authorization: string | undefined) {
  const call = <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> =>
    request<T>(baseUrl + path, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...headers },
      ...(body === undefined ? {} : typeof body === 'string' ? { body, headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json', ...headers } } : { json: body }),
    });
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body, headers),
    put: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('PUT', path, body, headers),
    delete: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('DELETE', path, body, headers),
    call,
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
