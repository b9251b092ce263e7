// Property-based fuzzing of every route the server registers (the /v1 REST API, the client protocol,
// /coffer/v1, the root and health routes), with valid, revoked and malformed credentials: no
// response is a 5xx, every error body is `{"error": "<string>"}`, no request hangs (client-side
// deadline), and the server still answers /health/ afterwards.
//
// `npm test` runs a few hundred requests per store with a fixed seed. `npm run fuzz` sets
// COFFER_FUZZ_RUNS and a random seed (printed; reproduce with COFFER_FUZZ_SEED=<seed>).
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { addMember } from '../helpers/principals.js';
import { ownLoopbackAddress, startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createAccount, mintPat } from '../http/console/accounts.js';
import { sendRaw, type RawOutcome, type RawRequest } from './raw-http.js';

const LONG_RUN = process.env.COFFER_FUZZ_RUNS ? Number(process.env.COFFER_FUZZ_RUNS) : undefined;
const SEED = process.env.COFFER_FUZZ_SEED ? Number(process.env.COFFER_FUZZ_SEED) : LONG_RUN ? randomInt(2 ** 31) : 20_240_917;
/** Requests per property per store: modest in `npm test` (the whole file stays well under a minute). */
const RUNS = { routes: LONG_RUN ?? 150, authenticated: LONG_RUN ?? 150, text: LONG_RUN ?? 100, batches: LONG_RUN ?? 120, bytes: LONG_RUN ? Math.ceil(LONG_RUN / 2) : 60 };
/** No request may take longer than this (client-side); a hang fails the property. */
const DEADLINE_MS = 20_000;

if (LONG_RUN) console.log(`fuzz: ${LONG_RUN} runs per property, seed ${SEED} (reproduce with COFFER_FUZZ_SEED=${SEED})`);

/** Every route the server registered, with `:param` placeholders, from Fastify's route tree. */
function registeredRoutes(tree: string): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const marker = Math.max(line.indexOf('├── '), line.indexOf('└── '));
    if (marker < 0) continue;
    const depth = marker / 4;
    const segment = line.slice(marker + 4).replace(/ \([A-Z, -]+\)$/, ''); // methods, M-SEARCH included
    const full = (depth === 0 ? '' : stack[depth - 1]!) + segment;
    stack[depth] = full;
    stack.length = depth + 1;
    routes.push(full);
  }
  // swagger-ui's static files and wildcard routes are not ours to fuzz
  return [...new Set(routes)].filter((r) => r.startsWith('/') && !r.includes('*') && !r.startsWith('/docs'));
}

interface Base {
  server: TestServer;
  port: number;
  routes: string[];
}

interface World extends Base {
  owner: OwnerFixture;
  /** The app and environments requests use as their context (query, `environment` header). */
  contextAppId: string;
  envIds: string[];
  secretIds: string[];
  /**
   * Path-parameter values by name. Destructive requests may hit them (delete the app, revoke the
   * token), so they are victims of their own: never the credentials or the context above.
   */
  ids: Record<string, string[]>;
  authorizations: string[];
  cookies: string[];
  csrfTokens: string[];
}

async function startBase(kind: 'pglite' | 'postgres'): Promise<Base> {
  const server = await startTestServer({ store: kind, env: { LOG_LEVEL: 'warn' } });
  return { server, port: Number(new URL(server.url).port), routes: registeredRoutes(server.app.printRoutes({ commonPrefix: false })) };
}

async function makeApp(api: ApiClient, name: string) {
  const app = await api.post('/v1/apps/', { name: `${name}-${randomBytes(3).toString('hex')}` });
  assert.equal(app.status, 201, app.text);
  const created = await api.post(`/v1/secrets/?app_id=${app.body.id}&env=development`, {
    secrets: [
      { key: 'FUZZ_A', value: 'a', comment: 'c', tags: ['t'], path: '/x' },
      { key: 'FUZZ_B', value: '${FUZZ_A}' },
      { key: 'FUZZ_C', value: 'c', override: { value: 'o', isActive: true } },
    ],
  });
  assert.equal(created.status, 200, created.text);
  return { id: app.body.id as string, envIds: app.body.environments.map((e: any) => e.id) as string[], secretIds: created.body.map((s: any) => s.id) as string[] };
}

