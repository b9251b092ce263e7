// Token expiry parsing (rest-api §10.7): Python's datetime.fromisoformat, and the JSON number syntax
// that decides whether `expires_in` is an integer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIsoDateTime } from '../../../src/domain/iso-datetime.js';
import { parseTokenExpiry } from '../../../src/domain/service-accounts.js';
import { floatLiteralKeys } from '../../../src/http/json-literals.js';

describe('datetime.fromisoformat', () => {
  it('accepts the forms Python accepts, with the instant it denotes', () => {
    const cases: Array<[string, string]> = [
      ['2027-01-02T03:04:05Z', '2027-01-02T03:04:05.000Z'],
      ['2027-01-02 03:04:05+00:00', '2027-01-02T03:04:05.000Z'],
      ['2027-01-02X03:04Z', '2027-01-02T03:04:00.000Z'],
      ['2027-01-02T03Z', '2027-01-02T03:00:00.000Z'],
      ['2027-01-02T03:04:05.123456789+01:30', '2027-01-02T01:34:05.123Z'],
      ['2027-01-02T03:04:05,5-0200', '2027-01-02T05:04:05.500Z'],
      ['2027-01-02T030405-02', '2027-01-02T05:04:05.000Z'],
      ['20270102T030405Z', '2027-01-02T03:04:05.000Z'],
      ['2027-W01-1T00:00:00Z', '2027-01-04T00:00:00.000Z'],
      ['2027W017T00:00:00Z', '2027-01-10T00:00:00.000Z'],
      ['2026-W53-5T00:00:00Z', '2027-01-01T00:00:00.000Z'],
      ['2024-02-29T00:00:00+05:30:15', '2024-02-28T18:29:45.000Z'],
      ['0099-01-01T00:00:00Z', '0099-01-01T00:00:00.000Z'],
    ];
    for (const [text, iso] of cases) {
      const parsed = parseIsoDateTime(text);
      assert.ok(parsed?.hasOffset, text);
      assert.equal(parsed.instant!.toISOString(), iso, text);
    }
  });

  it('parses naive values without an instant', () => {
    for (const text of ['2027-01-02', '2027-01-02T03:04:05', '20270102', '2027-W01']) {
      assert.deepEqual(parseIsoDateTime(text), { instant: undefined, hasOffset: false }, text);
    }
  });

  it('refuses what Python refuses (and the lower-case t and z)', () => {
    for (const text of [
      '', 'soon', '2027-1-02T00:00Z', '2027-01-32T00:00Z', '2027-02-29T00:00Z', '2027-13-01T00:00Z', '2027-01-02T24:00Z',
      '2027-01-02T12:60Z', '2027-01-02T00:00:00z', '2027-01-02t00:00:00Z', '2027-01-02T00:00:00+2400', '2027-01-02T00:00:00+1',
      '2027-01-02T00:00:00Zulu', '2027-0102T00:00Z', '2027-W54-1T00:00Z', '2027-W53-1T00:00Z', '2027-W01-8T00:00Z',
      '0000-01-01T00:00Z', '2027-01-02T', '2027-01-02T12:30:', '2027-01-02T1230:45Z', '２０２７-01-02T00:00Z',
    ]) {
      assert.equal(parseIsoDateTime(text), undefined, text);
    }
  });
});

describe('token expiry (§10.7 steps 4-7)', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const expiry = (body: Record<string, unknown>, floats: string[] = []) => parseTokenExpiry({ body, floatKeys: new Set(floats) }, now);

  it('prefers expires_at, then expires_in, else never', () => {
    assert.equal(expiry({}), null);
    assert.equal(expiry({ expires_at: null, expires_in: null }), null);
    assert.equal(expiry({ expires_at: '2030-01-01T02:00:00+01:00', expires_in: 5 })?.toISOString(), '2030-01-01T01:00:00.000Z');
    assert.equal(expiry({ expires_in: 60 })?.toISOString(), '2030-01-01T00:01:00.000Z');
    assert.equal(expiry({ expires_at: null, expires_in: 60 })?.toISOString(), '2030-01-01T00:01:00.000Z');
  });

  it('refuses what Phase refuses', () => {
    assert.throws(() => expiry({ expires_at: '2030-01-01T00:00:00Z' }), /'expires_at' must be in the future\./);
    assert.throws(() => expiry({ expires_in: 60 }, ['expires_in']), /'expires_in' must be a positive integer \(seconds\)\./);
    assert.throws(() => expiry({ expires_in: 10 ** 12 }), /'expires_in' must be a positive integer/);
    assert.throws(() => expiry({ expiry: null }), /Unknown field 'expiry'/);
  });
});

describe('JSON number syntax', () => {
  it('finds top-level keys written as floats', () => {
    assert.deepEqual([...floatLiteralKeys('{"a": 1, "b": 1.0, "c": 1e3, "d": "1.5", "e": [1.5], "f": {"g": 2.5}, "h": -0.5E1}')], ['b', 'c', 'h']);
    assert.deepEqual([...floatLiteralKeys('{"a": 1.0, "a": 1}')], [], 'the last duplicate decides, as JSON.parse does');
    assert.deepEqual([...floatLiteralKeys('{"x\\"y": 2.0, "n": null}')], ['x"y']);
    assert.deepEqual([...floatLiteralKeys('[1.5]')], []);
  });
});
