// Phase's client protocol from the client side (crypto spec §3.6, §4): what the `coffer` CLI needs
// to work like the official SDKs against Coffer (or Phase). A token is split: the server holds a
// wrapped share, the token holds the other share and the wrap key, and only here, in the client,
// do they meet to rebuild the principal's key pair, which unwraps the environment seeds and salts.
// Plaintext secrets exist only in this process. Plus Coffer's E2EE extension: creating apps whose
// keys the server never sees, handing their keys to principals added later, and enabling SSE on them.
import {
  authorizationHeaderOf,
  CryptoError,
  CryptoFormatError,
  ed25519PublicKeyToKx,
  environmentCipher,
  generateEnvironmentSecrets,
  parseToken,
  reconstructTokenKeyPair,
  toHex,
  verifyEnvironmentGrant,
  wrapEnvironmentSecrets,
  wrapForRecipient,
  type EnvironmentCipher,
  type KeyPair,
  type ParsedToken,
} from '../crypto/index.js';
import { ReadBudget, referenceKey, resolveReferences, type ResolveOptions } from './references.js';

export type PhaseProtocolErrorKind =
  /** The server could not be reached. */
  | 'unreachable'
  /** The server answered an error status (see `status` and `serverMessage`). */
  | 'http'
  /** The answer was not what the protocol says (not JSON, missing fields). */
  | 'unexpected'
  /** An app or environment named by the caller is not accessible with this token. */
  | 'not-found';

export class PhaseProtocolError extends Error {
  constructor(
    message: string,
    readonly kind: PhaseProtocolErrorKind,
    /** HTTP status of the answer (0 when there was none). */
    readonly status = 0,
    /** The server's `{"error": ...}` message, when it sent one. */
    readonly serverMessage?: string,
    /** The server and request path the error is about, and what caused it (e.g. the error of a custom fetch). */
    details: { host?: string; path?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PhaseProtocolError';
    this.host = details.host;
    this.path = details.path;
  }

  readonly host: string | undefined;
  readonly path: string | undefined;
}

/** An answer of another shape than the protocol's: named by its path, never quoted (it may hold key material). */
function unexpectedAnswer(host: string, path: string): PhaseProtocolError {
  return new PhaseProtocolError(`${host} answered ${path} with something that is not a Coffer/Phase API response`, 'unexpected', 200, undefined, { host, path });
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const hasStrings = (value: unknown, ...keys: string[]): boolean => isRecord(value) && keys.every((k) => typeof value[k] === 'string');

/** Runs `work` on a key the server sent; a key that is no key (bad hex, wrong length, not a curve point) is an answer of another shape. */
function withServerKey<T>(host: string, path: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof CryptoFormatError) throw unexpectedAnswer(host, path);
    throw error;
  }
}

/** The fields of /service/secrets/tokens/ this client reads. */
function isTokensResponse(value: unknown): value is TokensResponse {
  return (
    hasStrings(value, 'wrapped_key_share') &&
    Array.isArray((value as Record<string, unknown>).apps) &&
    (value as { apps: unknown[] }).apps.every(
      (app) =>
        hasStrings(app, 'id', 'name') &&
        Array.isArray((app as Record<string, unknown>).environment_keys) &&
        (app as { environment_keys: unknown[] }).environment_keys.every((key) => hasStrings(key, 'identity_key', 'wrapped_seed', 'wrapped_salt') && hasStrings((key as Record<string, unknown>).environment, 'id', 'name')),
    )
  );
}

/** The fields of a stored secret this client reads (either casing). */
function isEncryptedSecret(value: unknown): boolean {
  if (!hasStrings(value, 'id', 'key', 'value')) return false;
  const s = value as Record<string, unknown>;
  const optionalString = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  return optionalString(s.comment) && optionalString(s.path) && (s.tags === undefined || (Array.isArray(s.tags) && s.tags.every((t) => typeof t === 'string'))) && (s.override === undefined || s.override === null || hasStrings(s.override, 'value'));
}

