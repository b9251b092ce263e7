// One read's reference expansion is bounded as a whole, not only value by value (docs/security.md
// "Limits"): past the read's bounds the remaining values are returned verbatim.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ReferenceResolver, type ReferenceWorld } from '../../src/domain/secrets/references.js';
import { localMatches } from '../../src/reference-syntax.js';
import { MAX_READ_GROWTH, MAX_REFERENCES_PER_VALUE } from '../../src/reference-limits.js';
import { EnvironmentSnapshot, type SecretEntry } from '../../src/domain/secrets/snapshot.js';

const ENV = '00000000-0000-4000-8000-000000000001';

function entry(key: string, value: string): SecretEntry {
  const now = new Date();
  return {
    id: `id-${key}`, environmentId: ENV, folderId: null, path: '/', keyDigest: `digest-${key}`, type: 'secret', version: 1, createdAt: now, updatedAt: now,
    tags: [], ciphertext: { key: 'ph:v1:k', value: 'ph:v1:v', comment: 'ph:v1:c' } as SecretEntry['ciphertext'], key, value, comment: '',
  } as SecretEntry;
}

function worldOf(entries: SecretEntry[]): ReferenceWorld {
  const snapshot = new EnvironmentSnapshot(ENV, 1, entries, [], true);
  return { appsNamed: () => [], environmentsOf: () => [], snapshot: () => snapshot, gone: () => false, canAccess: () => true };
}

describe('reference expansion bounds per read', () => {
  test('values that each expand to 4 MB stop expanding once the read has grown by MAX_READ_GROWTH', () => {
    const b = entry('B', 'x'.repeat(4_000_000));
    const readers = Array.from({ length: 40 }, (_, i) => entry(`C${i}`, '${B}'));
    const resolver = new ReferenceResolver(worldOf([b, ...readers]));
    const values = readers.map((reader) => resolver.expandTop(reader, 'app', reader.value!));
    const expanded = values.filter((v) => v.length === 4_000_000).length;
    assert.equal(expanded, Math.floor(MAX_READ_GROWTH / (4_000_000 - '${B}'.length)));
    assert.ok(values.slice(expanded).every((v) => v === '${B}'), 'the values past the bound are verbatim');
    assert.ok(resolver.complete);
  });

  test('many values that each cost a lot of work stop once the read has done its share', { timeout: 60_000 }, () => {
    // T0 .. T10 each name the next twice; T11 is 2,000 characters: every ${T1}${T1} expands to 4 MB.
    const chain = Array.from({ length: 11 }, (_, i) => entry(`T${i}`, `\${T${i + 1}}\${T${i + 1}}`));
    const leaf = entry('T11', 'v'.repeat(2_000));
    const readers = Array.from({ length: 990 }, (_, i) => entry(`R${i}`, '${T1}${T1}'));
    const resolver = new ReferenceResolver(worldOf([...chain, leaf, ...readers]));
    const values = readers.map((reader) => resolver.expandTop(reader, 'app', reader.value!));
    const expanded = values.filter((v) => v !== '${T1}${T1}').length;
    assert.ok(expanded > 0, 'the first values expand');
    assert.ok(expanded < readers.length / 4, `${expanded} of ${readers.length} values expanded`);
    assert.equal(values[0]!.length, 2 * 1024 * 2_000);
  });

  test('many references to one long value stop at the per-value work bound', () => {
    const long = entry('LONG', 'y'.repeat(100_000));
    const text = '${LONG}'.repeat(5_000);
    const resolver = new ReferenceResolver(worldOf([long]));
    const value = resolver.expandTop(entry('MANY', text), 'app', text);
    assert.equal(value, text, 'the value stays verbatim');
  });
});

describe('repeated references', () => {
  test('a value repeating one reference 10,000 times is expanded with two lookups, not one scan per repeat', () => {
    // Before: every repeat looked the secret up and scanned the whole value again, unbounded by
    // the per-value work bound (520,000 repeats in a 2 MB value: 46 s of the server's thread).
    const a = entry('A', 'a');
    const snapshot = new EnvironmentSnapshot(ENV, 1, [a], [], true);
    let lookups = 0;
    const world: ReferenceWorld = { ...worldOf([a]), snapshot: () => (lookups++, snapshot) };
    const text = '${A}'.repeat(MAX_REFERENCES_PER_VALUE);
    const value = new ReferenceResolver(world).expandTop(entry('MANY', text), 'app', text);
    assert.equal(value, 'a'.repeat(MAX_REFERENCES_PER_VALUE));
    // The first substitutes every occurrence; the second finds none left, and the value does not
    // change again, so the others are known to change nothing.
    assert.equal(lookups, 2);
  });

  test('a value with more than MAX_REFERENCES_PER_VALUE references stays verbatim, its neighbours expand', () => {
    const a = entry('A', 'a');
    const over = '${A}'.repeat(MAX_REFERENCES_PER_VALUE + 1);
    const resolver = new ReferenceResolver(worldOf([a]));
    assert.equal(resolver.expandTop(entry('OVER', over), 'app', over), over);
    assert.equal(resolver.expandTop(entry('NEXT', 'x${A}'), 'app', 'x${A}'), 'xa');
  });

  test('the same expansions as Phase\'s algorithm, which visits every repeat', () => {
    // Phase (rest-api §6.2, local phase): each match of the value as it was when the phase began,
    // in order, replaces every occurrence of its text with the referenced value, itself expanded;
    // a cycle leaves that match as it is.
    const piece = fc.constantFrom('${A}', '${B}', '${C}', '${D}', '$', '{', '}', 'x', '${', 'A}', '}$');
    const text = (max: number) => fc.array(piece, { maxLength: max }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(text(4), text(4), text(4), text(12), (va, vb, vc, top) => {
        const values: Record<string, string> = { A: va, B: vb, C: vc };
        const phase = (key: string, value: string, visited: readonly string[]): string => {
          if (visited.includes(key)) throw new Error('cycle');
          let result = value;
          for (const [whole, ref] of localMatches(result)) {
            if (!(ref in values) || !result.includes(whole)) continue;
            try {
              result = result.split(whole).join(phase(ref, values[ref]!, [...visited, key]));
            } catch {
              // a cycle: this match stays
            }
          }
          return result;
        };
        const entries = Object.entries(values).map(([key, value]) => entry(key, value));
        const resolver = new ReferenceResolver(worldOf([...entries, entry('TOP', top)]));
        assert.equal(resolver.expandTop(entry('TOP', top), 'app', top), phase('TOP', top, []));
      }),
      { numRuns: 5_000, seed: 20_261_124 },
    );
  });
});
