// `coffer admin restore FILE [--force]`: puts a backup into the store the server variables name
// (DATABASE_URL, or COFFER_DATA_DIR with no server running on it), in one transaction. Refuses a
// store that holds any organisation or user unless --force. The master key is not in the backup:
// the restored store is usable only with the key the backup's envelopes were sealed under, so that
// key must be configured (COFFER_MASTER_KEY, COFFER_MASTER_KEY_FILE, or master.key in the data
// directory) and is checked before anything is written.
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_SOCKET_FILE, callAdminSocket } from '../../../admin-socket.js';
import { AUDIT_JOURNAL_FILE } from '../../../domain/audit-local.js';
import { ConfigError, loadConfig } from '../../../config.js';
import { fromHex, masterKeyId } from '../../../crypto/index.js';
import { resolveMasterKeys } from '../../../master-key.js';
import { appliedMigrations, BackupFileError, MASTER_KEY_NOTICE, readBackupFile, restoreSnapshot, SchemaMismatchError, StoreNotEmptyError, type BackupSnapshot } from '../../../store/backup.js';
import { openStore } from '../../../store/connect.js';
import { createMigrator, migrateToLatest, migrations as knownMigrations } from '../../../store/migrator.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';

export interface RestoreOptions {
  force?: boolean;
  json?: boolean;
}

export async function restoreCommand(file: string, options: RestoreOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  let snapshot: BackupSnapshot;
  try {
    snapshot = await readBackupFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file} does not exist`, 'check the path of the backup file');
    if (code === 'EISDIR') throw new UserError(`${file} is a directory, not a backup file`, 'name the file `coffer admin backup` wrote');
    if (code === 'EACCES') throw new UserError(`${file} cannot be read (permission denied)`, 'run the restore as a user who can read it');
    if (error instanceof BackupFileError) throw new UserError(`cannot restore ${file}: ${error.message}`);
    throw error;
  }
  const { header } = snapshot;
  const unknown = header.migrations.filter((m) => !(m in knownMigrations));
  if (unknown.length > 0) throw new UserError(`${file} was made by a newer Coffer (${header.coffer}; migrations ${unknown.join(', ')})`, 'restore it with that version or a later one');

  const config = loadConfig();
  if (!config.databaseUrl && (await callAdminSocket(path.join(config.dataDir, ADMIN_SOCKET_FILE), 'ping')) !== undefined) {
    throw new UserError(`a Coffer server is running on ${config.dataDir}`, 'stop it, restore, then start it again (a running server keeps what it has read in memory)');
  }
  checkMasterKey(config, header.masterKeyIds);

  // A new data directory starts empty, not from the migrated template: an older backup's schema comes first.
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrate: false, template: false });
  let result;
  try {
    // Bring an empty or older store to the backup's schema, restore, then migrate to this version's.
    const applied = await appliedMigrations(store.db);
    const isPrefix = applied.every((m, i) => header.migrations[i] === m);
    if (!isPrefix || applied.length > header.migrations.length) {
      throw new UserError(
        `the store is at a newer schema (${applied.at(-1)}) than the backup (${header.migrations.at(-1) ?? 'none'})`,
        'restore into an empty database or data directory',
      );
    }
    if (applied.length < header.migrations.length) {
      const migrated = await createMigrator(store.db).migrateTo(header.migrations.at(-1)!);
      if (migrated.error) throw migrated.error;
    }
    try {
      result = await restoreSnapshot(store.db, snapshot, { force: options.force === true });
      // Read events a stopped embedded server left in its journal belong to the store just replaced.
      if (store.kind === 'pglite') fs.rmSync(path.join(config.dataDir, AUDIT_JOURNAL_FILE), { force: true });
    } catch (error) {
      if (error instanceof StoreNotEmptyError) throw new UserError(`${error.message}; nothing was restored`, 'restore into an empty store, or pass --force to replace everything in it');
      if (error instanceof SchemaMismatchError) throw new UserError(`cannot restore ${file}: ${error.message}`);
      // Its checksum matched, yet the store refuses a row (a key that is not a uuid, a reference to
      // nothing): the file was written that way. The restore ran in one transaction: nothing is kept.
      if (isDatabaseError(error)) throw new UserError(`cannot restore ${file}: the store refuses its rows (${error.message}); nothing was restored`, 'restore another backup of this store');
      throw error;
    }
    await migrateToLatest(store.db);
  } finally {
    await store.close();
  }
  const where = config.databaseUrl ? 'the PostgreSQL database' : config.dataDir;
  if (ui.json) {
    ui.printJson({ file, restoredInto: config.databaseUrl ? 'postgres' : 'pglite', backupCreatedAt: header.createdAt, tables: result.tables, rows: result.rows, replaced: result.replaced, masterKeyIds: header.masterKeyIds });
  } else {
    ui.success(`Restored ${result.rows} rows in ${result.tables} tables from ${file} (taken ${header.createdAt}) into ${where}${result.replaced ? ', replacing what it held' : ''}.`);
    ui.info('Start the server with the same master key; the tokens, logins and secrets of the backup work again.');
  }
  if (result.replaced && config.databaseUrl) ui.warn('Servers that were running on this database may hold tokens and logins of the replaced data in memory for a second; restart them to be sure.');
}

/** The key the backup was sealed under must be configured now: without it the restore is useless. */
function checkMasterKey(config: ReturnType<typeof loadConfig>, needed: string[]): void {
  if (needed.length === 0) return;
  let keys: string[];
  try {
    keys = resolveMasterKeys(config, { generate: false }).keys;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UserError(`no master key is configured, and the backup needs the key with id ${needed.join(', ')}`, `${MASTER_KEY_NOTICE.split('. ')[0]}: set COFFER_MASTER_KEY or COFFER_MASTER_KEY_FILE to it`);
  }
  const configured = new Set(keys.map((k) => masterKeyId(fromHex(k, 'master key', 32))));
  const missing = needed.filter((id) => !configured.has(id));
  if (missing.length > 0) {
    throw new UserError(
      `the configured master key is not the one the backup was sealed under (it needs key id ${missing.join(', ')})`,
      'set COFFER_MASTER_KEY (or COFFER_MASTER_KEY_FILE) to that key; it is not in the backup',
    );
  }
}

/** An error the database answered with (PostgreSQL and PGlite both give a five-character SQLSTATE code). */
function isDatabaseError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}
