// The secrets endpoints of the public API (rest-api §4): the check order of §4.1, then the read
// path or a write batch. Values go out reference-resolved with the caller's own access (D-9).
import type { EnvironmentCipher } from '../../crypto/index.js';
import { allowsInApp } from '../access.js';
import type { BodyReader, Call } from '../context.js';
import type { DomainDeps } from '../deps.js';
import type { NewEvent } from '../audit.js';
import { forbidden, invalid, notFound } from '../errors.js';
import type { Action } from '../role-definitions.js';
import { normalisePath } from './paths.js';
import type { ReadPath, ResolvedEnvironment, ResolvedSecret } from './read-path.js';
import { secretEntryOf } from './snapshot.js';
import { validateCreateBatch, validateDeleteBatch, validateUpdateBatch } from './validate.js';
import type { SecretWriter, WriteTarget, WrittenSecret } from './write-path.js';

export const ENVIRONMENT_CONTEXT_REQUIRED = 'Environment context required. Supply `app_id` and `env` as query parameters.';
export const SSE_NOT_ENABLED = 'SSE is not enabled for this App';

export interface ListFilters {
  path?: string | undefined;
  key?: string | undefined;
  tags?: string | undefined;
  dynamic?: string | undefined;
  includeDynamic?: string | undefined;
  leaseTtl?: string | undefined;
}

export interface SecretList {
  /** The cached resolved environment (its `rendered` map memoises serialized forms). */
  readonly environment: ResolvedEnvironment;
  /** The filter signature: equal signatures select the same secrets. */
  readonly selection: string;
  readonly secrets: readonly ResolvedSecret[];
}

/**
 * The audit event of a secrets read (REST and client protocol). A filtered read names the ids it
 * returned (`filteredIds`). An unfiltered read returned exactly the secrets live at this revision,
 * which the trail's creates and deletes determine (readSecretIds in audit-log.ts): listing them
 * again would make every read event as large as the environment.
 */
export function secretReadEvent(target: WriteTarget, revision: number, filteredIds: string[] | null, count: number): NewEvent {
  return {
    kind: 'secret',
    action: 'read',
    appId: target.appId,
    environmentId: target.environmentId,
    environmentRevision: revision,
    secretIds: filteredIds,
    snapshot: { count, selection: filteredIds ? 'filtered' : 'all' },
  };
}

function readEventOf(target: WriteTarget, list: SecretList): NewEvent {
  return secretReadEvent(target, list.environment.revision, list.selection === '' ? null : list.secrets.map((s) => s.entry.id), list.secrets.length);
}

/** `dynamic`-style flags: present with any value whose lower case is not `false`. */
function truthy(value: string | undefined): boolean {
  return value !== undefined && value.toLowerCase() !== 'false';
}

export class Secrets {
  constructor(
    private readonly deps: DomainDeps,
    readonly readPath: ReadPath,
    private readonly writer: SecretWriter,
  ) {}

  /**
   * GET /v1/secrets/ (§4.2). On PostgreSQL a cached view is served first and its revisions are
   * confirmed by the audit append; if one moved, the read reloads with a revision check.
   */
  async list(call: Call, filters: ListFilters): Promise<SecretList> {
    const target = this.#check(call, 'read');
    if ((truthy(filters.dynamic) || truthy(filters.includeDynamic)) && filters.leaseTtl && !/^\s*[+-]?\d+\s*$/.test(filters.leaseTtl)) {
      throw invalid('lease_ttl must be a valid integer (seconds)');
    }
    const cached = this.deps.storeKind === 'postgres' ? this.readPath.cachedResolved(call, target.environmentId) : undefined;
    if (cached) {
      const list = await this.#select(target, cached, filters);
      if (await this.deps.readAudit.recordIfCurrent(target.organisationId, call, readEventOf(target, list), cached.dependencies)) return list;
    }
    const environment = await this.readPath.resolved(call, target.organisationId, target.appId, target.environmentId);
    if (!environment) throw notFound('Environment not found');
    const list = await this.#select(target, environment, filters);
    await this.deps.readAudit.record(target.organisationId, call, readEventOf(target, list));
    return list;
  }

