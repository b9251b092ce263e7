// Running an admin operation where the store is: through a running embedded server's admin socket,
// or by opening the store (PostgreSQL, or an embedded store no server holds).
import path from 'node:path';
import { adminOperations } from '../../../admin-operations.js';
import { ADMIN_SOCKET_FILE, callAdminSocket } from '../../../admin-socket.js';
import { loadConfig } from '../../../config.js';
import { AUDIT_JOURNAL_FILE, LocalAuditTrail } from '../../../domain/audit-local.js';
import { openMasterKeyring, resolveMasterKeys } from '../../../master-key.js';
import { openStore } from '../../../store/connect.js';
import { UserError } from '../../errors.js';

export async function runAdminOperation<T>(operation: string, body: Record<string, unknown> = {}): Promise<T> {
  const config = loadConfig();
  if (!config.databaseUrl) {
    const answer = await callAdminSocket(path.join(config.dataDir, ADMIN_SOCKET_FILE), operation, body);
    if (answer) {
      if (answer.status !== 200) throw new UserError(`the server could not run ${operation}: ${answer.body?.error ?? answer.status}`);
      return answer.body as T;
    }
  }
  const masterKeys = resolveMasterKeys(config, { generate: false });
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const keyring = openMasterKeyring(masterKeys);
  try {
    // Read events a stopped embedded server left in its journal belong in the store first.
    if (store.kind === 'pglite') await LocalAuditTrail.recover(store.db, path.join(config.dataDir, AUDIT_JOURNAL_FILE));
    return (await adminOperations({ store, keyring, masterKeys })[operation]!(body)) as T;
  } finally {
    await store.close();
    keyring.dispose();
  }
}
