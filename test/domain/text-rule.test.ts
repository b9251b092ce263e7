// Markup stripping (rest-api Appendix B) gives what the regular expression applied until nothing
// changes gives, in time that does not grow with the square of the input.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DomainError } from '../../src/domain/errors.js';
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
});
