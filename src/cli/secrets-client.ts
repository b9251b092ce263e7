// Where the secrets commands act, and how: the account (stored login or COFFER_URL/COFFER_TOKEN,
// service-account tokens allowed), the app and environment (flags, COFFER_APP/COFFER_ENV/COFFER_PATH,
// then .coffer.json), and one client over the two ways to reach secrets:
//   - SSE apps: the REST API (/v1/secrets/), the server decrypts and resolves references;
//   - E2EE apps (and --raw): Phase's client protocol through src/client/, decrypted here.
// Both give the same Secret shape: `value` is the effective value (the caller's active personal
// override, references resolved), as `coffer run` injects it.
import { createHash } from 'node:crypto';
import { PhaseProtocolError, PhaseSession, type UnlockedApp, type UnlockedEnvironment } from '../client/index.js';
import { CryptoError, parseToken, TokenFormatError } from '../crypto/index.js';
import { referencesIn } from '../reference-syntax.js';
import { ApiError, CofferApi, dataListOf, hasStrings, listOf, normaliseBaseUrl } from './api.js';
import { asUserError, keysDoNotOpen, openPhaseSession } from './commands/apps/shared.js';
import { readCredentials } from './credentials.js';
import { UserError } from './errors.js';
import { findProject, normalisePath, type FoundProject } from './project.js';
import { visible } from './table.js';

export interface TargetOptions {
  url?: string;
  app?: string;
  env?: string;
  path?: string;
}

export interface SecretsAccount {
  url: string;
  token: string;
  kind: 'user' | 'service';
}

export interface AppInfo {
  id: string;
  name: string;
  description: string | null;
  sseEnabled: boolean;
  createdAt: string | null;
}

export interface EnvInfo {
  id: string;
  name: string;
  envType: string;
  index: number | null;
}

export type SecretType = 'secret' | 'sealed' | 'config';
export const SECRET_TYPES: readonly SecretType[] = ['secret', 'sealed', 'config'];

export interface Secret {
  id: string;
  key: string;
  /** Effective value: the active personal override if any, references resolved (unless raw). */
  value: string;
  /** The shared value (references resolved unless raw). */
  sharedValue: string;
  overridden: boolean;
  comment: string;
  tags: string[];
  path: string;
  type: string;
  version: number;
  updatedAt: string;
}

export interface SecretInput {
  key: string;
  value: string;
  path: string;
  comment?: string;
  tags?: string[];
  type?: SecretType;
}

export interface SecretUpdate {
  id: string;
  value?: string;
  comment?: string;
  tags?: string[];
  type?: SecretType;
}

export interface ListFilter {
  path?: string;
  tags?: string[];
  key?: string;
  /** false: the caller needs ids, keys and types only; E2EE clients then skip resolving references. */
  resolve?: boolean;
}

export interface SecretsClient {
  readonly url: string;
  readonly app: AppInfo;
  readonly env: EnvInfo;
  readonly encryption: 'sse' | 'e2ee';
  /** Unresolved values (E2EE apps, or SSE apps opened with `raw`). */
  readonly raw: boolean;
  list(filter?: ListFilter): Promise<Secret[]>;
  create(entries: SecretInput[]): Promise<void>;
  update(entries: SecretUpdate[]): Promise<void>;
  delete(ids: string[]): Promise<void>;
  /** Cheap to ask; changes whenever the environment's secrets may have changed (coffer run --watch). */
  changeMarker(): Promise<string>;
  close(): void;
}

/** The server could not be reached (or a proxy said it is down): `coffer run --fallback` may use its cache. */
export class ServerUnreachableError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'ServerUnreachableError';
  }
}

/** Classifies the errors of CofferApi and the client library: is the server out of reach? */
export function asUnreachable(error: unknown): ServerUnreachableError | undefined {
  if (error instanceof ServerUnreachableError) return error;
  if (error instanceof ApiError) {
    return [502, 503, 504].includes(error.status) ? new ServerUnreachableError(`the server is unavailable (HTTP ${error.status})`, error.hint) : undefined;
  }
  if (error instanceof PhaseProtocolError) {
    if (error.kind === 'unreachable') {
      // fetchWithin's own explanation (timeout, refused, TLS), when it was the cause.
      if (error.cause instanceof UserError) return new ServerUnreachableError(error.cause.message, error.cause.hint);
      return new ServerUnreachableError(error.message, 'check --url (or COFFER_URL) and that the server is running');
    }
    if (error.kind === 'http' && [502, 503, 504].includes(error.status)) return new ServerUnreachableError(`the server is unavailable (HTTP ${error.status})`);
    return undefined;
  }
  // CofferApi turns a failed fetch into this UserError (src/cli/api.ts).
  if (error instanceof UserError && /^cannot reach /.test(error.message)) return new ServerUnreachableError(error.message, error.hint);
  return undefined;
}

