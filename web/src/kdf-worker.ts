// A Web Worker for the Argon2id derivations (a second to several seconds each, 256 MiB to 1 GiB):
// on the page's own thread they froze it, progress messages included. Only these three functions
// run here; results go back by structured clone, and the worker's copies of keys are wiped.
import { loadBrowserCrypto } from '../../src/crypto/browser.js';

export type KdfOperation = 'deriveDeviceKey' | 'derivePasswordLoginHash' | 'keyringFromMnemonic';
export interface KdfRequest {
  id: number;
  operation: KdfOperation;
  args: unknown[];
}
export type KdfAnswer = { id: number; result: unknown } | { id: number; error: string };

const crypto = loadBrowserCrypto();

function wipe(value: unknown): void {
  if (value instanceof Uint8Array) value.fill(0);
  else if (value && typeof value === 'object') for (const part of Object.values(value)) if (part instanceof Uint8Array) part.fill(0);
}

self.onmessage = async (event: MessageEvent<KdfRequest>) => {
  const { id, operation, args } = event.data;
  try {
    const functions = await crypto;
    const run = functions[operation] as (...input: unknown[]) => Promise<unknown>;
    const result = await run(...args);
    self.postMessage({ id, result } satisfies KdfAnswer);
    wipe(result);
  } catch (error) {
    self.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies KdfAnswer);
  }
};
