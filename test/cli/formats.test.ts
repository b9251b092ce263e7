// Unit tests of src/cli/formats.ts (no server): what `coffer secrets import` reads from each format
// and what `coffer secrets export` can write. Each test names the bug it guards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEntries, stringifyEntries, type Entry, type Format } from '../../src/cli/formats.js';
import { UserError } from '../../src/cli/errors.js';

const read = (format: Format, text: string): Record<string, string> => Object.fromEntries(parseEntries(format, text).map((e) => [e.key, e.value]));
const refused = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (error: unknown) => error instanceof UserError && message.test(error.message));
};

describe('import keeps numbers, booleans and dates as written', () => {
  it('YAML: scalars that are not strings are their source text; null is empty', () => {
    const text = [
      'ZIP: 01234',
      'PORT: 08080',
      'VER: 1.10',
      'HEX: 0x1F',
      'OCT: 0o17',
      'BIG: 123456789012345678901234567890',
      'EXP: 1e3',
      'INF: .inf',
      'NAN: .NaN',
      'TS: 2001-12-14t21:59:43.10-05:00',
      'BOOL: True',
      'TAGGED: !!int 0x2A   # comment',
      'NUL: ~',
      'NUL2: null',
      'EMPTY:',
      'STR: "01234"',
      'ANCHOR: &a 007',
      'ALIAS: *a',
      '',
    ].join('\n');
    assert.deepEqual(read('yaml', text), {
      ZIP: '01234',
      PORT: '08080',
      VER: '1.10',
      HEX: '0x1F',
      OCT: '0o17',
      BIG: '123456789012345678901234567890',
      EXP: '1e3',
      INF: '.inf',
      NAN: '.NaN',
      TS: '2001-12-14t21:59:43.10-05:00',
      BOOL: 'True',
      TAGGED: '0x2A',
      NUL: '',
      NUL2: '',
      EMPTY: '',
      STR: '01234',
      ANCHOR: '007',
      ALIAS: '007',
    });
  });

  it('YAML: nested values and a top level that is not a mapping are refused', () => {
    refused(() => read('yaml', 'A:\n  B: 1\n'), /A holds a nested value/);
    refused(() => read('yaml', '- a\n- b\n'), /not a YAML mapping/);
    assert.deepEqual(read('yaml', ''), {});
    assert.deepEqual(read('yaml', '# only a comment\n'), {});
    assert.deepEqual(read('yaml', '---\nONE: 1\n'), { ONE: '1' });
  });

  it('YAML: a file of several documents is refused, not read as its first one (the rest was dropped)', () => {
    refused(() => read('yaml', '---\nDOC1: one\n---\nDOC2: two\n'), /the YAML file holds 2 documents/);
    refused(() => read('yaml', 'A: 1\n---\n'), /holds 2 documents/);
  });

  it('YAML: an unknown tag is refused, with no raw Node warning', () => {
    const warnings: string[] = [];
    const listener = (w: Error): void => void warnings.push(w.message);
    process.on('warning', listener);
    try {
      refused(() => read('yaml', 'F: !!js/function x\n'), /unknown YAML tag/);
      refused(() => read('yaml', 'F: !custom x\n'), /unknown YAML tag/);
    } finally {
      process.off('warning', listener);
    }
    assert.deepEqual(warnings, []);
  });

  it('JSON: numbers keep their text, true/false their text, null is empty', () => {
    const text = '{"VER": 1.10, "EXP": 1e3, "BIG": 123456789012345678901234567890, "NEG": -0.50, "T": true, "F": false, "N": null, "S": "x\\"y\\\\", "E": 2E-7}';
    assert.deepEqual(read('json', text), { VER: '1.10', EXP: '1e3', BIG: '123456789012345678901234567890', NEG: '-0.50', T: 'true', F: 'false', N: '', S: 'x"y\\', E: '2E-7' });
    assert.deepEqual(read('json', ' { } '), {});
    refused(() => read('json', '{"A": {"B": 1}}'), /A holds a nested value/);
    refused(() => read('json', '{"A": [1]}'), /A holds a nested value/);
    refused(() => read('json', '[1]'), /not a JSON object/);
  });

  it('TOML: numbers and dates as written, or refused; never rewritten', () => {
    assert.deepEqual(read('toml', 'PORT = 8080\nVER = 1.5\nB = true\n"Q" = -3 # c\nD = 1979-05-27T07:32:00Z\n'), { PORT: '8080', VER: '1.5', B: 'true', Q: '-3', D: '1979-05-27T07:32:00Z' });
    for (const written of ['1.10', '0x1F', '0o17', '1_000', '+5', '1e3', '1979-05-27T07:32:00.000001Z']) {
      const result = (() => {
        try {
          return read('toml', `V = ${written}\n`).V;
        } catch (error) {
          return error;
        }
      })();
      if (typeof result === 'string') assert.equal(result, written);
      else assert.ok(result instanceof UserError && /V: the TOML (number|date) cannot be imported exactly as written/.test(result.message), String(result));
    }
    assert.equal(read('toml', 'D = 1979-05-27T07:32:00\n').D, '1979-05-27T07:32:00');
    assert.equal(read('toml', 'V = 1.10\n').V, '1.10');
    assert.equal(read('toml', 'V = 0x1F\n').V, '0x1F');
  });
});

