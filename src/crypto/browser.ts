/**
 * Entry point for the web console: the same crypto functions as index.ts, over the WASM build of
 * libsodium. Never imports sodium-native, so a bundler can include it.
 *
 *   const crypto = await loadBrowserCrypto();
 *   const keyring = await crypto.keyringFromMnemonic(words, orgId);
 */
import { loadBrowserBackend } from './backend-browser.js';
import { createCrypto, type CofferCrypto } from './create-crypto.js';

export type { KeyPair, SessionKeys, SodiumBackend } from './backend.js';
export { createCrypto, type CofferCrypto } from './create-crypto.js';
export { loadBrowserBackend } from './backend-browser.js';
export * from './errors.js';
export { fromHex, isHex, toHex } from './encoding.js';
export type { Ciphertext, KeyInput, KeyPairInput, ParsedCiphertext } from './formats.js';
export { PHASE_KDF_MODERATE, PHASE_KDF_SENSITIVE, TEST_KDF_FAST } from './keyring.js';
export type { IdentityKeyring, KdfParams, UserKeyring } from './keyring.js';
export { TOKEN_PATTERN } from './tokens.js';
export type { MintedToken, MintOptions, ParsedToken, TokenAuthType } from './tokens.js';
export { EnvironmentCipher } from './environment-cipher.js';
export type { EnvironmentCipherOptions, EnvironmentGrant, EnvironmentSecrets } from './environment-cipher.js';

let loading: Promise<CofferCrypto> | undefined;

/** Waits for the WASM module, then returns the crypto functions bound to it (shared across calls). */
export function loadBrowserCrypto(): Promise<CofferCrypto> {
  loading ??= loadBrowserBackend().then(createCrypto);
  return loading;
}
