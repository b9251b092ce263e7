// Logged errors keep what identifies a failure, never the data of the statement that failed.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/logger.js';

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
