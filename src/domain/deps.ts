// What the domain modules share. Built once per server by domain/index.ts.
import type { MasterKeyring } from '../crypto/index.js';
import type { Db } from '../store/database.js';
import type { StoreKind } from '../store/connect.js';
import type { AccessControl } from './access.js';
import type { AuditTrail, ReadAuditWriter } from './audit.js';
import type { Authenticator } from './auth.js';
import type { ContextResolver } from './context.js';
import type { EnvironmentKeys } from './environment-keys.js';

export interface DomainDeps {
  readonly db: Db;
  readonly storeKind: StoreKind;
  readonly masterKeyring: MasterKeyring;
  readonly audit: AuditTrail;
  readonly readAudit: ReadAuditWriter;
  readonly keys: EnvironmentKeys;
  readonly access: AccessControl;
  readonly contexts: ContextResolver;
  readonly authenticator: Authenticator;
  /**
   * Forget cached apps, environments, roles, grants and tokens after a committed change to any of
   * them (other nodes see it when their short-lived entries expire).
   */
  invalidateDirectory(): void;
  /** Drop everything cached about a deleted environment. */
  forgetEnvironment(environmentId: string): void;
}
