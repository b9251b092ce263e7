/**
 * `npm test` itself (scripts/run-tests.js): every result a test file produced reaches the report, a
 * failure arrives with its name and error, and a file that leaves something running after its tests
 * fails, naming what it left open, instead of holding the suite forever.
 *
 * Each case runs the real script in a scratch directory whose dist/test holds generated test files.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/process.js';

const RUN_TESTS = path.join(REPO_ROOT, 'scripts/run-tests.js');

interface Run {
  code: number | null;
  output: string;
}

/** Runs scripts/run-tests.js over the given test files (name → source) in a scratch directory. */
async function runSuite(files: Record<string, string>, env: Record<string, string> = {}): Promise<Run> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-runner-'));
  try {
    await fs.mkdir(path.join(dir, 'dist/test'), { recursive: true });
    await fs.writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const [name, source] of Object.entries(files)) await fs.writeFile(path.join(dir, 'dist/test', name), source);
    // This file's own process is a test runner child (NODE_TEST_CONTEXT); the suite under test must
    // start as a top-level run, as `npm test` does.
    const childEnv: Record<string, string | undefined> = { ...process.env, TEST_CONCURRENCY: '2', ...env };
    delete childEnv.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, [RUN_TESTS], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Without the deadline a leaky file would hold this run forever: stop it, and let the asserts fail.
    const stop = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(stop);
    return { code, output };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function summary(output: string, field: string): number {
  const match = new RegExp(`^ℹ ${field} (\\d+)$`, 'm').exec(output);
  assert.ok(match, `no "${field}" line in the report:\n${output.slice(-2000)}`);
  return Number(match[1]);
}

/** A file of many fast tests; the last one fails when `failLast`, with an error naming the file. */
function manyTests(name: string, count: number, failLast: boolean): string {
  return [
    "import { test } from 'node:test';",
    `for (let i = 0; i < ${count}; i++) test('${name} test ' + i, () => {});`,
    `test('${name} last test', () => { ${failLast ? `throw new Error('${name} failed at the very end');` : ''} });`,
  ].join('\n');
}

describe('npm test (scripts/run-tests.js)', () => {
  test("every file's results reach the report, its last failure with name and error", async () => {
    // Node's --test-force-exit dropped a file's tail of results here in most runs (nodejs/node#64833).
    const files: Record<string, string> = {};
    for (const name of ['alpha', 'beta', 'gamma', 'delta']) files[`${name}.test.js`] = manyTests(name, 1500, name === 'delta');
    const run = await runSuite(files, { COFFER_TEST_EXIT_GRACE_MS: '30000' });
    assert.equal(run.code, 1, 'a failing test fails the run');
    assert.equal(summary(run.output, 'tests'), 4 * 1501);
    assert.equal(summary(run.output, 'pass'), 4 * 1501 - 1);
    assert.equal(summary(run.output, 'fail'), 1);
    assert.match(run.output, /✖ delta last test/);
    assert.match(run.output, /delta failed at the very end/);
    for (const name of ['alpha', 'beta', 'gamma']) assert.match(run.output, new RegExp(`✔ ${name} last test`));
  });

  test('a file that leaves a handle open after its tests fails and names what is left, without hanging the suite', async () => {
    const run = await runSuite(
      {
        'leaky.test.js': "import { test } from 'node:test';\ntest('starts a timer it never stops', () => { setInterval(() => {}, 1000); });",
        'tidy.test.js': "import { test } from 'node:test';\ntest('tidy', () => {});",
      },
      { COFFER_TEST_EXIT_GRACE_MS: '3000' },
    );
    assert.equal(run.code, 1);
    assert.match(run.output, /leaky\.test\.js: still running 3000 ms after its tests finished \(left open: [^)]*Timeout/);
    assert.match(run.output, /✔ tidy/);
    assert.equal(summary(run.output, 'fail'), 1, 'the leaky file, and only it, fails');
  });

  test('a suite whose files all finish cleanly passes', async () => {
    const run = await runSuite({ 'clean.test.js': manyTests('clean', 10, false) }, { COFFER_TEST_EXIT_GRACE_MS: '3000' });
    assert.equal(run.code, 0, run.output);
    assert.equal(summary(run.output, 'tests'), 11);
    assert.equal(summary(run.output, 'fail'), 0);
  });
});
