// Abuse limits (docs/security.md "Limits"): slow headers and slow bodies are cut off with 408 within
// HEADERS_TIMEOUT / REQUEST_TIMEOUT; bodies over BODY_LIMIT get 413 on the secrets and client-protocol
// routes too; a write batch holds at most 1000 secrets; reference chains deeper than 25 and
// references that multiply are answered promptly; and clients trickling bytes do not starve others.
// Also Coffer's bounds on folder depth and environments per new app, and tag counts past the
// parameters one statement can bind.
// The timing checks are "within the documented limit plus generous slack", never benchmarks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CompiledQuery } from 'kysely';
import { FOLDER_DEPTH_MAX } from '../../src/domain/secrets/paths.js';
import { liveSecretsQuery } from '../../src/store/secrets.js';
import { MAX_BATCH_SIZE } from '../../src/domain/secrets/validate.js';
import { MAX_QUEUED_RESPONSES } from '../../src/http/app.js';
import { PUBLIC_BODY_LIMIT } from '../../src/http/routes/console/define.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createApp, secretsUrl, type CreatedApp } from '../helpers/world.js';
import { encodeRequest, sendRaw } from './raw-http.js';

const HEADERS_TIMEOUT_S = 2;
const REQUEST_TIMEOUT_S = 4;
/** Node checks the limits once a second; the rest is slack for a loaded machine. */
const SLACK_MS = 1000 + 6000;
const BODY_LIMIT = 2_621_440;

/** The shape of a ph:v1 ciphertext (a nonce, the text, a MAC), which the server checks and stores as sent. */
const ciphertext = (text: string) => `ph:v1:${randomBytes(32).toString('hex')}:${Buffer.concat([randomBytes(24), Buffer.from(text), randomBytes(16)]).toString('base64')}`;
const digest = () => randomBytes(32).toString('hex');

