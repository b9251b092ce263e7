// Markup stripping (rest-api Appendix B) gives what the regular expression applied until nothing
// changes gives, in time that does not grow with the square of the input.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DomainError } from '../../src/domain/errors.js';
import { pythonStrip } from '../../src/domain/secrets/python-literal.js';
import { processTags } from '../../src/domain/secrets/tags.js';
import { applyTextRule, stripMarkup } from '../../src/domain/text-rule.js';

const MARKUP = /<!--[\s\S]*?-->|<![^>]*>|<\?[^>]*>|<\/?[a-zA-Z][^<>]*>/g;

function byRegex(text: string): string {
  let current = text;
  for (;;) {
    const next = current.replace(MARKUP, '');
    if (next === current) return current;
    current = next;
  }
}

describe('text rule', () => {
  test('stripMarkup equals the expression applied until stable, on chosen values', () => {
    for (const text of [
      '', 'plain', '<b>bold</b>', '<<b>b>', '<!-- c -->x', '<!-->x', '<!--->x-->', '<!x>y', '<?php x ?>y', '</a>', '< a>', '<a<b>>',
      '<a', 'a>', '<!--', '<!', '<?', '</', '</1>', '<a\n b="c">t', '<!-- a <b> -->', 'x<y>z<!--', '<<<a>>>', '<a><!--', '<1a>', '<!->a-->', '<!-a-->b>',
    ]) {
      assert.equal(stripMarkup(text), byRegex(text), JSON.stringify(text));
    }
  });

  test('stripMarkup equals the expression applied until stable, on random values', () => {
    const text = fc.array(fc.constantFrom('<', '>', '!', '-', '?', '/', 'a', 'Z', '1', ' ', '\n'), { maxLength: 40 }).map((chars) => chars.join(''));
    fc.assert(fc.property(text, (value) => assert.equal(stripMarkup(value), byRegex(value), JSON.stringify(value))), { numRuns: 20_000, seed: 20_261_123 });
  });

  // As a regular expression each unterminated `<!--` scanned to the end: 240 KB took 10 s.
  test('unterminated markup costs one pass', { timeout: 30_000 }, () => {
    assert.equal(stripMarkup('<!--'.repeat(100_000)), '<!--'.repeat(100_000));
    assert.equal(stripMarkup('<!'.repeat(100_000)), '<!'.repeat(100_000));
    assert.equal(stripMarkup('<a'.repeat(100_000)), '<a'.repeat(100_000));
  });

  test('a raw value may exceed the maximum by markup, up to an allowance', () => {
    const rule = { field: 'name', max: 64, required: true };
    assert.equal(applyTextRule(`${'<b></b>'.repeat(140)}name`, rule), 'name');
    assert.throws(
      () => applyTextRule(`${'<b></b>'.repeat(160)}name`, rule),
      (error: unknown) => error instanceof DomainError && error.message === "'name' cannot exceed 64 characters.",
    );
    assert.throws(() => applyTextRule('<!--'.repeat(60_000), rule), (error: unknown) => error instanceof DomainError);
  });

  test("pythonStrip removes what Python's str.strip() removes, in one walk from each end", { timeout: 30_000 }, () => {
    const space = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
    const byRegex = (text: string) => text.replace(new RegExp(`^[${space}]+`), '').replace(new RegExp(`[${space}]+$`), '');
    const text = fc.array(fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u3000', '\ufeff', '\u001c', 'a', 'b'), { maxLength: 30 }).map((chars) => chars.join(''));
    fc.assert(fc.property(text, (value) => assert.equal(pythonStrip(value), byRegex(value), JSON.stringify(value))), { numRuns: 20_000, seed: 20_261_123 });
    // As `/[...]+$/` this tried every run of inner whitespace: 150,000 spaces took 20 s.
    assert.equal(pythonStrip(`x${' '.repeat(1_000_000)}x `).length, 1_000_002);
  });

  test('processTags collapses duplicates in one pass, keeping first positions', { timeout: 30_000 }, () => {
    assert.deepEqual(processTags(['b', ' a ', 'b', 7, '', 'a', 'c']).names, ['b', 'a', 'c']);
    const many = Array.from({ length: 200_000 }, (_, i) => i.toString(36));
    assert.equal(processTags([...many, ...many]).names.length, 200_000);
  });
});