/** A fresh organisation for each property, so one property's destruction cannot blunt the next. */
/**
 * Password sign-in from a loopback address of its own (127.0.0.2-254): the fuzzed logins that fail
 * from 127.0.0.1 lock that address out of signing in (10 failures in 15 minutes) in the long runs
 * of `npm run fuzz`.
 */
async function signInFromOwnAddress(port: number, email: string, loginHash: string): Promise<{ cookie: string; csrfToken: string }> {
  const outcome = await sendRaw(
    { method: 'POST', target: '/coffer/v1/auth/login/', headers: [['content-type', 'application/json']], body: JSON.stringify({ email, loginHash }) },
    { port, timeoutMs: DEADLINE_MS, localAddress: ownLoopbackAddress() },
  );
  assert.ok(outcome.kind === 'response' && outcome.status === 200, `sign-in: ${JSON.stringify(outcome.kind === 'response' ? outcome.body.toString() : outcome)}`);
  return { cookie: outcome.headers['set-cookie']!.split(';')[0]!, csrfToken: JSON.parse(outcome.body.toString()).csrfToken };
}

async function populate(base: Base): Promise<World> {
  const { server } = base;
  const owner = await createOwner(server.domain);
  const api = apiClient(server.url, owner.authorization);
  const context = await makeApp(api, 'fuzz');
  const victim = await makeApp(api, 'victim');
  const roles = (await api.get('/v1/roles/')).body.data as Array<{ id: string; name: string }>;
  const serviceRole = roles.find((r) => r.name === 'Service')!;
  const makeSa = async (name: string) => {
    const sa = await api.post('/v1/service-accounts/', { name, role_id: serviceRole.id });
    assert.equal(sa.status, 201, sa.text);
    assert.equal((await api.put(`/v1/service-accounts/${sa.body.id}/access/`, { apps: [{ id: context.id, environments: context.envIds }] })).status, 200);
    return sa.body;
  };
  const sa = await makeSa('fuzz-bot');
  const victimSa = await makeSa('victim-bot');
  const revoked = await api.post(`/v1/service-accounts/${victimSa.id}/tokens/`, { name: 'revoked' });
  assert.equal(revoked.status, 201, revoked.text);
  assert.equal((await api.delete(`/v1/service-accounts/${victimSa.id}/tokens/${revoked.body.id}/`)).status, 204);
  const invite = await api.post('/v1/members/invites/', { email: `fuzz-${randomBytes(3).toString('hex')}@example.com`, role_id: roles.find((r) => r.name === 'Developer')!.id });
  assert.equal(invite.status, 201, invite.text);
  const inviteToken = String(invite.body.inviteUrl).split('/').filter(Boolean).pop()!;
  const victimPat = mintPat(owner.keyring, 'victim');
  // Registered directly: the fuzzing's wrong passwords use up this address's sign-in budget, which
  // registering a token with a token draws on too.
  const { expiresAt: _never, ...victimToken } = victimPat.body;
  const registered = await server.domain.personalTokens.register(owner.organisationId, owner.memberId, victimToken);
  const member = await addMember(server.domain, owner.organisationId, 'Developer');
  // a console session (password sign-in) of an account of its own, for the /coffer/v1 routes
  const account = await createAccount(server.domain);
  const session = await signInFromOwnAddress(base.port, account.email, account.loginHash);

  const full = owner.token;
  const authorizations = [
    owner.authorization,
    `Bearer ${full}`,
    `Bearer ${sa.initialToken.bearerToken}`,
    `Bearer ${sa.initialToken.token}`,
    `Bearer ${revoked.body.bearerToken}`,
    `Bearer ${revoked.body.token}`,
    member.authorization,
    `Bearer User ${randomBytes(32).toString('hex')}`,
    `Bearer ServiceAccount ${randomBytes(32).toString('hex')}`,
    `Bearer Service ${randomBytes(32).toString('hex')}`,
    `Bearer ${full.slice(0, -4)}zzzz`,
    `Bearer ${full.replace('pss_user:v1:', 'pss_user:v9:')}`,
    'Bearer pss_service:v2:',
    'Bearer',
    'Bearer  User  x',
    'Basic dXNlcjpwYXNz',
    `bearer user ${randomBytes(32).toString('hex')}`,
  ];
  const ids: Record<string, string[]> = {
    app_id: [victim.id],
    env_id: victim.envIds,
    secret_id: [...context.secretIds, ...victim.secretIds],
    sa_id: [victimSa.id],
    token_id: [victimSa.initialToken.id, revoked.body.id, registered.id],
    role_id: roles.map((r) => r.id),
    member_id: [member.memberId],
    invite_id: [invite.body.id],
    invite_token: [inviteToken],
  };
  return { ...base, owner, contextAppId: context.id, envIds: context.envIds, secretIds: context.secretIds, ids, authorizations, cookies: [session.cookie, `coffer_session=${randomBytes(16).toString('hex')}`], csrfTokens: [session.csrfToken] };
}

