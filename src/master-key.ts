// Where the server's root key comes from: COFFER_MASTER_KEY (or SERVER_SECRET), a key file, or —
// in embedded mode only — a key file generated on first start inside the data directory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseMasterKeyList, type Config } from './config.js';
import { fromHex, masterKeyring, type MasterKeyring, type MasterKeySet } from './crypto/index.js';

export interface MasterKeySource {
  /** Hex keys, the active one first. */
  keys: string[];
  /** The file to re-read when material under an unknown key id appears (after a rotation). */
  file: string | undefined;
  generated: boolean;
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

/** Writes keys (active first) atomically with mode 0600, durably (see writeKeyFile). */
export function writeMasterKeyFile(file: string, keys: string[]): void {
  writeKeyFile(file, `${keys.join('\n')}\n`, 'replace');
}

/**
 * A key file must survive a crash of the machine whole and current: a rotation re-seals every
 * envelope under the new key and commits that to the database (on disk), so a key file that fell
 * back to its old content, or came back empty, would make every secret unreadable. The text goes to
 * a temporary file that is flushed to disk, which then takes the file's name (`replace`: over the
 * file; `create`: only if there is none, as two first starts may race), and the directory is
 * flushed so that the name is on disk too.
 */
function writeKeyFile(file: string, text: string, mode: 'replace' | 'create'): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true }); // left by a crashed process of the same id, with who knows what mode
  try {
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (mode === 'replace') fs.renameSync(temp, file);
    else fs.linkSync(temp, file); // EEXIST if a key file appeared meanwhile: it is not replaced
  } finally {
    fs.rmSync(temp, { force: true });
  }
  const directory = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(directory);
  } finally {
    fs.closeSync(directory);
  }
}

export function resolveMasterKeys(config: Config, options: { generate?: boolean } = {}): MasterKeySource {
  if (config.masterKeys.length > 0) return { keys: config.masterKeys, file: undefined, generated: false };
  if (config.masterKeyFile) return { keys: readMasterKeyFile(config.masterKeyFile), file: config.masterKeyFile, generated: false };
  // Embedded mode (loadConfig refuses DATABASE_URL without a key).
  const file = path.join(config.dataDir, EMBEDDED_KEY_FILE);
  if (fs.existsSync(file)) return { keys: readMasterKeyFile(file, 'COFFER_DATA_DIR'), file, generated: false };
  if (options.generate === false) {
    throw new ConfigError('COFFER_MASTER_KEY', `is not set and ${file} does not exist; point COFFER_DATA_DIR at the server's data directory or set the key`);
  }
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  writeKeyFile(file, `${key}\n`, 'create');
  return { keys: [key], file, generated: true };
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
