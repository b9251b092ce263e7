// Rate limiting (rest-api §1.9): one sliding log per principal, shared by every endpoint.
// In-process by default; with REDIS_URL the log lives in Redis so several nodes share it.
import { DomainError } from './errors.js';
import type { RateLimit } from '../config.js';

export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until a slot frees up, or undefined when unknown. */
  retryAfterSeconds?: number | undefined;
}

export interface RateLimitStore {
  /** Records a request at `nowMs` if fewer than `limit.count` were recorded in the window. */
  hit(bucket: string, limit: RateLimit, nowMs: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

/** N = ceil((duration - (now - oldest)) / (count - recorded + 1)), as Phase computes it. */
export function retryAfter(limit: RateLimit, recorded: number, oldestMs: number, nowMs: number): number | undefined {
  const divisor = limit.count - recorded + 1;
  if (divisor <= 0) return undefined;
  const remaining = limit.periodSeconds - (nowMs - oldestMs) / 1000;
  return Math.max(1, Math.ceil(remaining / divisor));
}

export class MemoryRateLimitStore implements RateLimitStore {
  readonly #logs = new Map<string, number[]>();

  async hit(bucket: string, limit: RateLimit, nowMs: number): Promise<RateLimitDecision> {
    const windowStart = nowMs - limit.periodSeconds * 1000;
    const log = (this.#logs.get(bucket) ?? []).filter((t) => t > windowStart);
    if (log.length >= limit.count) {
      this.#logs.set(bucket, log);
      return { allowed: false, retryAfterSeconds: retryAfter(limit, log.length, log[0]!, nowMs) };
    }
    log.push(nowMs);
    this.#logs.set(bucket, log);
    return { allowed: true };
  }

  async close(): Promise<void> {
    this.#logs.clear();
  }
}

export class RateLimiter {
  constructor(private readonly limit: RateLimit | undefined, private readonly store: RateLimitStore, private readonly now: () => number = Date.now) {}

  async check(bucket: string): Promise<void> {
    if (!this.limit) return;
    const decision = await this.store.hit(bucket, this.limit, this.now());
    if (decision.allowed) return;
    const seconds = decision.retryAfterSeconds;
    if (seconds === undefined) throw new DomainError('throttled', 'Request was throttled.');
    throw new DomainError('throttled', `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`, {
      'retry-after': String(seconds),
    });
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
