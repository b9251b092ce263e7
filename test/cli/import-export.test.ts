// `coffer secrets import` of a tricky .env file (comments, quotes, multi-line values, `export`
// prefixes, `=`, `#`, `$`, unicode, empty values) and `coffer secrets export` in every format, with a
// round trip for each: the exported text parses (with the format's own library) to the same names and
// values, and importing it into a new environment and exporting that gives them back again. Plus the
// import's atomicity rules (one batch; existing names refused unless --overwrite).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import dotenv from 'dotenv';
import { parse as parseToml } from 'smol-toml';
import YAML from 'yaml';
import { STORE_TARGETS } from '../helpers/stores.js';
import { startDeployment, type Deployment } from './fixture.js';

const TRICKY_ENV = [
  '# Settings for the shop (this line is a comment)',
  '',
  'export EXPORTED=exported-value',
  'PLAIN=plain value   # a trailing comment',
  'EQUALS=a=b==c',
  `SINGLE='single "quoted" $HOME and #hash'`,
  `DOUBLE="double 'quoted' with a\\nnewline escape"`,
  'MULTI="line one',
  'line two = still the value',
  '  indented # not a comment"',
  'HASH="value # not a comment"',
  'DOLLAR=pa$$word$1',
  'UNICODE=héllo wörld 中文 🎉 ñ',
  'EMPTY=',
  'EMPTY_QUOTED=""',
  'BACKTICK=`it\'s "both" quotes`',
  "PADDED='  padded  '",
  'lower_case=becomes upper',
  'URL="https://example.com/?a=1&b=2#frag"',
  'UNQUOTED=https://example.com/#frag',
  'BACKSLASH=C:\\path\\to\\dir',
  '',
].join('\n');

const EXPECTED: Record<string, string> = {
  EXPORTED: 'exported-value',
  PLAIN: 'plain value',
  EQUALS: 'a=b==c',
  SINGLE: 'single "quoted" $HOME and #hash',
  DOUBLE: "double 'quoted' with a\nnewline escape",
  MULTI: 'line one\nline two = still the value\n  indented # not a comment',
  HASH: 'value # not a comment',
  DOLLAR: 'pa$$word$1',
  UNICODE: 'héllo wörld 中文 🎉 ñ',
  EMPTY: '',
  EMPTY_QUOTED: '',
  BACKTICK: 'it\'s "both" quotes',
  PADDED: '  padded  ',
  LOWER_CASE: 'becomes upper',
  URL: 'https://example.com/?a=1&b=2#frag',
  UNQUOTED: 'https://example.com/', // dotenv: an unquoted # starts a comment
  BACKSLASH: 'C:\\path\\to\\dir',
};

const PARSERS: Record<string, (text: string) => Record<string, string>> = {
  dotenv: (text) => dotenv.parse(text),
  json: (text) => JSON.parse(text),
  yaml: (text) => YAML.parse(text),
  csv: (text) => Object.fromEntries((parseCsv(text, { columns: true }) as Array<{ key: string; value: string }>).map((r) => [r.key, r.value])),
  toml: (text) => ({ ...(parseToml(text) as Record<string, string>) }),
};