// ---------------------------------------------------------------- arbitraries

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;
const HUGE_NUMBERS = ['1e309', '-1e309', '99999999999999999999999999', '9223372036854775808', '-9223372036854775809', '1.7976931348623157e308', '5e-324', '-0', '0x10', 'NaN', 'Infinity', '1_000', ' 7 ', ''];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'multipart/form-data',
  'text/plain',
  'text/plain;;;',
  'application/xml',
  'application/octet-stream',
  ';',
  '/',
  '*/*',
  'application/json; boundary="\\"',
  '',
];
const QUERY_NAMES = ['app_id', 'appId', 'env', 'path', 'key', 'tags', 'dynamic', 'include_dynamic', 'lease', 'lease_ttl', 'leaseTtl', 'secret_id', 'after', 'limit', 'org', 'format', 'expires_in'];

/** Percent-encodes the UTF-8 bytes of any string (lone surrogates included, as U+FFFD). */
function pct(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 64, maxLength: 64 });

/** Text that tends to break things: control characters, NUL, lone surrogates, RTL, long runs. */
const nastyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e', '\r\n', '%', '%zz', '../..', '${a.b}', '${', 'ph:v1:', ' ', '\t', '🔑'.repeat(30), 'x'.repeat(70), 'x'.repeat(5000)),
  fc.constantFrom(...HUGE_NUMBERS),
);

const ciphertext = fc.oneof(
  fc.constant(`ph:v1:${'a'.repeat(64)}:${Buffer.from('ciphertext').toString('base64')}`),
  fc.tuple(hex64, fc.base64String({ minLength: 4, maxLength: 40 })).map(([k, b]) => `ph:v1:${k}:${b}`),
  fc.constantFrom('ph:v1:', 'ph:v1:zz:zz', `ph:v1:${'A'.repeat(64)}:a:b`, `ph:v2:${'a'.repeat(64)}:AA==`),
);

/** JSON values of any type, including the numbers and nestings JSON allows but code rarely expects. */
const weirdValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyText,
    ciphertext,
    hex64,
    fc.uuid(),
    fc.double(),
    fc.integer(),
    fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, -0, 0.1),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A secrets-batch-shaped body: mostly the right fields, any of them of any type. */
function secretsBatch(world: World): fc.Arbitrary<unknown> {
  const idLike = fc.oneof(fc.constantFrom(...world.secretIds), fc.uuid(), weirdValue);
  const entry = fc.record(
    {
      id: idLike,
      key: fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), ciphertext, weirdValue),
      value: fc.oneof(fc.string({ maxLength: 30 }), ciphertext, weirdValue),
      comment: fc.oneof(fc.string({ maxLength: 10 }), ciphertext, weirdValue),
      keyDigest: fc.oneof(hex64, weirdValue),
      type: fc.oneof(fc.constantFrom('secret', 'sealed', 'config', 'SECRET'), weirdValue),
      tags: fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 70 }), weirdValue), { maxLength: 4 }), weirdValue),
      path: fc.oneof(fc.constantFrom('/', '/a/b', '//x//', 'a'.repeat(65), '/../..'), weirdValue),
      override: fc.oneof(fc.record({ value: fc.oneof(fc.string(), ciphertext, weirdValue), isActive: fc.oneof(fc.boolean(), weirdValue) }, { requiredKeys: [] }), weirdValue),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    fc.record({ secrets: fc.array(fc.oneof(entry, idLike), { minLength: 0, maxLength: 5 }) }),
    fc.record({ secrets: weirdValue }),
    weirdValue,
  );
}

/** Bodies nested far deeper than any real request, at the places the handlers look. */
const deepBody = fc.tuple(fc.constantFrom('top', 'secrets', 'entry', 'type', 'tags', 'override', 'key', 'name', 'apps', 'environments'), fc.integer({ min: 500, max: 60_000 }), fc.constantFrom('[', '{"a":')).map(([where, depth, open]) => {
  const close = open === '[' ? ']' : '}';
  const deep = open.repeat(depth) + (open === '[' ? '' : '1') + close.repeat(depth);
  switch (where) {
    case 'top':
      return deep;
    case 'secrets':
      return `{"secrets":${deep}}`;
    case 'entry':
      return `{"secrets":[${deep}]}`;
    default:
      return `{"secrets":[{"key":"K","value":"v","${where}":${deep}}],"${where}":${deep}}`;
  }
});

