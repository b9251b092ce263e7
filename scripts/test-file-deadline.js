// Loaded into every test file's process by scripts/run-tests.js (`--import`). Once the file's tests
// have all finished, the process should exit on its own; if something it started (a server, a pool,
// a child's pipes, a timer) keeps it alive past the grace period, this names what is left and fails
// the file, so a leaked handle is a loud failure rather than a suite that never ends.
//
// This replaces node's --test-force-exit, which ends the file as soon as its tests have finished but
// can drop the file's last results on their way to the report (nodejs/node#64833): a failure among
// them would then be counted without its name or error, and passes would silently vanish.
import { after } from 'node:test';

const graceMs = Number(process.env.COFFER_TEST_EXIT_GRACE_MS ?? 30_000);

// The runner's own process loads this too; only a test file's process (which node marks with
// NODE_TEST_CONTEXT) is held to the deadline.
if (process.env.NODE_TEST_CONTEXT) after(armDeadline);

function armDeadline() {
  const timer = setTimeout(() => {
    const left = process.getActiveResourcesInfo().join(', ');
    process.stderr.write(`${process.argv[1]}: still running ${graceMs} ms after its tests finished (left open: ${left})\n`);
    process.exit(1);
  }, graceMs);
  timer.unref();
}