export interface ClientOptions {
  /** The server's base URL as configured, e.g. `https://coffer.example.com` (a trailing `/` is fine). */
  host: string;
  /** A full `pss_user:v1:…` or `pss_service:v2:…` token. */
  token: string;
  /** Sent as User-Agent. */
  userAgent?: string;
  fetch?: typeof fetch;
}

export interface UnlockedEnvironment {
  readonly id: string;
  readonly name: string;
  readonly envType: string;
  readonly appId: string;
  readonly appName: string;
  /** hex(Env_pk) */
  readonly identityKey: string;
  /** Encrypts to the environment, decrypts its fields, computes key digests. */
  readonly cipher: EnvironmentCipher;
  /** The unwrapped seed and salt (hex text). Needed to wrap them for someone else; never send them in clear. */
  readonly seedHex: string;
  readonly saltHex: string;
}

export interface UnlockedApp {
  readonly id: string;
  readonly name: string;
  readonly encryption: 'SSE' | 'E2E';
  readonly environments: readonly UnlockedEnvironment[];
}

/** A secret as the server returns it (either casing normalised to camelCase). */
export interface EncryptedSecret {
  id: string;
  key: string;
  value: string;
  comment: string;
  tags: string[];
  path: string;
  keyDigest: string;
  type: string;
  version: number;
  environment: string;
  folder: string | null;
  createdAt: string;
  updatedAt: string;
  override: { id: string; value: string; isActive: boolean } | null;
}

export interface PlainSecret {
  id: string;
  key: string;
  /** The effective value: the caller's active personal override if any, references resolved unless asked not to. */
  value: string;
  comment: string;
  tags: string[];
  path: string;
  type: string;
  version: number;
  keyDigest: string;
  /** The shared value as stored (before override and references). */
  sharedValue: string;
  override: { value: string; isActive: boolean } | null;
  createdAt: string;
  updatedAt: string;
}

export interface ListOptions {
  /** Only secrets at exactly this path. */
  path?: string;
  /** Only the secret with this name (upper-cased before digesting, as every Phase client does). */
  key?: string;
  /** Only secrets carrying any of these tags (filtered here, as the SDKs do). */
  tags?: string[];
  /** Expand `${…}` references like the Node SDK (default true). */
  resolveReferences?: boolean;
  /** Collects why references stayed unresolved. */
  warnings?: string[];
}

export interface NewSecret {
  key: string;
  value: string;
  comment?: string;
  path?: string;
  tags?: string[];
  type?: 'secret' | 'sealed' | 'config';
  /** A personal override (personal access tokens only; service accounts' overrides are ignored by the server). */
  override?: { value: string; isActive: boolean };
}

export interface SecretChange {
  id: string;
  key?: string;
  value?: string;
  comment?: string;
  path?: string;
  tags?: string[];
  type?: 'secret' | 'sealed' | 'config';
  override?: { value: string; isActive: boolean };
}

export interface Recipient {
  type: 'member' | 'service_account';
  id: string;
  identityKey: string;
  kxPublicKey: string;
  required: boolean;
}

function isRecipient(value: unknown): value is Recipient {
  return isRecord(value) && hasStrings(value, 'id', 'identityKey') && (value.type === 'member' || value.type === 'service_account') && typeof value.required === 'boolean';
}

export interface E2eeAppRequest {
  name: string;
  description?: string;
  /** Default: Development, Staging, Production. */
  environments?: string[];
  /** Service accounts (ids) that also receive every environment key. */
  serviceAccountIds?: string[];
  /** Members without global access (ids) that also receive every environment key. */
  memberIds?: string[];
}

export interface CreatedE2eeApp {
  id: string;
  name: string;
  description: string | null;
  sseEnabled: boolean;
  encryption: 'e2ee';
  createdAt: string;
  updatedAt: string;
  environments: Array<{ id: string; name: string; envType: string; index: number; identityKey: string }>;
}

