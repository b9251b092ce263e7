// Builds the domain: every module wired to one store and one master keyring. The HTTP layer gets
// this object and nothing below it.
import type { MasterKeyring } from '../crypto/index.js';
import type { Store } from '../store/connect.js';
import { AccessControl } from './access.js';
import { Apps } from './apps.js';
import { EventChainer, ReadAuditWriter, type AuditTrail } from './audit.js';
import { LocalAuditTrail } from './audit-local.js';
import { SharedAuditTrail } from './audit-shared.js';
import { AuditLog } from './audit-log.js';
import { Authenticator } from './auth.js';
import { ContextResolver } from './context.js';
import type { DomainDeps } from './deps.js';
import { EnvironmentKeys } from './environment-keys.js';
import { Environments } from './environments.js';
import { Invites } from './invites.js';
import { Members } from './members.js';
import { GuessLimiter } from './guess-limit.js';
import { InviteAcceptance } from './invite-acceptance.js';
import { Organisations } from './organisations.js';
import { PersonalTokens } from './personal-tokens.js';
import { RateLimiter, type RateLimitStore } from './rate-limit.js';
import { Roles } from './roles.js';
import { Sessions } from './sessions.js';
import { Setup } from './setup.js';
import { Users } from './users.js';
import { AccountCredentials } from './account-credentials.js';
import { ReadPath, type ReferenceDirectory } from './secrets/read-path.js';
import { LocalRevisions, SharedRevisions } from './secrets/revisions.js';
import { Secrets } from './secrets/secrets.js';
import { SecretWriter } from './secrets/write-path.js';
import { ServiceAccounts } from './service-accounts.js';
import type { RateLimit } from '../config.js';

export interface DomainOptions {
  store: Store;
  masterKeyring: MasterKeyring;
  rateLimit: RateLimit | undefined;
  rateLimitStore: RateLimitStore;
  /** The embedded store's audit journal file (see audit-local.ts); absent for an in-memory store. */
  auditJournal?: string | undefined;
}

/**
 * How long lookups of tokens, roles, grants, apps and environments may be reused. The embedded store
 * has one writer (this process), which clears them on every change: they never expire. On
 * PostgreSQL another node may change them, so they are reused for at most a second (a revoked token
 * is refused everywhere within one second).
 */
export function directoryMaxAgeMs(store: Store): number {
  return store.kind === 'pglite' ? Infinity : 1_000;
}

export function createDomain(options: DomainOptions) {
  const { store, masterKeyring } = options;
  const db = store.db;
  const maxAge = directoryMaxAgeMs(store);
  const access = new AccessControl(db, maxAge);
  const contexts = new ContextResolver(db, access, maxAge);
  const authenticator = new Authenticator(db, maxAge);
  const chainer = new EventChainer(masterKeyring);
  const audit: AuditTrail = store.kind === 'pglite' ? new LocalAuditTrail(db, chainer, options.auditJournal) : new SharedAuditTrail(store.readAuditDb ?? db, chainer);
  // No pause between batches to let more reads join one: measured on PostgreSQL, the added wait
  // cost more than the larger batches saved.
  const readAudit = new ReadAuditWriter(audit);
  const keys = new EnvironmentKeys(db, masterKeyring);
  const deps: DomainDeps = {
    db,
    storeKind: store.kind,
    masterKeyring,
    audit,
    readAudit,
    keys,
    access,
    contexts,
    authenticator,
    invalidateDirectory() {
      access.invalidate();
      contexts.invalidate();
      authenticator.invalidate();
    },
    forgetEnvironment(environmentId) {
      keys.forget(environmentId);
      readPath.forget(environmentId);
    },
  };
  const referenceDirectory: ReferenceDirectory = {
    async apps(organisationId) {
      const rows = await db.selectFrom('apps').select(['id', 'name', 'sse_enabled']).where('organisation_id', '=', organisationId).execute();
      return rows.map((r) => ({ id: r.id, name: r.name, sseEnabled: r.sse_enabled }));
    },
    async environments(organisationId, appId) {
      const rows = await db.selectFrom('environments').select(['id', 'app_id', 'name']).where('organisation_id', '=', organisationId).where('app_id', '=', appId).execute();
      return rows.map((r) => ({ id: r.id, appId: r.app_id, name: r.name }));
    },
  };
  const revisions = store.kind === 'pglite' ? new LocalRevisions(db) : new SharedRevisions(db);
  const readPath = new ReadPath(db, revisions, keys, referenceDirectory);
  const environments = new Environments(deps);
  const rateLimiter = new RateLimiter(options.rateLimit, options.rateLimitStore);
  const organisations = new Organisations(db, audit);
  const personalTokens = new PersonalTokens(db);
  // Wrong passwords and setup codes: 10 per 15 minutes per IP address and per e-mail address.
  const guesses = new GuessLimiter({ max: 10, windowMs: 15 * 60_000 });
  const users = new Users(deps, organisations, personalTokens, guesses);
  return {
    deps,
    authenticator,
    contexts,
    access,
    rateLimiter,
    organisations,
    personalTokens,
    setup: new Setup(deps, organisations, personalTokens, guesses),
    sessions: new Sessions(db, guesses),
    users,
    accountCredentials: new AccountCredentials(deps, users, guesses),
    inviteAcceptance: new InviteAcceptance(deps, personalTokens, guesses),
    apps: new Apps(deps, environments),
    environments,
    auditLog: new AuditLog(deps),
    secrets: new Secrets(deps, readPath, new SecretWriter(db, audit)),
    serviceAccounts: new ServiceAccounts(deps),
    roles: new Roles(deps),
    members: new Members(deps),
    invites: new Invites(deps),
    async close() {
      await readAudit.close();
      await audit.close();
      await rateLimiter.close();
    },
  };
}

export type Domain = ReturnType<typeof createDomain>;