describe('a name given twice is kept twice (so that import refuses it), none dropped', () => {
  const keys = (format: Format, text: string): string[] => parseEntries(format, text).map((e) => e.key);

  it('dotenv: duplicates and __proto__ are entries', () => {
    assert.deepEqual(parseEntries('dotenv', 'DUP=first\nDUP=second\n'), [
      { key: 'DUP', value: 'first' },
      { key: 'DUP', value: 'second' },
    ]);
    assert.deepEqual(parseEntries('dotenv', '__proto__=p\nA=a\n'), [
      { key: '__proto__', value: 'p' },
      { key: 'A', value: 'a' },
    ]);
    assert.deepEqual(keys('dotenv', 'export A=1\r\nB="x\ny" # c\n# C=3\nD: 4\n'), ['A', 'B', 'D']);
  });

  it('JSON: duplicates are entries', () => {
    assert.deepEqual(parseEntries('json', '{"DUP":"first","DUP":"second"}'), [
      { key: 'DUP', value: 'first' },
      { key: 'DUP', value: 'second' },
    ]);
    assert.deepEqual(keys('json', '{"__proto__": "p"}'), ['__proto__']);
  });

  it('YAML and TOML refuse duplicates themselves', () => {
    assert.throws(() => parseEntries('yaml', 'A: 1\nA: 2\n'), UserError);
    assert.throws(() => parseEntries('toml', 'A = "1"\nA = "2"\n'), UserError);
  });
});

describe('text input', () => {
  it('a leading UTF-8 byte order mark is ignored in every format', () => {
    const files: Record<Format, string> = { dotenv: 'A=1\n', json: '{"A": "1"}', yaml: 'A: "1"\n', csv: 'key,value\nA,1\n', toml: 'A = "1"\n' };
    for (const [format, text] of Object.entries(files) as Array<[Format, string]>) {
      assert.deepEqual(parseEntries(format, `\uFEFF${text}`), [{ key: 'A', value: '1' }], format);
    }
  });

  it('bytes that are not UTF-8 are refused, not turned into U+FFFD', async () => {
    const { utf8Text } = await import('../../src/cli/commands/secrets/shared.js');
    assert.equal(utf8Text(Buffer.from('café ✓', 'utf8'), 'x', 'h'), 'café ✓');
    refused(() => utf8Text(Buffer.from([0x4c, 0x41, 0x54, 0x3d, 0x63, 0x61, 0x66, 0xe9, 0x0a]), 'l1.env', 'h'), /^l1\.env is not UTF-8 text$/);
    refused(() => utf8Text(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00]), 'the value of KEY on standard input', 'h'), /is not UTF-8 text/);
  });
});

