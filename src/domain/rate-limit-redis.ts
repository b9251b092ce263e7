// The rate-limit sliding log in Redis (rest-api §1.9, OPEN-4), so several Coffer nodes share one
// budget per principal. One Lua script per request keeps check-and-record atomic: a sorted set per
// bucket holds the accepted requests' timestamps; rejected requests are not recorded.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RateLimit } from '../config.js';
import { MemoryRateLimitStore, retryAfter, type RateLimitDecision, type RateLimitStore } from './rate-limit.js';

// KEYS[1] bucket; ARGV: now (ms), window (ms), count, unique member.
// Returns {1} when recorded, {0, recorded, oldest ms} when the window is full.
const SLIDING_LOG = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local recorded = redis.call('ZCARD', key)
if recorded >= count then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, recorded, oldest[2]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return {1}
`;

export interface RedisRateLimitOptions {
  url: string;
  /** Prefix of every key (several deployments can share a Redis). */
  keyPrefix?: string;
  /** Called when Redis cannot answer; the request is then let through (see docs/access.md). */
  onError?: (error: unknown) => void;
}

type SlidingLogRedis = Redis & {
  cofferSlidingLog(key: string, now: number, windowMs: number, count: number, member: string): Promise<[number, number?, string?]>;
};

/**
 * After Redis fails to answer, how long this node counts on its own before asking Redis again: a
 * request must not wait for a Redis that is down or stalled (each did, 1 to 4 s, at 1 % of the
 * usual throughput), and an unanswered limiter must not let everything through either.
 */
export const REDIS_RETRY_AFTER_MS = 5_000;

export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: SlidingLogRedis;
  readonly #prefix: string;
  readonly #onError: (error: unknown) => void;
  /** This node's own sliding log, used while Redis is failing. */
  readonly #local = new MemoryRateLimitStore();
  #failingUntil = 0;

  private constructor(redis: SlidingLogRedis, options: RedisRateLimitOptions) {
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? 'coffer:rate:';
    this.#onError = options.onError ?? (() => {});
  }

  /** Connects first, so a wrong REDIS_URL stops the server at start instead of failing open silently. */
  static async connect(options: RedisRateLimitOptions): Promise<RedisRateLimitStore> {
    // No offline queue: while the connection is down a command fails at once instead of waiting
    // for a reconnection; a stalled Redis fails it after commandTimeout.
    const redis = new Redis(options.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
    }) as SlidingLogRedis;
    redis.defineCommand('cofferSlidingLog', { numberOfKeys: 1, lua: SLIDING_LOG });
    // ioredis reports connection trouble as events; the hit() path reports the consequences.
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new Error(`cannot reach Redis at REDIS_URL: ${(error as Error).message}`);
    }
    return new RedisRateLimitStore(redis, options);
  }

  async hit(bucket: string, limit: RateLimit, nowMs: number): Promise<RateLimitDecision> {
    if (nowMs < this.#failingUntil) return this.#local.hit(bucket, limit, nowMs);
    const windowMs = limit.periodSeconds * 1000;
    const member = `${nowMs}-${randomBytes(6).toString('hex')}`;
    try {
      const [recordedNow, recorded, oldest] = await this.#redis.cofferSlidingLog(this.#prefix + bucket, nowMs, windowMs, limit.count, member);
      if (recordedNow === 1) return { allowed: true };
      return { allowed: false, retryAfterSeconds: retryAfter(limit, Number(recorded), Number(oldest), nowMs) };
    } catch (error) {
      // A rate limiter protects capacity, not secrets: losing Redis must not take the API down.
      // Until it is asked again, each node keeps its own budget (as without REDIS_URL).
      if (nowMs >= this.#failingUntil) this.#onError(error);
      this.#failingUntil = nowMs + REDIS_RETRY_AFTER_MS;
      return this.#local.hit(bucket, limit, nowMs);
    }
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
