/**
 * Phase tokens (crypto spec §3): `pss_user:v1:…` personal access tokens and `pss_service:v2:…`
 * service-account tokens. Six colon-separated parts:
 *
 *   <prefix>:<version>:<bearer>:<kx public key>:<client key share a>:<wrap key>
 *
 * The bearer (part 2) is the only part the server ever sees again; it stores SHA-256(bearer) and the
 * wrapped server share hex(encryptRaw(hex(b), wrapKey)), where a XOR b = the principal's kx private key.
 */
import { KEY_BYTES, type KeyPair, type SodiumBackend } from './backend.js';
import { fromHex, isHex, toHex } from './encoding.js';
import { KeyMismatchError, TokenFormatError } from './errors.js';
import type { EnvironmentGrant, EnvironmentKeys } from './environment-cipher.js';
import type { KeyPairInput, PhaseFormats } from './formats.js';

/** The pattern every official client applies before any network call (Node, Go and Python SDKs). */
export const TOKEN_PATTERN =
  /^(pss_(?:user|service)):(v\d+):([a-fA-F0-9]{64}):([a-fA-F0-9]{64}):([a-fA-F0-9]{64}):([a-fA-F0-9]{64})$/;

/** The type word of the Authorization header, derived exactly as the Node SDK does. */
export type TokenAuthType = 'User' | 'Service' | 'ServiceAccount';

export interface ParsedToken {
  prefix: 'pss_user' | 'pss_service';
  /** e.g. "v1", "v2" */
  version: string;
  authType: TokenAuthType;
  /** Part 2 exactly as written in the token: it is what clients put in the header and what gets hashed. */
  bearer: string;
  /** Part 3, lower-case hex of the principal's X25519 public key. */
  publicKeyHex: string;
  /** Part 4, lower-case hex of the client key share `a`. */
  clientShareHex: string;
  /** Part 5, lower-case hex of the key that unwraps the server's `wrapped_key_share`. */
  wrapKeyHex: string;
}

export interface MintedToken {
  /** The full token string. A one-time secret: show it once, never store or log it. */
  token: string;
  /** Part 2; goes in `Authorization: Bearer <type> <bearer>`. Also secret. */
  bearer: string;
  /** SHA-256 hex of the bearer text: the only form the server stores (spec §3.5). */
  bearerHash: string;
  /** hex(kx public key): the `identity_key` column of the token row. */
  identityKey: string;
  /** 208 hex characters: the `wrapped_key_share` column of the token row. */
  wrappedKeyShare: string;
}

export interface MintOptions {
  /**
   * EnvironmentKey rows granted to this principal (wrapped to its kx public key). The self-test of
   * spec §3.7 step D opens each with the key reconstructed from the new token and checks that it yields
   * the environment's identity key, so a token that cannot read its environments is never handed out.
   */
  grants?: readonly EnvironmentGrant[];
}

/** Why a token string is rejected, without echoing any of it (a token is a secret, errors get logged). */
function describeTokenProblem(token: unknown): string {
  if (typeof token !== 'string') return 'token must be a string';
  const parts = token.split(':');
  if (parts.length !== 6) return `token has ${parts.length} colon-separated parts; expected 6`;
  const [prefix, version] = parts as [string, string];
  if (prefix !== 'pss_user' && prefix !== 'pss_service') return "token must start with 'pss_user:' or 'pss_service:'";
  if (!/^v\d+$/.test(version)) return "token version must look like 'v1' or 'v2'";
  const names = ['bearer', 'public key', 'key share', 'wrap key'];
  for (let i = 2; i < 6; i++) {
    if (!isHex(parts[i], 64)) return `token part ${i + 1} (${names[i - 2]}) must be 64 hex characters`;
  }
  return 'token does not match the expected pattern';
}

/** Parses a token with the SDK's regex into typed fields; TokenFormatError on any mismatch. */
export function parseToken(token: string): ParsedToken {
  const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
  if (!match) {
    throw new TokenFormatError(`${describeTokenProblem(token)}; check that the whole token was copied`);
  }
  const [, prefix, version, bearer, publicKeyHex, clientShareHex, wrapKeyHex] = match as unknown as [
    string,
    'pss_user' | 'pss_service',
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    prefix,
    version,
    authType: authTypeOf(prefix, version),
    bearer,
    publicKeyHex: publicKeyHex.toLowerCase(),
    clientShareHex: clientShareHex.toLowerCase(),
    wrapKeyHex: wrapKeyHex.toLowerCase(),
  };
}

/** Node SDK rule: any user token → User; service v1 → Service; any other service version → ServiceAccount. */
function authTypeOf(prefix: 'pss_user' | 'pss_service', version: string): TokenAuthType {
  if (prefix === 'pss_user') return 'User';
  return version === 'v1' ? 'Service' : 'ServiceAccount';
}

/** The header value a Phase client sends for this token: `Bearer <type> <bearer>`. */
export function authorizationHeaderOf(token: ParsedToken | string): string {
  const parsed = typeof token === 'string' ? parseToken(token) : token;
  return `Bearer ${parsed.authType} ${parsed.bearer}`;
}

