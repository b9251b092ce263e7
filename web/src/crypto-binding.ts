// The crypto functions src/client imports from '../crypto/index.js', bound to libsodium's WASM
// build instead of sodium-native (vite.config.ts points that import here). Same code, same bytes:
// src/crypto/create-crypto.ts over the browser backend, which the crypto tests check against Node's.
// The Argon2id derivations run in a Web Worker (kdf-worker.ts), so the page keeps painting.
import { loadBrowserCrypto, type KdfParams, type UserKeyring } from '../../src/crypto/browser.js';
import type { KdfAnswer, KdfOperation } from './kdf-worker.js';

export * from '../../src/crypto/browser.js';

const crypto = await loadBrowserCrypto();

export const {
  authorizationHeaderOf,
  ed25519PublicKeyToKx,
  environmentCipher,
  generateEnvironmentSecrets,
  generateMnemonic,
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

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

function inWorker<T>(operation: KdfOperation, args: unknown[]): Promise<T> {
  if (!worker) {
    worker = new Worker(new URL('./kdf-worker.ts', import.meta.url), { type: 'module', name: 'coffer-kdf' });
    worker.onmessage = (event: MessageEvent<KdfAnswer>) => {
      const answer = event.data;
      const pending = waiting.get(answer.id);
      waiting.delete(answer.id);
      if ('error' in answer) pending?.reject(new Error(answer.error));
      else pending?.resolve(answer.result);
    };
  }
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
    worker!.postMessage({ id, operation, args });
  });
}

export const deriveDeviceKey = (password: string, email: string, params?: KdfParams): Promise<Uint8Array> => inWorker('deriveDeviceKey', [password, email, params]);
export const derivePasswordLoginHash = (password: string, email: string, params?: KdfParams): Promise<string> => inWorker('derivePasswordLoginHash', [password, email, params]);
export const keyringFromMnemonic = (mnemonic: string, organisationId: string, params?: KdfParams): Promise<UserKeyring> => inWorker('keyringFromMnemonic', [mnemonic, organisationId, params]);