export interface E2eeGrantAnswer {
  appId: string;
  memberId?: string;
  serviceAccountId?: string;
  /** Environments whose keys the recipient received now. */
  environmentsGranted: string[];
  /** Environments the recipient held already (left as they were). */
  environmentsAlreadyHeld: string[];
}

export interface E2eeRevokeAnswer {
  appId: string;
  memberId?: string;
  serviceAccountId?: string;
  /** Environments whose keys the recipient held and no longer holds. */
  environmentsRevoked: string[];
}

export interface AppSummary {
  id: string;
  name: string;
  description: string | null;
  sseEnabled: boolean;
  createdAt: string;
  updatedAt: string;
}

interface TokensResponse {
  wrapped_key_share: string;
  user_id?: string;
  account_id?: string;
  organisation?: { id: string; name: string };
  apps: Array<{
    id: string;
    name: string;
    encryption?: 'SSE' | 'E2E';
    environment_keys: Array<{
      id: string;
      environment: { id: string; name: string; env_type?: string };
      identity_key: string;
      wrapped_seed: string;
      wrapped_salt: string;
    }>;
  }>;
}

const DEFAULT_ENVIRONMENTS = ['Development', 'Staging', 'Production'];

/** A small HTTP client speaking the protocol's conventions: Phase auth header, JSON bodies, `{"error"}` bodies. */
class Transport {
  readonly host: string;
  readonly #authorization: string;
  readonly #userAgent: string;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions, token: ParsedToken) {
    this.host = options.host.replace(/\/+$/, '');
    this.#authorization = authorizationHeaderOf(token);
    this.#userAgent = options.userAgent ?? 'coffer-client';
    this.#fetch = options.fetch ?? fetch;
  }

  async request<T>(method: string, path: string, options: { headers?: Record<string, string | undefined>; body?: unknown } = {}): Promise<T> {
    const headers: Record<string, string> = { authorization: this.#authorization, accept: 'application/json', 'user-agent': this.#userAgent };
    for (const [name, value] of Object.entries(options.headers ?? {})) if (value !== undefined && value !== '') headers[name] = value;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.host}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
      // A body that breaks off half-way: the server is out of reach all the same.
      text = await response.text();
    } catch (error) {
      const reason = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
      throw new PhaseProtocolError(`cannot reach ${this.host}: ${reason}`, 'unreachable', 0, undefined, { host: this.host, path, cause: error });
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new PhaseProtocolError(`${method} ${path} answered ${response.status} with a body that is not JSON; is ${this.host} a Coffer or Phase server?`, 'unexpected', response.status, undefined, { host: this.host, path });
    }
    if (!response.ok) {
      const message = typeof (parsed as { error?: unknown })?.error === 'string' ? (parsed as { error: string }).error : undefined;
      throw new PhaseProtocolError(`${method} ${path} failed with ${response.status}${message ? `: ${message}` : ''}`, 'http', response.status, message, { host: this.host, path });
    }
    return parsed as T;
  }
}

/**
 * An unlocked session: the token's key pair rebuilt and every granted environment unwrapped, as the
 * Node SDK's init() does (and, like it, failing if any granted environment does not unwrap).
 */
export class PhaseSession {
  readonly apps: readonly UnlockedApp[];
  readonly principal: { type: 'user' | 'service_account'; id: string };
  readonly organisation: { id: string; name: string } | undefined;
  readonly #transport: Transport;
  readonly #keyPair: KeyPair;

