// `coffer admin rotate-master-key`: seal everything the server keeps under its master key again,
// under a new key, while servers keep serving. Reads the same variables as `coffer serve`.
import path from 'node:path';
import { ADMIN_SOCKET_FILE, callAdminSocket } from '../../../admin-socket.js';
import { loadConfig } from '../../../config.js';
import { RotationRefused, rotateMasterKey, type RotationResult } from '../../../key-rotation.js';
import { openMasterKeyring, resolveMasterKeys } from '../../../master-key.js';
import { openStore } from '../../../store/connect.js';
import { UserError } from '../../errors.js';
import { createUi, type Ui } from '../../ui.js';

export interface RotateOptions {
  json?: boolean;
  /** false with --no-wait: skip the pause that lets other nodes load the new key file. */
  wait?: boolean;
}

/** Other nodes poll the key file every 2 s; wait a little longer than two polls. */
const SETTLE_MS = 5_000;

function report(ui: Ui, result: RotationResult): void {
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

export async function rotateMasterKeyCommand(options: RotateOptions): Promise<void> {
  const ui = createUi({ json: options.json === true });
  const config = loadConfig();
  if (!config.databaseUrl) {
    // A running embedded server owns the store: ask it.
    const answer = await callAdminSocket(path.join(config.dataDir, ADMIN_SOCKET_FILE), 'rotate-master-key');
    if (answer) {
      if (answer.status !== 200) throw new UserError(`the server could not rotate the master key: ${answer.body?.error ?? answer.status}`);
      report(ui, answer.body as RotationResult);
      return;
    }
  }
  const masterKeys = resolveMasterKeys(config, { generate: false });
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const keyring = openMasterKeyring(masterKeys);
  try {
    const settleMs = config.databaseUrl && options.wait !== false ? SETTLE_MS : 0;
    if (settleMs > 0 && masterKeys.file) ui.info(`Waiting ${settleMs / 1000} s for running servers to load the new key from ${masterKeys.file} ...`);
    report(ui, await rotateMasterKey({ db: store.db, keyring, source: masterKeys, settleMs }));
  } catch (error) {
    if (error instanceof RotationRefused) throw new UserError(error.message);
    throw error;
  } finally {
    await store.close();
    keyring.dispose();
  }
}
