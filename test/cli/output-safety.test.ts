// What the CLI prints for people is safe for a terminal: user data (keys, values, comments, paths,
// tags, app and environment names) with escape sequences, BEL or CR is shown visibly (\x1b, \x07,
// \x0d), never written raw; the machine outputs (--json, `secrets get`) stay byte-exact.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDeployment, type Deployment } from './fixture.js';

// Clear screen, a window title (OSC 0 ... BEL), an OSC 8 hyperlink (ESC \ terminated), a CR, a C1 CSI.
const EVIL = '\u001b[2J\u001b]0;pwned\u0007\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\\rX\u009b31m\u007f';
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('terminal output carries no raw control characters', { timeout: 300_000 }, () => {
  let d: Deployment;
  let project: string;

  before(async () => {
    d = await startDeployment('pglite');
    project = path.join(d.dir, 'evil');
    await fs.mkdir(project, { recursive: true });
  });
  after(async () => {
    await d.close();
  });

  it('secrets list (masked and --show), apps list, envs list, tokens list and whoami escape control characters; --json and get stay exact', async () => {
    const o = d.owner;
    const app = await o.json(['apps', 'create', `shop${EVIL}`]);
    await o.json(['init', '--app', app.id, '--env', 'Development'], { cwd: project });
    await o.json(['secrets', 'set', `EVIL_VALUE=v${EVIL}`, `EVIL_REF=\${GONE${EVIL}}`, '--comment', `c${EVIL}`, '--tags', `t${EVIL.replace(/,/g, '')}`], { cwd: project });
    await o.json(['tokens', 'create', `tok${EVIL}`]).catch(() => undefined);

    for (const args of [['secrets', 'list'], ['secrets', 'list', '--show'], ['apps', 'list'], ['envs', 'list'], ['tokens', 'list'], ['whoami']]) {
      const result = await o.run(args, { cwd: project });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.doesNotMatch(result.rawStdout, RAW, `${args.join(' ')} stdout has a raw control character: ${JSON.stringify(result.rawStdout)}`);
      assert.doesNotMatch(result.stderr, RAW, `${args.join(' ')} stderr has a raw control character`);
    }
    const shown = await o.run(['secrets', 'list', '--show'], { cwd: project });
    assert.match(shown.rawStdout, /\\x1b\[2J/, 'ESC is shown as \\x1b');
    assert.match(shown.stderr, /^warning: EVIL_REF: reference \$\{GONE\\x1b\[2J.* left unresolved/m, 'the unresolved reference is named, ESC shown as \\x1b');
    assert.match(shown.rawStdout, /\\x07/, 'BEL is shown as \\x07');
    assert.match((await o.run(['apps', 'list'])).rawStdout, /\\x0dX/, 'the CR the server keeps in an app name is shown as \\x0d');

    // The machine outputs are untouched.
    const listed = await o.json(['secrets', 'list', '--show'], { cwd: project });
    const secret = listed.data.find((s: any) => s.key === 'EVIL_VALUE');
    assert.equal(secret.value, `v${EVIL}`);
    assert.equal(secret.comment, `c${EVIL}`);
    assert.equal((await o.run(['secrets', 'get', 'EVIL_VALUE'], { cwd: project })).rawStdout, `v${EVIL}`);
    assert.equal((await o.json(['apps', 'list'])).data.find((a: any) => a.id === app.id).name, app.name);
  });

  // A name with a newline printed raw could forge a line of its own (say `coffer: ...`) under the message.
  it('names in messages show a newline as ⏎ and a tab as →: set, delete, and the error for a missing name', async () => {
    const o = d.owner;
    const set = await o.run(['secrets', 'set', 'NL\nFORGED=1', 'TAB\tX=2'], { cwd: project });
    assert.equal(set.code, 0, set.stderr);
    const said = set.rawStdout + set.stderr;
    assert.match(said, /created NL⏎FORGED, TAB→X/);
    assert.doesNotMatch(said, /^FORGED/m);
    const missing = await o.run(['secrets', 'get', 'GONE\nFORGED'], { cwd: project });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /there is no secret GONE⏎FORGED in /);
    assert.doesNotMatch(missing.stderr, /^FORGED/m);
    const deleted = await o.run(['secrets', 'delete', 'NL\nFORGED', 'TAB\tX'], { cwd: project });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.rawStdout + deleted.stderr, /Deleted NL⏎FORGED, TAB→X from /);
  });

  it('an error message from the server is shown without raw control characters', async () => {
    const result = await d.owner.run(['envs', 'list', '--app', `nope${EVIL}`]);
    assert.equal(result.code, 1);
    assert.doesNotMatch(result.stderr, RAW);
  });
});
