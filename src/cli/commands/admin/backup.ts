// `coffer admin backup FILE`: a consistent snapshot of the whole store (every table, wrapped keys
// included) in a versioned, self-describing file (src/store/backup.ts). On the embedded store a
// running server takes it and writes the file, asked through its admin socket; otherwise the store is opened here (PostgreSQL:
// one REPEATABLE READ transaction, while servers keep serving). The master key is NOT in it.
import fs from 'node:fs';
import path from 'node:path';
import type { BackupWritten } from '../../../admin-operations.js';
import { MASTER_KEY_NOTICE } from '../../../store/backup.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { runAdminOperation } from './run-admin.js';

export interface BackupOptions {
  force?: boolean;
  json?: boolean;
}

export async function backupCommand(file: string, options: BackupOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  if (!options.force && fs.existsSync(file)) throw new UserError(`${file} already exists`, 'choose another name, or pass --force to replace it');
  const { header, bytes, sha256 } = await runAdminOperation<BackupWritten>('backup', { file: path.resolve(file) });
  const rows = header.tables.reduce((sum, t) => sum + t.rows, 0);
  const count = (table: string) => header.tables.find((t) => t.name === table)?.rows ?? 0;
  if (ui.json) {
    ui.printJson({
      file,
      bytes,
      sha256,
      createdAt: header.createdAt,
      store: header.store,
      migrations: header.migrations,
      tables: header.tables.length,
      rows,
      masterKeyIds: header.masterKeyIds,
      masterKeyIncluded: false,
      notice: MASTER_KEY_NOTICE,
    });
  } else {
    ui.success(
      `Backed up ${header.tables.length} tables (${rows} rows: ${count('organisations')} organisation(s), ${count('apps')} app(s), ${count('secrets')} secret version(s)) to ${file} (${bytes} bytes, mode 0600).`,
    );
  }
  // Loud on purpose, and on stderr with --json too.
  ui.warn(`${MASTER_KEY_NOTICE}${header.masterKeyIds.length ? ` This backup needs the master key with id ${header.masterKeyIds.join(', ')}.` : ''}`);
}
