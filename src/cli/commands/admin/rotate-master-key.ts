// `coffer admin rotate-master-key`: seal everything the server keeps under its master key again,
// under a new key, while servers keep serving. Reads the same variables as `coffer serve`.
import { loadConfig } from '../../../config.js';
import { RotationRefused, type RotationResult } from '../../../key-rotation.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { runAdminOperation } from './run-admin.js';

export interface RotateOptions {
  json?: boolean;
  /** false with --no-wait: skip the pause that lets other nodes load the new key file. */
  wait?: boolean;
}

/** Other nodes poll the key file every 2 s; wait a little longer than two polls. */
const SETTLE_MS = 5_000;

export async function rotateMasterKeyCommand(options: RotateOptions): Promise<void> {
  const ui = createUi({ json: options.json === true });
  // Only PostgreSQL can have other nodes (an embedded store has this one process), and only a key
  // file is loaded by them while they run: keys in COFFER_MASTER_KEY are rotated with no pause.
  const config = loadConfig();
  const settleMs = config.databaseUrl && config.masterKeyFile && options.wait !== false ? SETTLE_MS : 0;
  if (settleMs > 0) ui.info(`Waiting ${settleMs / 1000} s for running servers to load the new key ...`);
  let result: RotationResult;
  try {
    result = await runAdminOperation<RotationResult>('rotate-master-key', { settleMs });
  } catch (error) {
    if (error instanceof RotationRefused) throw new UserError(error.message);
    throw error;
  }
  if (ui.json) {
    ui.printJson(result);
    return;
  }
  ui.success(`The master key is now ${result.activeKeyId}: ${result.rewrapped} sealed value(s) were sealed again under it (${result.current} already were).`);
  if (result.keyFile) {
    ui.info(`${result.keyFile} now holds only the new key. Back it up: without it nothing in this store can be decrypted.`);
  } else {
    ui.info(`Nothing is sealed under ${result.retiredKeyIds.join(', ') || 'the old key'} any more: remove it from COFFER_MASTER_KEY on every node.`);
  }
}
