// The client finds the references of a value exactly where the Phase SDK's pattern finds them
// (rest-api §6.5), in one pass however many `${` the value holds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { REFERENCE_PATTERN, referenceTexts } from '../../src/client/references.js';

const byPattern = (value: string) => [...value.matchAll(REFERENCE_PATTERN)].map((match) => match[0]);

describe('client reference scan', () => {
  test('the same references as the pattern, on chosen and random values', () => {
    for (const value of ['${A}', '${}', '$${A}', '${a${b}', '${app::staging.db.KEY}', '${a}}${b}', '${\n}', '${A', 'x}${}${y}', '${{}']) {
      assert.deepEqual(referenceTexts(value), byPattern(value), JSON.stringify(value));
    }
    const text = fc.array(fc.constantFrom('$', '{', '}', ':', '.', '/', 'a', ' ', '\n'), { maxLength: 40 }).map((chars) => chars.join(''));
    fc.assert(fc.property(text, (value) => assert.deepEqual(referenceTexts(value), byPattern(value), JSON.stringify(value))), { numRuns: 20_000, seed: 20_261_123 });
  });

  // As a regular expression, 330,000 `${a` before one `}` cost about 10^11 steps.
  test('many openings and no closing brace cost one pass', { timeout: 30_000 }, () => {
    assert.deepEqual(referenceTexts('${a'.repeat(330_000)), []);
    assert.equal(referenceTexts(`${'${a'.repeat(330_000)}}`).length, 1);
  });
});
