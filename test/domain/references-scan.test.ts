// The reference matcher finds exactly what Phase's regular expressions find (rest-api §6.2), without
// their cubic backtracking on values with no closing brace.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { crossAppMatches, crossEnvMatches, localMatches, referencesIn } from '../../src/reference-syntax.js';

// Phase's expressions, as its server writes them.
const CROSS_APP = /\$\{(?!\{)([^{}]+?)::([^{}]+?)\.([^{}]+?)\}/g;
const CROSS_ENV = /\$\{(?!\{)(?![^{}]*::)([^{}.]+?)\.([^{}]+?)\}/g;
const LOCAL = /\$\{(?!\{)([^{}.]+?)\}/g;

const byRegex = (value: string, pattern: RegExp) => [...value.matchAll(pattern)].map((match) => [...match]);

function assertSame(value: string): void {
  assert.deepEqual(crossAppMatches(value), byRegex(value, CROSS_APP), `cross-app: ${JSON.stringify(value)}`);
  assert.deepEqual(crossEnvMatches(value), byRegex(value, CROSS_ENV), `cross-env: ${JSON.stringify(value)}`);
  assert.deepEqual(localMatches(value), byRegex(value, LOCAL), `local: ${JSON.stringify(value)}`);
}

describe('reference matching', () => {
  test('the same matches as the regular expressions, on chosen values', () => {
    for (const value of [
      '${A}',
      '${staging.DB_URL}',
      '${shop::prod.DB_URL}',
      '${shop::prod.db/path/KEY} and ${A} and ${b.C}',
      '${}', '${.}', '${a.}', '${.a}', '${::a.b}', '${a::.b}', '${a::b.}', '${a:::b.c}', '${a::b::c.d}', '${a.b::c}',
      '${${A}}', '${{A}}', '$${A}', '${A', 'A}', '${a{b}', '${a}b}', '${a.b.c}', '${a..b}', '${a::b..c}',
      '${a::b.c}${d.e}${f}', 'x${a}y${b.c}z${d::e.f}w', '${a\n.b}', '${ü.ß}',
    ]) {
      assertSame(value);
    }
  });

  test('the same matches as the regular expressions, on random values over the characters that matter', () => {
    const text = fc.array(fc.constantFrom('$', '{', '}', ':', '.', '/', 'a', 'B', ' '), { maxLength: 40 }).map((chars) => chars.join(''));
    fc.assert(fc.property(text, (value) => assertSame(value)), { numRuns: 20_000, seed: 20_261_123 });
  });

  // The regular expressions took 14 s on 16 KB of this (cubic); a regression would time the test out.
  test('values with no closing brace cost one pass', { timeout: 30_000 }, () => {
    for (const value of ['${' + 'a::b.'.repeat(40_000), '${'.repeat(100_000), '${a'.repeat(50_000) + '}', `\${${'a.'.repeat(50_000)}`]) {
      crossAppMatches(value);
      crossEnvMatches(value);
      localMatches(value);
    }
    assert.deepEqual(localMatches('${a'.repeat(3) + '}'), [['${a}', 'a']]);
  });

  test('referencesIn names every reference of any phase once, and no span that is not a reference', () => {
    assert.deepEqual(referencesIn('postgres://${DB_USER}:${shop::prod.PASS}@${staging.HOST}/${DB_USER}'), ['${shop::prod.PASS}', '${staging.HOST}', '${DB_USER}']);
    assert.deepEqual(referencesIn('${{RAILWAY_VAR}} ${a.b::c} ${} $HOME {x}'), []);
    assert.deepEqual(referencesIn('no references'), []);
    const value = fc.array(fc.constantFrom('$', '{', '}', ':', '.', 'a', 'B'), { maxLength: 30 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(value, (v) => {
        const expected = [...new Set([CROSS_APP, CROSS_ENV, LOCAL].flatMap((pattern) => byRegex(v, pattern).map((match) => match[0]!)))];
        assert.deepEqual(referencesIn(v), expected);
      }),
      { numRuns: 5_000, seed: 20_261_125 },
    );
  });
});