/**
 * The token the secrets commands act with: COFFER_TOKEN (a personal or a service-account token,
 * with --url/COFFER_URL or the stored login's server), else the stored login.
 */
export async function resolveSecretsAccount(urlOption: string | undefined): Promise<SecretsAccount> {
  const stored = await readCredentials();
  const envToken = process.env.COFFER_TOKEN?.trim();
  if (envToken) {
    const url = urlOption ?? stored?.url;
    if (!url) throw new UserError('COFFER_TOKEN is set but no server is known', 'set COFFER_URL or pass --url');
    return { url: normaliseBaseUrl(url), token: envToken, kind: tokenKind(envToken, 'COFFER_TOKEN') };
  }
  if (!stored) throw new UserError('you are not signed in', 'run `coffer login --url URL`, or set COFFER_URL and COFFER_TOKEN');
  if (urlOption && normaliseBaseUrl(urlOption) !== normaliseBaseUrl(stored.url)) {
    throw new UserError(`the stored login is for ${stored.url}, not ${normaliseBaseUrl(urlOption)}`, 'run `coffer login` for that server, or set COFFER_TOKEN');
  }
  return { url: normaliseBaseUrl(stored.url), token: stored.token, kind: tokenKind(stored.token, 'the stored login', 'run `coffer login` again (`coffer logout` removes the damaged file)') };
}

function tokenKind(token: string, where: string, hint = 'use a pss_user:v1 or pss_service:v2 token'): 'user' | 'service' {
  try {
    return parseToken(token).prefix === 'pss_user' ? 'user' : 'service';
  } catch (error) {
    if (error instanceof TokenFormatError) throw new UserError(`${where} is not a Coffer token: ${error.message}`, hint);
    throw error;
  }
}

export function restApi(account: SecretsAccount): CofferApi {
  return new CofferApi(account.url, { kind: 'token', token: account.token });
}

/** Opens a client-protocol session, with the client library's errors told as the CLI tells errors. */
export async function openSession(account: SecretsAccount): Promise<PhaseSession> {
  try {
    return await openPhaseSession(account);
  } catch (error) {
    const unreachable = asUnreachable(error);
    if (unreachable) throw unreachable;
    if (error instanceof CryptoError) throw keysDoNotOpen(error);
    throw asUserError(error);
  }
}

interface RawApp {
  id: string;
  name: string;
  description?: string | null;
  sseEnabled: boolean;
  createdAt?: string;
}

export async function listApps(api: CofferApi): Promise<AppInfo[]> {
  const answer = await api.get<{ data: RawApp[] }>('/v1/apps/', dataListOf(hasStrings('id', 'name')));
  return answer.data.map((a) => ({ id: a.id, name: a.name, description: a.description ?? null, sseEnabled: a.sseEnabled, createdAt: a.createdAt ?? null }));
}

/** An app by id, by exact name, or by name ignoring case; ambiguity is an error naming the ids. */
export function pickApp(apps: readonly AppInfo[], ref: string): AppInfo {
  const byId = apps.find((a) => a.id === ref.toLowerCase());
  if (byId) return byId;
  for (const match of [(a: AppInfo) => a.name === ref, (a: AppInfo) => a.name.toLowerCase() === ref.toLowerCase()]) {
    const named = apps.filter(match);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) throw new UserError(`several apps are named '${ref}' (${named.map((a) => a.id).join(', ')})`, 'name it by its id instead');
  }
  throw new UserError(`no app '${ref}' is accessible with this token`, 'see `coffer apps list`');
}

/** The app by id or name: from the REST API, or from the token's session when the role cannot list apps. */
export async function findApp(account: SecretsAccount, ref: string): Promise<AppInfo> {
  try {
    return pickApp(await listApps(restApi(account)), ref);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403)) throw asUnreachable(error) ?? error;
  }
  const session = await openSession(account);
  try {
    return pickApp(session.apps.map(sessionAppInfo), ref);
  } finally {
    session.close();
  }
}

function sessionAppInfo(app: UnlockedApp): AppInfo {
  return { id: app.id, name: app.name, description: null, sseEnabled: app.encryption === 'SSE', createdAt: null };
}

interface RawEnv {
  id: string;
  name: string;
  envType: string;
  index: number;
}

