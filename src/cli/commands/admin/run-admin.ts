// Running an admin operation where the store is: through a running embedded server's admin socket,
// or by opening the store (PostgreSQL, or an embedded store no server holds).
import path from 'node:path';
import { adminOperations } from '../../../admin-operations.js';
import { ADMIN_SOCKET_FILE, AdminRefusal, callAdminSocket } from '../../../admin-socket.js';
import { loadConfig } from '../../../config.js';
import { AUDIT_JOURNAL_FILE, LocalAuditTrail } from '../../../domain/audit-local.js';
import { openMasterKeyring, resolveMasterKeys } from '../../../master-key.js';
import { appliedMigrations } from '../../../store/backup.js';
import { embeddedStoreExists, openStore } from '../../../store/connect.js';
import { assertSchemaKnown, pendingMigrations } from '../../../store/migrator.js';
import { UserError } from '../../errors.js';

export async function runAdminOperation<T>(operation: string, body: Record<string, unknown> = {}): Promise<T> {
  const config = loadConfig();
  if (!config.databaseUrl) {
    const answer = await callAdminSocket(path.join(config.dataDir, ADMIN_SOCKET_FILE), operation, body);
    if (answer) {
      if (answer.status === 400 && typeof answer.body?.error === 'string') throw new UserError(answer.body.error, typeof answer.body.hint === 'string' ? answer.body.hint : undefined);
      if (answer.status !== 200) throw new UserError(`the server could not run ${operation}: ${answer.body?.error ?? answer.status}`);
      return answer.body as T;
    }
  }
  // Pointed at the wrong place, an operation must not make an empty store there and report on it.
  if (!config.databaseUrl && !embeddedStoreExists(config.dataDir)) {
    throw new UserError(`there is no Coffer store in ${config.dataDir}`, 'set COFFER_DATA_DIR to the server\'s data directory, or DATABASE_URL for PostgreSQL');
  }
  const masterKeys = resolveMasterKeys(config, { generate: false });
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrate: false });
  const keyring = openMasterKeyring(masterKeys);
  try {
    const applied = await appliedMigrations(store.db);
    if (store.kind === 'postgres' && applied.length === 0) {
      throw new UserError('the database DATABASE_URL names holds no Coffer store', 'check DATABASE_URL: it must name the database the servers use');
    }
    assertSchemaKnown(applied);
    // An admin command (a backup "before the upgrade", a verification) must not upgrade a store an
    // older version still runs: that version's servers could no longer start on it, nor restore
    // that backup. Starting `coffer serve` upgrades; `admin restore` brings a backup's schema along.
    const pending = pendingMigrations(applied);
    if (pending.length > 0) {
      throw new UserError(
        `the store is at an older schema (${applied.at(-1) ?? 'none'}) than this Coffer (${pending.at(-1)}), and ${operation} does not upgrade it`,
        'run the admin command of the version its servers run, or start this version\'s `coffer serve` once to upgrade the store',
      );
    }
    // Read events a stopped embedded server left in its journal belong in the store first.
    if (store.kind === 'pglite') await LocalAuditTrail.recover(store.db, path.join(config.dataDir, AUDIT_JOURNAL_FILE));
    return (await adminOperations({ store, keyring, masterKeys })[operation]!(body)) as T;
  } catch (error) {
    if (error instanceof AdminRefusal) throw new UserError(error.message, error.hint);
    throw error;
  } finally {
    await store.close();
    keyring.dispose();
  }
}
