// Starting and stopping one Coffer server: configuration -> store -> domain -> HTTP.
// Used by `coffer serve` and by the tests, which start real servers on loopback.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import { createLogger } from './logger.js';
import { createDomain, type Domain } from './domain/index.js';
import type { SetupPreparation } from './domain/setup.js';
import { MemoryRateLimitStore, type RateLimitStore } from './domain/rate-limit.js';
import { publicV1Routes } from './http/routes/public-v1/index.js';
import { clientProtocolRoutes } from './http/routes/client/index.js';
import { e2eeRoutes } from './http/routes/e2ee/index.js';
import { consoleRoutes } from './http/routes/console/index.js';
import { auditRoutes } from './http/routes/audit.js';
import authenticate from './http/plugins/authenticate.js';
import path from 'node:path';
import { adminOperations } from './admin-operations.js';
import { AUDIT_JOURNAL_FILE, LocalAuditTrail } from './domain/audit-local.js';
import { ADMIN_SOCKET_FILE, startAdminSocket, type AdminSocket } from './admin-socket.js';
import { assertKeysOpenStore, openMasterKeyring, resolveMasterKeys, watchMasterKeyFile } from './master-key.js';
import { auditKeyContext } from './domain/audit.js';
import { findAnyChainHead } from './store/events.js';
import { openStore, type Store } from './store/connect.js';
import { appliedMigrations, assertSchemaKnown, migrateToLatest } from './store/migrator.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly domain: Domain;
  readonly url: string;
  readonly logger: Logger;
  /** Stops accepting, lets in-flight requests finish, closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Embedded store in memory instead of dataDir (tests). */
  memoryStore?: boolean;
  /** Extra routes registered after the API (tests exercising shared transport machinery). */
  extraRoutes?: (app: FastifyInstance) => Promise<void>;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const masterKeys = resolveMasterKeys(config);
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    memory: options.memoryStore ?? false,
    onQuery: ({ sql, durationMs, error }) => {
      // Constraint violations (SQLSTATE class 23) are answers, not faults: a duplicate is a 409.
      if (error) logger[isConstraintViolation(error) ? 'debug' : 'error']({ sql, durationMs, err: error }, 'query failed');
      else if (logger.isLevelEnabled('trace')) logger.trace({ sql, durationMs }, 'query');
    },
    maintenance: { onError: (error) => logger.error({ err: error, table: error.table, code: error.code }, 'embedded store maintenance failed') },
    // Migrated below, once every check that can refuse the start has passed: a refused start must
    // leave the store as it found it, so that the version that ran it still starts on it.
    migrate: false,
  });
  const keyring = openMasterKeyring(masterKeys);
  const auditJournal = store.kind === 'pglite' && !options.memoryStore ? path.join(config.dataDir, AUDIT_JOURNAL_FILE) : undefined;
  let rateLimitStore: RateLimitStore | undefined;
  try {
    const applied = await appliedMigrations(store.db);
    assertSchemaKnown(applied);
    // The embedded store is this server's alone, sealed under its keys only, and the one where a
    // missing key file means a new key. PostgreSQL always has its key set explicitly, and one
    // database may hold organisations sealed under other keys (the test suite's servers share one).
    // Checked on the schema as found (audit chain heads exist since the first migration).
    const head = store.kind === 'pglite' && applied.length > 0 ? await findAnyChainHead(store.db) : undefined;
    const probe = head && { envelope: head.wrapped_key, purpose: 'audit-key' as const, context: auditKeyContext(head.organisation_id) };
    await assertKeysOpenStore(keyring, probe, masterKeys);
    rateLimitStore = await openRateLimitStore(config, logger);
    const migrated = await migrateToLatest(store.db);
    const upgraded = (migrated.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    if (upgraded.length > 0 && applied.length > 0) logger.warn({ migrations: upgraded }, 'upgraded the store to this version\'s schema; older versions can no longer start on it');
    if (masterKeys.generated) logger.warn({ file: masterKeys.file }, 'generated a new master key; back it up together with the data directory');
    // Read events a previous process journaled go into the store before anything is served.
    if (auditJournal) await LocalAuditTrail.recover(store.db, auditJournal);
  } catch (error) {
    await rateLimitStore?.close();
    await store.close();
    keyring.dispose();
    throw error;
  }
  const domain = createDomain({ store, masterKeyring: keyring, rateLimit: config.rateLimit, rateLimitStore, auditJournal });
  let app: FastifyInstance;
  let setup: SetupPreparation;
  try {
    setup = await domain.setup.prepare(config.setupCode);
    app = await buildApp({
      http: { bodyLimit: config.bodyLimit, allowedOrigins: config.allowedOrigins, trustProxy: config.trustProxy, headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout, metricsToken: config.metricsToken },
      logger,
      routes: async (api) => {
        await api.register(authenticate, { domain });
        await api.register(publicV1Routes);
        await api.register(clientProtocolRoutes);
        await api.register(e2eeRoutes);
        await api.register(consoleRoutes);
        await api.register(auditRoutes);
        if (options.extraRoutes) await api.register(options.extraRoutes);
      },
    });
    await app.listen({ port: config.port, host: config.host }).catch((error: NodeJS.ErrnoException) => {
      throw listenError(error, config.host, config.port);
    });
  } catch (error) {
    await domain.close();
    await store.close();
    keyring.dispose();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logSetupCode(logger, setup, url);
  // Said again at every start until the first organisation exists: the start that generated the key
  // may have been stopped before it said so.
  if (setup.required && masterKeys.automatic && !masterKeys.generated) {
    logger.warn({ file: masterKeys.file }, 'the master key of this store is in this file; back it up together with the data directory');
  }
  const stopWatchingKeys = masterKeys.file
    ? watchMasterKeyFile(masterKeys.file, keyring, (error) => logger.error({ err: error }, 'could not reload the master key file'))
    : () => {};
  // The embedded store admits one process: admin commands reach this one through a socket.
  let adminSocket: AdminSocket | undefined;
  if (store.kind === 'pglite' && !options.memoryStore) {
    try {
      adminSocket = await startAdminSocket(path.join(config.dataDir, ADMIN_SOCKET_FILE), adminOperations({ store, keyring, masterKeys, syncAudit: () => domain.deps.audit.sync() }), (error) =>
        logger.error({ err: error }, 'admin operation failed'),
      );
    } catch (error) {
      logger.warn({ err: error }, 'could not open the admin socket; admin commands need the server stopped');
    }
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    store,
    domain,
    logger,
    url,
    close() {
      closing ??= (async () => {
        try {
          stopWatchingKeys();
          await adminSocket?.close();
          await app.close();
          await domain.close();
        } finally {
          await store.close();
          keyring.dispose();
        }
      })();
      return closing;
    },
  };
}

/**
 * The setup code is the one secret ever written to the log: it is single-use and stops working once
 * the first organisation exists (README "First run").
 */
function logSetupCode(logger: Logger, setup: SetupPreparation, url: string): void {
  if (!setup.required) return;
  const command = `coffer setup --url ${url} --email you@example.com --org "Your organisation"`;
  if (setup.generated) {
    logger.warn(`No organisation exists yet. Create the first one at ${url}/console/ or with: ${command} --code ${setup.code} (this one-time setup code stops working once setup is done)`);
  } else {
    logger.warn(`No organisation exists yet. Create the first one at ${url}/console/ or with: ${command} --code "$COFFER_SETUP_CODE"`);
  }
}

/**
 * In-process windows, or with REDIS_URL one shared window per principal across every node (rest-api §1.9).
 * The Redis client is loaded only when it is used: ioredis defines a subclass of String at load time,
 * which turns off one of V8's fast paths for strings in the whole process (measured: the read path's
 * per-field decryption runs 1.6 times slower once it is loaded).
 */
async function openRateLimitStore(config: Config, logger: Logger): Promise<RateLimitStore> {
  if (!config.redisUrl) return new MemoryRateLimitStore();
  const { RedisRateLimitStore } = await import('./domain/rate-limit-redis.js');
  return RedisRateLimitStore.connect({
    url: config.redisUrl,
    onError: (error) => logger.warn({ err: error }, 'rate limit store unavailable; request let through'),
  });
}

function isConstraintViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('23');
}

/** The server cannot listen where HOST and PORT say; `coffer serve` prints it as one line. */
export class ListenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/** An address that does not resolve or is not this machine's, or a taken or privileged port: named by its variable. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ListenError(`cannot listen on ${where}: HOST ${JSON.stringify(host)} does not resolve to an address (set HOST to an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)`, { cause: error });
    case 'EADDRNOTAVAIL':
      return new ListenError(`cannot listen on ${where}: HOST ${JSON.stringify(host)} is not an address of this machine (set HOST to one, e.g. 127.0.0.1 or 0.0.0.0)`, { cause: error });
    case 'EADDRINUSE':
      return new ListenError(`cannot listen on ${where}: the port is in use (set PORT to a free port)`, { cause: error });
    case 'EACCES':
      return new ListenError(`cannot listen on ${where}: this user may not use port ${port} (set PORT to 1024 or above)`, { cause: error });
    default:
      return error;
  }
}
