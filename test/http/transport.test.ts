// Transport conventions of rest-api §1 that every route shares.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import { readJsonBody, readJsonBodyAnyType } from '../../src/http/body.js';
import { request, startTestServer, type TestServer } from '../helpers/server.js';

describe('transport conventions', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      store: 'pglite',
      env: { ALLOWED_ORIGINS: 'https://console.example.com' },
      // Probe routes that use the shared body and query machinery the API routes use.
      extraRoutes: async (app) => {
        app.post('/v1/probe-json/', async (req) => ({ body: readJsonBody(req) }));
        app.post('/v1/probe-any/', async (req) => ({ body: readJsonBodyAnyType(req) }));
        app.get('/v1/probe-query/', async (req) => ({ query: req.query }));
      },
    });
  });
  after(() => server.close());

  it('serves the root body under all four prefixes', async () => {
    for (const prefix of ['/', '/public/', '/service/', '/service/public/']) {
      const res = await request(server.url + prefix);
      assert.equal(res.status, 200, prefix);
      assert.deepEqual(res.body, {
        message: 'API is alive. Please see https://docs.phase.dev/public-api for documentation on available endpoints.',
        status: 'ok',
      });
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    }
  });

  it('serves /health/ at the root and under /service only', async () => {
    for (const path of ['/health/', '/service/health/', '/493c5048-99f9-4eac-ad0d-98c3740b491f/health']) {
      const res = await request(server.url + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.body.status, 'alive');
      assert.match(res.body.version, /^v\d+\.\d+\.\d+/);
    }
    for (const path of ['/public/health/', '/v1/health/', '/service/public/health/']) {
      const res = await request(server.url + path);
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { error: 'Not found.' });
    }
  });

  it('answers other methods on / and /health/ with 405', async () => {
    const res = await request(`${server.url}/health/`, { method: 'POST' });
    assert.equal(res.status, 405);
    assert.deepEqual(res.body, { error: 'Method "POST" not allowed.' });
    const root = await request(`${server.url}/`, { method: 'DELETE' });
    assert.equal(root.status, 405);
    assert.deepEqual(root.body, { error: 'Method "DELETE" not allowed.' });
  });

  it('does not rewrite /services or /serviceabc', async () => {
    for (const path of ['/services/health/', '/serviceabc/health/', '/services/']) {
      assert.equal((await request(server.url + path)).status, 404, path);
    }
  });

  it('answers a missing trailing slash with a JSON 404, never a redirect', async () => {
    for (const path of ['/health', '/v1/secrets', '/public/v1/apps', '/service/public/v1/secrets']) {
      const res = await request(server.url + path, { redirect: 'manual' });
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { error: 'Not found.' });
      assert.equal(res.headers.get('location'), null);
    }
  });

  it('matches a path parameter only to a non-empty segment: an empty one is an unknown route, before authentication', async () => {
    for (const path of ['/v1/apps//', '/public/v1/apps//', '/v1/environments//', '/v1/roles//', '/v1/service-accounts//tokens/', '/v1/service-accounts/x/tokens//', '/v1/members//access/', '/v1/members/invites//', '/coffer/v1/apps//enable-sse/']) {
      for (const method of ['GET', 'PUT', 'DELETE', 'POST']) {
        const res = await request(server.url + path, { method });
        assert.deepEqual([res.status, res.body], [404, { error: 'Not found.' }], `${method} ${path}`);
      }
    }
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(`${server.url}/no/such/route/`);
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'Not found.' });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  });

  it('answers 406 when the Accept header admits no JSON', async () => {
    const res = await request(`${server.url}/health/`, { headers: { accept: 'text/plain' } });
    assert.equal(res.status, 406);
    assert.deepEqual(res.body, { error: 'Could not satisfy the request Accept header.' });
    for (const accept of ['application/json', '*/*', 'application/*', 'text/html, application/json;q=0.5', '']) {
      assert.equal((await request(`${server.url}/health/`, { headers: { accept } })).status, 200, accept);
    }
  });

  it('rejects bodies above the limit with 413', async () => {
    const big = 'x'.repeat(2_621_441);
    const res = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: JSON.stringify({ big }), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 413);
    assert.deepEqual(res.body, { error: 'Request body too large.' });
    // exactly at the limit is accepted
    const atLimit = JSON.stringify({ b: 'x'.repeat(2_621_440 - 8) });
    assert.equal(atLimit.length, 2_621_440);
    const ok = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: atLimit, headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 200);
  });

  it('parses JSON bodies by content type, with the framework messages', async () => {
    const bad = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '{"a":', headers: { 'content-type': 'application/json' } });
    assert.deepEqual([bad.status, bad.body], [400, { error: 'JSON parse error - the body ends before the JSON does.' }]);
    // The parser's own message quotes the body: a password or secret typed into it came back.
    for (const url of ['/v1/probe-json/', '/coffer/v1/auth/login/']) {
      const echoed = await request(`${server.url}${url}`, { method: 'POST', body: '{"loginHash": zqsecretpw}', headers: { 'content-type': 'application/json' } });
      assert.deepEqual([echoed.status, echoed.body], [400, { error: 'JSON parse error - the body is not valid JSON.' }], url);
    }
    const positioned = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '{zqsecretpw: 1}', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(positioned.body, { error: 'JSON parse error - the body is not valid JSON at position 1.' });
    const empty = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(empty.body, { body: {} });
    const array = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '[1]', headers: { 'content-type': 'application/json' } });
    assert.equal(array.status, 400);
    assert.deepEqual(array.body, { error: 'Request body must be a JSON object.' });
    const form = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: 'name=a&name=b&x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(form.body, { body: { name: 'b', x: '1' } });
    const xml = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '<a/>', headers: { 'content-type': 'application/xml' } });
    assert.equal(xml.status, 415);
    assert.deepEqual(xml.body, { error: 'Unsupported media type "application/xml" in request.' });
    const none = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: new Blob(['{"a":1}']) });
    assert.equal(none.status, 415);
    assert.deepEqual(none.body, { error: 'Unsupported media type "" in request.' });    // A malformed type where the type selects the parser: 415 naming it as sent.
    const malformed = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'foo' } });
    assert.deepEqual([malformed.status, malformed.body], [415, { error: 'Unsupported media type "foo" in request.' }]);
    // Only application/json is JSON to Phase's framework, not every +json type.
    const vendor = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/vnd.api+json' } });
    assert.deepEqual([vendor.status, vendor.body], [415, { error: 'Unsupported media type "application/vnd.api+json" in request.' }]);
    // Bytes that are not UTF-8 are not JSON (read with U+FFFD they would be stored as other text).
    const latin1 = await request(`${server.url}/v1/probe-json/`, { method: 'POST', body: Buffer.from('{"a":"caf\xe9"}', 'latin1'), headers: { 'content-type': 'application/json' } });
    assert.deepEqual([latin1.status, latin1.body], [400, { error: 'JSON parse error - the body is not valid UTF-8.' }]);
  });

  it('parses JSON whatever the content type where the contract says so', async () => {
    const form = await request(`${server.url}/v1/probe-any/`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(form.body, { body: { a: 1 } });
    // Also under a malformed type, which the framework would have refused with 415 before any check.
    for (const type of ['foo', 'text', ';', 'application/json; charset']) {
      const res = await request(`${server.url}/v1/probe-any/`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': type } });
      assert.deepEqual([res.status, res.body], [200, { body: { a: 1 } }], type);
    }
    const cases: Array<[string, string]> = [
      ['', 'Request body is required.'],
      [' \n', 'Request body must be valid JSON.'], // not empty, as Phase's `if not request.body` sees it
      ['{nope', 'Request body must be valid JSON.'],
      ['"text"', 'Request body must be a JSON object.'],
    ];
    for (const [body, error] of cases) {
      const res = await request(`${server.url}/v1/probe-any/`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
      assert.equal(res.status, 400, body);
      assert.deepEqual(res.body, { error }, body);
    }
    const latin1 = await request(`${server.url}/v1/probe-any/`, { method: 'POST', body: Buffer.from('{"a":"caf\xe9"}', 'latin1'), headers: { 'content-type': 'text/plain' } });
    assert.deepEqual([latin1.status, latin1.body], [400, { error: 'Request body must be valid JSON.' }]);
  });

  it('rewrites camelCase query names to snake_case, last occurrence wins', async () => {
    const res = await request(`${server.url}/service/v1/probe-query/?appId=a&leaseTtl=5&env=dev&env=prod&secret_id=s&includeDynamic=1`);
    assert.deepEqual(res.body.query, { app_id: 'a', lease_ttl: '5', env: 'prod', secret_id: 's', include_dynamic: '1' });
  });

  it('sends CORS headers to allowed origins only and answers pre-flight requests', async () => {
    const allowed = await request(`${server.url}/health/`, { headers: { origin: 'https://console.example.com' } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://console.example.com');
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
    const other = await request(`${server.url}/health/`, { headers: { origin: 'https://evil.example.com' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(`${server.url}/v1/probe-json/`, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://console.example.com');
  });

  it('publishes an OpenAPI document and a docs page', async () => {
    const doc = await request(`${server.url}/openapi.json`);
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.0.3');
    assert.ok(doc.body.paths['/health/']);
    const page = await fetch(`${server.url}/docs`, { redirect: 'follow' });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger/i);
  });

  it('exposes request metrics by route and status', async () => {
    await request(`${server.url}/health/`);
    const res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    assert.match(text, /coffer_http_requests_total\{route="\/health\/",method="GET",status="200"\} \d+/);
    assert.match(text, /coffer_http_request_duration_seconds_bucket\{le="0\.005",route="\/health\/",method="GET",status="200"\}/);
  });

  it('logs one line per request with a request id and no query values or bearer tokens', async () => {
    const before = server.logs.length;
    const res = await request(`${server.url}/v1/probe-query/?key=SUPER_SECRET_NAME`, { headers: { authorization: 'Bearer User deadbeefcafe' } });
    const id = res.headers.get('x-request-id');
    assert.ok(id);
    const lines = server.logs.slice(before).join('\n');
    assert.match(lines, new RegExp(id!));
    assert.doesNotMatch(lines, /SUPER_SECRET_NAME/);
    assert.doesNotMatch(lines, /deadbeefcafe/);
  });
});

describe('request loggers with request lines off (LOG_LEVEL warn)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      store: 'pglite',
      env: { LOG_LEVEL: 'warn' },
      extraRoutes: async (app) => {
        app.get('/v1/probe-log/', async (req) => {
          req.log.info('PROBE_INFO_LINE');
          req.log.warn({ probe: 1 }, 'PROBE_WARN_LINE');
          req.log.child({ part: 'inner' }).error('PROBE_CHILD_LINE');
          const log = req.log as unknown as Logger;
          return { levelEnabled: { info: log.isLevelEnabled('info'), warn: log.isLevelEnabled('warn') }, level: log.level };
        });
      },
    });
  });
  after(() => server.close());

  it("writes a handler's lines at or above the level, each with its request id, and nothing below", async () => {
    const before = server.logs.length;
    const res = await request(`${server.url}/v1/probe-log/`);
    assert.deepEqual(res.body, { levelEnabled: { info: false, warn: true }, level: 'warn' });
    const lines = server.logs.slice(before).map((line) => JSON.parse(line));
    const id = res.headers.get('x-request-id');
    assert.deepEqual(
      lines.map((line) => [line.msg, line.reqId, line.probe, line.part]),
      [
        ['PROBE_WARN_LINE', id, 1, undefined],
        ['PROBE_CHILD_LINE', id, undefined, 'inner'],
      ],
    );
    // A request that logs nothing writes nothing.
    const quiet = server.logs.length;
    assert.equal((await request(`${server.url}/health/`)).status, 200);
    assert.equal(server.logs.length, quiet);
  });
});

describe('metrics behind COFFER_METRICS_TOKEN', () => {
  const token = 'scrape-0123456789abcdef';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store: 'pglite', env: { COFFER_METRICS_TOKEN: token } });
  });
  after(() => server.close());

  it('answers only the bearer token it was given; everything else is 401 with no metric in it', async () => {
    for (const authorization of [undefined, 'Bearer wrong-0123456789abcdef', `Bearer ${token}x`, `Basic ${token}`, token, `Bearer ${token.slice(0, -1)}`]) {
      const res = await fetch(`${server.url}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
      const text = await res.text();
      assert.equal(res.status, 401, `${authorization}: ${text}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(JSON.parse(text), { error: 'Metrics need the bearer token set in COFFER_METRICS_TOKEN (Authorization: Bearer <token>)' });
    }
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /coffer_http_requests_total\{route="\/metrics",method="GET",status="401"\} 6/);
  });

  it('refuses a token too short to be one, or one that cannot travel in a header, at start', () => {
    assert.throws(() => loadConfig({ COFFER_METRICS_TOKEN: 'short' }), /COFFER_METRICS_TOKEN must be at least 16 characters/);
    assert.throws(() => loadConfig({ COFFER_METRICS_TOKEN: 'has a space in it, 16+' }), /COFFER_METRICS_TOKEN must be printable ASCII without spaces/);
    assert.equal(loadConfig({}).metricsToken, undefined);
  });
});
