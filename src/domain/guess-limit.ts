// Slows down guessing of login hashes and setup codes: after `max` failures within the window, a
// key (an IP address, an e-mail address, "setup") is refused with 429 until its oldest failure ages
// out. In-process: each node counts its own failures (a guesser spread over N nodes gets N times the
// budget, still far too little against Argon2id-derived verifiers and 100-bit codes).
import { DomainError } from './errors.js';

export interface GuessLimit {
  max: number;
  windowMs: number;
}

/** Keys tracked at most; past it a sweep makes room down to SWEEP_TO (a sweep is O(keys)). */
export const MAX_KEYS = 100_000;
const SWEEP_TO = 90_000;

export class GuessLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(private readonly limit: GuessLimit, private readonly now: () => number = Date.now) {}

  /** Throws 429 `Too many failed attempts...` when any of the keys is over its budget. */
  check(keys: readonly string[]): void {
    const now = this.now();
    let waitMs = 0;
    for (const key of keys) {
      const recent = this.#recent(key, now);
      if (recent.length >= this.limit.max) waitMs = Math.max(waitMs, recent[0]! + this.limit.windowMs - now);
    }
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new DomainError('throttled', `Too many failed attempts. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`, {
        'retry-after': String(seconds),
      });
    }
  }

  /**
   * Starts one guess: refused (429) past the budget, otherwise counted as a failure at once, before
   * the slow check of the guess runs, and taken back by `succeeded()`. Counting only after the check
   * let every guess sent at the same moment pass the budget (60 at once were all checked).
   */
  begin(keys: readonly string[]): { succeeded(): void } {
    this.check(keys);
    const at = this.fail(keys);
    let done = false;
    return {
      succeeded: () => {
        if (done) return;
        done = true;
        // Failures are bare times: taking back any one of the same time is taking back this one.
        for (const key of keys) {
          const failures = this.#failures.get(key);
          const index = failures?.indexOf(at) ?? -1;
          if (index === -1) continue;
          failures!.splice(index, 1);
          if (failures!.length === 0) this.#failures.delete(key);
        }
      },
    };
  }

  /** Counts a failure of each key now; returns its time. */
  fail(keys: readonly string[]): number {
    const now = this.now();
    for (const key of keys) {
      const recent = this.#recent(key, now);
      recent.push(now);
      this.#failures.set(key, recent);
    }
    if (this.#failures.size > MAX_KEYS) this.#sweep(now);
    return now;
  }

  /**
   * Makes room: failures that aged out first, then keys still under their budget, oldest first;
   * keys being refused go last. Clearing everything instead let a guesser who can vary its
   * address (or e-mail) wipe a locked-out key's count by failing with 100,000 other keys.
   */
  #sweep(now: number): void {
    for (const key of [...this.#failures.keys()]) this.#recent(key, now);
    for (const [key, failures] of this.#failures) {
      if (this.#failures.size <= SWEEP_TO) return;
      if (failures.length < this.limit.max) this.#failures.delete(key);
    }
    for (const key of this.#failures.keys()) {
      if (this.#failures.size <= SWEEP_TO) return;
      this.#failures.delete(key);
    }
  }

  /** A success forgets the failures of these keys (e.g. the e-mail address that just signed in). */
  forget(keys: readonly string[]): void {
    for (const key of keys) this.#failures.delete(key);
  }

  #recent(key: string, now: number): number[] {
    const all = this.#failures.get(key);
    if (!all) return [];
    const recent = all.filter((t) => t > now - this.limit.windowMs);
    if (recent.length === 0) this.#failures.delete(key);
    else if (recent.length !== all.length) this.#failures.set(key, recent);
    return recent;
  }
}
