// Small bounded caches for the hot path. On PostgreSQL (possibly several nodes) entries expire after
// maxAgeMs so changes made elsewhere are seen within that time; on the embedded store this process is
// the only writer, entries never expire and the owning module clears them when it writes.

export class TtlCache<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(
    readonly maxEntries: number,
    readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    // Entries that never expire (embedded store) spare the clock read on every hit.
    if (entry.expiresAt !== Infinity && entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /**
   * @param readAt when the value was read from the database (default now): the entry expires
   *   maxAgeMs after the read began, so a slow lookup cannot stretch how long a stale value lives.
   */
  set(key: K, value: V, readAt: number = this.now()): void {
    if (this.#entries.size >= this.maxEntries && !this.#entries.has(key)) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt: this.maxAgeMs === Infinity ? Infinity : readAt + this.maxAgeMs });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Concurrent callers asking for the same key share one promise. */
export class SingleFlight<K, V> {
  readonly #inFlight = new Map<K, Promise<V>>();

  run(key: K, load: () => Promise<V>): Promise<V> {
    const existing = this.#inFlight.get(key);
    if (existing) return existing;
    const promise = load().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }
}
