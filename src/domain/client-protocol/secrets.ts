// GET/POST/PUT/DELETE /service/secrets/ (crypto spec §4.4–§4.7): the ciphertext-only secrets
// endpoint the Phase SDKs and CLIs use, for SSE and E2EE apps alike. Reads come from the cached
// environment snapshot (DESIGN §5) and never decrypt anything; writes store the client's strings.
import { allowsInApp } from '../access.js';
import type { NewEvent } from '../audit.js';
import type { BodyReader, Call } from '../context.js';
import type { DomainDeps } from '../deps.js';
import { forbidden, notFound } from '../errors.js';
import type { Action } from '../role-definitions.js';
import { normalisePath } from '../secrets/paths.js';
import type { ReadPath } from '../secrets/read-path.js';
import { ENVIRONMENT_CONTEXT_REQUIRED, secretReadEvent } from '../secrets/secrets.js';
import type { EnvironmentSnapshot, OverrideEntry, SecretEntry } from '../secrets/snapshot.js';
import type { WriteTarget } from '../secrets/write-path.js';
import { validateCiphertextCreateBatch, validateCiphertextDeleteBatch, validateCiphertextUpdateBatch } from './validate.js';
import { CiphertextWriter } from './write-path.js';

export interface ClientListFilters {
  /** `keyDigest` header; "" = absent. Matched exactly against the stored digest. */
  keyDigest?: string | undefined;
  /** `path` header; "" = absent. Normalised, then matched exactly. */
  path?: string | undefined;
  /** `tags` header: comma-separated names, a secret matches when it has any (no official client sends it). */
  tags?: string | undefined;
}

export interface ClientSecretItem {
  readonly entry: SecretEntry;
  /** The caller's personal override (member callers only), as ciphertext. */
  readonly override: OverrideEntry | null;
}

/**
 * One filtered view of one snapshot for one kind of caller. Memoised on the snapshot, so a repeated
 * read of an unchanged environment does no filtering and, once `rendered` is filled by the HTTP
 * layer, no serialization either.
 */
export class ClientSecretSelection {
  /** Serialized bodies (encoded, ready to send) by casing, filled by the HTTP layer (it knows the wire shapes). */
  readonly rendered = new Map<string, Uint8Array>();
  readonly secretIds: string[];

  /** `filtered`: a path, key digest or tags filter chose among the environment's secrets. */
  constructor(readonly environmentId: string, readonly revision: number, readonly items: readonly ClientSecretItem[], readonly filtered: boolean) {
    this.secretIds = items.map((item) => item.entry.id);
  }
}

const MAX_SELECTIONS_PER_SNAPSHOT = 256;

export class ClientSecrets {
  readonly #writer: CiphertextWriter;
  readonly #selections = new WeakMap<EnvironmentSnapshot, Map<string, ClientSecretSelection>>();

  constructor(private readonly deps: DomainDeps, private readonly readPath: ReadPath) {
    this.#writer = new CiphertextWriter(deps.db, deps.audit);
  }

  /**
   * GET: the environment's live secrets as stored (ciphertext), one read event per request. On
   * PostgreSQL a cached snapshot is served first and its revision confirmed by the audit append (as
   * GET /v1/secrets/ does).
   */
  async list(call: Call, filters: ClientListFilters): Promise<ClientSecretSelection> {
    const target = this.#check(call, 'read');
    const cached = this.deps.storeKind === 'postgres' ? this.readPath.cachedSnapshot(target.environmentId) : undefined;
    if (cached) {
      const selection = this.#select(call, cached, filters);
      const guard = new Map([[target.environmentId, cached.revision]]);
      if (await this.deps.readAudit.recordIfCurrent(target.organisationId, call, readEventOf(target, selection), guard)) return selection;
    }
    const snapshot = await this.readPath.snapshot(target.environmentId);
    if (!snapshot) throw notFound('Environment not found');
    const selection = this.#select(call, snapshot, filters);
    await this.deps.readAudit.record(target.organisationId, call, readEventOf(target, selection));
    return selection;
  }