  private constructor(transport: Transport, keyPair: KeyPair, response: TokensResponse) {
    this.#transport = transport;
    this.#keyPair = keyPair;
    this.principal = response.user_id ? { type: 'user', id: response.user_id } : { type: 'service_account', id: response.account_id ?? '' };
    this.organisation = response.organisation;
    this.apps = response.apps.map((app) => ({
      id: app.id,
      name: app.name,
      encryption: app.encryption ?? 'E2E',
      environments: app.environment_keys.map((key) => {
        // Also checks that the seed yields identity_key, which Go and Python clients encrypt to.
        const { seedHex, saltHex } = openedOrNamed(app.name, key.environment.name, () =>
          verifyEnvironmentGrant({ identityKey: key.identity_key, wrappedSeed: key.wrapped_seed, wrappedSalt: key.wrapped_salt }, keyPair),
        );
        return {
          id: key.environment.id,
          name: key.environment.name,
          envType: key.environment.env_type ?? 'custom',
          appId: app.id,
          appName: app.name,
          identityKey: key.identity_key.toLowerCase(),
          cipher: environmentCipher(seedHex, saltHex),
          seedHex,
          saltHex,
        };
      }),
    }));
  }

  /** GET /service/secrets/tokens/, then §3.6. */
  static async open(options: ClientOptions): Promise<PhaseSession> {
    const token = parseToken(options.token);
    const transport = new Transport(options, token);
    const response = await transport.request<unknown>('GET', '/service/secrets/tokens/');
    if (!isTokensResponse(response)) throw unexpectedAnswer(transport.host, '/service/secrets/tokens/');
    const keyPair = reconstructTokenKeyPair(token, response.wrapped_key_share);
    return new PhaseSession(transport, keyPair, response);
  }

  get host(): string {
    return this.#transport.host;
  }

  /** hex of the token's X25519 public key. */
  get publicKeyHex(): string {
    return toHex(this.#keyPair.publicKey);
  }

  /** An app by id, or by exact name when unique (as the Node SDK resolves cross-app references). */
  app(idOrName: string): UnlockedApp {
    const byId = this.apps.find((app) => app.id === idOrName);
    if (byId) return byId;
    const named = this.apps.filter((app) => app.name === idOrName);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) throw new PhaseProtocolError(`app name '${idOrName}' is ambiguous (${named.map((a) => a.id).join(', ')}); use the app id`, 'not-found');
    throw new PhaseProtocolError(`no app '${idOrName}' is accessible with this token`, 'not-found');
  }

  /** An environment of an app by name, case-insensitively (Node SDK `get()` rule). */
  environment(app: string | UnlockedApp, envName: string): UnlockedEnvironment {
    const owner = typeof app === 'string' ? this.app(app) : app;
    const env = owner.environments.find((e) => e.name.toLowerCase() === envName.toLowerCase());
    if (!env) throw new PhaseProtocolError(`no environment '${envName}' in app '${owner.name}' is accessible with this token`, 'not-found');
    return env;
  }

  /** §1.7 digest of a key name, upper-cased first (the CLI convention). */
  keyDigest(env: UnlockedEnvironment, key: string): string {
    return env.cipher.keyDigest(key.toUpperCase());
  }