/** The environments of an app you hold keys or a grant for. */
export async function listEnvironments(account: SecretsAccount, app: AppInfo): Promise<EnvInfo[]> {
  if (app.sseEnabled) {
    const answer = await restApi(account).get<{ data: RawEnv[] }>(`/v1/environments/?app_id=${encodeURIComponent(app.id)}`, dataListOf(hasStrings('id', 'name')));
    return answer.data.map((e) => ({ id: e.id, name: e.name, envType: e.envType, index: e.index }));
  }
  const session = await openSession(account);
  try {
    return sessionEnvironments(session, app);
  } finally {
    session.close();
  }
}

function sessionEnvironments(session: PhaseSession, app: AppInfo): EnvInfo[] {
  const unlocked = session.apps.find((a) => a.id === app.id);
  if (!unlocked) throw new UserError(`this token holds no environment key of ${app.name}`, 'ask an owner or admin for access');
  return unlocked.environments.map((e, i) => ({ id: e.id, name: e.name, envType: e.envType, index: i }));
}

/**
 * The environment `ref` names: its id or its name (ignoring case, as the API matches names), else,
 * with `prefix`, a unique prefix typed on the command line (`dev`, `prod`, `stag`). `exact` where a
 * guess could hit another environment: deleting or renaming one, and the name a linked directory
 * keeps (once its environment is gone, `prod` must not become `production`).
 */
export function pickEnvironment(envs: readonly EnvInfo[], ref: string, app: AppInfo, match: 'prefix' | 'exact' = 'prefix'): EnvInfo {
  const lower = ref.toLowerCase();
  const prefixed = match === 'prefix' ? envs.filter((e) => e.name.toLowerCase().startsWith(lower)) : [];
  const found = envs.find((e) => e.id === lower) ?? envs.find((e) => e.name.toLowerCase() === lower) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
  if (!found && prefixed.length > 1) throw new UserError(`'${ref}' could be ${prefixed.map((e) => e.name).join(' or ')} in ${app.name}`, 'give more of the name');
  if (!found) {
    throw new UserError(
      `no environment '${ref}' in ${app.name} is accessible with this token`,
      envs.length > 0 ? `its environments: ${envs.map((e) => e.name).join(', ')}${match === 'exact' ? ' (give the whole name or the id here)' : ''}` : 'ask an owner or admin for access',
    );
  }
  return found;
}

export interface ResolvedTarget {
  account: SecretsAccount;
  /** The app as the user named it (flag, variable or project file): the offline cache is found by it. */
  appRef: string;
  /** The environment as the user named it. */
  envRef: string;
  /** How envRef may match: a prefix when typed (flag, COFFER_ENV), exactly when read from .coffer.json. */
  envMatch: 'prefix' | 'exact';
  /** Normalised path from --path / COFFER_PATH / the project file; undefined when none was given. */
  path: string | undefined;
  project: FoundProject | undefined;
}

/**
 * Flags (commander fills them from COFFER_APP / COFFER_ENV / COFFER_PATH) win over .coffer.json. The
 * project's environment and path apply only to the project's app.
 */
export async function resolveTarget(options: TargetOptions): Promise<ResolvedTarget> {
  const account = await resolveSecretsAccount(options.url);
  const project = await findProject();
  const appRef = options.app?.trim() || project?.config.appId;
  if (!appRef) throw new UserError('no app given', 'pass --app (id or name), set COFFER_APP, or link this directory with `coffer init`');
  // Apps are named case-insensitively (ids too), as --app matches them.
  const sameApp = project !== undefined && [project.config.appId, project.config.appName].some((name) => name.toLowerCase() === appRef.toLowerCase());
  const typedEnv = options.env?.trim();
  const envRef = typedEnv || (sameApp ? project!.config.env : undefined);
  if (!envRef) {
    const linked = project ? `; this directory's environment (${project.config.env}) applies to its app ${project.config.appName} only` : '';
    throw new UserError(`no environment given for ${appRef}${linked}`, 'pass --env (e.g. --env development), or set COFFER_ENV');
  }
  const pathText = options.path ?? (sameApp ? project!.config.path : undefined);
  return { account, appRef, envRef, envMatch: typedEnv ? 'prefix' : 'exact', path: pathText === undefined || pathText === '' ? undefined : normalisePath(pathText), project };
}