  /** POST */
  async create(call: Call, readBody: BodyReader): Promise<void> {
    const target = this.#check(call, 'create');
    const entries = validateCiphertextCreateBatch(readBody());
    if (entries.length === 0) return; // nothing to create: no transaction, no revision
    const { revision } = await this.#writer.create(call, target, entries);
    this.#committed(target, revision);
  }

  /** PUT */
  async update(call: Call, readBody: BodyReader): Promise<void> {
    const target = this.#check(call, 'update');
    const entries = validateCiphertextUpdateBatch(readBody());
    if (entries.length === 0) return; // nothing to update
    const { revision } = await this.#writer.update(call, target, entries);
    this.#committed(target, revision);
  }

  /** DELETE; returns how many secrets were deleted (ids outside this environment count nothing). */
  async delete(call: Call, readBody: BodyReader): Promise<number> {
    const target = this.#check(call, 'delete');
    const ids = validateCiphertextDeleteBatch(readBody());
    if (ids.length === 0) return 0; // nothing to delete: no transaction, no revision
    const { result, revision } = await this.#writer.delete(call, target, ids);
    this.#committed(target, revision);
    return result.length;
  }

  /** After the principal checks of the hook (§4.2 steps 1–3): environment context, then the role permission. */
  #check(call: Call, action: Action): WriteTarget {
    const environment = call.target.environment;
    if (!environment) throw forbidden(ENVIRONMENT_CONTEXT_REQUIRED);
    if (!allowsInApp(call.access, environment.app_id, 'Secrets', action)) {
      throw forbidden(`You don't have permission to ${action} secrets in this environment.`);
    }
    return { organisationId: call.principal.organisationId, appId: environment.app_id, environmentId: environment.id };
  }

  #committed(target: WriteTarget, revision: number): void {
    if (revision > 0) this.readPath.committed(target.environmentId, revision);
  }

  #select(call: Call, snapshot: EnvironmentSnapshot, filters: ClientListFilters): ClientSecretSelection {
    const memberId = call.principal.kind === 'member' ? call.principal.memberId : undefined;
    const overrides = memberId ? snapshot.overridesOf(memberId) : undefined;
    const path = filters.path ? normalisePath(filters.path) : undefined;
    const digest = filters.keyDigest || undefined;
    const tags = filters.tags ? filters.tags.split(',') : undefined;
    // Callers without overrides in this snapshot share one selection per filter.
    const key = `${overrides ? memberId : ''}\u0000${path ?? ''}\u0000${digest ?? ''}\u0000${filters.tags ?? ''}`;
    let perSnapshot = this.#selections.get(snapshot);
    const cached = perSnapshot?.get(key);
    if (cached) return cached;
    const wanted = tags ? new Set(tags) : undefined;
    const items: ClientSecretItem[] = [];
    for (const entry of snapshot.secrets) {
      if (path !== undefined && entry.path !== path) continue;
      if (digest !== undefined && entry.keyDigest !== digest) continue;
      if (wanted && !entry.tags.some((tag) => wanted.has(tag))) continue;
      items.push({ entry, override: overrides?.get(entry.id) ?? null });
    }
    const filtered = path !== undefined || digest !== undefined || wanted !== undefined;
    const selection = new ClientSecretSelection(snapshot.environmentId, snapshot.revision, items, filtered);
    if (!perSnapshot) this.#selections.set(snapshot, (perSnapshot = new Map()));
    if (perSnapshot.size >= MAX_SELECTIONS_PER_SNAPSHOT) perSnapshot.clear();
    perSnapshot.set(key, selection);
    return selection;
  }
}

/** As on the REST read: only a filtered read lists its ids (secretReadEvent). */
function readEventOf(target: WriteTarget, selection: ClientSecretSelection): NewEvent {
  return secretReadEvent(target, selection.revision, selection.filtered ? selection.secretIds : null, selection.secretIds.length);
}
