/** Tokens (spec §3): minting, parsing, bearer hashing, reconstruction, and every way a token can be wrong. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { toHex } from '../../src/crypto/encoding.js';
import {
  CryptoFormatError,
  DecryptionError,
  KeyMismatchError,
  TOKEN_PATTERN,
  TokenFormatError,
  type KeyPair,
  type MintedToken,
} from '../../src/crypto/index.js';
import { BACKENDS } from './helpers/backends.js';

const HEX64 = 'a'.repeat(64);

/** Replaces one 64-hex part of a token with `replacement`. */
function withPart(token: string, index: number, replacement: string): string {
  const parts = token.split(':');
  parts[index] = replacement;
  return parts.join(':');
}

function flipHex(hex: string, index = 0): string {
  return hex.slice(0, index) + (hex[index] === '0' ? '1' : '0') + hex.slice(index + 1);
}

function assertMintedShape(minted: MintedToken, kx: KeyPair, prefix: string): void {
  assert.match(minted.token, TOKEN_PATTERN);
  assert.ok(minted.token.startsWith(prefix));
  assert.equal(minted.token, minted.token.toLowerCase());
  const parts = minted.token.split(':');
  assert.equal(parts[2], minted.bearer);
  assert.equal(parts[3], minted.identityKey);
  assert.equal(minted.identityKey, toHex(kx.publicKey));
  assert.match(minted.bearer, /^[0-9a-f]{64}$/);
  assert.equal(minted.bearerHash, createHash('sha256').update(minted.bearer).digest('hex'));
  assert.match(minted.wrappedKeyShare, /^[0-9a-f]{208}$/);
}

for (const b of BACKENDS) {
  const c = b.crypto;
  const kx = c.kxKeyPairOfIdentity(c.generateServiceAccountKeyring());

  describe(`tokens (${b.name})`, () => {
    test('PAT pss_user:v1: shape, bearer hash, reconstruction, auth type User', () => {
      const minted = c.mintUserToken(kx);
      assertMintedShape(minted, kx, 'pss_user:v1:');
      const parsed = c.parseToken(minted.token);
      assert.equal(parsed.authType, 'User');
      assert.equal(c.authorizationHeaderOf(minted.token), `Bearer User ${minted.bearer}`);
      const pair = c.reconstructTokenKeyPair(parsed, minted.wrappedKeyShare);
      assert.equal(toHex(pair.privateKey), toHex(kx.privateKey));
      assert.equal(toHex(pair.publicKey), toHex(kx.publicKey));
    });

    test('service-account token pss_service:v2, minted server-side with the step-D self-test over its grants', () => {
      const env = c.generateEnvironmentSecrets();
      const grant = { identityKey: env.identityKey, ...c.wrapEnvironmentSecrets(env, kx.publicKey) };
      const minted = c.mintServiceAccountToken(kx, { grants: [grant] });
      assertMintedShape(minted, kx, 'pss_service:v2:');
      assert.equal(c.parseToken(minted.token).authType, 'ServiceAccount');
      const pair = c.reconstructTokenKeyPair(minted.token, minted.wrappedKeyShare);
      assert.deepEqual(c.verifyEnvironmentGrant(grant, pair), { seedHex: env.seedHex, saltHex: env.saltHex });
    });

    test('every mint is fresh: new bearer, share and wrap key for the same key pair', () => {
      const one = c.mintServiceAccountToken(kx);
      const two = c.mintServiceAccountToken(kx);
      assert.notEqual(one.bearer, two.bearer);
      assert.notEqual(one.wrappedKeyShare, two.wrappedKeyShare);
      assert.notEqual(one.token.split(':')[4], two.token.split(':')[4]);
      assert.equal(one.identityKey, two.identityKey);
      assert.equal(toHex(c.reconstructTokenKeyPair(two.token, two.wrappedKeyShare).privateKey), toHex(kx.privateKey));
    });

    test('the self-test refuses to mint a token that could not read its environments', () => {
      const env = c.generateEnvironmentSecrets();
      const other = c.generateEnvironmentSecrets();
      const wrongIdentity = { identityKey: other.identityKey, ...c.wrapEnvironmentSecrets(env, kx.publicKey) };
      assert.throws(() => c.mintServiceAccountToken(kx, { grants: [wrongIdentity] }), KeyMismatchError);
      const someoneElse = c.kxKeyPair();
      const wrappedToOther = { identityKey: env.identityKey, ...c.wrapEnvironmentSecrets(env, someoneElse.publicKey) };
      assert.throws(() => c.mintServiceAccountToken(kx, { grants: [wrappedToOther] }), DecryptionError);
    });

    test('a key pair whose halves do not belong together is refused', () => {
      const other = c.kxKeyPair();
      assert.throws(() => c.mintUserToken({ publicKey: other.publicKey, privateKey: kx.privateKey }), KeyMismatchError);
      assert.throws(() => c.mintUserToken({ publicKey: kx.publicKey, privateKey: new Uint8Array(31) }), CryptoFormatError);
    });

    test('hex key pair input and upper-case token hex are accepted; parsed hex parts are lower-case', () => {
      const minted = c.mintServiceAccountToken({ publicKey: toHex(kx.publicKey).toUpperCase(), privateKey: toHex(kx.privateKey) });
      const upper = minted.token.replace(/:[0-9a-f]{64}/g, (part) => part.toUpperCase());
      const parsed = c.parseToken(upper);
      assert.equal(parsed.publicKeyHex, minted.identityKey);
      assert.equal(parsed.bearer, minted.bearer.toUpperCase(), 'the bearer is kept exactly as written: it is what gets hashed');
      assert.equal(toHex(c.reconstructTokenKeyPair(parsed, minted.wrappedKeyShare.toUpperCase()).privateKey), toHex(kx.privateKey));
    });

    test('tampering with any field is detected with a typed error', () => {
      const minted = c.mintServiceAccountToken(kx);
      const { token, wrappedKeyShare } = minted;
      const parts = token.split(':');
      // part 3: another public key → the reconstructed key does not match it
      assert.throws(() => c.reconstructTokenKeyPair(withPart(token, 3, toHex(c.kxKeyPair().publicKey)), wrappedKeyShare), KeyMismatchError);
      // part 4: another client share → a different private key
      assert.throws(() => c.reconstructTokenKeyPair(withPart(token, 4, flipHex(parts[4]!)), wrappedKeyShare), KeyMismatchError);
      // part 5: another wrap key → the wrapped share does not authenticate
      assert.throws(() => c.reconstructTokenKeyPair(withPart(token, 5, flipHex(parts[5]!)), wrappedKeyShare), DecryptionError);
      // the stored wrapped share: altered, truncated, or another token's
      assert.throws(() => c.reconstructTokenKeyPair(token, flipHex(wrappedKeyShare, 30)), DecryptionError);
      assert.throws(() => c.reconstructTokenKeyPair(token, wrappedKeyShare.slice(0, 206)), CryptoFormatError);
      assert.throws(() => c.reconstructTokenKeyPair(token, c.mintServiceAccountToken(kx).wrappedKeyShare), DecryptionError);
    });
  });
}

