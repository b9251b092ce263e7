// The client resolves references as Phase's SDK does, but within bounds (src/reference-limits.ts):
// a secret's value is untrusted input to whoever reads it, and the SDK's one-replacement-at-a-time
// algorithm held a reader's CLI 46 s on a value of 100,000 references.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { expansionBoundWarning, ReadBudget, parseReference, referenceKey, referenceTexts, resolveReferences, type ReferenceFetcher } from '../../src/client/references.js';
import {
  MAX_CLIENT_READ_SCANNED,
  MAX_CLIENT_SCANNED_PER_VALUE,
  MAX_READ_GROWTH,
  MAX_REFERENCE_EXPANSIONS,
  MAX_REFERENCES_PER_VALUE,
  MAX_RESOLVED_LENGTH,
} from '../../src/reference-limits.js';

/** Phase Node SDK 3.1.1's resolveSecretReferences, transcribed without bounds: the oracle. */
async function sdkResolve(value: string, env: string, path: string, fetch: ReferenceFetcher, app: string | null, cache: Map<string, string>, warnings: string[], stack = new Set<string>()): Promise<string> {
  let resolved = value;
  for (const text of [...value.matchAll(/\${(?:(?<app>[^:}]+)::)?(?:(?<env>[^.\/}]+)\.)?(?:(?<path>[^}]+)\/)?(?<key>[^}]+)}/g)].map((m) => m[0])) {
    const ref = parseReference(text);
    const targetApp = ref.app ?? app;
    const targetEnv = ref.env ?? env;
    const targetPath = ref.path || path || '/';
    const key = referenceKey(targetEnv, targetPath, ref.key, targetApp);
    if (stack.has(key)) {
      warnings.push(`Circular reference detected: ${text}`);
      continue;
    }
    if (!cache.has(key)) {
      stack.add(key);
      try {
        cache.set(key, await sdkResolve(await fetch(targetEnv, targetPath, ref.key, targetApp), targetEnv, targetPath, fetch, targetApp, cache, warnings, stack));
      } catch (error) {
        warnings.push(`Failed to resolve reference ${text}: ${(error as Error).message}`);
        continue;
      } finally {
        stack.delete(key);
      }
    }
    resolved = resolved.replace(text, () => cache.get(key)!);
  }
  return resolved;
}

const BOUND = expansionBoundWarning();

/** A fetcher over secrets of one environment by key; an unknown key fails its reference. */
const fetcherOf =
  (world: Record<string, string | ((key: string) => string)>): ReferenceFetcher =>
  async (_env, _path, key) => {
    const found = world[key] ?? world['*'];
    if (found === undefined) throw new Error(`Secret not found: ${key}`);
    return typeof found === 'function' ? found(key) : found;
  };

/** A read of several values in order, sharing a cache and a budget as a list does. */
async function read(values: string[], fetch: ReferenceFetcher) {
  const options = { cache: new Map<string, string>(), warnings: [] as string[], budget: new ReadBudget() };
  const resolved = [];
  for (const value of values) resolved.push(await resolveReferences(value, 'development', '/', fetch, null, options));
  return { resolved, ...options };
}

