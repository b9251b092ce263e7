// The read path (DESIGN §5): current revision -> cached decrypted snapshot -> references resolved
// for this caller (cached per caller and environment while every environment it used is unchanged).
import type { Db } from '../../store/database.js';
import { hasEnvironmentAccess, type AccountAccess } from '../access.js';
import type { Principal } from '../principal.js';
import type { EnvironmentKeys } from '../environment-keys.js';
import { ReferenceResolver, type AppEntry, type EnvironmentEntry, type ReferenceWorld } from './references.js';
import type { RevisionSource } from './revisions.js';
import type { EnvironmentSnapshot, OverrideEntry, SecretEntry } from './snapshot.js';
import { SnapshotCache } from './snapshot.js';

export interface ResolvedSecret {
  readonly entry: SecretEntry;
  /** The shared value with references expanded. */
  readonly value: string;
  readonly override: (OverrideEntry & { readonly resolvedValue: string }) | null;
}

/** One caller's view of one environment at fixed revisions of everything it depends on. */
export class ResolvedEnvironment {
  /** Serialized forms, filled by the HTTP layer (it knows the wire shapes). */
  readonly rendered = new Map<string, Uint8Array>();
  #byKeyDigest: Map<string, ResolvedSecret[]> | undefined;
  readonly #byKey = new Map<string, KeyMatch>();

  constructor(
    readonly environmentId: string,
    readonly revision: number,
    readonly secrets: readonly ResolvedSecret[],
    /** environment id -> revision, for every environment the values were read from */
    readonly dependencies: ReadonlyMap<string, number>,
  ) {}

  /**
   * `?key=` results by the key as the caller wrote it, so a repeated lookup costs no digest. The
   * digest (of the upper-cased key, under the environment key) decides the match, as it does for
   * stored secrets whose plaintext the server may not hold.
   */
  async withKey(key: string, digestOf: (upperCaseKey: string) => Promise<string>): Promise<KeyMatch> {
    const known = this.#byKey.get(key);
    if (known) return known;
    const digest = await digestOf(key.toUpperCase());
    if (!this.#byKeyDigest) {
      this.#byKeyDigest = new Map();
      for (const secret of this.secrets) {
        const list = this.#byKeyDigest.get(secret.entry.keyDigest);
        if (list) list.push(secret);
        else this.#byKeyDigest.set(secret.entry.keyDigest, [secret]);
      }
    }
    const match = { digest, secrets: this.#byKeyDigest.get(digest) ?? [] };
    if (this.#byKey.size >= MAX_REMEMBERED_KEYS) this.#byKey.clear();
    this.#byKey.set(key, match);
    return match;
  }
}

/** The secrets a `?key=` filter selects (one per path), and the digest that selected them. */
export interface KeyMatch {
  readonly digest: string;
  readonly secrets: readonly ResolvedSecret[];
}

/** Distinct `?key=` spellings remembered per resolved environment (cleared when exceeded). */
const MAX_REMEMBERED_KEYS = 256;

export interface ResolutionJob {
  readonly entry: SecretEntry;
  readonly override: OverrideEntry | null;
}

export interface Caller {
  readonly principal: Principal;
  readonly access: AccountAccess;
}

/**
 * Every pass that is not complete loads at least one app list, environment list or snapshot that the
 * world did not hold, so resolution ends after at most (environments + apps + 1) passes; a chain of
 * references across many environments needs one pass per hop. This bound only guards against a bug.
 */
const MAX_RESOLUTION_PASSES = 100_000;

/** Directory data references need: the organisation's apps and their environments. */
export interface ReferenceDirectory {
  apps(organisationId: string): Promise<AppEntry[]>;
  environments(organisationId: string, appId: string): Promise<EnvironmentEntry[]>;
}

export class ReadPath {
  readonly snapshots: SnapshotCache;
  /** AccountAccess objects are replaced whenever access data is reloaded, which keys this cache for free. */
  readonly #resolved = new WeakMap<AccountAccess, Map<string, ResolvedEnvironment>>();

  constructor(
    private readonly db: Db,
    readonly revisions: RevisionSource,
    keys: EnvironmentKeys,
    private readonly directory: ReferenceDirectory,
  ) {
    this.snapshots = new SnapshotCache(db, revisions, (environmentId) => keys.cipherFor(environmentId));
  }

  /**
   * The caller's resolved view of an environment; undefined when it no longer exists. One revision
   * check (shared with concurrent reads on PostgreSQL, none on the embedded store) when cached.
   */
  async resolved(caller: Caller, organisationId: string, appId: string, environmentId: string): Promise<ResolvedEnvironment | undefined> {
    let perCaller = this.#resolved.get(caller.access);
    const cached = perCaller?.get(environmentId);
    if (cached) {
      const current = await this.revisions.current([...cached.dependencies.keys()]);
      if (!current.has(environmentId)) return undefined;
      if ([...cached.dependencies].every(([id, revision]) => current.get(id) === revision)) return cached;
    }
    const revision = (await this.revisions.current([environmentId])).get(environmentId);
    if (revision === undefined) return undefined;
    const snapshot = await this.snapshots.get(environmentId, revision);
    if (!snapshot) return undefined;
    const resolved = await this.#resolve(caller, organisationId, appId, snapshot);
    if (!perCaller) this.#resolved.set(caller.access, (perCaller = new Map()));
    if (perCaller.size > 1_000) perCaller.clear();
    perCaller.set(environmentId, resolved);
    return resolved;
  }

  /**
   * The caller's cached view as it is, its revisions not confirmed: on PostgreSQL the read's audit
   * append confirms them instead (AppendEntry.guard), which saves the read a round trip. Undefined
   * when nothing is cached.
   */
  cachedResolved(caller: Caller, environmentId: string): ResolvedEnvironment | undefined {
    return this.#resolved.get(caller.access)?.get(environmentId);
  }

  /** The newest cached snapshot of an environment, its revision not confirmed (as cachedResolved). */
  cachedSnapshot(environmentId: string): EnvironmentSnapshot | undefined {
    return this.snapshots.peek(environmentId);
  }

  /** The current snapshot (ciphertext and plaintext) without reference resolution. */
  async snapshot(environmentId: string): Promise<EnvironmentSnapshot | undefined> {
    const revision = (await this.revisions.current([environmentId])).get(environmentId);
    if (revision === undefined) return undefined;
    return this.snapshots.get(environmentId, revision);
  }

  /** A write committed on this node: the next read reloads. */
  committed(environmentId: string, revision: number): void {
    this.revisions.committed(environmentId, revision);
    this.snapshots.forget(environmentId);
  }

  forget(environmentId: string): void {
    this.revisions.forget(environmentId);
    this.snapshots.forget(environmentId);
  }

  async #resolve(caller: Caller, organisationId: string, appId: string, snapshot: EnvironmentSnapshot): Promise<ResolvedEnvironment> {
    const memberId = caller.principal.kind === 'member' ? caller.principal.memberId : undefined;
    const overrides = memberId ? snapshot.overridesOf(memberId) : undefined;
    const jobs: ResolutionJob[] = [];
    for (const entry of snapshot.secrets) {
      if (entry.value === undefined || entry.key === undefined) continue;
      jobs.push({ entry, override: overrides?.get(entry.id) ?? null });
    }
    const { secrets, dependencies } = await this.resolveJobs(caller, organisationId, appId, snapshot, jobs);
    return new ResolvedEnvironment(snapshot.environmentId, snapshot.revision, secrets, dependencies);
  }

  /**
   * Expands the values (and override values) of `jobs` with the caller's access, loading whatever
   * the references need. `own` is the snapshot of the jobs' environment, or its id when it is not
   * loaded: it is then loaded only if a local reference needs it (a write's response usually
   * contains none, and need not reload the environment it just changed).
   */
  async resolveJobs(caller: Caller, organisationId: string, appId: string, own: EnvironmentSnapshot | string, jobs: readonly ResolutionJob[]) {
    const world = new LoadedWorld(caller.access, typeof own === 'string' ? undefined : own);
    for (let pass = 0; ; pass++) {
      const resolver = new ReferenceResolver(world);
      const secrets: ResolvedSecret[] = jobs.map(({ entry, override }) => ({
        entry,
        value: resolver.expandTop(entry, appId, entry.value ?? ''),
        override: override ? { ...override, resolvedValue: override.value === undefined ? '' : resolver.expandTop(entry, appId, override.value) } : null,
      }));
      if (resolver.complete) {
        const dependencies = new Map<string, number>(typeof own === 'string' ? [] : [[own.environmentId, own.revision]]);
        for (const id of resolver.used) {
          const used = world.snapshot(id);
          if (used) dependencies.set(id, used.revision);
        }
        return { secrets, dependencies };
      }
      if (pass >= MAX_RESOLUTION_PASSES) throw new Error('reference resolution did not converge');
      await this.#load(world, organisationId, resolver);
    }
  }

  async #load(world: LoadedWorld, organisationId: string, resolver: ReferenceResolver): Promise<void> {
    const { missing } = resolver;
    if (missing.appList) world.setApps(await this.directory.apps(organisationId));
    for (const appId of missing.environmentsOfApps) world.setEnvironments(appId, await this.directory.environments(organisationId, appId));
    if (missing.snapshots.size > 0) {
      const revisions = await this.revisions.current([...missing.snapshots]);
      for (const id of missing.snapshots) {
        const revision = revisions.get(id);
        const snapshot = revision === undefined ? undefined : await this.snapshots.get(id, revision);
        if (snapshot && snapshot.decrypted) world.setSnapshot(snapshot);
        else world.setGone(id);
      }
    }
  }
}

