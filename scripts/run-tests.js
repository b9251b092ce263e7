// `npm test`: runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// `--fuzz` (npm run fuzz) makes the property-based suites run long instead of with a fixed seed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const fuzz = args.includes('--fuzz');
const filters = args.filter((a) => !a.startsWith('--'));

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.js') ? [full] : [];
  });
}

let files = findTests('dist/test').sort();
if (fuzz) files = files.filter((f) => f.includes('fuzz'));
if (filters.length > 0) files = files.filter((f) => filters.some((filter) => f.includes(filter)));
if (files.length === 0) {
  console.error('no test files found (did the build run?)');
  process.exit(1);
}

const env = { ...process.env, ...(fuzz ? { COFFER_FUZZ_RUNS: process.env.COFFER_FUZZ_RUNS ?? '20000' } : {}) };
const concurrency = process.env.TEST_CONCURRENCY ?? '3';
// A failed or stuck test must not hang the suite: no test may take more than 15 minutes (the longest
// take about one; fuzzing runs long), and a test file still running 30 s after its tests have finished
// fails, naming what it left open (scripts/test-file-deadline.js; it replaces --test-force-exit,
// which can drop a file's last results from the report).
const deadline = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'test-file-deadline.js')).href;
const timeout = fuzz ? [] : ['--test-timeout=900000'];
const runnerArgs = ['--import', deadline, '--test', ...timeout, `--test-concurrency=${concurrency}`, '--test-reporter=spec'];
const result = spawnSync(process.execPath, [...runnerArgs, ...files], {
  stdio: 'inherit',
  env,
});
process.exit(result.status ?? 1);