for (const target of STORE_TARGETS) {
  describe(`abuse limits on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    let port: number;
    before(async () => {
      server = await startTestServer({ store: target.kind, env: { LOG_LEVEL: 'warn', HEADERS_TIMEOUT: String(HEADERS_TIMEOUT_S), REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_S) } });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, `limits-${randomBytes(3).toString('hex')}`);
      port = Number(new URL(server.url).port);
    });
    after(() => server.close());

    const secretsRequest = (body: Buffer | string, extra: Array<[string, string]> = []) =>
      ({ method: 'POST', target: secretsUrl(app.id, 'development'), headers: [['authorization', owner.authorization], ['content-type', 'application/json'], ...extra] as Array<[string, string]>, body });

    it(`cuts off a client that sends its headers slowly with 408 after HEADERS_TIMEOUT (${HEADERS_TIMEOUT_S} s)`, async () => {
      const head = Buffer.from(`GET /health/ HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ${'a'.repeat(200)}`);
      const outcome = await sendRaw(head, { port, timeoutMs: 30_000, trickle: { bytes: 1, delayMs: 100 } });
      assert.notEqual(outcome.kind, 'timeout', 'the server never cut the slow client off');
      assert.ok(outcome.ms >= HEADERS_TIMEOUT_S * 1000 - 100, `cut off after ${outcome.ms} ms, before the limit`);
      assert.ok(outcome.ms <= HEADERS_TIMEOUT_S * 1000 + SLACK_MS, `cut off only after ${outcome.ms} ms`);
      assert.equal(outcome.kind, 'response');
      if (outcome.kind === 'response') {
        assert.equal(outcome.status, 408);
        assert.equal(typeof JSON.parse(outcome.body.toString()).error, 'string');
      }
    });

    it(`cuts off a client that sends its body slowly with 408 after REQUEST_TIMEOUT (${REQUEST_TIMEOUT_S} s)`, async () => {
      const body = JSON.stringify({ secrets: [{ key: 'SLOW', value: 'x'.repeat(500) }] });
      const bytes = encodeRequest(secretsRequest(body));
      const headEnd = bytes.indexOf('\r\n\r\n') + 4;
      // headers at once, then the body a byte every 100 ms (it would take a minute)
      const outcome = await sendRaw(bytes, { port, timeoutMs: 30_000, trickle: { bytes: 1, delayMs: 100, startAt: headEnd } });
      assert.notEqual(outcome.kind, 'timeout', 'the server never cut the slow body off');
      assert.ok(outcome.ms >= REQUEST_TIMEOUT_S * 1000 - 100, `cut off after ${outcome.ms} ms, before the limit`);
      assert.ok(outcome.ms <= REQUEST_TIMEOUT_S * 1000 + SLACK_MS, `cut off only after ${outcome.ms} ms`);
      assert.equal(outcome.kind === 'response' && outcome.status, 408);
      // nothing of the slow batch was written
      assert.deepEqual((await api.get(`${secretsUrl(app.id, 'development')}&key=SLOW`)).body, []);
    });

    it('keeps answering other clients promptly while several connections trickle headers and bodies', async () => {
      // each slow connection sends a byte every 150 ms and would need far longer than the limits
      const slowHeaders = Array.from({ length: 12 }, () => sendRaw(Buffer.from(`GET /v1/apps/ HTTP/1.1\r\nhost: x\r\nx-pad: ${'p'.repeat(400)}`), { port, timeoutMs: 40_000, trickle: { bytes: 1, delayMs: 150 } }));
      const slowBodies = Array.from({ length: 12 }, (_, i) => {
        const bytes = encodeRequest(secretsRequest(JSON.stringify({ secrets: [{ key: `TRICKLE_${i}`, value: 'v'.repeat(400) }] })));
        return sendRaw(bytes, { port, timeoutMs: 40_000, trickle: { bytes: 1, delayMs: 150, startAt: bytes.indexOf('\r\n\r\n') + 4 } });
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      const url = secretsUrl(app.id, 'development');
      for (let round = 0; round < 8; round++) {
        const answers = await Promise.all([
          api.get('/health/'),
          api.get(url),
          api.post(url, { secrets: [{ key: `PROMPT_${round}`, value: `v${round}` }] }),
          api.get('/v1/apps/'),
        ]);
        for (const res of answers) assert.equal(res.status, 200, res.text);
      }
      // 32 requests; a starved server would not answer them before the slow clients are cut off
      const elapsed = Date.now() - started;
      assert.ok(elapsed < HEADERS_TIMEOUT_S * 1000 + SLACK_MS, `32 normal requests took ${elapsed} ms beside the slow clients`);
      const outcomes = await Promise.all([...slowHeaders, ...slowBodies]);
      for (const outcome of outcomes) assert.notEqual(outcome.kind, 'timeout', 'every slow client is eventually cut off');
    });

    it('answers 413 to bodies over BODY_LIMIT on the REST secrets, client-protocol and /coffer/v1 routes', async () => {
      const big = JSON.stringify({ secrets: [{ key: 'BIG', value: 'x'.repeat(BODY_LIMIT) }] });
      const environment = app.env.development!.id;
      const routes = [
        { target: secretsUrl(app.id, 'development'), method: 'POST' },
        { target: secretsUrl(app.id, 'development'), method: 'PUT' },
        { target: '/service/secrets/', method: 'POST' },
        { target: '/service/secrets/', method: 'DELETE' },
        { target: '/coffer/v1/tokens/', method: 'POST' },
        { target: '/v1/apps/', method: 'POST' },
      ];
      for (const route of routes) {
        for (const chunked of [false, true]) {
          const headers: Array<[string, string]> = [['authorization', owner.authorization], ['environment', environment], ['content-type', 'application/json']];
          const body = chunked ? `${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n` : big;
          if (chunked) headers.push(['transfer-encoding', 'chunked']);
          const outcome = await sendRaw({ method: route.method, target: route.target, headers, body, autoLength: !chunked }, { port, timeoutMs: 30_000 });
          assert.equal(outcome.kind, 'response', `${route.method} ${route.target}`);
          if (outcome.kind === 'response') {
            assert.equal(outcome.status, 413, `${route.method} ${route.target} chunked=${chunked}: ${outcome.body.toString().slice(0, 200)}`);
            assert.deepEqual(JSON.parse(outcome.body.toString()), { error: 'Request body too large.' });
          }
        }
      }
      assert.deepEqual((await api.get(`${secretsUrl(app.id, 'development')}&key=BIG`)).body, []);
    });

    it(`holds anonymous bodies to ${PUBLIC_BODY_LIMIT / 1024} KiB on the public /coffer/v1 routes, and answers an unknown path before its body`, async () => {
      const json = (size: number) => JSON.stringify({ email: 'nobody@example.com', loginHash: 'a'.repeat(64), pad: 'x'.repeat(size) });
      const publicRoutes = [
        { method: 'POST', target: '/coffer/v1/auth/login/' },
        { method: 'POST', target: '/coffer/v1/setup/' },
        { method: 'POST', target: '/coffer/v1/invites/not-an-invite/accept/' },
        { method: 'PUT', target: '/coffer/v1/auth/login/' }, // answered 405 when small
      ];
      for (const route of publicRoutes) {
        for (const chunked of [false, true]) {
          const big = json(PUBLIC_BODY_LIMIT);
          const headers: Array<[string, string]> = [['content-type', 'application/json']];
          if (chunked) headers.push(['transfer-encoding', 'chunked']);
          const body = chunked ? `${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n` : big;
          const outcome = await sendRaw({ method: route.method, target: route.target, headers, body, autoLength: !chunked }, { port, timeoutMs: 30_000 });
          assert.equal(outcome.kind, 'response', `${route.method} ${route.target}`);
          if (outcome.kind !== 'response') continue;
          assert.equal(outcome.status, 413, `${route.method} ${route.target} chunked=${chunked}: ${outcome.body.toString().slice(0, 200)}`);
          assert.deepEqual(JSON.parse(outcome.body.toString()), { error: 'Request body too large.' });
        }
      }
      // Just under the limit the route itself answers (a wrong sign-in, a bad method).
      const login = await sendRaw({ method: 'POST', target: '/coffer/v1/auth/login/', headers: [['content-type', 'application/json']], body: json(PUBLIC_BODY_LIMIT - 1024) }, { port, timeoutMs: 30_000 });
      assert.equal(login.kind === 'response' && login.status, 401);
      const wrongMethod = await sendRaw({ method: 'PUT', target: '/coffer/v1/auth/login/', headers: [['content-type', 'application/json']], body: json(PUBLIC_BODY_LIMIT - 1024) }, { port, timeoutMs: 30_000 });
      assert.equal(wrongMethod.kind === 'response' && wrongMethod.status, 405);

      // An unknown path is answered at once, with the body announced but never sent (before, the
      // server read it in full and REQUEST_TIMEOUT cut the client off with 408).
      const unknown = await sendRaw(
        { method: 'POST', target: '/no-such-route/', headers: [['content-type', 'application/json'], ['content-length', String(BODY_LIMIT)]], body: '{"a":' },
        { port, timeoutMs: 30_000 },
      );
      assert.equal(unknown.kind, 'response');
      if (unknown.kind === 'response') {
        assert.equal(unknown.status, 404);
        assert.deepEqual(JSON.parse(unknown.body.toString()), { error: 'Not found.' });
      }
    });

    it(`refuses write batches of more than ${MAX_BATCH_SIZE} secrets (REST and client protocol) and accepts ${MAX_BATCH_SIZE}`, async () => {
      const url = secretsUrl(app.id, 'staging');
      const message = `Too many secrets in one request: at most ${MAX_BATCH_SIZE} per batch (got ${MAX_BATCH_SIZE + 1}). Split the batch.`;
      const tooMany = Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => ({ key: `BATCH_${i}`, value: `v${i}` }));
      const refusals = [
        await api.post(url, { secrets: tooMany }),
        await api.put(url, { secrets: tooMany.map((_, i) => ({ id: `id-${i}`, value: 'x' })) }),
        await api.delete(url, { secrets: tooMany.map((_, i) => `id-${i}`) }),
      ];
      const environment = app.env.production!.id;
      const encrypted = tooMany.map((s) => ({ key: ciphertext(s.key), value: ciphertext(s.value), comment: '', keyDigest: digest() }));
      refusals.push(
        await api.post('/service/secrets/', { secrets: encrypted }, { environment }),
        await api.put('/service/secrets/', { secrets: encrypted.map((_, i) => ({ id: `id-${i}`, value: ciphertext('x') })) }, { environment }),
        await api.delete('/service/secrets/', { secrets: encrypted.map((_, i) => `id-${i}`) }, { environment }),
      );
      for (const res of refusals) assert.deepEqual({ status: res.status, body: res.body }, { status: 400, body: { error: message } });

      const created = await api.post(url, { secrets: tooMany.slice(0, MAX_BATCH_SIZE) });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.body.length, MAX_BATCH_SIZE);
      const deleted = await api.delete(url, { secrets: created.body.map((s: any) => s.id) });
      assert.deepEqual(deleted.body, { message: `Deleted ${MAX_BATCH_SIZE} secrets` });
      const viaProtocol = await api.post('/service/secrets/', { secrets: encrypted.slice(0, MAX_BATCH_SIZE) }, { environment });
      assert.equal(viaProtocol.status, 200, viaProtocol.text);
    });

    it('answers promptly for a reference chain far deeper than 25 and for references that multiply', async () => {
      const env = await api.post(`/v1/environments/?app_id=${app.id}`, { name: 'deep' });
      assert.equal(env.status, 201, env.text);
      const url = secretsUrl(app.id, 'deep');
      // K1 -> K2 -> ... -> K400: beyond 25 hops nothing is entered, the reference stays verbatim
      const chain = Array.from({ length: 400 }, (_, i) => ({ key: `K${i + 1}`, value: i === 399 ? 'end' : `\${K${i + 2}}` }));
      assert.equal((await api.post(url, { secrets: chain })).status, 200);
      // L0 = ${L1A}${L1B}, each L(n)X = ${L(n+1)A}${L(n+1)B}: 2^25 expansions if nothing bounded them
      const doubling = [];
      for (let n = 0; n < 25; n++) {
        for (const side of ['A', 'B']) doubling.push({ key: `L${n}${side}`, value: n === 24 ? 'leaf' : `\${L${n + 1}A}\${L${n + 1}B}` });
      }
      assert.equal((await api.post(url, { secrets: doubling })).status, 200);

      const listed = await api.get(url);
      assert.equal(listed.status, 200, listed.text.slice(0, 200));
      const values = Object.fromEntries(listed.body.map((s: any) => [s.key, s.value as string]));
      assert.equal(values.K400, 'end');
      assert.equal(values.K376, 'end', 'a chain of 25 hops resolves');
      assert.equal(values.K1, '${K26}', 'a chain of 399 hops is followed 25 deep, no further (rest-api §6.2)');
      assert.equal(values.L23A, 'leafleaf');
      assert.equal(values.L0A, '${L1A}${L1B}', 'a value whose expansion would double 24 times is left verbatim');
      assert.ok(listed.text.length < 64 * 1024 * 1024, `the list is ${listed.text.length} bytes`);
      assert.equal((await api.get('/health/')).status, 200);
    });

    it(`refuses paths more than ${FOLDER_DEPTH_MAX} folders deep (REST and client protocol) and creates the folders of many deep paths at once`, async () => {
      const url = secretsUrl(app.id, 'development');
      const deep = (levels: number, tag = 'f') => `/${Array.from({ length: levels }, (_, i) => `${tag}${i}`).join('/')}`;
      const message = `Paths cannot be more than ${FOLDER_DEPTH_MAX} folders deep (got ${FOLDER_DEPTH_MAX + 1}).`;
      const refusals = [
        await api.post(url, { secrets: [{ key: 'TOO_DEEP', value: 'x', path: deep(FOLDER_DEPTH_MAX + 1) }] }),
        await api.post('/service/secrets/', { secrets: [{ key: ciphertext('K'), value: ciphertext('v'), comment: '', keyDigest: digest(), path: deep(FOLDER_DEPTH_MAX + 1) }] }, { environment: app.env.development!.id }),
      ];
      for (const res of refusals) assert.deepEqual({ status: res.status, body: res.body }, { status: 400, body: { error: message } });
      // 100,000 levels in one body: refused at once, not built folder by folder.
      const huge = await api.post(url, { secrets: [{ key: 'HUGE', value: 'x', path: deep(100_000, '') }] });
      assert.equal(huge.status, 400, huge.text.slice(0, 200));

      // 300 secrets, each on its own path 64 folders deep under a shared root: 300 x 63 + 1 new folders.
      const secrets = Array.from({ length: 300 }, (_, i) => ({ key: `DEEP_${i}`, value: `v${i}`, path: `/root${deep(FOLDER_DEPTH_MAX - 1, `s${i}-`)}` }));
      const created = await api.post(url, { secrets });
      assert.equal(created.status, 200, created.text.slice(0, 300));
      const one = await api.get(secretsUrl(app.id, 'development', `&path=${encodeURIComponent(secrets[123]!.path)}`));
      assert.deepEqual(one.body.map((s: any) => [s.key, s.path]), [['DEEP_123', secrets[123]!.path]]);
    });

    it('stores tens of thousands of tags in one request (more than one statement could bind as parameters) and reads them by index', async () => {
      const url = secretsUrl(app.id, 'staging');
      const names = Array.from({ length: 14_000 }, (_, i) => `tag-${i}`);
      const many = await api.post(url, { secrets: [{ key: 'MANY_TAGS', value: 'x', tags: names }] });
      assert.equal(many.status, 200, many.text.slice(0, 300));
      // Names that need quoting in an array literal travel as they are.
      const awkward = ['a,b', 'say "hi"', 'back\\slash', '{braces}', 'NULL', 'ünï cödé', ' spaced '.trim(), 'x'.repeat(64)];
      const batch = Array.from({ length: 1000 }, (_, i) => ({ key: `TAGGED_${i}`, value: 'v', tags: [...awkward, ...Array.from({ length: 14 }, (_, j) => `t${i}-${j}`)] }));
      const tagged = await api.post(url, { secrets: batch });
      assert.equal(tagged.status, 200, tagged.text.slice(0, 300));
      const listed = await api.get(secretsUrl(app.id, 'staging', '&key=TAGGED_999'));
      assert.deepEqual(listed.body[0].tags, [...awkward, ...Array.from({ length: 14 }, (_, j) => `t999-${j}`)]);
      const replaced = await api.put(url, { secrets: [{ id: many.body[0].id, tags: names.slice(0, 13_000).reverse() }] });
      assert.equal(replaced.status, 200, replaced.text.slice(0, 300));
      const reread = await api.get(secretsUrl(app.id, 'staging', '&key=MANY_TAGS'));
      // The tags that remain keep the order they were first assigned in (rest-api §1.7).
      assert.deepEqual(reread.body[0].tags, names.slice(0, 13_000));
      assert.deepEqual(replaced.body[0].tags, names.slice(0, 13_000));

      // With this many tags (and statistics from when there were few), a join made the embedded
      // store's planner scan the whole tag table for every secret of a read.
      const compiled = liveSecretsQuery(server.store.db, app.env.staging!.id).compile();
      const plan = await server.store.db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]));
      const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
      assert.doesNotMatch(text, /Seq Scan on tags/, text);
      assert.match(text, /Index Scan using tags_pkey on tags/, text);
    });

    it("answers an unsupported 'Expect' (417) and CONNECT (405) in the API's error shape, as Node would not", async () => {
      const expect = await sendRaw(Buffer.from(`POST /v1/apps/ HTTP/1.1\r\nhost: 127.0.0.1\r\nexpect: foo\r\ncontent-length: 2\r\n\r\n{}`), { port, timeoutMs: 10_000 });
      const connect = await sendRaw(Buffer.from('CONNECT 127.0.0.1:443 HTTP/1.1\r\nhost: 127.0.0.1:443\r\n\r\n'), { port, timeoutMs: 10_000 });
      for (const [outcome, status] of [[expect, 417], [connect, 405]] as const) {
        assert.equal(outcome.kind, 'response', JSON.stringify(outcome));
        if (outcome.kind !== 'response') continue;
        assert.equal(outcome.status, status);
        assert.match(outcome.headers['content-type'] ?? '', /^application\/json/);
        assert.equal(typeof JSON.parse(outcome.body.toString()).error, 'string');
      }
      assert.equal((await api.get('/health/')).status, 200);
    });

    it('answers an HTTP/1.1 request without Host with 400 in the API\'s error shape (Node answers it with no body)', async () => {
      for (const request of ['GET /health/ HTTP/1.1\r\n\r\n', `GET /v1/apps/ HTTP/1.1\r\nauthorization: ${owner.authorization}\r\n\r\n`]) {
        const outcome = await sendRaw(Buffer.from(request), { port, timeoutMs: 10_000 });
        assert.equal(outcome.kind, 'response', JSON.stringify(outcome));
        if (outcome.kind !== 'response') continue;
        assert.equal(outcome.status, 400);
        assert.match(outcome.headers['content-type'] ?? '', /^application\/json/);
        assert.deepEqual(JSON.parse(outcome.body.toString()), { error: 'An HTTP/1.1 request needs a Host header.' });
      }
      // HTTP/1.0 has no Host requirement; the route that refuses is not reachable by its path.
      const older = await sendRaw(Buffer.from('GET /health/ HTTP/1.0\r\n\r\n'), { port, timeoutMs: 10_000 });
      assert.equal(older.kind === 'response' && older.status, 200);
      const direct = await sendRaw(Buffer.from('GET /.coffer-missing-host HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n'), { port, timeoutMs: 10_000 });
      assert.equal(direct.kind === 'response' && direct.status, 404);
    });

    it('answers a request read before malformed bytes first, then the error (pipelining)', async () => {
      // Answered at once, the error closed the connection under the write, which went through:
      // its client was told 400 while the secret was created.
      const body = JSON.stringify({ secrets: [{ key: 'PIPELINED', value: 'v' }] });
      const write = `POST ${secretsUrl(app.id, 'development')} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${owner.authorization}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const outcome = await sendRaw(Buffer.from(`${write}GARBAGE\r\n\r\n`), { port, timeoutMs: 10_000 });
      assert.equal(outcome.kind, 'response', JSON.stringify(outcome));
      if (outcome.kind !== 'response') return;
      assert.equal(outcome.status, 200, outcome.body.toString());
      assert.equal(JSON.parse(outcome.body.toString())[0].key, 'PIPELINED');
      const listed = await api.get(secretsUrl(app.id, 'development', '&key=PIPELINED'));
      assert.equal(listed.body.length, 1);
    });

    it(`closes a connection that pipelines requests without reading the answers, past ${MAX_QUEUED_RESPONSES} waiting, and answers a pipelining client that reads`, async () => {
      // Each answer is 121 KB; 400 of them, unread, were held by the server (40 such connections ran it out of memory).
      const many = Buffer.from('GET /openapi.json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n'.repeat(400));
      // Sent, then nothing read for a while (the answers back up), then read to the end: the server
      // cut the connection, so far fewer than 400 answers arrive before it ends.
      const answered = await new Promise<number>((resolve) => {
        let text = '';
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.pause();
          socket.write(many);
          setTimeout(() => socket.resume(), 1000);
        });
        socket.setEncoding('latin1');
        const count = () => (text.match(/HTTP\/1\.1 200/g) ?? []).length;
        const deadline = setTimeout(() => socket.destroy(), 30_000);
        socket.on('data', (chunk: string) => {
          text += chunk;
          if (count() === 400) socket.destroy();
        });
        socket.on('close', () => {
          clearTimeout(deadline);
          resolve(count());
        });
        socket.on('error', () => {});
      });
      const closed = answered < 400;
      assert.equal(closed, true, 'the server closed the connection');
      assert.equal((await api.get('/health/')).status, 200, 'and goes on answering others');
      // A client that pipelines a few requests and reads is answered, in order.
      const few = Buffer.from(Array.from({ length: 10 }, (_, i) => `GET /health/?n=${i} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`).join(''));
      const answers = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = net.connect(port, '127.0.0.1', () => socket.write(few));
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => {
          text += chunk;
          if ((text.match(/HTTP\/1\.1 200/g) ?? []).length === 10) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
      });
      assert.equal((answers.match(/HTTP\/1\.1 200/g) ?? []).length, 10);
    });

    it('refuses more than 100 environments in one app creation and accepts 100', async () => {
      const names = (count: number) => Array.from({ length: count }, (_, i) => `env-${i}`);
      const refused = await api.post('/v1/apps/', { name: 'too-many-envs', environments: names(101) });
      assert.deepEqual(
        { status: refused.status, body: refused.body },
        { status: 400, body: { error: 'At most 100 environments can be created with an app (got 101); add more with POST /v1/environments/.' } },
      );
      const accepted = await api.post('/v1/apps/', { name: 'hundred-envs', environments: names(100) });
      assert.equal(accepted.status, 201, accepted.text.slice(0, 200));
      assert.equal(accepted.body.environments.length, 100);
    });
  });
}
