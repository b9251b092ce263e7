// Rate limiting (rest-api §1.9): one sliding log per principal, in process or shared through Redis.
// The sixth request of a 5/m budget gets 429 with Retry-After and Phase's exact message; two nodes on
// one Redis share the budget.
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MemoryRateLimitStore, RateLimiter, retryAfter, type RateLimitStore } from '../../../src/domain/rate-limit.js';
import { REDIS_RETRY_AFTER_MS, RedisRateLimitStore } from '../../../src/domain/rate-limit-redis.js';
import { DomainError } from '../../../src/domain/errors.js';
import { apiClient, createOwner, type ApiClient } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS, TEST_DATABASE_URL } from '../../helpers/stores.js';
import { addServiceAccount } from '../accounts/helpers.js';

const REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const NO_REDIS = 'TEST_REDIS_URL is not set: the Redis store needs a running Redis (CI sets it, e.g. redis://127.0.0.1:6379)';

/** The message and header of a 429, checked against each other. */
function assertThrottled(res: { status: number; body: any; headers: Headers }): number {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  const seconds = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After ${res.headers.get('retry-after')}`);
  assert.deepEqual(res.body, { error: `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.` });
  return seconds;
}

async function throttleMessage(limiter: RateLimiter, bucket: string): Promise<DomainError | undefined> {
  try {
    await limiter.check(bucket);
    return undefined;
  } catch (error) {
    return error as DomainError;
  }
}

/** The sliding log with a clock the test moves: identical answers from every store. */
async function checkSlidingLog(store: RateLimitStore): Promise<void> {
  let now = 1_000_000;
  const bucket = `user_${randomUUID()}`;
  const limiter = new RateLimiter({ count: 5, periodSeconds: 60 }, store, () => now);
  for (let i = 0; i < 5; i++) {
    assert.equal(await throttleMessage(limiter, bucket), undefined, `request ${i + 1} passes`);
    now += 1000;
  }
  now = 1_000_000 + 10_000;
  const sixth = await throttleMessage(limiter, bucket);
  assert.equal(sixth?.kind, 'throttled');
  // ceil((60 - (10 - 0)) / (5 - 5 + 1)) = 50
  assert.equal(sixth?.message, 'Request was throttled. Expected available in 50 seconds.');
  assert.deepEqual(sixth?.headers, { 'retry-after': '50' });
  // Rejected requests are not recorded: once the oldest leaves the window, one slot frees up.
  now = 1_000_000 + 60_000;
  assert.equal(await throttleMessage(limiter, bucket), undefined);
  const again = await throttleMessage(limiter, bucket);
  assert.equal(again?.message, 'Request was throttled. Expected available in 1 second.');
  // Other principals have their own log.
  assert.equal(await throttleMessage(limiter, `sa_${randomUUID()}`), undefined);
}

describe('rate-limit arithmetic (§1.9)', () => {
  it('computes Phase retry-after', () => {
    assert.equal(retryAfter({ count: 5, periodSeconds: 60 }, 5, 0, 10_000), 50);
    assert.equal(retryAfter({ count: 10, periodSeconds: 60 }, 10, 0, 0), 60);
    assert.equal(retryAfter({ count: 2, periodSeconds: 1 }, 2, 0, 500), 1);
    assert.equal(retryAfter({ count: 2, periodSeconds: 1 }, 3, 0, 500), undefined, 'unknown wait when the divisor is not positive');
  });

  it('keeps a sliding log in process', () => checkSlidingLog(new MemoryRateLimitStore()));

  it('keeps the same sliding log in Redis', { skip: REDIS_URL ? false : NO_REDIS }, async () => {
    const store = await RedisRateLimitStore.connect({ url: REDIS_URL!, keyPrefix: `coffer-test:${randomUUID()}:` });
    try {
      await checkSlidingLog(store);
    } finally {
      await store.close();
    }
  });

  it('keeps counting on its own, without waiting for Redis, while Redis is stalled, and asks it again later', { skip: REDIS_URL ? false : NO_REDIS }, async () => {
    const proxy = await freezableProxy(new URL(REDIS_URL!));
    const errors: unknown[] = [];
    const store = await RedisRateLimitStore.connect({ url: proxy.url, keyPrefix: `coffer-test:${randomUUID()}:`, onError: (error) => errors.push(error) });
    const limit = { count: 3, periodSeconds: 60 };
    try {
      assert.deepEqual(await store.hit('shared', limit, Date.now()), { allowed: true });
      proxy.freeze();
      // The first request finds Redis stalled (after its command timeout); the rest of the window
      // goes by this node's own log: 3 allowed, then refused, and Redis is not asked.
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push((await store.hit('stalled', limit, Date.now())).allowed);
      assert.deepEqual(decisions, [true, true, true, false, false]);
      assert.equal(errors.length, 1, 'one warning for the outage, not one per request');
      assert.equal(proxy.sentWhileFrozen(), 1, 'only the first request went to Redis');
      proxy.thaw();
      assert.deepEqual(await store.hit('again', limit, Date.now() + REDIS_RETRY_AFTER_MS), { allowed: true }, 'asked again once the pause is over');
      assert.equal(errors.length, 1);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('fails to start on a Redis it cannot reach', async () => {
    await assert.rejects(RedisRateLimitStore.connect({ url: 'redis://127.0.0.1:1' }), /cannot reach Redis at REDIS_URL/);
  });
});

async function exhaust(client: ApiClient, path: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await client.get(path);
    assert.notEqual(res.status, 429, `request ${i + 1} of ${count} was throttled`);
  }
}

for (const target of STORE_TARGETS) {
  for (const backend of ['memory', 'redis'] as const) {
    describe(`RATE_LIMIT_DEFAULT=5/m with the ${backend} store on ${target.kind}`, { skip: backend === 'redis' && !REDIS_URL ? NO_REDIS : false }, () => {
      let server: TestServer;
      let api: ApiClient;
      let organisationId: string;
      before(async () => {
        server = await startTestServer({ store: target.kind, env: { RATE_LIMIT_DEFAULT: '5/m', ...(backend === 'redis' ? { REDIS_URL: REDIS_URL! } : {}) } });
        const owner = await createOwner(server.domain);
        organisationId = owner.organisationId;
        api = apiClient(server.url, owner.authorization);
      });
      after(() => server.close());

      it('answers the sixth request with 429, Retry-After and the exact message', async () => {
        // Requests that fail context resolution are not counted.
        for (let i = 0; i < 3; i++) assert.equal((await api.get(`/v1/apps/${randomUUID()}/`)).status, 404);
        await exhaust(api, '/v1/roles/', 4);
        // A request refused by a permission check still counts.
        assert.equal((await api.call('PATCH', '/v1/roles/')).status, 405);
        assertThrottled(await api.get('/v1/roles/'));
        assertThrottled(await api.post('/v1/apps/', { name: 'x' }));
      });

      it('keeps one budget per principal, shared by all tokens of a service account', async () => {
        const other = await createOwner(server.domain);
        const sa = await addServiceAccount(server, apiClient(server.url, other.authorization), other.organisationId);
        const second = await apiClient(server.url, other.authorization).post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'two' });
        assert.equal(second.status, 201, second.text);
        const secondClient = apiClient(server.url, `Bearer ${second.body.bearerToken}`);
        await exhaust(sa.api, '/v1/roles/', 3);
        await exhaust(secondClient, '/v1/roles/', 2);
        assertThrottled(await secondClient.get('/v1/roles/'));
        assertThrottled(await sa.api.get('/v1/roles/'));
        assert.equal((await apiClient(server.url, other.authorization).get('/v1/roles/')).status, 200, "the owner's budget is its own");
        assertThrottled(await api.get(`/v1/roles/?org=${organisationId}`));
      });
    });
  }
}

describe('two nodes sharing one Redis', { skip: !REDIS_URL ? NO_REDIS : !TEST_DATABASE_URL ? 'two nodes need one shared database: set TEST_DATABASE_URL' : false }, () => {
  let first: TestServer;
  let second: TestServer;
  before(async () => {
    const env = { RATE_LIMIT_DEFAULT: '5/m', REDIS_URL: REDIS_URL!, COFFER_MASTER_KEY: 'ab'.repeat(32) };
    first = await startTestServer({ store: 'postgres', env });
    second = await startTestServer({ store: 'postgres', env });
  });
  after(async () => {
    await first.close();
    await second.close();
  });

  it('shares the budget of a principal between the nodes', async () => {
    const owner = await createOwner(first.domain);
    const onFirst = apiClient(first.url, owner.authorization);
    const onSecond = apiClient(second.url, owner.authorization);
    await exhaust(onFirst, '/v1/roles/', 3);
    await exhaust(onSecond, '/v1/roles/', 2);
    assertThrottled(await onFirst.get('/v1/roles/'));
    assertThrottled(await onSecond.get('/v1/roles/'));
  });
});

/**
 * A TCP proxy to Redis that can stop passing client bytes on (a stalled Redis: connected, silent)
 * and counts the writes that arrive while it does.
 */
async function freezableProxy(target: URL) {
  let frozen = false;
  let arrivedFrozen = 0;
  const held: Array<{ upstream: net.Socket; data: Buffer }> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (data) => {
      if (frozen) {
        arrivedFrozen++;
        held.push({ upstream, data });
      } else upstream.write(data);
    });
    upstream.on('data', (data) => client.write(data));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) a.on('close', () => b.destroy()).on('error', () => b.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}${target.pathname}`,
    freeze: () => void (frozen = true),
    thaw: () => {
      frozen = false;
      for (const { upstream, data } of held.splice(0)) upstream.write(data);
    },
    sentWhileFrozen: () => arrivedFrozen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