function jsonBodyOf(value: unknown): fc.Arbitrary<string> {
  return fc.constant(JSON.stringify(value) ?? 'null');
}

function bodyArb(world: World): fc.Arbitrary<Buffer | undefined> {
  return fc.oneof(
    fc.constant(undefined),
    fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
    secretsBatch(world).chain(jsonBodyOf).map((s) => Buffer.from(s)),
    deepBody.map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom('{"secrets":[{"key":"\xff\xfe","value":"\xc0\xaf"}]}', '{"name":"\xed\xa0\x80"}', '\xef\xbb\xbf{"secrets":[]}').map((s) => Buffer.from(s, 'latin1')),
    fc.constantFrom('name=a&name=b', 'secrets=1&secrets=2', 'a=%zz', '=&&=', '{"a":1e999999}', '{"limit":99999999999999999999}', '{"expires_in":1e308}', '{"expires_at":"9999-99-99T99:99:99Z"}', '{"expires_in":-1}').map((s) => Buffer.from(s)),
    fieldsBody(world).chain(jsonBodyOf).map((s) => Buffer.from(s)),
  );
}

/** An object with the fields the non-secret endpoints read, each of any type (or a plausible value). */
function fieldsBody(world: World): fc.Arbitrary<Record<string, unknown>> {
  const plausible = (...values: unknown[]) => fc.oneof(fc.constantFrom(...values), weirdValue);
  const ids = [...world.ids.role_id!, world.contextAppId, ...world.ids.app_id!, ...world.envIds, ...world.ids.sa_id!, ...world.ids.member_id!];
  return fc.record(
    {
      name: plausible('fuzz', 'Fuzz Name', ''),
      description: weirdValue,
      role_id: plausible(...world.ids.role_id!),
      email: plausible('someone@example.com', 'not-an-email'),
      apps: fc.oneof(fc.array(fc.record({ id: plausible(world.contextAppId, ...world.ids.app_id!), environments: fc.oneof(fc.array(plausible(...world.envIds), { maxLength: 3 }), weirdValue) }, { requiredKeys: [] }), { maxLength: 3 }), weirdValue),
      environments: fc.oneof(fc.array(fc.record({ id: plausible(...world.envIds), name: weirdValue, wrappedSeed: ciphertext, wrappedSalt: ciphertext, identityKey: hex64 }, { requiredKeys: [] }), { maxLength: 3 }), weirdValue),
      expires_in: plausible(60, 3600, 0, -1, 1e308, 2 ** 62, '1h', 1.5),
      expires_at: plausible('2030-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01', 'not a date', 253402300800000),
      token_name: weirdValue,
      env_type: plausible('dev', 'staging', 'prod', 'custom'),
      permissions: plausible({ Secrets: ['read'] }, { Apps: ['create', 'read'] }),
      app_permissions: plausible({ Secrets: ['read', 'create'] }),
      appPermissions: weirdValue,
      encryption: plausible('e2ee', 'sse'),
      identityKey: fc.oneof(hex64, weirdValue),
      wrappedKeyShare: fc.oneof(fc.constant('ab'.repeat(104)), weirdValue),
      bearerHash: fc.oneof(hex64, weirdValue),
      loginHash: weirdValue,
      code: weirdValue,
      id: plausible(...ids),
      member_id: plausible(...world.ids.member_id!),
      secrets: weirdValue,
    },
    { requiredKeys: [] },
  );
}

/** Special strings at their most damaging: what PostgreSQL, JSON and UTF-8 each refuse. */
const hostileText = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000', '\ud800', 'x\udfff', '\ud83d', '\ufeff', '\uffff', '\u202e', '<b>', '<script>x</script>', ' ', '', 'x'.repeat(300), '🔑'.repeat(70), "'; drop table apps; --", '%00', '\\u0000'),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udc00', 'a', '\u0085', '\u2028'), maxLength: 6 }),
);

