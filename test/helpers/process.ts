// Child processes for tests: the real `coffer` binary and small fixtures.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../..');
export const COFFER_BIN = path.join(REPO_ROOT, 'bin/coffer.js');
export const FIXTURES = path.resolve(here, '../fixtures');

// Children still running when the test file's process exits are killed there: a test that failed
// before stopping its server would otherwise leave it running (the file's process is ended 30 s
// after its tests by scripts/test-file-deadline.js if a live child's pipes still hold it).
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Spawned {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Resolves when a stdout or stderr line matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export function spawnNode(script: string, args: string[], env: Record<string, string | undefined>, cwd = REPO_ROOT): Spawned {
  const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onLine = (sink: string[]) => {
    let partial = '';
    return (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        sink.push(line);
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    };
  };
  child.stdout!.on('data', onLine(stdout));
  child.stderr!.on('data', onLine(stderr));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout,
    stderr,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      const seen = [...stdout, ...stderr].find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stderr: ${stderr.join('\n')}`)), timeoutMs);
        waiters.push({ pattern, resolve: (line) => { clearTimeout(timer); resolve(line); } });
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`process exited (${code}) before ${pattern}; stderr: ${stderr.join('\n')}`)); });
      });
    },
  };
}

export function spawnCoffer(args: string[], env: Record<string, string | undefined>, cwd?: string): Spawned {
  return spawnNode(COFFER_BIN, args, env, cwd);
}

/** Polls GET /health/ until it answers 200. */
export async function waitForHealth(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/health/`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not become healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