/** A client for the target's environment: REST for SSE apps, the client protocol for E2EE apps or `raw`. */
export async function openSecretsClient(target: ResolvedTarget, options: { raw?: boolean } = {}): Promise<SecretsClient> {
  const app = await findApp(target.account, target.appRef);
  if (app.sseEnabled && !options.raw) {
    const env = pickEnvironment(await listEnvironments(target.account, app), target.envRef, app, target.envMatch);
    return new RestSecretsClient(target.account, app, env);
  }
  const session = await openSession(target.account);
  try {
    const unlocked = session.apps.find((a) => a.id === app.id);
    if (!unlocked) throw new UserError(`this token holds no environment key of ${app.name}`, 'ask an owner or admin for access');
    const env = pickEnvironment(sessionEnvironments(session, app), target.envRef, app, target.envMatch);
    const unlockedEnv = unlocked.environments.find((e) => e.id === env.id)!;
    return new ProtocolSecretsClient(target.account, session, app, env, unlockedEnv, Boolean(options.raw));
  } catch (error) {
    session.close();
    throw error;
  }
}

interface RestSecret {
  id: string;
  key: string;
  value: string;
  comment: string;
  tags: string[];
  path: string;
  type: string;
  version: number;
  updatedAt: string;
  override: { value: string; isActive: boolean } | null;
}

function isRestSecret(value: unknown): boolean {
  return hasStrings('id', 'key', 'value', 'path')(value) && Array.isArray((value as RestSecret).tags);
}

/** Warnings on stderr, once each; they quote secret values, so control characters are shown, not sent. */
function printWarnings(warnings: Iterable<string>): void {
  for (const warning of new Set(warnings)) process.stderr.write(`warning: ${visible(warning)}\n`);
}

/**
 * The server expands references (rest-api §6.2) and leaves one it cannot expand as it is, without a
 * word, as Phase's does: the CLI names them, as it does for the references it expands itself.
 */
function warnOfUnresolved(secrets: ReadonlyArray<{ key: string; value: string }>): void {
  const warnings: string[] = [];
  for (const secret of secrets) {
    const left = referencesIn(secret.value);
    if (left.length === 0) continue;
    const shown = left.length > 3 ? `${left.slice(0, 3).join(', ')} and ${left.length - 3} more` : left.join(', ');
    warnings.push(`${secret.key}: ${left.length > 1 ? 'references' : 'reference'} ${shown} left unresolved (no such secret, a reference cycle, or no access to its environment)`);
  }
  printWarnings(warnings);
}

class RestSecretsClient implements SecretsClient {
  readonly encryption = 'sse' as const;
  readonly raw = false;
  readonly url: string;
  readonly #api: CofferApi;

  constructor(
    account: SecretsAccount,
    readonly app: AppInfo,
    readonly env: EnvInfo,
  ) {
    this.url = account.url;
    this.#api = restApi(account);
  }

  #query(extra: Record<string, string | undefined> = {}): string {
    const params = new URLSearchParams({ app_id: this.app.id, env: this.env.name });
    for (const [name, value] of Object.entries(extra)) if (value !== undefined && value !== '') params.set(name, value);
    return `/v1/secrets/?${params.toString()}`;
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw asUnreachable(error) ?? error;
    }
  }

  async list(filter: ListFilter = {}): Promise<Secret[]> {
    const items = await this.#call(() => this.#api.get<RestSecret[]>(this.#query({ path: filter.path, key: filter.key, tags: filter.tags?.join(',') }), listOf(isRestSecret)));
    const secrets = items.map((s) => {
      const overridden = s.override?.isActive === true;
      return {
        id: s.id,
        key: s.key,
        value: overridden ? s.override!.value : s.value,
        sharedValue: s.value,
        overridden,
        comment: s.comment,
        tags: s.tags,
        path: s.path,
        type: s.type,
        version: s.version,
        updatedAt: s.updatedAt,
      };
    });
    if (filter.resolve !== false) warnOfUnresolved(secrets);
    return secrets;
  }

  async create(entries: SecretInput[]): Promise<void> {
    const secrets = entries.map((e) => ({
      key: e.key,
      value: e.value,
      path: e.path,
      ...(e.comment !== undefined ? { comment: e.comment } : {}),
      ...(e.tags !== undefined ? { tags: e.tags } : {}),
      ...(e.type !== undefined ? { type: e.type } : {}),
    }));
    await this.#call(() => this.#api.send('POST', this.#query(), { secrets }));
  }

  async update(entries: SecretUpdate[]): Promise<void> {
    await this.#call(() => this.#api.send('PUT', this.#query(), { secrets: entries }));
  }

  async delete(ids: string[]): Promise<void> {
    await this.#call(() => this.#api.send('DELETE', this.#query(), { secrets: ids }));
  }

  /** Every environment of the app the caller holds, with its updatedAt (bumped by every secret write). */
  async changeMarker(): Promise<string> {
    const answer = await this.#call(() => this.#api.get<{ data: Array<{ id: string; updatedAt: string }> }>(`/v1/environments/?app_id=${encodeURIComponent(this.app.id)}`, dataListOf(hasStrings('id'))));
    return answer.data.map((e) => `${e.id}@${e.updatedAt}`).sort().join(',');
  }

  close(): void {}
}