/** Bodies that are valid for the create/update routes but for one or two text fields. */
function textFieldsArb(world: World): fc.Arbitrary<Generated> {
  const sa = world.ids.sa_id![0]!;
  const routes: Array<[string, string]> = [
    ['POST', '/v1/apps/'],
    ['PUT', `/v1/apps/${world.ids.app_id![0]}/`],
    ['POST', `/v1/environments/?app_id=${world.ids.app_id![0]}`],
    ['PUT', `/v1/environments/${world.ids.env_id![0]}/`],
    ['POST', '/v1/service-accounts/'],
    ['PUT', `/v1/service-accounts/${sa}/`],
    ['POST', `/v1/service-accounts/${sa}/tokens/`],
    ['POST', '/v1/roles/'],
    ['POST', '/v1/members/invites/'],
    ['PUT', `/v1/members/${world.ids.member_id![0]}/`],
    ['POST', '/coffer/v1/tokens/'],
    ['POST', '/coffer/v1/apps/'],
    ['POST', '/coffer/v1/auth/login/'],
    ['POST', '/coffer/v1/setup/check/'],
    ['POST', `/v1/secrets/?app_id=${world.contextAppId}&env=development`],
  ];
  const base = {
    name: 'ok-name',
    description: 'a description',
    role_id: world.ids.role_id![4],
    email: 'someone@example.com',
    permissions: { permissions: { Apps: ['read'] }, app_permissions: { Secrets: ['read'] } },
    env_type: 'dev',
    expires_in: 3600,
    token_name: 'tok',
    encryption: 'e2ee',
    loginHash: 'ab'.repeat(32),
    code: 'ABCDE-FGHIJ-KLMNO',
    secrets: [{ key: 'TEXT_FIELD', value: 'v', tags: ['t'], path: '/p', comment: 'c' }],
  };
  const fields = ['name', 'description', 'email', 'env_type', 'token_name', 'code', 'loginHash', 'encryption'];
  return fc
    .record({ route: fc.constantFrom(...routes), fields: fc.subarray(fields, { minLength: 1, maxLength: 2 }), values: fc.array(hostileText, { minLength: 2, maxLength: 2 }), secretField: fc.constantFrom('key', 'value', 'comment', 'path', 'tags'), auth: fc.constantFrom(world.authorizations[0]!, world.authorizations[1]!) })
    .map(({ route: [method, target], fields: chosen, values, secretField, auth }) => {
      const body: Record<string, unknown> = structuredClone(base);
      chosen.forEach((field, i) => (body[field] = values[i]));
      (body.secrets as Array<Record<string, unknown>>)[0]![secretField] = secretField === 'tags' ? [values[0]] : values[0];
      return { method, target, headers: [['authorization', auth], ['content-type', 'application/json']] as Array<[string, string]>, body: JSON.stringify(body), mayClose: false };
    });
}

/** Authenticated requests (owner PAT or service account) with a valid context to every route. */
function authenticatedArb(world: World): fc.Arbitrary<Generated> {
  const appId = world.contextAppId;
  const route = fc.constantFrom(...world.routes).chain((r) => {
    const names = [...r.matchAll(/:([a-z_]+)/g)].map((m) => m[1]!);
    return fc.tuple(fc.constant(r), fc.tuple(...names.map((n) => (world.ids[n]?.length ? fc.constantFrom(...world.ids[n]!) : fc.uuid())))).map(([template, values]) => {
      let i = 0;
      return template.replace(/:([a-z_]+)/g, () => values[i++]!);
    });
  });
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
      path: route,
      query: fc.tuple(fc.constantFrom(`app_id=${appId}&env=development`, `app_id=${appId}`, `env=Production&app_id=${appId}`, 'after=0&limit=500', `after=${HUGE_NUMBERS[2]}&limit=${HUGE_NUMBERS[0]}`, 'limit=-5', ''), queryArb(world)).map(([fixed, extra]) => (fixed ? `?${fixed}${extra ? `&${extra.slice(1)}` : ''}` : extra)),
      authorization: fc.constantFrom(world.authorizations[0]!, world.authorizations[1]!, world.authorizations[2]!, 'session'),
      contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      body: fc.oneof(fieldsBody(world).chain(jsonBodyOf), secretsBatch(world).chain(jsonBodyOf), deepBody, fc.constant('')),
    })
    .map(({ method, path, query, authorization, contentType, body }) => ({
      method,
      target: `${path}${query}`,
      headers: [
        ...(authorization === 'session' ? [['cookie', world.cookies[0]!], ['x-csrf-token', world.csrfTokens[0]!]] : [['authorization', authorization]]),
        ['environment', world.envIds[0]!],
        ['content-type', contentType],
      ] as Array<[string, string]>,
      ...(method === 'GET' ? {} : { body }),
      mayClose: false,
    }));
}

