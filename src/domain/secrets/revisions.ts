// How a read learns an environment's current revision (DESIGN §5.3).
// - Embedded store: this process is the only writer, so the revisions it has seen or written are
//   authoritative; a cached read makes no query at all.
// - PostgreSQL (maybe several nodes): a read with nothing cached (or whose cached view its audit
//   append refused, see AppendEntry.guard) confirms the revision against the database. Reads
//   waiting at the same moment share one query (a few may be in flight at once), and a read only
//   joins a query that starts after it arrived, so it can never miss a write acknowledged before
//   the read began.
import type { Db } from '../../store/database.js';
import { findRevisions } from '../../store/secrets.js';

export interface RevisionSource {
  /** Current revisions; environments that no longer exist are absent from the map. */
  current(environmentIds: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** A local write committed (called after commit). */
  committed(environmentId: string, revision: number): void;
  /** The environment was deleted. */
  forget(environmentId: string): void;
}

export class LocalRevisions implements RevisionSource {
  readonly #known = new Map<string, number>();

  constructor(private readonly db: Db) {}

  async current(environmentIds: readonly string[]): Promise<ReadonlyMap<string, number>> {
    let missing: string[] | undefined;
    for (const id of environmentIds) if (!this.#known.has(id)) (missing ??= []).push(id);
    if (missing) {
      const loaded = await findRevisions(this.db, missing);
      for (const [id, revision] of loaded) if (!this.#known.has(id)) this.#known.set(id, revision);
    }
    if (environmentIds.length === 1) {
      const id = environmentIds[0]!;
      const revision = this.#known.get(id);
      return revision === undefined ? new Map() : new Map([[id, revision]]);
    }
    const result = new Map<string, number>();
    for (const id of environmentIds) {
      const revision = this.#known.get(id);
      if (revision !== undefined) result.set(id, revision);
    }
    return result;
  }

  committed(environmentId: string, revision: number): void {
    const known = this.#known.get(environmentId);
    if (known === undefined || revision > known) this.#known.set(environmentId, revision);
  }

  forget(environmentId: string): void {
    this.#known.delete(environmentId);
  }
}

interface Waiter {
  ids: readonly string[];
  resolve: (revisions: ReadonlyMap<string, number>) => void;
  reject: (error: unknown) => void;
}

export class SharedRevisions implements RevisionSource {
  #waiting: Waiter[] = [];
  #inFlight = 0;

  /** @param maxInFlight queries at once; a read arriving while they are all busy waits for the next. */
  constructor(private readonly db: Db, private readonly maxInFlight = 2) {}

  current(environmentIds: readonly string[]): Promise<ReadonlyMap<string, number>> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ ids: environmentIds, resolve, reject });
      if (this.#inFlight < this.maxInFlight) void this.#query();
    });
  }

  committed(): void {}

  forget(): void {}

  /** One query for every read waiting now (each of them arrived before it starts). */
  async #query(): Promise<void> {
    const batch = this.#waiting;
    this.#waiting = [];
    this.#inFlight++;
    const ids = new Set<string>();
    for (const waiter of batch) for (const id of waiter.ids) ids.add(id);
    try {
      const revisions = await findRevisions(this.db, [...ids]);
      for (const waiter of batch) waiter.resolve(revisions);
    } catch (error) {
      for (const waiter of batch) waiter.reject(error);
    } finally {
      this.#inFlight--;
      if (this.#waiting.length > 0) void this.#query();
    }
  }
}
