// Where the server's root key comes from: COFFER_MASTER_KEY (or SERVER_SECRET), a key file, or —
// in embedded mode only — a key file generated on first start inside the data directory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseMasterKeyList, type Config } from './config.js';
import { fromHex, masterKeyring, UnknownMasterKeyError, type MasterKeyPurpose, type MasterKeyring, type MasterKeySet } from './crypto/index.js';
import { writeFileDurably } from './durable-files.js';

export interface MasterKeySource {
  /** Hex keys, the active one first. */
  keys: string[];
  /** The file to re-read when material under an unknown key id appears (after a rotation). */
  file: string | undefined;
  generated: boolean;
  /** The key file Coffer keeps in the embedded data directory (generated at a first start). */
  automatic: boolean;
}

export const EMBEDDED_KEY_FILE = 'master.key';

export function readMasterKeyFile(file: string, variable = 'COFFER_MASTER_KEY_FILE'): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `points to ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    return parseMasterKeyList(text);
  } catch (error) {
    throw new ConfigError(variable, `points to ${file}, whose content ${(error as Error).message}`);
  }
}

/**
 * Writes keys (active first), mode 0600, atomically and durably: a rotation re-seals every envelope
 * under the new key and commits that, so a key file that came back after a crash of the machine
 * with its old content, or empty, would make every secret unreadable.
 */
export function writeMasterKeyFile(file: string, keys: string[]): void {
  writeFileDurably(file, `${keys.join('\n')}\n`, 'replace');
}

export function resolveMasterKeys(config: Config, options: { generate?: boolean } = {}): MasterKeySource {
  if (config.masterKeys.length > 0) return { keys: config.masterKeys, file: undefined, generated: false, automatic: false };
  if (config.masterKeyFile) return { keys: readMasterKeyFile(config.masterKeyFile), file: config.masterKeyFile, generated: false, automatic: false };
  // Embedded mode (loadConfig refuses DATABASE_URL without a key).
  const file = path.join(config.dataDir, EMBEDDED_KEY_FILE);
  if (fs.existsSync(file)) return { keys: readMasterKeyFile(file, 'COFFER_DATA_DIR'), file, generated: false, automatic: true };
  if (options.generate === false) {
    throw new ConfigError('COFFER_MASTER_KEY', `is not set and ${file} does not exist; point COFFER_DATA_DIR at the server's data directory or set the key`);
  }
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  writeFileDurably(file, `${key}\n`, 'create'); // two first starts may race: the second gets EEXIST
  return { keys: [key], file, generated: true, automatic: true };
}

export function keySet(keys: string[]): MasterKeySet {
  const [active, ...previous] = keys.map((k) => fromHex(k, 'master key', 32));
  return { active: active!, previous };
}

/**
 * The server's master keyring. With a key file, material sealed under a key id this process does
 * not hold (another process rotated the key) makes it re-read the file once.
 */
export function openMasterKeyring(source: MasterKeySource): MasterKeyring {
  const file = source.file;
  return masterKeyring(keySet(source.keys), file ? { reload: async () => keySet(readMasterKeyFile(file)) } : {});
}

/**
 * Servers with a key file notice when another process rewrote it (a rotation) and load the new
 * key set, so they seal new material under the new active key. Returns a function that stops.
 */
export function watchMasterKeyFile(file: string, keyring: MasterKeyring, onError: (error: unknown) => void, intervalMs = 2_000): () => void {
  let last = fs.statSync(file).mtimeMs;
  const timer = setInterval(() => {
    try {
      const now = fs.statSync(file).mtimeMs;
      if (now === last) return;
      last = now;
      keyring.replaceKeys(keySet(readMasterKeyFile(file)));
    } catch (error) {
      onError(error);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** One envelope the store already holds, to check the configured key against at start. */
export interface SealedProbe {
  envelope: string;
  purpose: MasterKeyPurpose;
  context: string;
}

/**
 * Refuses to serve a store whose sealed material the configured keys cannot open. A server started
 * with the wrong key, or with none (a new one was generated beside existing data), answered 500 to
 * every secret read and write instead of saying so at start. A key it generated just now is removed.
 */
export async function assertKeysOpenStore(keyring: MasterKeyring, probe: SealedProbe | undefined, source: MasterKeySource): Promise<void> {
  if (!probe) return;
  try {
    const plaintext = await keyring.open(probe.envelope, probe.purpose, probe.context);
    plaintext.fill(0);
  } catch (error) {
    if (!(error instanceof UnknownMasterKeyError)) throw error;
    const held = `(its data is sealed under master key ${error.keyId})`;
    if (source.generated) {
      if (source.file) fs.rmSync(source.file, { force: true });
      throw new ConfigError('COFFER_MASTER_KEY', `is not set and ${source.file} did not exist, but this store already holds data ${held}: put the store's master.key back from your backup, or set COFFER_MASTER_KEY or COFFER_MASTER_KEY_FILE`);
    }
    if (source.file === undefined) throw new ConfigError('COFFER_MASTER_KEY', `does not open this store ${held}: set the key the store was sealed with`);
    const variable = path.basename(source.file) === EMBEDDED_KEY_FILE ? 'COFFER_DATA_DIR' : 'COFFER_MASTER_KEY_FILE';
    throw new ConfigError(variable, `names ${source.file}, which holds no key that opens this store ${held}`);
  }
}