function pathParam(world: World, name: string): fc.Arbitrary<string> {
  const known = world.ids[name] ?? [];
  return fc.oneof(
    ...(known.length > 0 ? [fc.constantFrom(...known), fc.constantFrom(...known)] : []),
    fc.uuid(),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map(pct),
    fc.constantFrom('', '%zz', '%C0%AF', '%00', '%ED%A0%80', '%FF', '..', '.', '%2F', '%2e%2e', 'x'.repeat(3000), '%', 'null', '0', '-1', '1e309', "'", '"'),
  );
}

function queryArb(world: World): fc.Arbitrary<string> {
  const pair = fc.tuple(
    fc.oneof(fc.constantFrom(...QUERY_NAMES), fc.string({ maxLength: 8 }).map(pct)),
    fc.oneof(
      fc.constantFrom(world.contextAppId, ...world.ids.app_id!, ...world.envIds, ...world.secretIds, 'development', 'Production', 'dev'),
      fc.constantFrom(...HUGE_NUMBERS).map(pct),
      nastyText.map(pct),
      fc.constantFrom('%zz', '%FF%FE', '%00', '%ED%A0%80', '+', '&&', '=', ''),
    ),
  );
  return fc.array(pair, { maxLength: 6 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));
}

interface Generated extends RawRequest {
  /** Malformed at the HTTP level on purpose: the server may close the connection instead of answering. */
  mayClose: boolean;
}

function requestArb(world: World): fc.Arbitrary<Generated> {
  const routeAndPath = fc.constantFrom(...world.routes).chain((route) => {
    const names = [...route.matchAll(/:([a-z_]+)/g)].map((m) => m[1]!);
    return fc.tuple(fc.constant(route), fc.tuple(...names.map((n) => pathParam(world, n)))).map(([r, values]) => {
      let i = 0;
      return r.replace(/:([a-z_]+)/g, () => values[i++]!);
    });
  });
  const prefix = fc.constantFrom('', '', '/service', '/public', '/service/public', '/');
  const headerChoices = fc.record(
    {
      authorization: fc.oneof(fc.constantFrom(...world.authorizations), fc.constantFrom(...world.authorizations), nastyText.map((t) => `Bearer User ${t}`)),
      environment: fc.oneof(fc.constantFrom(...world.envIds), fc.uuid(), nastyText),
      'secret-id': fc.oneof(fc.constantFrom(...world.secretIds), nastyText),
      'x-use-camel-case': fc.constantFrom('true', 'false', 'True', ''),
      keydigest: fc.oneof(hex64, nastyText),
      path: nastyText,
      tags: nastyText,
      'content-type': fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string({ maxLength: 30 })),
      accept: fc.constantFrom('application/json', '*/*', 'text/html', 'application/*;q=0', 'garbage;;q=x', 'application/json;q=1e309'),
      cookie: fc.oneof(fc.constantFrom(...world.cookies), nastyText.map((t) => `coffer_session=${t}`)),
      'x-csrf-token': fc.oneof(fc.constantFrom(...world.csrfTokens), nastyText),
      'x-real-ip': fc.oneof(fc.constantFrom('::1', '10.0.0.1', '999.1.1.1'), nastyText),
      'x-forwarded-for': nastyText,
      'user-agent': fc.oneof(nastyText, fc.constant('u'.repeat(4000))),
      origin: fc.constantFrom('https://console.example.com', 'null', 'http://evil'),
    },
    { requiredKeys: [] },
  );
  return fc
    .record({ method: fc.constantFrom(...METHODS), prefix, path: routeAndPath, query: queryArb(world), headers: headerChoices, body: bodyArb(world) })
    .map(({ method, prefix: p, path, query, headers, body }) => ({
      method,
      target: `${p}${path}${query}`,
      // header values go out as UTF-8 bytes: anything outside latin1 is an "odd encoding" on the wire
      headers: Object.entries(headers).map(([name, value]) => [name, Buffer.from(String(value).replace(/[\r\n\u0000]/g, ' '), 'utf8')] as [string, Buffer]),
      ...(body ? { body } : {}),
      mayClose: false,
    }));
}