describe('parseToken (SDK regex) and bearer hashing', () => {
  const c = BACKENDS[0]!.crypto;
  const good = `pss_service:v2:${HEX64}:${'b'.repeat(64)}:${'c'.repeat(64)}:${'d'.repeat(64)}`;

  test('auth type per the Node SDK: user → User, service v1 → Service, other service versions → ServiceAccount', () => {
    assert.equal(c.parseToken(good.replace('pss_service:v2', 'pss_user:v1')).authType, 'User');
    assert.equal(c.parseToken(good.replace('pss_service:v2', 'pss_user:v7')).authType, 'User');
    assert.equal(c.parseToken(good.replace('v2', 'v1')).authType, 'Service');
    assert.equal(c.parseToken(good).authType, 'ServiceAccount');
    assert.equal(c.parseToken(good.replace('v2', 'v10')).authType, 'ServiceAccount');
    assert.equal(c.authorizationHeaderOf(c.parseToken(good)), `Bearer ServiceAccount ${HEX64}`);
  });

  test('every malformed token → TokenFormatError that never echoes the token', () => {
    const secretPart = 'e'.repeat(64);
    const base = `pss_user:v1:${secretPart}:${'b'.repeat(64)}:${'c'.repeat(64)}:${'d'.repeat(64)}`;
    const malformed: unknown[] = [
      '',
      base.split(':').slice(0, 5).join(':'),
      `${base}:${HEX64}`,
      base.replace('pss_user', 'pss_env'),
      base.replace('pss_user', 'PSS_USER'),
      base.replace(':v1:', ':vx:'),
      base.replace(':v1:', ':1:'),
      withPart(base, 2, secretPart.slice(1)),
      withPart(base, 3, 'g'.repeat(64)),
      withPart(base, 4, 'c'.repeat(65)),
      withPart(base, 5, ''),
      `${base}\n`,
      ` ${base}`,
      `Bearer ${base}`,
      42,
      null,
    ];
    for (const value of malformed) {
      assert.throws(
        () => c.parseToken(value as string),
        (error: unknown) => error instanceof TokenFormatError && !error.message.includes(secretPart) && !error.message.includes('eeee'),
        JSON.stringify(value),
      );
    }
    assert.throws(() => c.parseToken(withPart(base, 3, 'g'.repeat(64))), /part 4 \(public key\)/);
    assert.throws(() => c.parseToken(base.split(':').slice(0, 5).join(':')), /5 colon-separated parts/);
  });

  test('bearerHash is SHA-256 of the bearer text; bearerMatchesHash compares in constant time', () => {
    assert.equal(c.bearerHash(HEX64), createHash('sha256').update(HEX64).digest('hex'));
    assert.equal(c.bearerMatchesHash(HEX64, c.bearerHash(HEX64)), true);
    assert.equal(c.bearerMatchesHash(HEX64, c.bearerHash(HEX64).toUpperCase()), true);
    assert.equal(c.bearerMatchesHash('b'.repeat(64), c.bearerHash(HEX64)), false);
    assert.equal(c.bearerMatchesHash(HEX64, 'not a hash'), false);
    assert.throws(() => c.bearerHash(''), TokenFormatError);
  });
});