  /**
   * GET /v1/secrets/dynamic/ (rest-api §15, OPEN-13): the checks of a read, then nothing to list,
   * since Coffer has no dynamic secrets.
   */
  listDynamic(call: Call): never {
    this.#check(call, 'read');
    throw notFound('No dynamic secrets found');
  }

  async #select(target: WriteTarget, environment: ResolvedEnvironment, filters: ListFilters): Promise<SecretList> {
    let secrets: readonly ResolvedSecret[] = environment.secrets;
    let selection = '';
    if (filters.key) {
      const match = await environment.withKey(filters.key, async (upperCaseKey) => (await this.#cipher(target)).keyDigest(upperCaseKey));
      secrets = match.secrets;
      selection += `k:${match.digest}\u0000`;
    }
    if (filters.path) {
      const path = normalisePath(filters.path);
      secrets = secrets.filter((s) => s.entry.path === path);
      selection += `p:${path}\u0000`;
    }
    if (filters.tags) {
      const wanted = new Set(filters.tags.split(','));
      secrets = secrets.filter((s) => s.entry.tags.some((tag) => wanted.has(tag)));
      selection += `t:${filters.tags}\u0000`;
    }
    return { environment, selection, secrets };
  }

  /** POST /v1/secrets/ (§4.3) */
  async create(call: Call, readBody: BodyReader): Promise<ResolvedSecret[]> {
    const target = this.#check(call, 'create');
    const entries = validateCreateBatch(readBody());
    const cipher = await this.#cipher(target);
    const { result, revision } = await this.writer.create(call, target, cipher, entries);
    this.readPath.committed(target.environmentId, revision);
    return this.#resolveWritten(call, target, result);
  }

  /** PUT /v1/secrets/ (§4.4) */
  async update(call: Call, readBody: BodyReader): Promise<ResolvedSecret[]> {
    const target = this.#check(call, 'update');
    const entries = validateUpdateBatch(readBody());
    const cipher = await this.#cipher(target);
    const { result, revision } = await this.writer.update(call, target, cipher, entries);
    this.readPath.committed(target.environmentId, revision);
    return this.#resolveWritten(call, target, result);
  }

  /** DELETE /v1/secrets/ (§4.5) */
  async delete(call: Call, readBody: BodyReader): Promise<string> {
    const target = this.#check(call, 'delete');
    const ids = validateDeleteBatch(readBody());
    const { result: count, revision } = await this.writer.delete(call, target, ids);
    this.readPath.committed(target.environmentId, revision);
    return `Deleted ${count} secret${count === 1 ? '' : 's'}`;
  }

  /** §4.1 after the method check: environment context, role permission, SSE. */
  #check(call: Call, action: Action): WriteTarget {
    const environment = call.target.environment;
    if (!environment) throw forbidden(ENVIRONMENT_CONTEXT_REQUIRED);
    if (!allowsInApp(call.access, environment.app_id, 'Secrets', action)) {
      throw forbidden(`You don't have permission to ${action} secrets in this environment.`);
    }
    if (!call.target.app?.sse_enabled) throw invalid(SSE_NOT_ENABLED);
    return { organisationId: call.principal.organisationId, appId: environment.app_id, environmentId: environment.id };
  }

  async #cipher(target: WriteTarget): Promise<EnvironmentCipher> {
    const cipher = await this.deps.keys.cipherFor(target.environmentId);
    if (!cipher) throw invalid(SSE_NOT_ENABLED);
    return cipher;
  }

  /** Response values of a write: each entry's state, resolved with the caller's access (D-9). */
  async #resolveWritten(call: Call, target: WriteTarget, written: WrittenSecret[]): Promise<ResolvedSecret[]> {
    const jobs = written.map(({ row, key, value, comment, override }) => ({
      entry: secretEntryOf(row, { key, value, comment }),
      override: override
        ? { id: override.row.id, secretId: row.id, memberId: override.row.memberId, isActive: override.row.isActive, createdAt: override.row.createdAt, updatedAt: override.row.updatedAt, valueCiphertext: override.row.value, value: override.value }
        : null,
    }));
    const { secrets } = await this.readPath.resolveJobs(call, target.organisationId, target.appId, target.environmentId, jobs);
    return secrets;
  }
}
