// Secret references, resolved on the server exactly as Phase's server does (rest-api §6.2).
// The algorithm is synchronous over a "world" of loaded snapshots and directory entries; when it
// needs something not loaded yet it records it and fails that reference, the caller loads what was
// missing and runs it again (usually one extra pass), so expansion itself never awaits.
import type { EnvironmentSnapshot, SecretEntry } from './snapshot.js';
import { normalisePath } from './paths.js';
import { crossAppMatches, crossEnvMatches, localMatches, TooManyReferences } from '../../reference-syntax.js';
import {
  MAX_READ_EXPANSIONS,
  MAX_READ_GROWTH,
  MAX_READ_SCANNED,
  MAX_REFERENCE_EXPANSIONS,
  MAX_RESOLVED_LENGTH,
  MAX_SCANNED_PER_VALUE,
} from '../../reference-limits.js';

export const MAX_REFERENCE_DEPTH = 25;

/** Cheap test before running the regular expressions at all. */
export function mayContainReference(text: string): boolean {
  return text.includes('${');
}

export interface AppEntry {
  id: string;
  name: string;
  sseEnabled: boolean;
}

export interface EnvironmentEntry {
  id: string;
  appId: string;
  name: string;
}

/** What resolution reads; `undefined` from a lookup means "not loaded yet" (recorded as missing). */
export interface ReferenceWorld {
  /** Apps of the organisation whose name matches case-insensitively; undefined until the app list is loaded. */
  appsNamed(name: string): readonly AppEntry[] | undefined;
  /** The environments of an app; undefined until loaded. */
  environmentsOf(appId: string): readonly EnvironmentEntry[] | undefined;
  /** A decrypted snapshot; undefined until loaded (or when the environment is gone: `gone()`). */
  snapshot(environmentId: string): EnvironmentSnapshot | undefined;
  /** Whether the environment is known not to exist or not to be readable by the server. */
  gone(environmentId: string): boolean;
  canAccess(environmentId: string): boolean;
}

export interface Missing {
  appList: boolean;
  environmentsOfApps: Set<string>;
  snapshots: Set<string>;
}

class ReferenceFailure extends Error {}
class ExpansionBudgetExceeded extends Error {}

function split(ref: string): { path: string; key: string } {
  const cut = ref.lastIndexOf('/');
  if (cut === -1) return { path: '/', key: ref };
  const prefix = ref.slice(0, cut);
  return { path: prefix === '' ? '/' : normalisePath(prefix), key: ref.slice(cut + 1) };
}

/**
 * The references of one value that were visited and changed nothing, each with the version of the
 * value it was visited in (the version moves with every substitution that changes the value):
 * visiting it again in the same version changes nothing.
 */
class UnchangedReferences {
  readonly #seenAt = new Map<string, number>();
  #version = 0;

  /** Whether `whole` is known to change nothing in the value as it is now. */
  known(whole: string): boolean {
    return this.#seenAt.get(whole) === this.#version;
  }

  /** After visiting `whole`: whether it changed the value. */
  visited(whole: string, changed: boolean): void {
    if (changed) this.#version++;
    else this.#seenAt.set(whole, this.#version);
  }
}

export class ReferenceResolver {
  readonly missing: Missing = { appList: false, environmentsOfApps: new Set(), snapshots: new Set() };
  /** Environments whose content the results depend on (for cache validation). */
  readonly used = new Set<string>();

  constructor(private readonly world: ReferenceWorld) {}

  get complete(): boolean {
    return !this.missing.appList && this.missing.environmentsOfApps.size === 0 && this.missing.snapshots.size === 0;
  }

  /** This value's expansions and characters read and written so far. */
  #expansions = 0;
  #scanned = 0;
  /** The same for this read, and how much longer expansion made its values. */
  #readExpansions = 0;
  #readScanned = 0;
  #readGrowth = 0;

  /** The value of `text` (a secret's value or an override's) with references expanded. */
  expandTop(secret: SecretEntry, appId: string, text: string): string {
    if (!mayContainReference(text)) return text;
    if (this.#readExpansions >= MAX_READ_EXPANSIONS || this.#readScanned >= MAX_READ_SCANNED || this.#readGrowth >= MAX_READ_GROWTH) return text;
    this.#expansions = 0;
    this.#scanned = 0;
    try {
      const expanded = this.#expand(secret, appId, text, []);
      this.#readGrowth += Math.max(0, expanded.length - text.length);
      return this.#readGrowth > MAX_READ_GROWTH ? text : expanded;
    } catch (error) {
      if (error instanceof ExpansionBudgetExceeded || error instanceof TooManyReferences) return text;
      throw error;
    } finally {
      this.#readExpansions += this.#expansions;
      this.#readScanned += this.#scanned;
    }
  }

  #identity(secret: SecretEntry): string {
    return `${secret.environmentId}\u0000${secret.path}\u0000${secret.keyDigest}`;
  }