for (const target of STORE_TARGETS) {
  describe(`coffer secrets import and export on ${target.kind}`, { timeout: 300_000 }, () => {
    let d: Deployment;
    const at = (...args: string[]) => [...args, '--app', 'shop'];

    before(async () => {
      d = await startDeployment(target.kind);
      await d.owner.json(['apps', 'create', 'shop']);
      await fs.writeFile(path.join(d.dir, 'tricky.env'), TRICKY_ENV);
    });
    after(() => d.close());

    it('imports a tricky .env file in one batch', async () => {
      const imported = await d.owner.json(at('secrets', 'import', path.join(d.dir, 'tricky.env'), '--env', 'development'));
      assert.equal(imported.format, 'dotenv');
      assert.deepEqual([...imported.created].sort(), Object.keys(EXPECTED).sort());
      assert.deepEqual(imported.updated, []);
      const listed = await d.owner.json(at('secrets', 'list', '--env', 'development', '--show'));
      assert.deepEqual(Object.fromEntries(listed.data.map((s: any) => [s.key, s.value])), EXPECTED);
      const human = await d.owner.run(at('secrets', 'import', path.join(d.dir, 'tricky.env'), '--env', 'staging'));
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /Imported 17 secrets into shop \/ Staging \(\/\): 17 created\./);
    });

    for (const format of ['dotenv', 'json', 'yaml', 'csv', 'toml']) {
      it(`exports ${format} that reads back unchanged, and imports it again`, async () => {
        const exported = await d.owner.run(at('secrets', 'export', '--env', 'development', '--format', format));
        assert.equal(exported.code, 0, exported.stderr);
        assert.deepEqual(PARSERS[format]!(exported.rawStdout), EXPECTED, `${format} parsed by its own library`);

        const file = path.join(d.dir, `exported.${format === 'dotenv' ? 'env' : format}`);
        const written = await d.owner.run(at('secrets', 'export', '--env', 'development', '--format', format, '--output', file));
        assert.equal(written.code, 0, written.stderr);
        assert.equal(await fs.readFile(file, 'utf8'), exported.rawStdout);
        assert.equal((await fs.stat(file)).mode & 0o777, 0o600);

        const env = `from-${format}`;
        await d.owner.json(at('envs', 'create', env));
        const imported = await d.owner.json(at('secrets', 'import', file, '--env', env));
        assert.equal(imported.format, format, 'the format follows the file name');
        const back = await d.owner.run(at('secrets', 'export', '--env', env, '--format', 'json'));
        assert.deepEqual(JSON.parse(back.rawStdout), EXPECTED);
      });
    }

    it('refuses names that exist unless --overwrite, and writes nothing when a batch fails', async () => {
      const envFile = path.join(d.dir, 'tricky.env');
      const again = await d.owner.run(at('secrets', 'import', envFile, '--env', 'development'));
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^coffer: 17 of the 17 names already exist in shop \/ Development \(\/\) \(EXPORTED, PLAIN, EQUALS, SINGLE, DOUBLE, MULTI, HASH, DOLLAR, and 9 more\); nothing was imported$/m);
      assert.match(again.stderr, /pass --overwrite/);

      const mixed = path.join(d.dir, 'mixed.json');
      await fs.writeFile(mixed, JSON.stringify({ PLAIN: 'changed', BRAND_NEW: 'new', PORT: 8080, DEBUG: false, NOTHING: null }));
      const refused = await d.owner.run(at('secrets', 'import', mixed, '--env', 'development'));
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^coffer: 1 of the 5 names already exist in shop \/ Development \(\/\) \(PLAIN\); nothing was imported$/m);
      let values = await d.owner.json(at('secrets', 'list', '--env', 'development', '--show'));
      assert.equal(values.data.length, 17, 'nothing was created');

      // One batch is atomic: a tag over 64 characters fails the whole POST.
      const tooLong = await d.owner.run(at('secrets', 'import', mixed, '--env', 'production', '--tags', 'x'.repeat(65)));
      assert.equal(tooLong.code, 1);
      assert.match(tooLong.stderr, /^coffer: Tag name exceeds 64 characters/m);
      assert.equal((await d.owner.json(at('secrets', 'list', '--env', 'production'))).data.length, 0);

      const overwritten = await d.owner.json(at('secrets', 'import', mixed, '--env', 'development', '--overwrite', '--tags', 'imported'));
      assert.deepEqual([overwritten.created.sort(), overwritten.updated], [['BRAND_NEW', 'DEBUG', 'NOTHING', 'PORT'], ['PLAIN']]);
      values = await d.owner.json(at('secrets', 'list', '--env', 'development', '--show', '--tags', 'imported'));
      assert.deepEqual(Object.fromEntries(values.data.map((s: any) => [s.key, s.value])), { PLAIN: 'changed', BRAND_NEW: 'new', PORT: '8080', DEBUG: 'false', NOTHING: '' });

      // From standard input, into a path.
      const piped = await d.owner.json(at('secrets', 'import', '-', '--format', 'yaml', '--env', 'production', '--path', '/backend'), { input: 'API_KEY: "k-1"\nMULTI: |\n  a\n  b\n' });
      assert.deepEqual([piped.path, piped.created], ['/backend', ['API_KEY', 'MULTI']]);
      assert.equal((await d.owner.run(at('secrets', 'get', 'multi', '--env', 'production', '--path', '/backend'))).rawStdout, 'a\nb\n');

      const empty = path.join(d.dir, 'empty.env');
      await fs.writeFile(empty, '# nothing here\n');
      const nothing = await d.owner.run(at('secrets', 'import', empty, '--env', 'production'));
      assert.equal(nothing.code, 1);
      assert.match(nothing.stderr, /^coffer: .*empty\.env holds no secrets$/m);
      const dup = path.join(d.dir, 'dup.json');
      await fs.writeFile(dup, JSON.stringify({ key: '1', KEY: '2' }));
      const duplicated = await d.owner.run(at('secrets', 'import', dup, '--env', 'production'));
      assert.equal(duplicated.code, 1);
      assert.match(duplicated.stderr, /names KEY more than once \(names are upper-cased\)/);
      const nested = path.join(d.dir, 'nested.json');
      await fs.writeFile(nested, JSON.stringify({ DB: { host: 'x' } }));
      const refusedNested = await d.owner.run(at('secrets', 'import', nested, '--env', 'production'));
      assert.equal(refusedNested.code, 1);
      assert.match(refusedNested.stderr, /^coffer: .*nested\.json: DB holds a nested value, not text$/m);
    });

    it('refuses a name given twice and text that is not UTF-8; keeps numbers as written; ignores a BOM', async () => {
      const file = async (name: string, content: string | Buffer) => {
        await fs.writeFile(path.join(d.dir, name), content);
        return path.join(d.dir, name);
      };
      for (const [name, content] of [
        ['dup.env', 'DUP=first\nDUP=second\n'],
        ['dup2.json', '{"DUP":"first","DUP":"second"}'],
      ] as const) {
        const result = await d.owner.run(at('secrets', 'import', await file(name, content), '--env', 'production', '--path', '/strict'));
        assert.equal(result.code, 1, name);
        assert.match(result.stderr, /names DUP more than once/, name);
      }
      const latin1 = await d.owner.run(at('secrets', 'import', await file('l1.env', Buffer.from('LAT=caf\xe9\n', 'latin1')), '--env', 'production', '--path', '/strict'));
      assert.equal(latin1.code, 1);
      assert.match(latin1.stderr, /^coffer: .*l1\.env is not UTF-8 text$/m);
      assert.equal((await d.owner.json(at('secrets', 'list', '--env', 'production', '--path', '/strict'))).data.length, 0, 'nothing was imported');

      const numbers = await d.owner.json(at('secrets', 'import', await file('numbers.yaml', '\uFEFFZIP: 01234\nVER: 1.10\nHEX: 0x1F\n'), '--env', 'production', '--path', '/strict'));
      assert.deepEqual(numbers.created, ['ZIP', 'VER', 'HEX']);
      const bom = await d.owner.json(at('secrets', 'import', await file('bom.json', '\uFEFF{"BIG": 123456789012345678901234567890, "__proto__": "p"}'), '--env', 'production', '--path', '/strict'));
      assert.deepEqual(bom.created, ['BIG', '__PROTO__']);
      const values = await d.owner.json(at('secrets', 'list', '--env', 'production', '--path', '/strict', '--show'));
      assert.deepEqual(Object.fromEntries(values.data.map((s: any) => [s.key, s.value])), { ZIP: '01234', VER: '1.10', HEX: '0x1F', BIG: '123456789012345678901234567890', __PROTO__: 'p' });
    });

    it('refuses lone UTF-16 surrogates before writing, in SSE and E2EE apps alike (E2EE stored U+FFFD)', async () => {
      await d.owner.json(['apps', 'create', 'surrogates', '--e2ee']);
      const file = path.join(d.dir, 'surrogates.json');
      await fs.writeFile(file, '{"SURR":"a\\ud800b","K\\udc00S":"v","PAIRED":"\\ud83d\\ude00"}');
      for (const app of ['shop', 'surrogates']) {
        const result = await d.owner.run(['secrets', 'import', file, '--app', app, '--env', 'development', '--path', '/surrogates']);
        assert.equal(result.code, 1, `${app}: ${result.stderr}`);
        assert.match(result.stderr, /^coffer: the value of SURR holds an unpaired UTF-16 surrogate, which is not text; nothing was written$/m, app);
        assert.equal((await d.owner.json(['secrets', 'list', '--app', app, '--env', 'development', '--path', '/surrogates'])).data.length, 0, `${app}: nothing was written`);
      }
      await fs.writeFile(file, '{"PAIRED":"\\ud83d\\ude00"}');
      const paired = await d.owner.json(['secrets', 'import', file, '--app', 'surrogates', '--env', 'development', '--path', '/surrogates']);
      assert.deepEqual(paired.created, ['PAIRED'], 'a surrogate pair is one character');
      const replaced = await d.owner.run(['secrets', 'set', 'CAFE=caf\uFFFD', '--app', 'shop', '--env', 'development', '--path', '/surrogates']);
      assert.equal(replaced.code, 0, replaced.stderr);
      assert.match(`${replaced.stdout}\n${replaced.stderr}`, /the value of CAFE holds U\+FFFD .*pass the value on standard input/);
    });

    it('ends quietly when the reader of its output stops early (no EPIPE stack)', async () => {
      await d.owner.json(at('secrets', 'set', 'BIGV', '--env', 'production', '--path', '/pipe'), { input: 'x'.repeat(300_000) });
      const env = Object.fromEntries(Object.entries({ ...process.env, ...d.owner.env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
      for (const command of ['secrets get BIGV --app shop --env production --path /pipe', 'secrets export --app shop --env production --path /pipe']) {
        // Asynchronously: the server answering the command runs in this process.
        const shell = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn('bash', ['-c', `node bin/coffer.js ${command} | head -c1 > /dev/null; echo "exit:\${PIPESTATUS[0]}"`], { env });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
          child.on('error', reject);
          child.on('close', () => resolve({ stdout, stderr }));
        });
        assert.match(shell.stdout, /exit:0/, `${command}: ${shell.stderr}`);
        assert.doesNotMatch(shell.stderr, /EPIPE|Unhandled|at /, command);
      }
    });

    it('refuses more than 1000 secrets in one import or delete, saying what to do', async () => {
      const many = path.join(d.dir, 'many.env');
      await fs.writeFile(many, Array.from({ length: 1001 }, (_, i) => `K${i}=v\n`).join(''));
      const imported = await d.owner.run(at('secrets', 'import', many, '--env', 'production', '--path', '/many'));
      assert.equal(imported.code, 1);
      assert.match(imported.stderr, /^coffer: this would create 1001 secrets, but the server takes at most 1000 in one all-or-nothing batch; nothing was written$/m);
      assert.match(imported.stderr, /split the file .* into parts of at most 1000 names/);
      assert.equal((await d.owner.json(at('secrets', 'list', '--env', 'production', '--path', '/many'))).data.length, 0);
      const deleted = await d.owner.run(at('secrets', 'delete', ...Array.from({ length: 1001 }, (_, i) => `K${i}`), '--env', 'production'));
      assert.equal(deleted.code, 1);
      assert.match(deleted.stderr, /^coffer: this would delete 1001 secrets, but the server takes at most 1000/m);
    });

    it('writes --output readable by its owner only, over an existing file too, and says in one line when it cannot write', async () => {
      const file = path.join(d.dir, 'existing.env');
      await fs.writeFile(file, 'OLD=1\n', { mode: 0o644 });
      await fs.chmod(file, 0o644);
      const written = await d.owner.run(at('secrets', 'export', '--env', 'development', '--output', file));
      assert.equal(written.code, 0, written.stderr);
      assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
      assert.doesNotMatch(await fs.readFile(file, 'utf8'), /OLD=1/);
      const missing = path.join(d.dir, 'no-such-directory', 'out.env');
      const failed = await d.owner.run(at('secrets', 'export', '--env', 'development', '--output', missing));
      assert.equal(failed.code, 1);
      assert.equal(failed.stderr, `coffer: cannot write ${missing}: its directory does not exist\n  --output names the file to write (its directory must exist)`, 'naming the file and why, no stack trace');
      const onDir = await d.owner.run(at('secrets', 'export', '--env', 'development', '--output', d.dir));
      assert.match(onDir.stderr, /^coffer: cannot write .*: it is a directory$/m);
    });

    it('says when a value cannot be written as .env, and exports it in the other formats', async () => {
      const nasty = `all three ' " \` quotes\r\nand a trailing backslash \\`;
      await d.owner.json(at('secrets', 'set', `NASTY=${nasty}`, '--env', 'staging', '--path', '/odd'));
      const dotenvExport = await d.owner.run(at('secrets', 'export', '--env', 'staging', '--path', '/odd'));
      assert.equal(dotenvExport.code, 1);
      assert.match(dotenvExport.stderr, /^coffer: the value of NASTY cannot be written in a \.env file/m);
      assert.match(dotenvExport.stderr, /use --format json, yaml or toml/);
      for (const format of ['json', 'yaml', 'csv', 'toml']) {
        const exported = await d.owner.run(at('secrets', 'export', '--env', 'staging', '--path', '/odd', '--format', format));
        assert.equal(exported.code, 0, exported.stderr);
        assert.deepEqual(PARSERS[format]!(exported.rawStdout), { NASTY: nasty }, format);
      }
      // A name at two paths needs --path to export.
      await d.owner.json(at('secrets', 'set', 'PLAIN=other', '--env', 'staging', '--path', '/odd'));
      const clash = await d.owner.run(at('secrets', 'export', '--env', 'staging'));
      assert.equal(clash.code, 1);
      assert.match(clash.stderr, /^coffer: PLAIN exists at several paths in shop \/ Staging \(\/, \/odd\)$/m);
      // Every path is named, not the first two.
      await d.owner.json(at('secrets', 'set', 'PLAIN=third', '--env', 'staging', '--path', '/odd/deeper'));
      const three = await d.owner.run(at('secrets', 'export', '--env', 'staging'));
      assert.match(three.stderr, /^coffer: PLAIN exists at several paths in shop \/ Staging \(\/, \/odd, \/odd\/deeper\)$/m);

    });
  });
}