  /** GET /service/secrets/: the stored ciphertexts (server-side filters: key digest and path). */
  async listEncrypted(env: UnlockedEnvironment, filters: { keyDigest?: string; path?: string } = {}): Promise<EncryptedSecret[]> {
    const items = await this.#transport.request<unknown[]>('GET', '/service/secrets/', {
      headers: { environment: env.id, keydigest: filters.keyDigest, path: filters.path, 'x-use-camel-case': 'true' },
    });
    if (!Array.isArray(items) || !items.every(isEncryptedSecret)) throw unexpectedAnswer(this.#transport.host, '/service/secrets/');
    return items.map(normaliseSecret);
  }

  /** Decrypted secrets of one environment, with the Node SDK's override and reference rules. */
  async list(env: UnlockedEnvironment, options: ListOptions = {}): Promise<PlainSecret[]> {
    const cache = new Map<string, string>();
    return this.#list(env, options, cache);
  }

  async #list(env: UnlockedEnvironment, options: ListOptions, cache: Map<string, string>): Promise<PlainSecret[]> {
    const encrypted = await this.listEncrypted(env, { keyDigest: options.key ? this.keyDigest(env, options.key) : undefined, path: options.path });
    const selected = encrypted.filter(
      (s) => (!options.path || s.path === options.path) && (!options.tags || s.tags.some((tag) => options.tags!.includes(tag))),
    );
    const secrets = selected.map((s) => this.#decrypt(env, s));
    if (options.resolveReferences === false) return secrets;
    const lookup = new Map(secrets.map((s) => [referenceKey(env.name, s.path, s.key), s.value]));
    const resolveOptions: ResolveOptions = { cache, budget: new ReadBudget(), ...(options.warnings ? { warnings: options.warnings } : {}) };
    const fetchReferenced = async (envName: string, path: string, key: string, appName: string | null): Promise<string> => {
      const local = lookup.get(referenceKey(envName, path, key, appName ?? undefined));
      if (local !== undefined) return local;
      const targetApp = appName ? this.app(appName) : this.app(env.appId);
      const targetEnv = this.environment(targetApp, envName);
      const found = (await this.#list(targetEnv, { path, key, resolveReferences: false }, cache)).find((s) => s.key === key);
      if (!found) throw new Error(`Secret not found: ${key} in ${envName}${path !== '/' ? `, path ${path}` : ''}${appName ? `, app ${appName}` : ''}`);
      return found.value;
    };
    for (const secret of secrets) {
      secret.value = await resolveReferences(secret.value, env.name, options.path || '/', fetchReferenced, null, { ...resolveOptions, secretKey: secret.key });
    }
    return secrets;
  }

  #decrypt(env: UnlockedEnvironment, s: EncryptedSecret): PlainSecret {
    const c = env.cipher;
    const sharedValue = c.decryptField(s.value);
    const override = s.override ? { value: c.decryptField(s.override.value), isActive: s.override.isActive } : null;
    return {
      id: s.id,
      key: c.decryptField(s.key),
      value: override?.isActive ? override.value : sharedValue,
      comment: c.decryptOptionalField(s.comment),
      tags: s.tags,
      path: s.path,
      type: s.type,
      version: s.version,
      keyDigest: s.keyDigest,
      sharedValue,
      override,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    };
  }

  /** POST /service/secrets/: keys upper-cased, then encrypted and digested here. */
  async create(env: UnlockedEnvironment, secrets: NewSecret[]): Promise<void> {
    const c = env.cipher;
    const body = secrets.map((s) => {
      const key = s.key.toUpperCase();
      return {
        key: c.encryptField(key),
        keyDigest: c.keyDigest(key),
        value: c.encryptField(s.value),
        comment: s.comment ? c.encryptField(s.comment) : '',
        path: s.path ?? '/',
        tags: s.tags ?? [],
        ...(s.type ? { type: s.type } : {}),
        ...(s.override ? { override: { value: c.encryptField(s.override.value), isActive: s.override.isActive } } : {}),
      };
    });
    await this.#transport.request('POST', '/service/secrets/', { headers: { environment: env.id }, body: { secrets: body } });
  }

  /** PUT /service/secrets/: only the fields given change. */
  async update(env: UnlockedEnvironment, changes: SecretChange[]): Promise<void> {
    const c = env.cipher;
    const body = changes.map((s) => {
      const key = s.key?.toUpperCase();
      return {
        id: s.id,
        ...(key !== undefined ? { key: c.encryptField(key), keyDigest: c.keyDigest(key) } : {}),
        ...(s.value !== undefined ? { value: c.encryptField(s.value) } : {}),
        ...(s.comment !== undefined ? { comment: s.comment ? c.encryptField(s.comment) : '' } : {}),
        ...(s.path !== undefined ? { path: s.path } : {}),
        ...(s.tags !== undefined ? { tags: s.tags } : {}),
        ...(s.type !== undefined ? { type: s.type } : {}),
        ...(s.override ? { override: { value: c.encryptField(s.override.value), isActive: s.override.isActive } } : {}),
      };
    });
    await this.#transport.request('PUT', '/service/secrets/', { headers: { environment: env.id }, body: { secrets: body } });
  }

  /** DELETE /service/secrets/ (ids of other environments are ignored by Coffer). */
  async delete(env: UnlockedEnvironment, ids: string[]): Promise<void> {
    await this.#transport.request('DELETE', '/service/secrets/', { headers: { environment: env.id }, body: { secrets: ids } });
  }

  /** GET /coffer/v1/recipients/ (Coffer only). */
  async recipients(): Promise<Recipient[]> {
    const answer = await this.#transport.request<{ recipients: Recipient[] }>('GET', '/coffer/v1/recipients/');
    // `required` decides who gets a grant: without it (or with none required: the server always
    // names the creator) createE2eeApp would send an app no one can open, which the server refuses.
    if (!isRecord(answer) || !Array.isArray(answer.recipients) || !answer.recipients.every(isRecipient) || !answer.recipients.some((r) => r.required)) {
      throw unexpectedAnswer(this.#transport.host, '/coffer/v1/recipients/');
    }
    // createE2eeApp wraps to these keys; one that does not convert would fail there as a crypto error.
    for (const r of answer.recipients) withServerKey(this.#transport.host, '/coffer/v1/recipients/', () => ed25519PublicKeyToKx(r.identityKey));
    return answer.recipients;
  }

  /**
   * Creates an end-to-end encrypted app (Coffer only): seeds and salts are generated here and wrapped
   * for the required recipients (this principal and every member with global access) plus any extra
   * members or service accounts asked for. The server never receives them in a form it can open.
   * The new app's keys reach this session only through a new `PhaseSession.open`.
   */
  async createE2eeApp(request: E2eeAppRequest): Promise<CreatedE2eeApp> {
    const recipients = await this.recipients();
    const extra = new Set([...(request.memberIds ?? []).map((id) => `member:${id}`), ...(request.serviceAccountIds ?? []).map((id) => `service_account:${id}`)]);
    const chosen = recipients.filter((r) => {
      const asked = extra.delete(`${r.type}:${r.id}`);
      return r.required || asked;
    });
    if (extra.size > 0) throw new PhaseProtocolError(`not a member or service account of this organisation: ${[...extra].map((e) => e.split(':')[1]).join(', ')}`, 'not-found');
    const environments = (request.environments ?? DEFAULT_ENVIRONMENTS).map((name) => {
      const secrets = generateEnvironmentSecrets();
      return {
        name,
        identityKey: secrets.identityKey,
        grants: chosen.map((r) => {
          // The wrap key is derived here from the identity key, not taken from the server's answer.
          const wrapped = wrapEnvironmentSecrets(secrets, ed25519PublicKeyToKx(r.identityKey));
          return { [r.type === 'member' ? 'memberId' : 'serviceAccountId']: r.id, wrappedSeed: wrapped.wrappedSeed, wrappedSalt: wrapped.wrappedSalt };
        }),
      };
    });
    return this.#transport.request<CreatedE2eeApp>('POST', '/coffer/v1/apps/', {
      body: { name: request.name, ...(request.description ? { description: request.description } : {}), encryption: 'e2ee', environments },
    });
  }

  /**
   * Enables SSE on an E2EE app (Coffer only, one-way): every environment's seed and salt, as
   * unwrapped by this session, wrapped to the server's key-exchange key. This session must hold
   * every environment of the app.
   */
  async enableSse(appIdOrName: string): Promise<AppSummary> {
    const app = this.app(appIdOrName);
    const answer = await this.#transport.request<{ publicKey: string }>('GET', '/coffer/v1/server-key/');
    if (!hasStrings(answer, 'publicKey')) throw unexpectedAnswer(this.#transport.host, '/coffer/v1/server-key/');
    const { publicKey } = answer;
    const environments = withServerKey(this.#transport.host, '/coffer/v1/server-key/', () =>
      app.environments.map((env) => ({
        id: env.id,
        wrappedSeed: wrapForRecipient(env.seedHex, publicKey),
        wrappedSalt: wrapForRecipient(env.saltHex, publicKey),
      })),
    );
    return this.#transport.request<AppSummary>('POST', `/coffer/v1/apps/${encodeURIComponent(app.id)}/enable-sse/`, { body: { environments } });
  }

  /**
   * Hands this session's keys of an E2EE app (Coffer only) to a member or service account that did
   * not receive them: every environment of the app this session holds, or those named, with its
   * seed and salt wrapped to the recipient's key-exchange key, derived here from its identity key.
   */
  async grantE2ee(appIdOrName: string, recipient: { type: Recipient['type']; id: string }, environmentNames?: readonly string[]): Promise<E2eeGrantAnswer> {
    const app = this.app(appIdOrName);
    const environments = environmentNames ? environmentNames.map((name) => this.environment(app, name)) : app.environments;
    const found = (await this.recipients()).find((r) => r.type === recipient.type && r.id === recipient.id);
    if (!found) throw new PhaseProtocolError(`no ${recipient.type === 'member' ? 'member' : 'service account'} ${recipient.id} in this organisation`, 'not-found');
    const wrapKey = ed25519PublicKeyToKx(found.identityKey);
    const body = {
      [recipient.type === 'member' ? 'memberId' : 'serviceAccountId']: recipient.id,
      environments: environments.map((env) => ({ id: env.id, ...wrapEnvironmentSecrets(env, wrapKey) })),
    };
    return this.#transport.request<E2eeGrantAnswer>('POST', `/coffer/v1/apps/${encodeURIComponent(app.id)}/grants/`, { body });
  }

  /**
   * Takes an E2EE app's keys back from a member or service account (Coffer only): it leaves the app.
   * The way to replace keys that were wrapped wrongly: revoke, then grantE2ee again.
   */
  async revokeE2ee(appIdOrName: string, recipient: { type: Recipient['type']; id: string }): Promise<E2eeRevokeAnswer> {
    const app = this.app(appIdOrName);
    const body = { [recipient.type === 'member' ? 'memberId' : 'serviceAccountId']: recipient.id };
    return this.#transport.request<E2eeRevokeAnswer>('DELETE', `/coffer/v1/apps/${encodeURIComponent(app.id)}/grants/`, { body });
  }

  /** Wipes the rebuilt private key and every environment key held by this session. */
  close(): void {
    this.#keyPair.privateKey.fill(0);
    for (const app of this.apps) for (const env of app.environments) env.cipher.dispose();
  }
}

/** A grant that does not open, named: one wrapped wrongly for this token makes every session fail. */
function openedOrNamed<T>(appName: string, environmentName: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (!(error instanceof CryptoError)) throw error;
    throw new CryptoError(error.code, `the keys of ${appName} / ${environmentName}: ${error.message}`, { cause: error });
  }
}

function normaliseSecret(raw: unknown): EncryptedSecret {
  const s = raw as Record<string, any>;
  const override = s.override ?? null;
  return {
    id: s.id,
    key: s.key,
    value: s.value,
    comment: s.comment ?? '',
    tags: Array.isArray(s.tags) ? s.tags : [],
    path: typeof s.path === 'string' ? s.path : '/',
    keyDigest: s.keyDigest ?? s.key_digest,
    type: s.type ?? 'secret',
    version: s.version,
    environment: s.environment,
    folder: s.folder ?? null,
    createdAt: s.createdAt ?? s.created_at,
    updatedAt: s.updatedAt ?? s.updated_at,
    override: override ? { id: override.id, value: override.value, isActive: override.isActive ?? override.is_active } : null,
  };
}
