// Administrative operations, shared by the two ways to reach them: the CLI opening the store itself,
// and a running embedded server answering on its admin socket (admin-socket.ts).
import path from 'node:path';
import { AdminRefusal, type AdminHandler } from './admin-socket.js';
import type { MasterKeyring } from './crypto/index.js';
import { UnknownOrganisationError, verifyAuditTrail } from './domain/audit-verify.js';
import { rotateMasterKey } from './key-rotation.js';
import type { MasterKeySource } from './master-key.js';
import { takeSnapshot, writeBackupFile, type BackupHeader } from './store/backup.js';
import type { Store } from './store/connect.js';
import { asUuid } from './store/directory.js';

export interface AdminContext {
  store: Store;
  keyring: MasterKeyring;
  masterKeys: MasterKeySource;
  /** A running server moves journaled audit events into the database before they are read. */
  syncAudit?: () => Promise<void>;
}

/** What a backup wrote: the file's header (tables, row counts, key ids), size and checksum. */
export interface BackupWritten {
  header: BackupHeader;
  bytes: number;
  sha256: string;
}

export function adminOperations(context: AdminContext): Record<string, AdminHandler> {
  return {
    'rotate-master-key': async (body) =>
      rotateMasterKey({
        db: context.store.db,
        keyring: context.keyring,
        source: context.masterKeys,
        settleMs: Number(body.settleMs ?? 0),
        ...(context.store.flushToDisk ? { flushStore: context.store.flushToDisk } : {}),
      }),
    'verify-audit': async (body) => {
      const organisationId = typeof body.organisationId === 'string' ? body.organisationId : undefined;
      if (organisationId !== undefined && !asUuid(organisationId)) throw new AdminRefusal(`--org must be an organisation id (a uuid), not ${JSON.stringify(organisationId)}`);
      await context.syncAudit?.();
      return verifyAuditTrail(context.store.db, context.keyring, organisationId).catch((error: unknown) => {
        if (error instanceof UnknownOrganisationError) throw new AdminRefusal(error.message, 'check the id: `coffer whoami` shows your organisation\'s');
        throw error;
      });
    },
    // One consistent snapshot of every table (src/store/backup.ts), written where the operator asked:
    // by this process, so that a large store never travels as one answer (past V8's string limit).
    backup: async (body): Promise<BackupWritten> => {
      const file = body.file;
      if (typeof file !== 'string' || !path.isAbsolute(file)) throw new AdminRefusal('backup needs the absolute path of the file to write');
      await context.syncAudit?.();
      const snapshot = await takeSnapshot(context.store.db, context.store.kind);
      const written = await writeBackupFile(file, snapshot).catch((error: NodeJS.ErrnoException) => {
        if (!error.code) throw error;
        throw new AdminRefusal(
          `could not write ${file}: ${error.code === 'ENOENT' ? 'its directory does not exist' : error.message}`,
          'nothing was written; choose a directory that exists, is writable and has room',
        );
      });
      return { header: snapshot.header, ...written };
    },
  };
}
