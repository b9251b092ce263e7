// Prometheus metrics at /metrics: request count and latency by route, method and status. Open, as
// /health/ is, unless COFFER_METRICS_TOKEN asks scrapers for a bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Whether the request carries `Bearer <token>`; compared as digests, in constant time. */
function bearsToken(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

async function metrics(app: FastifyInstance, options: { token?: string | undefined }) {
  const expected = options.token === undefined ? undefined : digest(options.token);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'coffer_' });
  const labelNames = ['route', 'method', 'status'] as const;
  const requests = new Counter({ name: 'coffer_http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] });
  const latency = new Histogram({
    name: 'coffer_http_request_duration_seconds',
    help: 'Time from request to response',
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.decorate('metrics', registry);

  // The label-bound series, looked up once per (route, method, status): binding labels on every
  // request would hash them each time.
  const series = new Map<string, { requests: ReturnType<typeof requests.labels>; latency: ReturnType<typeof latency.labels> }>();
  // Callback style: an async hook costs a promise per request for work that never waits.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? 'unmatched' : request.routeOptions.url ?? 'unmatched';
    const key = `${route} ${request.method} ${reply.statusCode}`;
    let bound = series.get(key);
    if (!bound) {
      const labels = { route, method: request.method, status: String(reply.statusCode) };
      bound = { requests: requests.labels(labels), latency: latency.labels(labels) };
      series.set(key, bound);
    }
    bound.requests.inc();
    bound.latency.observe(reply.elapsedTime / 1000);
    done();
  });

  app.get('/metrics', { config: { notJson: true }, schema: { hide: true } }, async (request, reply) => {
    if (expected && !bearsToken(request, expected)) {
      reply.code(401).header('www-authenticate', 'Bearer');
      return { error: 'Metrics need the bearer token set in COFFER_METRICS_TOKEN (Authorization: Bearer <token>)' };
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
}

export default fp(metrics, { name: 'coffer-metrics' });
