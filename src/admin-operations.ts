// Administrative operations, shared by the two ways to reach them: the CLI opening the store itself,
// and a running embedded server answering on its admin socket (admin-socket.ts).
import type { AdminHandler } from './admin-socket.js';
import type { MasterKeyring } from './crypto/index.js';
import { verifyAuditTrail } from './domain/audit-verify.js';
import { rotateMasterKey } from './key-rotation.js';
import type { MasterKeySource } from './master-key.js';
import { takeSnapshot } from './store/backup.js';
import type { Store } from './store/connect.js';

export interface AdminContext {
  store: Store;
  keyring: MasterKeyring;
  masterKeys: MasterKeySource;
  /** A running server moves journaled audit events into the database before they are read. */
  syncAudit?: () => Promise<void>;
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
      await context.syncAudit?.();
      return verifyAuditTrail(context.store.db, context.keyring, typeof body.organisationId === 'string' ? body.organisationId : undefined);
    },
    // One consistent snapshot of every table (src/store/backup.ts); the CLI writes the file.
    backup: async () => {
      await context.syncAudit?.();
      return takeSnapshot(context.store.db, context.store.kind);
    },
  };
}
