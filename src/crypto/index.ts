/**
 * The crypto module, the only place in Coffer that touches libsodium. Server code imports from here:
 *
 *   import { keyDigest, mintServiceAccountToken, type Ciphertext } from '../crypto/index.js';
 *
 * Everything is bound to the native backend (sodium-native). The web console uses ./browser.js instead.
 */
import { nodeBackend } from './backend-node.js';
import { createCrypto, type CofferCrypto } from './create-crypto.js';

export type { KeyPair, SessionKeys, SodiumBackend } from './backend.js';
export { createCrypto, type CofferCrypto } from './create-crypto.js';
export { nodeBackend } from './backend-node.js';
export * from './errors.js';
export { fromHex, isHex, toHex } from './encoding.js';
export type { Ciphertext, KeyInput, KeyPairInput, ParsedCiphertext } from './formats.js';
export { isKdfParams, KDF_PARAM_LIMITS, PHASE_KDF_MODERATE, PHASE_KDF_SENSITIVE, TEST_KDF_FAST } from './keyring.js';
export type { IdentityKeyring, KdfParams, UserKeyring } from './keyring.js';
export { TOKEN_PATTERN } from './tokens.js';
export type { RecoveryStatement } from './account-recovery.js';
export type { MintedToken, MintOptions, ParsedToken, TokenAuthType } from './tokens.js';
export { DEFAULT_SESSION_KEY_CACHE_SIZE, EnvironmentCipher } from './environment-cipher.js';
export type { EnvironmentCipherOptions, EnvironmentGrant, EnvironmentSecrets } from './environment-cipher.js';
export { hashPassword, verifyPassword, SERVER_PASSWORD_KDF } from './password-hash.js';
export { MASTER_KEY_PURPOSES, MasterKeyring, keyIdOf, parseEnvelope } from './envelope.js';
export type { DerivedKxKeyPair, KxPurpose, MasterKeyPurpose, MasterKeySet, MasterKeyringOptions, ParsedEnvelope, SealedEnvelope } from './envelope.js';

/** The Node instance: every function below is bound to sodium-native. */
export const cofferCrypto: CofferCrypto = createCrypto(nodeBackend);

export const {
  randomKeyHex,
  encryptRaw,
  decryptRaw,
  encryptRawHex,
  decryptRawHex,
  encryptRawBase64,
  decryptRawBase64,
  kxKeyPair,
  kxKeyPairFromSeed,
  publicKeyHexFromSeed,
  kxPublicKeyOf,
  encryptAsymmetric,
  decryptAsymmetric,
  parseCiphertext,
  asCiphertext,
  asOptionalCiphertext,
  keyDigest,
  ed25519ToKx,
  ed25519PublicKeyToKx,
  isEd25519PublicKey,
  isX25519PublicKey,
  splitSecret,
  wrapShare,
  reconstructSecret,
  generateEnvironmentSecrets,
  wrapForRecipient,
  unwrapWithKeyPair,
  wrapEnvironmentSecrets,
  unwrapEnvironmentSecrets,
  verifyEnvironmentGrant,
  environmentCipher,
  generateMnemonic,
  isValidMnemonic,
  deriveAccountSeed,
  keyringFromAccountSeed,
  keyringFromMnemonic,
  deriveDeviceKey,
  derivePasswordLoginHash,
  serializeUserKeyring,
  wrapUserKeyring,
  unwrapUserKeyring,
  wrapRecoveryPhrase,
  unwrapRecoveryPhrase,
  generateServiceAccountKeyring,
  serializeIdentityKeyring,
  parseIdentityKeyring,
  kxKeyPairOfIdentity,
  wipeKeyring,
  signRecoveryStatement,
  verifyRecoveryStatement,
  parseToken,
  authorizationHeaderOf,
  bearerHash,
  bearerMatchesHash,
  reconstructTokenKeyPair,
  mintUserToken,
  mintServiceAccountToken,
  masterKeyring,
  masterKeyId,
  auditMac,
} = cofferCrypto;