/** Requests that are malformed at the byte level: invalid methods, header bytes, framing. */
function bytesArb(world: World): fc.Arbitrary<Generated> {
  const framing: Array<Array<[string, string]>> = [
    [['content-length', '2'], ['content-length', '3']],
    [['transfer-encoding', 'chunked'], ['content-length', '2']],
    [['content-length', '-1']],
    [['content-length', 'abc']],
    [['transfer-encoding', 'gzip']],
    [['expect', '100-continue']],
    [['host', '']],
    [['x', 'y'.repeat(20_000)]],
    [['content-encoding', 'gzip']],
  ];
  const route = fc.constantFrom(...world.routes).map((r) => r.replace(/:[a-z_]+/g, () => world.secretIds[0]!));
  return fc.oneof<fc.Arbitrary<Generated>[]>(
    // invalid UTF-8 and raw high bytes in the request target
    fc.tuple(route, fc.uint8Array({ minLength: 1, maxLength: 12 })).map(([r, bytes]) => ({ method: 'GET', target: `${r}?key=${Buffer.from(bytes).toString('latin1')}`, headers: [['authorization', world.authorizations[0]!]] as Array<[string, string]>, mayClose: true })),
    // raw bytes in header values (latin1 high bytes, invalid UTF-8 sequences)
    fc.tuple(route, fc.constantFrom('authorization', 'environment', 'cookie', 'content-type', 'x-real-ip', 'user-agent', 'accept'), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([r, name, bytes]) => ({
      method: 'POST',
      target: r,
      headers: [['authorization', world.authorizations[0]!], [name, Buffer.from(bytes.map((b) => (b === 10 || b === 13 || b === 0 ? 0xff : b)))]] as Array<[string, string | Buffer]>,
      body: '{"secrets":[]}',
      mayClose: true,
    })),
    // unknown methods, chunked bodies, duplicated and conflicting framing headers
    fc.tuple(route, fc.constantFrom('FOO', 'get', 'PROPFIND', 'CONNECT', 'TRACE', 'M-SEARCH', 'PURGE', 'POST', 'PUT')).map(([r, method]) => ({ method, target: r, headers: [['authorization', world.authorizations[0]!]] as Array<[string, string]>, body: '{}', mayClose: true })),
    fc.tuple(route, fc.json({ maxDepth: 2 })).map(([r, json]) => {
      const bytes = Buffer.from(json);
      const chunked = `${bytes.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
      return { method: 'POST', target: r, headers: [['authorization', world.authorizations[0]!], ['transfer-encoding', 'chunked'], ['content-type', 'application/json']] as Array<[string, string]>, body: chunked, autoLength: false, mayClose: true };
    }),
    fc.tuple(route, fc.constantFrom(...framing)).map(([r, extra]) => ({
      method: 'POST',
      target: r,
      headers: [['authorization', world.authorizations[0]!], ...extra],
      body: '{}',
      autoLength: !extra.some(([n]) => n === 'content-length' || n === 'transfer-encoding'),
      mayClose: true,
    })),
  );
}

// ---------------------------------------------------------------- the property

function describeRequest(request: Generated): string {
  const head = `${request.method} ${request.target.slice(0, 300)}`;
  const headers = (request.headers ?? []).map(([n, v]) => `${n}: ${(Buffer.isBuffer(v) ? v.toString('latin1') : v).slice(0, 120)}`).join(' | ');
  const body = request.body === undefined ? '' : (Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body)).toString('latin1').slice(0, 300);
  return `${head}\n  headers: ${headers}\n  body: ${body}`;
}

function checkOutcome(request: Generated, outcome: RawOutcome): void {
  assert.notEqual(outcome.kind, 'timeout', `no answer within ${DEADLINE_MS} ms:\n${describeRequest(request)}`);
  if (outcome.kind === 'closed') {
    assert.ok(request.mayClose, `connection closed without a response:\n${describeRequest(request)}`);
    return;
  }
  if (outcome.kind !== 'response') return;
  assert.ok(outcome.status < 500, `${outcome.status} ${outcome.body.toString('utf8').slice(0, 200)}:\n${describeRequest(request)}`);
  if (outcome.status >= 400 && request.method !== 'HEAD') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(outcome.body.toString('utf8'));
    } catch {
      assert.fail(`error body is not JSON (${outcome.status} ${outcome.body.toString('utf8').slice(0, 200)}):\n${describeRequest(request)}`);
    }
    assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `error body is not an object:\n${describeRequest(request)}`);
    const keys = Object.keys(parsed as object);
    assert.deepEqual(keys, ['error'], `error body has other fields than "error" (${outcome.body.toString('utf8').slice(0, 200)}):\n${describeRequest(request)}`);
    assert.equal(typeof (parsed as { error: unknown }).error, 'string');
    assert.match(outcome.headers['content-type'] ?? '', /^application\/json/);
  }
}

async function assertHealthy(world: World): Promise<void> {
  const outcome = await sendRaw({ method: 'GET', target: '/health/' }, { port: world.port, timeoutMs: DEADLINE_MS });
  assert.equal(outcome.kind, 'response');
  assert.equal(outcome.kind === 'response' && outcome.status, 200);
}

async function fuzz(world: World, arb: fc.Arbitrary<Generated>, numRuns: number, label: string): Promise<void> {
  const statuses = new Map<string, number>();
  const details = await fc.check(
    fc.asyncProperty(arb, async (request) => {
      const outcome = await sendRaw(request, { port: world.port, timeoutMs: DEADLINE_MS });
      const key = outcome.kind === 'response' ? String(outcome.status) : outcome.kind;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      checkOutcome(request, outcome);
    }),
    { seed: SEED, numRuns, endOnFailure: !LONG_RUN },
  );
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    assert.fail(`after ${details.numRuns} runs (seed ${details.seed}, path ${details.counterexamplePath}, shrunk ${details.numShrinks} times):\n${cause}`);
  }
  // What the requests reached, for whoever runs `npm run fuzz` (a fuzzer that only ever sees 401s proves little).
  if (LONG_RUN) console.log(`fuzz ${label}: ${[...statuses].sort().map(([k, n]) => `${k}×${n}`).join(' ')}`);
  await assertHealthy(world);
}

for (const target of STORE_TARGETS) {
  describe(`fuzzing every route on ${target.kind}`, () => {
    let base: Base;
    before(async () => {
      base = await startBase(target.kind);
    });
    after(() => base.server.close());

    it('fuzzes every registered route (the route table is read from the server)', () => {
      for (const expected of ['/v1/secrets/', '/secrets/', '/secrets/tokens/', '/coffer/v1/apps/', '/coffer/v1/audit/events/', '/v1/members/:member_id/access/', '/health/']) {
        assert.ok(base.routes.includes(expected), `${expected} is fuzzed (routes: ${base.routes.join(' ')})`);
      }
    });

    it('any method, route, ids, query, headers and body: no 5xx, JSON errors, no hang', async () => {
      const world = await populate(base);
      await fuzz(world, requestArb(world), RUNS.routes, 'routes');
    });

    it('authenticated requests with a valid context to every route, bodies of any shape: no 5xx', async () => {
      const world = await populate(base);
      await fuzz(world, authenticatedArb(world), RUNS.authenticated, 'authenticated');
    });

    it('hostile text (NUL, unpaired surrogates, markup, huge) in every text field of the create and update routes: no 5xx', async () => {
      const world = await populate(base);
      await fuzz(world, textFieldsArb(world), RUNS.text, 'text');
    });

    it('secret batches with valid credentials on /v1/secrets/ and /service/secrets/: no 5xx', async () => {
      const world = await populate(base);
      const env = world.envIds[0]!;
      const appId = world.contextAppId;
      const arb = fc
        .record({
          method: fc.constantFrom('POST', 'PUT', 'DELETE', 'GET'),
          route: fc.constantFrom(`/v1/secrets/?app_id=${appId}&env=development`, '/service/secrets/', '/service/secrets', '/v1/secrets/'),
          auth: fc.constantFrom(world.authorizations[0]!, world.authorizations[2]!),
          contentType: fc.constantFrom(...CONTENT_TYPES),
          body: fc.oneof(secretsBatch(world).chain(jsonBodyOf), deepBody),
        })
        .map(({ method, route, auth, contentType, body }) => ({
          method,
          target: route,
          headers: [['authorization', auth], ['environment', env], ['content-type', contentType], ['x-use-camel-case', 'true']] as Array<[string, string]>,
          body,
          mayClose: false,
        }));
      await fuzz(world, arb, RUNS.batches, 'batches');
    });

    it('byte-level oddities: invalid UTF-8, raw header bytes, unknown methods, bad framing', async () => {
      const world = await populate(base);
      await fuzz(world, bytesArb(world), RUNS.bytes, 'bytes');
    });
  });
}
