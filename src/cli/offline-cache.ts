// The offline cache of `coffer run --fallback` (threat model: docs/cli.md). The last secrets a
// `--fallback` run fetched are kept encrypted, XChaCha20-Poly1305 through src/crypto, under a key
// derived from the token the run used:
//
//   key  = BLAKE2b-256("coffer offline cache v1" 0x00 token)
//   file = $XDG_CACHE_HOME/coffer/offline/<hex BLAKE2b-128(lookup, key)>.cache   (dir 0700, file 0600)
//   AD   = "coffer-offline-cache/v1" 0x00 url 0x00 app 0x00 env 0x00 path
//
// The token's client-side halves (the key share and wrap key) are in the derivation, and the server
// stores only SHA-256 of the bearer, so neither the server nor its database can open a cache file.
// Plaintext exists only in this process: it is sealed before anything is written.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CryptoError, nodeBackend } from '../crypto/index.js';

const FORMAT = 'coffer-offline-cache';
const VERSION = 1;
const NONCE_BYTES = 24;

export interface CachedSecrets {
  fetchedAt: string;
  app: { id: string; name: string };
  env: { id: string; name: string };
  path: string | null;
  values: Record<string, string>;
}

export interface CacheLookup {
  url: string;
  /** The app and environment as the run named them (id or name; the environment case-insensitively). */
  app: string;
  env: string;
  path: string | undefined;
}

export function offlineCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'coffer', 'offline');
}

const utf8 = (text: string) => new TextEncoder().encode(text);

function cacheKey(token: string): Uint8Array {
  return nodeBackend.generichash(32, utf8(`coffer offline cache v1\u0000${token}`));
}

function associatedData(lookup: CacheLookup): Uint8Array {
  return utf8(['coffer-offline-cache/v1', lookup.url, lookup.app, lookup.env.toLowerCase(), lookup.path ?? ''].join('\u0000'));
}

function fileOf(key: Uint8Array, ad: Uint8Array): string {
  return path.join(offlineCacheDir(), `${Buffer.from(nodeBackend.generichash(16, ad, key)).toString('hex')}.cache`);
}

/** Seals `value` for each lookup (the names the run used, and the app's id) and replaces the files. */
export async function writeOfflineCache(token: string, lookups: CacheLookup[], value: CachedSecrets): Promise<void> {
  const key = cacheKey(token);
  try {
    const dir = offlineCacheDir();
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700);
    const plaintext = utf8(JSON.stringify(value));
    const seen = new Set<string>();
    for (const lookup of lookups) {
      const ad = associatedData(lookup);
      const file = fileOf(key, ad);
      if (seen.has(file)) continue;
      seen.add(file);
      const nonce = nodeBackend.randomBytes(NONCE_BYTES);
      const sealed = nodeBackend.aeadEncrypt(plaintext, ad, nonce, key);
      const document = { format: FORMAT, version: VERSION, nonce: Buffer.from(nonce).toString('hex'), ciphertext: Buffer.from(sealed).toString('base64') };
      const temporary = `${file}.${process.pid}.tmp`;
      await fs.writeFile(temporary, `${JSON.stringify(document)}\n`, { mode: 0o600 });
      await fs.rename(temporary, file);
    }
    plaintext.fill(0);
  } finally {
    key.fill(0);
  }
}

export type CacheRead = { found: true; value: CachedSecrets } | { found: false; reason: 'missing' | 'unreadable' };

export async function readOfflineCache(token: string, lookup: CacheLookup): Promise<CacheRead> {
  const key = cacheKey(token);
  try {
    const ad = associatedData(lookup);
    let text: string;
    try {
      text = await fs.readFile(fileOf(key, ad), 'utf8');
    } catch {
      return { found: false, reason: 'missing' };
    }
    try {
      const document = JSON.parse(text) as { format?: string; version?: number; nonce?: string; ciphertext?: string };
      if (document.format !== FORMAT || document.version !== VERSION || typeof document.nonce !== 'string' || typeof document.ciphertext !== 'string') {
        return { found: false, reason: 'unreadable' };
      }
      const opened = nodeBackend.aeadDecrypt(Buffer.from(document.ciphertext, 'base64'), ad, Buffer.from(document.nonce, 'hex'), key);
      const value = JSON.parse(new TextDecoder().decode(opened)) as CachedSecrets;
      opened.fill(0);
      return { found: true, value };
    } catch (error) {
      if (error instanceof CryptoError || error instanceof SyntaxError || error instanceof RangeError) return { found: false, reason: 'unreadable' };
      throw error;
    }
  } finally {
    key.fill(0);
  }
}