describe('dotenv export', () => {
  // Every value either reads back exactly (through the writer's own check and through the dotenv
  // package) or is refused with a message that names only what the value holds.
  const AWKWARD = [
    'C:\\Temp\\',
    'ends with two \\\\',
    `all three ' " \` quotes`,
    `all three ' " \` quotes # and a hash`,
    `it's "quoted"`,
    'a\nb',
    'cr\rhere',
    'crlf\r\nhere',
    'literal \\n and \\r',
    `literal \\n with ' and \``,
    "back\\'slash quote",
    `all three ' " \` quotes\r\nand a trailing backslash \\`,
    '  padded  ',
    '#hash',
    '',
    'x=y',
    '${HOME}',
  ];

  for (const value of AWKWARD) {
    it(`writes or truly refuses ${JSON.stringify(value)}`, async () => {
      const dotenv = (await import('dotenv')).default;
      let text: string | undefined;
      try {
        text = stringifyEntries('dotenv', [{ key: 'A', value }, { key: 'B', value: 'b' }]);
      } catch (error) {
        assert.ok(error instanceof UserError, String(error));
        assert.match(error.message, /^the value of A cannot be written in a \.env file: dotenv reads it back changed in '…', `…` and "…" quoting \(it holds (.+)\)$/);
        const holds = /\(it holds (.+)\)$/.exec(error.message)![1]!;
        if (holds.includes("'")) assert.ok(value.includes("'"));
        if (holds.includes('`')) assert.ok(value.includes('`'));
        if (holds.includes('"')) assert.ok(value.includes('"'));
        if (holds.includes('carriage return')) assert.ok(value.includes('\r'));
        if (holds.includes('at the end')) assert.ok(value.endsWith('\\'));
        // Truly: no quoting reads back unchanged with the dotenv package.
        for (const quoted of [`'${value}'`, `\`${value}\``, `"${value.replace(/\r/g, '\\r')}"`]) {
          assert.notEqual(dotenv.parse(`A=${quoted}\nB=b\n`).A, value, quoted);
        }
        return;
      }
      assert.deepEqual(dotenv.parse(text), { A: value, B: 'b' }, text);
    });
  }

  it('a trailing backslash and three quote characters without a backslash are written', () => {
    for (const value of ['C:\\Temp\\', `all three ' " \` quotes`]) {
      assert.deepEqual(parseEntries('dotenv', stringifyEntries('dotenv', [{ key: 'A', value }])), [{ key: 'A', value }]);
    }
  });
});

describe('YAML export', () => {
  // PyYAML and other YAML 1.1 readers: yes/no/on/off are booleans, 2024-01-01 a date, 12:30:00 a
  // number of seconds, 1_000 and 0b101 integers; U+2028 raw is a line break there.
  it('double-quotes every name and value, and escapes the line and paragraph separators', () => {
    const entries: Entry[] = ['yes', 'no', 'on', 'OFF', '2024-01-01', '12:30:00', '1_000', '0b101', '~', 'a\u2028b\u2029c'].map((value, i) => ({ key: `Y${i}`, value }));
    entries.push({ key: 'ON', value: 'key read as a boolean if plain' });
    const text = stringifyEntries('yaml', entries);
    for (const { key, value } of entries.slice(0, 9)) assert.ok(text.includes(`"${key}": "${value}"\n`), `${key}: ${value}\n${text}`);
    assert.ok(text.includes('"Y9": "a\\Lb\\Pc"\n'), text);
    assert.ok(!/[\u2028\u2029]/.test(text));
    assert.ok(text.includes('"ON": '));
    assert.deepEqual(parseEntries('yaml', text), entries);
  });
});