class LoadedWorld implements ReferenceWorld {
  #apps: Map<string, AppEntry[]> | undefined;
  readonly #environments = new Map<string, EnvironmentEntry[]>();
  readonly #snapshots = new Map<string, EnvironmentSnapshot>();
  readonly #gone = new Set<string>();

  constructor(private readonly access: AccountAccess, own: EnvironmentSnapshot | undefined) {
    if (own) this.#snapshots.set(own.environmentId, own);
  }

  appsNamed(name: string): readonly AppEntry[] | undefined {
    return this.#apps ? (this.#apps.get(name.toLowerCase()) ?? []) : undefined;
  }

  environmentsOf(appId: string): readonly EnvironmentEntry[] | undefined {
    return this.#environments.get(appId);
  }

  snapshot(environmentId: string): EnvironmentSnapshot | undefined {
    return this.#snapshots.get(environmentId);
  }

  gone(environmentId: string): boolean {
    return this.#gone.has(environmentId);
  }

  canAccess(environmentId: string): boolean {
    return hasEnvironmentAccess(this.access, environmentId);
  }

  setApps(apps: AppEntry[]): void {
    this.#apps = new Map();
    for (const app of apps) {
      const key = app.name.toLowerCase();
      const list = this.#apps.get(key);
      if (list) list.push(app);
      else this.#apps.set(key, [app]);
    }
  }

  setEnvironments(appId: string, environments: EnvironmentEntry[]): void {
    this.#environments.set(appId, environments);
  }

  setSnapshot(snapshot: EnvironmentSnapshot): void {
    this.#snapshots.set(snapshot.environmentId, snapshot);
  }

  setGone(environmentId: string): void {
    this.#gone.add(environmentId);
  }
}
