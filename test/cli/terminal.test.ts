// The CLI on a real terminal (a pseudo-terminal from util-linux `script`), on both stores: `coffer
// init` asks with @clack/prompts for what the flags do not say, `coffer secrets set KEY` asks for the
// value without echoing it, `coffer secrets import` shows a progress bar for a large file, and Ctrl-C
// reaches a `coffer run` child once (the terminal delivers it; coffer does not send it again).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COFFER_BIN } from '../helpers/process.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { startDeployment, type Deployment } from './fixture.js';

interface Terminal {
  /** Waits until the terminal has shown text matching `pattern` (ANSI sequences removed). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  type(keys: string): void;
  readonly output: () => string;
  exited: Promise<number>;
}

const shellQuote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Runs `coffer ARGS` on a pseudo-terminal; stdin, stdout and stderr are the terminal. */
function onTerminal(args: string[], env: Record<string, string | undefined>, cwd: string): Terminal {
  // A new pseudo-terminal is 0 columns wide: give it a size first, or prompts wrap at every character.
  const command = `stty cols 120 rows 40; exec ${[process.execPath, COFFER_BIN, ...args].map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: { ...process.env, ...env, CI: 'false', TERM: 'xterm-256color', COLUMNS: '120' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  // eslint-disable-next-line no-control-regex
  const plain = () => text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g, '');
  return {
    output: plain,
    exited,
    type: (keys) => child.stdin.write(keys),
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(plain())) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`the terminal never showed ${pattern}:\n${plain()}`)), timeoutMs);
        waiters.push(check);
        void exited.then(() => setTimeout(() => {
          if (!pattern.test(plain())) reject(new Error(`coffer exited before showing ${pattern}:\n${plain()}`));
        }, 100));
        check();
      });
    },
  };
}

for (const target of STORE_TARGETS) {
  describe(`coffer on a terminal (${target.kind})`, { timeout: 300_000 }, () => {
    let d: Deployment;
    let project: string;

    before(async () => {
      d = await startDeployment(target.kind);
      await d.owner.json(['apps', 'create', 'shop']);
      await d.owner.json(['apps', 'create', 'blog']);
      project = path.join(d.dir, 'project');
      await fs.mkdir(project);
    });
    after(() => d.close());

    it('coffer init asks for the app and the environment', async () => {
      const term = onTerminal(['init'], d.owner.env, project);
      await term.waitFor(/Which app\?/);
      assert.match(term.output(), /blog[\s\S]*shop/, 'both apps are offered, newest first');
      term.type('\x1b[B'); // down: shop
      term.type('\r');
      await term.waitFor(/Default environment\?/);
      term.type('\x1b[B'); // down: Staging
      term.type('\r');
      await term.waitFor(/Linked this directory to shop \/ Staging\./);
      assert.equal(await term.exited, 0, term.output());
      const config = JSON.parse(await fs.readFile(path.join(project, '.coffer.json'), 'utf8'));
      assert.deepEqual([config.appName, config.env], ['shop', 'Staging']);
    });

    it('coffer secrets set KEY asks for the value without showing it', async () => {
      const term = onTerminal(['secrets', 'set', 'PROMPTED'], d.owner.env, project);
      await term.waitFor(/Value of PROMPTED/);
      term.type('typed-in-secret-value\r');
      await term.waitFor(/created PROMPTED/);
      assert.equal(await term.exited, 0, term.output());
      assert.ok(!term.output().includes('typed-in-secret-value'), 'the value is not echoed');
      assert.equal((await d.owner.run(['secrets', 'get', 'PROMPTED'], { cwd: project })).rawStdout, 'typed-in-secret-value');
    });

    it('coffer secrets import shows a progress bar for a large file', async () => {
      const file = path.join(d.dir, 'large.env');
      await fs.writeFile(file, Array.from({ length: 150 }, (_, i) => `BULK_${i}="value ${i}"`).join('\n'));
      const term = onTerminal(['secrets', 'import', file], d.owner.env, project);
      await term.waitFor(/Imported 150 secrets into shop \/ Staging \(\/\): 150 created\./);
      assert.equal(await term.exited, 0, term.output());
      assert.match(term.output(), /150\/150/, 'the bar counted to the total');
      assert.equal((await d.owner.json(['secrets', 'list'], { cwd: project })).data.length, 151);
    });

    it('Ctrl-C reaches the child of coffer run once, and coffer exits with its code', async () => {
      const script = "let n = 0; process.on('SIGINT', () => { n++; if (n === 1) setTimeout(() => process.exit(10 + n), 500); }); console.log('child ready'); setInterval(() => {}, 1000);";
      const term = onTerminal(['run', '--', process.execPath, '-e', script], d.owner.env, project);
      await term.waitFor(/child ready/);
      term.type('\x03');
      assert.equal(await term.exited, 11, term.output());
    });
  });
}
