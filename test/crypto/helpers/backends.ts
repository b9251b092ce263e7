/**
 * Both crypto instances under test: native (sodium-native) and WASM (libsodium-wrappers-sumo).
 * Test files loop over BACKENDS so every behaviour is checked on both, as Kysely's tests loop over dialects.
 */
import { loadBrowserBackend } from '../../../src/crypto/backend-browser.js';
import type { SodiumBackend } from '../../../src/crypto/backend.js';
import { createCrypto, cofferCrypto, type CofferCrypto } from '../../../src/crypto/index.js';
import { phaseFormatsFor, type PhaseFormats } from '../../../src/crypto/formats.js';
import { fromHex, utf8Encode } from '../../../src/crypto/encoding.js';

export interface BackendUnderTest {
  name: SodiumBackend['name'];
  backend: SodiumBackend;
  crypto: CofferCrypto;
  /** Lower-level formats, for deterministic encryption with fixed ephemeral keys and nonces. */
  formats: PhaseFormats;
}

const browserBackend = await loadBrowserBackend();

export const NATIVE: BackendUnderTest = {
  name: 'sodium-native',
  backend: cofferCrypto.backend,
  crypto: cofferCrypto,
  formats: phaseFormatsFor(cofferCrypto.backend),
};

export const WASM: BackendUnderTest = {
  name: 'libsodium-wrappers-sumo',
  backend: browserBackend,
  crypto: createCrypto(browserBackend),
  formats: phaseFormatsFor(browserBackend),
};

export const BACKENDS: readonly BackendUnderTest[] = [NATIVE, WASM];

/** The vectors' pseudo-random inputs: unkeyed BLAKE2b-N of an ASCII label (spec §10). */
export function labelBytes(backend: SodiumBackend, length: number, label: string): Uint8Array {
  return backend.generichash(length, utf8Encode(label));
}

export const hex = (value: string): Uint8Array => fromHex(value, 'test hex');
