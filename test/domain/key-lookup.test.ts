// `?key=` lookups on a resolved environment: the digest decides the match, and each spelling of a
// key is digested once per resolved environment (a repeated lookup is a map hit).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResolvedEnvironment, type ResolvedSecret } from '../../src/domain/secrets/read-path.js';
import type { SecretEntry } from '../../src/domain/secrets/snapshot.js';

function secret(id: string, path: string, keyDigest: string): ResolvedSecret {
  const entry = { id, path, keyDigest } as Partial<SecretEntry> as SecretEntry;
  return { entry, value: `value of ${id}`, override: null };
}

/** A stand-in for the environment cipher's digest: upper-case keys only, counting calls. */
function countingDigest() {
  const seen: string[] = [];
  const digestOf = async (upperCaseKey: string) => {
    seen.push(upperCaseKey);
    return `digest:${upperCaseKey}`;
  };
  return { seen, digestOf };
}

describe('ResolvedEnvironment.withKey', () => {
  const environment = () =>
    new ResolvedEnvironment('env', 1, [secret('a', '/', 'digest:DB_URL'), secret('b', '/other', 'digest:DB_URL'), secret('c', '/', 'digest:TOKEN')], new Map([['env', 1]]));

  it('selects every secret whose digest matches the upper-cased key, one per path', async () => {
    const { digestOf } = countingDigest();
    const match = await environment().withKey('db_url', digestOf);
    assert.equal(match.digest, 'digest:DB_URL');
    assert.deepEqual(match.secrets.map((s) => s.entry.id), ['a', 'b']);
    assert.deepEqual((await environment().withKey('missing', digestOf)).secrets, []);
  });

  it('digests each spelling once; a repeated lookup returns the remembered match', async () => {
    const { seen, digestOf } = countingDigest();
    const resolved = environment();
    const first = await resolved.withKey('token', digestOf);
    const again = await resolved.withKey('token', digestOf);
    const upper = await resolved.withKey('TOKEN', digestOf);
    assert.equal(again, first);
    assert.deepEqual(upper.secrets.map((s) => s.entry.id), ['c']);
    assert.deepEqual(seen, ['TOKEN', 'TOKEN']);
  });

  it('keeps a bounded number of spellings and still answers after forgetting them', async () => {
    const { seen, digestOf } = countingDigest();
    const resolved = environment();
    for (let i = 0; i < 300; i++) await resolved.withKey(`key_${i}`, digestOf);
    const before = seen.length;
    assert.deepEqual((await resolved.withKey('key_0', digestOf)).secrets, []);
    assert.equal(seen.length, before + 1, 'the first spelling was forgotten and digested again');
    assert.deepEqual((await resolved.withKey('db_url', digestOf)).secrets.map((s) => s.entry.id), ['a', 'b']);
  });
});
