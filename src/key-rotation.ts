// `coffer admin rotate-master-key`, the procedure: a new key becomes active (in the key file, so
// every node picks it up), every envelope is sealed again under it in one transaction, and the old
// key is dropped. With COFFER_MASTER_KEY instead of a file, the operator has already put the new key
// first on every node; the procedure then only re-seals.
import { randomBytes } from 'node:crypto';
import type { MasterKeyring } from './crypto/index.js';
import { envelopeKeyIds, rewrapAll, type RewrapReport } from './domain/master-key-rotation.js';
import { keySet, writeMasterKeyFile, type MasterKeySource } from './master-key.js';
import type { Db } from './store/database.js';

export class RotationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationRefused';
  }
}

export interface RotationResult extends RewrapReport {
  activeKeyId: string;
  retiredKeyIds: string[];
  keyFile: string | null;
}

export interface RotationOptions {
  db: Db;
  keyring: MasterKeyring;
  source: MasterKeySource;
  /**
   * Time for other nodes to load the new key file before re-sealing (they poll it every 2 s), so
   * none keeps sealing under the old key. 0 when this process is the only one (embedded store).
   */
  settleMs: number;
  /**
   * Makes the re-sealed envelopes survive a crash of the machine before the old key is dropped from
   * the key file (the embedded store's flushToDisk: PGlite runs with fsync off, and a store that came
   * back from before the re-sealing would hold nothing the remaining key opens).
   */
  flushStore?: () => Promise<void>;
}

export async function rotateMasterKey(options: RotationOptions): Promise<RotationResult> {
  const { db, keyring, source } = options;
  const before = keyring.keyIds;
  if (source.file) {
    const fresh = randomBytes(32).toString('hex');
    const transitional = [fresh, ...source.keys];
    writeMasterKeyFile(source.file, transitional);
    keyring.replaceKeys(keySet(transitional));
    if (options.settleMs > 0) await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    const report = await rewrapAll(db, keyring);
    await assertAllUnderActiveKey(db, keyring);
    await options.flushStore?.();
    writeMasterKeyFile(source.file, [fresh]);
    keyring.replaceKeys(keySet([fresh]));
    source.keys = [fresh];
    return { ...report, activeKeyId: keyring.activeKeyId, retiredKeyIds: before, keyFile: source.file };
  }
  if (source.keys.length < 2) {
    throw new RotationRefused(
      'COFFER_MASTER_KEY holds a single key, so there is nothing to rotate to. Put a new key first on every node ' +
        '(COFFER_MASTER_KEY=<new>,<old>), restart them, run this command, then remove the old key.',
    );
  }
  const report = await rewrapAll(db, keyring);
  await assertAllUnderActiveKey(db, keyring);
  return { ...report, activeKeyId: keyring.activeKeyId, retiredKeyIds: before.filter((id) => id !== keyring.activeKeyId), keyFile: null };
}

async function assertAllUnderActiveKey(db: Db, keyring: MasterKeyring): Promise<void> {
  const counts = await envelopeKeyIds(db);
  const stale = Object.keys(counts).filter((id) => id !== keyring.activeKeyId);
  if (stale.length > 0) {
    // Another node sealed something under an old key while we worked: seal again.
    await rewrapAll(db, keyring);
    const again = Object.keys(await envelopeKeyIds(db)).filter((id) => id !== keyring.activeKeyId);
    if (again.length > 0) throw new RotationRefused(`material is still sealed under ${again.join(', ')}; is a node running without the new key?`);
  }
}