class ProtocolSecretsClient implements SecretsClient {
  readonly encryption: 'sse' | 'e2ee';
  readonly url: string;

  constructor(
    account: SecretsAccount,
    readonly session: PhaseSession,
    readonly app: AppInfo,
    readonly env: EnvInfo,
    readonly unlocked: UnlockedEnvironment,
    readonly raw: boolean,
  ) {
    this.url = account.url;
    this.encryption = app.sseEnabled ? 'sse' : 'e2ee';
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CryptoError) {
        // A stored field that is not a ciphertext of this environment: the server's answer, not a crash here.
        throw new UserError(`a secret of ${describeTarget(this)} that the server returned does not decrypt: ${error.message}`, 'check --url (or COFFER_URL); if the server is right, the stored secret is damaged');
      }
      throw asUnreachable(error) ?? asUserError(error);
    }
  }

  async list(filter: ListFilter = {}): Promise<Secret[]> {
    const warnings: string[] = [];
    const items = await this.#call(() =>
      this.session.list(this.unlocked, {
        ...(filter.path ? { path: filter.path } : {}),
        ...(filter.key ? { key: filter.key } : {}),
        ...(filter.tags ? { tags: filter.tags } : {}),
        resolveReferences: !this.raw && filter.resolve !== false,
        warnings,
      }),
    );
    printWarnings(warnings);
    return items.map((s) => ({
      id: s.id,
      key: s.key,
      value: s.value,
      sharedValue: this.raw ? s.sharedValue : s.override?.isActive ? s.sharedValue : s.value,
      overridden: s.override?.isActive === true,
      comment: s.comment,
      tags: s.tags,
      path: s.path,
      type: s.type,
      version: s.version,
      updatedAt: s.updatedAt,
    }));
  }

  async create(entries: SecretInput[]): Promise<void> {
    await this.#call(() =>
      this.session.create(
        this.unlocked,
        entries.map((e) => ({
          key: e.key,
          value: e.value,
          path: e.path,
          ...(e.comment !== undefined ? { comment: e.comment } : {}),
          ...(e.tags !== undefined ? { tags: e.tags } : {}),
          ...(e.type !== undefined ? { type: e.type } : {}),
        })),
      ),
    );
  }

  async update(entries: SecretUpdate[]): Promise<void> {
    await this.#call(() => this.session.update(this.unlocked, entries));
  }

  async delete(ids: string[]): Promise<void> {
    await this.#call(() => this.session.delete(this.unlocked, ids));
  }

  /** A digest of the stored ciphertexts' ids, versions and times: nothing is decrypted to compare. */
  async changeMarker(): Promise<string> {
    const items = await this.#call(() => this.session.listEncrypted(this.unlocked));
    const hash = createHash('sha256');
    for (const s of items) hash.update(`${s.id}:${s.version}:${s.updatedAt}:${s.override ? `${s.override.id}:${s.override.isActive}:${s.override.value}` : ''}\n`);
    return hash.digest('hex');
  }

  close(): void {
    this.session.close();
  }
}

/** Runs `work` with a client and closes it. */
export async function withSecretsClient<T>(target: ResolvedTarget, options: { raw?: boolean }, work: (client: SecretsClient) => Promise<T>): Promise<T> {
  const client = await openSecretsClient(target, options);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

/** `a, b ,c` -> ['a', 'b', 'c'] (empty names dropped). */
export function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

export function checkType(type: string | undefined): SecretType | undefined {
  if (type === undefined) return undefined;
  const lower = type.toLowerCase();
  if (!(SECRET_TYPES as readonly string[]).includes(lower)) throw new UserError(`'${type}' is not a secret type`, `use one of: ${SECRET_TYPES.join(', ')}`);
  return lower as SecretType;
}

/** Where the target is, for messages: `shop / Development (/backend)`. */
export function describeTarget(client: SecretsClient, path?: string): string {
  return `${client.app.name} / ${client.env.name}${path ? ` (${path})` : ''}`;
}