  #expand(secret: SecretEntry, appId: string, text: string, visited: readonly string[]): string {
    const identity = this.#identity(secret);
    if (visited.includes(identity) || visited.length >= MAX_REFERENCE_DEPTH) throw new ReferenceFailure();
    if (++this.#expansions > MAX_REFERENCE_EXPANSIONS || this.#readExpansions + this.#expansions > MAX_READ_EXPANSIONS) throw new ExpansionBudgetExceeded();
    const inner = [...visited, identity];
    let value = text;
    if (!mayContainReference(value)) return value;
    // Phase's algorithm visits every match, repeats included, and replaces every occurrence of
    // each. A repeat of a reference that changed nothing, with the value unchanged since, would
    // change nothing again: skipped, so that a value repeating one reference N times costs N
    // lookups rather than N scans of the whole value (520,000 repeats held the thread 46 s).
    const unchanged = new UnchangedReferences();
    const apply = (whole: string, substituted: () => string): void => {
      const next = substituted();
      unchanged.visited(whole, next !== value);
      value = next;
    };

    // Cross-app phase.
    for (const [whole, appName, envName, ref] of crossAppMatches(value)) {
      if (unchanged.known(whole)) continue;
      const outcome = this.#crossTarget(() => this.#appByName(appName), envName);
      if (outcome === 'denied') return value;
      apply(whole, () => (outcome ? this.#substitute(value, whole, outcome, ref, inner) : value));
    }
    // Cross-environment phase (environments of the referencing secret's own app).
    for (const [whole, envName, ref] of crossEnvMatches(value)) {
      if (unchanged.known(whole)) continue;
      const outcome = this.#crossTarget(() => ({ id: appId, name: '', sseEnabled: true }), envName);
      if (outcome === 'denied') return value;
      apply(whole, () => (outcome ? this.#substitute(value, whole, outcome, ref, inner) : value));
    }
    // Local phase: same environment, no access check.
    for (const [whole, ref] of localMatches(value)) {
      if (unchanged.known(whole)) continue;
      const target = { environmentId: secret.environmentId, appId };
      apply(whole, () => this.#substitute(value, whole, target, ref, inner));
    }
    return value;
  }

  /**
   * The environment a cross reference points at; undefined when the reference fails, 'denied' when
   * the caller may not read it (which stops expanding the rest of the text, §6.2 step 3).
   */
  #crossTarget(app: () => AppEntry | undefined, envName: string): { environmentId: string; appId: string } | 'denied' | undefined {
    const target = app();
    if (!target) return undefined;
    const environments = this.world.environmentsOf(target.id);
    if (!environments) {
      this.missing.environmentsOfApps.add(target.id);
      return undefined;
    }
    const lower = envName.toLowerCase();
    const environment = environments.find((env) => env.name.toLowerCase() === lower);
    if (!environment) return undefined;
    if (!this.world.canAccess(environment.id)) return 'denied';
    if (!target.sseEnabled) return undefined;
    return { environmentId: environment.id, appId: target.id };
  }

  #appByName(name: string): AppEntry | undefined {
    const apps = this.world.appsNamed(name);
    if (!apps) {
      this.missing.appList = true;
      return undefined;
    }
    return apps.length === 1 ? apps[0] : undefined;
  }

  /** Looks the referenced secret up, expands it, and replaces every occurrence of `whole`. */
  #substitute(value: string, whole: string, target: { environmentId: string; appId: string }, ref: string, visited: readonly string[]): string {
    const snapshot = this.world.snapshot(target.environmentId);
    if (!snapshot) {
      if (!this.world.gone(target.environmentId)) this.missing.snapshots.add(target.environmentId);
      return value;
    }
    this.used.add(target.environmentId);
    const { path, key } = split(ref);
    const found = snapshot.at(path, key);
    if (found.length !== 1) return value;
    const referenced = found[0]!;
    // An earlier match of the same text replaced every occurrence: nothing left to expand again.
    this.#scanned += value.length;
    if (this.#scanned > MAX_SCANNED_PER_VALUE || this.#readScanned + this.#scanned > MAX_READ_SCANNED) throw new ExpansionBudgetExceeded();
    if (!value.includes(whole)) return value;
    try {
      const expanded = this.#expand(referenced, target.appId, referenced.value!, visited);
      const parts = value.split(whole);
      const length = value.length + (parts.length - 1) * (expanded.length - whole.length);
      if (length > MAX_RESOLVED_LENGTH) throw new ExpansionBudgetExceeded();
      this.#scanned += value.length + length;
      if (this.#scanned > MAX_SCANNED_PER_VALUE || this.#readScanned + this.#scanned > MAX_READ_SCANNED) throw new ExpansionBudgetExceeded();
      return parts.join(expanded);
    } catch (error) {
      if (error instanceof ReferenceFailure) return value;
      throw error;
    }
  }
}
