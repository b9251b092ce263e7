// Logged errors keep what identifies a failure, never the data of the statement that failed.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger, redactUrl } from '../../src/logger.js';

test('a database error is logged without its parameters, duplicate key or statement context', async () => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const logger = createLogger('info', out);
  const cause = Object.assign(new Error('inner failure'), { params: ['CAUSE_PARAM_VALUE'] });
  const error = Object.assign(new Error('duplicate key value violates unique constraint "secrets_live_identity_key"'), {
    code: '23505',
    constraint: 'secrets_live_identity_key',
    detail: 'Key (environment_id, path, key_digest)=(x, /billing/STRIPE_FOLDER, d) already exists.',
    params: ['TAG_NAME_IN_PARAMS', 'ph:v1:ciphertext'],
    where: 'SQL statement with DATA_IN_WHERE',
    internalQuery: 'select DATA_IN_INTERNAL_QUERY',
    query: 'insert into tags values (QUERY_TEXT)',
    cause,
  });
  logger.error({ sql: 'insert into "tags" ...', err: error }, 'query failed');
  await new Promise((resolve) => setImmediate(resolve));
  const line = Buffer.concat(chunks).toString();
  const logged = JSON.parse(line);
  assert.ok(logged.err.message.startsWith(error.message), logged.err.message);
  assert.equal(logged.err.code, '23505');
  assert.equal(logged.err.constraint, 'secrets_live_identity_key');
  for (const leaked of ['TAG_NAME_IN_PARAMS', 'ph:v1:ciphertext', 'STRIPE_FOLDER', 'DATA_IN_WHERE', 'DATA_IN_INTERNAL_QUERY', 'QUERY_TEXT', 'CAUSE_PARAM_VALUE']) {
    assert.ok(!line.includes(leaked), `the log line holds ${leaked}`);
  }
});

test('request URLs are logged without query values or invite tokens, however the path is encoded', () => {
  const token = 'a'.repeat(64);
  const cases: Array<[string, string]> = [
    [`/coffer/v1/invites/${token}/`, '/coffer/v1/invites/*/'],
    [`/coffer/v1/invites/${token}/accept/`, '/coffer/v1/invites/*/accept/'],
    // The router decodes segments: these reach the invite routes too.
    [`/coffer/v1/%69nvites/${token}/`, '/coffer/v1/%69nvites/*/'],
    [`/coffer/v1/INVITES/${token}/`.replace('INVITES', '%69%6E%76%69%74%65%73'), '/coffer/v1/%69%6E%76%69%74%65%73/*/'],
    [`/invites/${token}`, '/invites/*'],
    [`/invites/${token}?next=/x`, '/invites/*?next=*'],
    // Invite ids of the members API are not secrets.
    ['/v1/members/invites/3f0c1c7e-0000-4000-8000-000000000000/', '/v1/members/invites/3f0c1c7e-0000-4000-8000-000000000000/'],
    ['/v1/secrets/?app_id=x&key=DB_PASSWORD', '/v1/secrets/?app_id=*&key=*'],
    ['/coffer/v1/%E0%A4%A/invites', '/coffer/v1/%E0%A4%A/invites'],
  ];
  for (const [url, logged] of cases) assert.equal(redactUrl(url), logged, url);
});
