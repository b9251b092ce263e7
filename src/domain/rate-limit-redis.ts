// The rate-limit sliding log in Redis (rest-api §1.9, OPEN-4), so several Coffer nodes share one
// budget per principal. One Lua script per request keeps check-and-record atomic: a sorted set per
// bucket holds the accepted requests' timestamps; rejected requests are not recorded.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RateLimit } from '../config.js';
import { retryAfter, type RateLimitDecision, type RateLimitStore } from './rate-limit.js';

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

export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: SlidingLogRedis;
  readonly #prefix: string;
  readonly #onError: (error: unknown) => void;

  private constructor(redis: SlidingLogRedis, options: RedisRateLimitOptions) {
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? 'coffer:rate:';
    this.#onError = options.onError ?? (() => {});
  }

  /** Connects first, so a wrong REDIS_URL stops the server at start instead of failing open silently. */
  static async connect(options: RedisRateLimitOptions): Promise<RedisRateLimitStore> {
    const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 2_000, enableAutoPipelining: true }) as SlidingLogRedis;
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
    const windowMs = limit.periodSeconds * 1000;
    const member = `${nowMs}-${randomBytes(6).toString('hex')}`;
    try {
      const [recordedNow, recorded, oldest] = await this.#redis.cofferSlidingLog(this.#prefix + bucket, nowMs, windowMs, limit.count, member);
      if (recordedNow === 1) return { allowed: true };
      return { allowed: false, retryAfterSeconds: retryAfter(limit, Number(recorded), Number(oldest), nowMs) };
    } catch (error) {
      // A rate limiter protects capacity, not secrets: losing Redis must not take the API down.
      this.#onError(error);
      return { allowed: true };
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