describe('client reference resolution within bounds', () => {
  test('within the bounds, the same values and warnings as the SDK, on chosen and random worlds', async () => {
    const chosen: Array<[Record<string, string>, string]> = [
      [{ A: 'a', B: '${A}${A}' }, '${B}-${A}-${B}'],
      [{ A: '${B}', B: '${A}' }, '${A}'],
      [{ A: '${B}' }, '${A}${B}${A}'],
      [{ A: 'x$', B: 'b' }, '${A}{B}${B}'],
      [{ A: 'has ${B} inside', B: 'b' }, '${A} ${B} ${B}'],
      [{}, '${MISSING} ${{RAILWAY}}'],
    ];
    const piece = fc.constantFrom('${A}', '${B}', '${C}', '${staging.A}', '${MISSING}', 'x', '$', '{', '}', '${', ' ');
    const text = fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join(''));
    const random = fc.tuple(fc.record({ A: text, B: text, C: text }), text);
    const cases = [...chosen, ...fc.sample(random, { numRuns: 3_000, seed: 20_261_124 })];
    for (const [world, value] of cases) {
      const expectedWarnings: string[] = [];
      const expected = await sdkResolve(value, 'development', '/', fetcherOf(world), null, new Map(), expectedWarnings);
      const { resolved, warnings } = await read([value], fetcherOf(world));
      assert.deepEqual([resolved[0], warnings], [expected, expectedWarnings], JSON.stringify({ world, value }));
    }
  });

  test('a value of MAX_REFERENCES_PER_VALUE references resolves; one more stays verbatim, with a warning', async () => {
    const fetch = fetcherOf({ A: 'a' });
    const at = await read(['${A}'.repeat(MAX_REFERENCES_PER_VALUE)], fetch);
    assert.equal(at.resolved[0], 'a'.repeat(MAX_REFERENCES_PER_VALUE));
    assert.deepEqual(at.warnings, []);
    const over = '${A}'.repeat(MAX_REFERENCES_PER_VALUE + 1);
    const past = await read([over, 'next: ${A}'], fetch);
    assert.deepEqual(past.resolved, [over, 'next: a']);
    assert.deepEqual(past.warnings, [BOUND]);
  });

  // 100,000 references held the CLI 46 s: each found from the start of a value written again.
  test('many references to a longer value stop at the per-value bound on characters read and written', async () => {
    const value = '${X}'.repeat(MAX_REFERENCES_PER_VALUE);
    const { resolved, warnings, budget } = await read([value, '${Y}'], fetcherOf({ X: 'x'.repeat(60), Y: 'y' }));
    assert.deepEqual(resolved, [value, 'y']);
    assert.deepEqual(warnings, [BOUND]);
    assert.ok(budget.scanned > MAX_CLIENT_SCANNED_PER_VALUE && budget.scanned < MAX_CLIENT_SCANNED_PER_VALUE + 4 * 1024 * 1024, String(budget.scanned));
  });

  test('a doubling tree of references stays verbatim once it passes the expansion bound', async () => {
    // L0 names L1 twice, L1 names L2 twice...: 2^40 characters if expanded, 41 lookups with the cache.
    const tree = fetcherOf({ '*': (key) => (Number(key.slice(1)) < 40 ? `\${L${Number(key.slice(1)) + 1}}`.repeat(2) : 'leaf') });
    const { resolved, warnings, budget } = await read(['${L0}'], tree);
    assert.deepEqual([resolved, warnings], [['${L0}'], [BOUND]]);
    assert.ok(budget.expansions <= 41);
    // Many distinct references each cost a lookup: past MAX_REFERENCE_EXPANSIONS the value stays verbatim.
    const distinct = Array.from({ length: MAX_REFERENCE_EXPANSIONS + 1 }, (_, i) => `\${K${i}}`).join('');
    const lookups = await read([distinct], fetcherOf({ '*': 'v' }));
    assert.deepEqual([lookups.resolved, lookups.warnings, lookups.budget.expansions], [[distinct], [BOUND], MAX_REFERENCE_EXPANSIONS + 1]);
  });

  test("one read stops expanding once its values together pass the read's bound; the rest stay verbatim", async () => {
    const heavy = '${A}'.repeat(MAX_REFERENCES_PER_VALUE); // about 290 Mi characters each
    const values = [heavy, heavy.replaceAll('A', 'B'), heavy.replaceAll('A', 'C'), heavy.replaceAll('A', 'D'), 'plain', 'last ${A}'];
    const { resolved, warnings, budget } = await read(values, fetcherOf({ '*': 'a' }));
    const expanded = resolved.filter((value, i) => value !== values[i]).length;
    assert.equal(expanded, 3, 'three heavy values fit in the read');
    assert.deepEqual(resolved.slice(3), values.slice(3));
    assert.deepEqual(warnings, [BOUND, BOUND]);
    assert.ok(budget.scanned <= MAX_CLIENT_READ_SCANNED + 4 * 1024 * 1024, String(budget.scanned));
  });

  test('a value that would grow past MAX_RESOLVED_LENGTH stays verbatim; one that reaches it resolves', async () => {
    const fits = 'y'.repeat(MAX_RESOLVED_LENGTH - 2);
    const { resolved, warnings } = await read(['<${FITS}>', '<${FITS}>!'], fetcherOf({ FITS: fits }));
    // Compared as booleans: a failure would print megabytes.
    assert.deepEqual([resolved[0] === `<${fits}>`, resolved[1] === '<${FITS}>!', warnings], [true, true, [BOUND]]);
  });

  test('values that each expand to 3 MiB stop expanding once the read has grown by MAX_READ_GROWTH', async () => {
    const big = 'z'.repeat(3 * 1024 * 1024);
    const values = Array.from({ length: 30 }, (_, i) => `\${V${i}}`);
    const { resolved, warnings } = await read(values, fetcherOf({ '*': big }));
    const expanded = resolved.filter((value) => value === big).length;
    assert.equal(expanded, Math.floor(MAX_READ_GROWTH / (big.length - '${V0}'.length)));
    assert.deepEqual(resolved.map((value, i) => value === values[i]).slice(expanded), values.slice(expanded).map(() => true));
    assert.equal(warnings.length, values.length - expanded);
  });

  test('the reference scan stops at the first reference past its maximum', () => {
    assert.equal(referenceTexts('${A}'.repeat(100), 10).length, 11);
    assert.equal(referenceTexts('${A}'.repeat(5), 10).length, 5);
  });
});