export function createTokens(sodium: SodiumBackend, formats: PhaseFormats, environments: EnvironmentKeys) {
  /** SHA-256 hex of the bearer's UTF-8 text (vector `bearer_sha256_hex_suggested_storage`). */
  function bearerHash(bearer: string): string {
    if (typeof bearer !== 'string' || bearer.length === 0) throw new TokenFormatError('bearer must be a non-empty string');
    return sodium.sha256TextHex(bearer);
  }

  /** Constant-time check of a presented bearer against a stored hash (for in-process auth caches). */
  function bearerMatchesHash(bearer: string, storedHashHex: string): boolean {
    if (!isHex(storedHashHex, 64)) return false;
    return sodium.equalConstantTime(fromHex(bearerHash(bearer), 'bearer hash'), fromHex(storedHashHex, 'stored bearer hash'));
  }

  /**
   * §3.6, what every SDK does after GET /service/secrets/tokens/: kx private key = a XOR unwrap(b).
   * Unlike the SDKs we also check that the result belongs to the token's public key, so a wrong or
   * mismatched wrapped share fails here rather than as a confusing decryption error later.
   */
  function reconstructTokenKeyPair(token: ParsedToken | string, wrappedKeyShareHex: string): KeyPair {
    const parsed = typeof token === 'string' ? parseToken(token) : token;
    const privateKey = formats.reconstructSecret(parsed.clientShareHex, wrappedKeyShareHex, parsed.wrapKeyHex);
    const publicKey = fromHex(parsed.publicKeyHex, 'token public key', KEY_BYTES);
    try {
      formats.assertKxKeyPair({ publicKey, privateKey }, 'token');
    } catch (error) {
      sodium.memzero(privateKey);
      if (error instanceof KeyMismatchError) {
        throw new KeyMismatchError(
          "the key reconstructed from the token's key share does not match the token's public key; " +
            'the token or the wrapped key share was altered or belongs to another token',
        );
      }
      throw error;
    }
    return { publicKey, privateKey };
  }

  /** §3.7 step C for any prefix/version, with the step-D self-test before anything is returned. */
  function mint(prefix: 'pss_user' | 'pss_service', version: string, kx: KeyPairInput, options: MintOptions): MintedToken {
    formats.assertKxKeyPair(kx, 'principal kx key pair');
    const publicKey = formats.withKey(kx.publicKey, KEY_BYTES, 'kx public key', (pk) => pk.slice());
    const privateKey = formats.withKey(kx.privateKey, KEY_BYTES, 'kx private key', (sk) => sk.slice());
    const wrapKey = sodium.randomBytes(KEY_BYTES);
    const { clientShare, serverShare } = formats.splitSecret(privateKey);
    try {
      const bearer = formats.randomKeyHex();
      const identityKey = toHex(publicKey);
      const wrappedKeyShare = formats.wrapShare(serverShare, wrapKey);
      const token = `${prefix}:${version}:${bearer}:${identityKey}:${toHex(clientShare)}:${toHex(wrapKey)}`;
      selfTest(token, wrappedKeyShare, privateKey, options.grants ?? []);
      return { token, bearer, bearerHash: bearerHash(bearer), identityKey, wrappedKeyShare };
    } finally {
      for (const secret of [privateKey, wrapKey, clientShare, serverShare]) sodium.memzero(secret);
    }
  }

  /** Step D: reconstruct as an SDK would, compare with the real key, and open every granted environment. */
  function selfTest(
    token: string,
    wrappedKeyShare: string,
    expectedPrivateKey: Uint8Array,
    grants: readonly EnvironmentGrant[],
  ): void {
    const reconstructed = reconstructTokenKeyPair(token, wrappedKeyShare);
    try {
      if (!sodium.equalConstantTime(reconstructed.privateKey, expectedPrivateKey)) {
        throw new KeyMismatchError('token self-test failed: the reconstructed private key differs from the minted one');
      }
      for (const grant of grants) environments.verifyEnvironmentGrant(grant, reconstructed);
    } finally {
      sodium.memzero(reconstructed.privateKey);
    }
  }

  /** A personal access token `pss_user:v1:…` for the user's kx key pair (minted by the CLI or console). */
  function mintUserToken(kx: KeyPairInput, options: MintOptions = {}): MintedToken {
    return mint('pss_user', 'v1', kx, options);
  }

  /** A service-account token `pss_service:v2:…` for the account's kx key pair (minted by the server, SSE). */
  function mintServiceAccountToken(kx: KeyPairInput, options: MintOptions = {}): MintedToken {
    return mint('pss_service', 'v2', kx, options);
  }

  return {
    parseToken,
    authorizationHeaderOf,
    bearerHash,
    bearerMatchesHash,
    reconstructTokenKeyPair,
    mintUserToken,
    mintServiceAccountToken,
  };
}

export type Tokens = ReturnType<typeof createTokens>;
