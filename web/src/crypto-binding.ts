// The crypto functions src/client imports from '../crypto/index.js', bound to libsodium's WASM
// build instead of sodium-native (vite.config.ts points that import here). Same code, same bytes:
// src/crypto/create-crypto.ts over the browser backend, which the crypto tests check against Node's.
import { loadBrowserCrypto } from '../../src/crypto/browser.js';

export * from '../../src/crypto/browser.js';

const crypto = await loadBrowserCrypto();

export const {
  authorizationHeaderOf,
  derivePasswordLoginHash,
  deriveDeviceKey,
  ed25519PublicKeyToKx,
  environmentCipher,
  generateEnvironmentSecrets,
  generateMnemonic,
  keyringFromMnemonic,
  kxKeyPairOfIdentity,
  mintUserToken,
  parseToken,
  reconstructTokenKeyPair,
  unwrapUserKeyring,
  verifyEnvironmentGrant,
  wipeKeyring,
  wrapEnvironmentSecrets,
  wrapForRecipient,
  wrapRecoveryPhrase,
  wrapUserKeyring,
} = crypto;
