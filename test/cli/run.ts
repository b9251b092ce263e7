// Running the real `coffer` binary (bin/coffer.js) as a child process, as a user would: its own
// config directory, stdin for --password-stdin, the fast test Argon2 parameters.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnCoffer, type Spawned } from '../helpers/process.js';

export interface Run {
  code: number | string;
  /** Complete lines of stdout joined by \n (see rawStdout for the exact bytes). */
  stdout: string;
  stderr: string;
  /** stdout exactly as written, including a last line without a newline. */
  rawStdout: string;
}

export interface CliUser {
  /** $XDG_CONFIG_HOME of this user: credentials land in <home>/coffer/credentials.json. */
  readonly configHome: string;
  readonly credentialsFile: string;
  /** $XDG_CACHE_HOME of this user (coffer run --fallback keeps its cache under it). */
  readonly cacheHome: string;
  /** The variables every run of this user gets (before options.env). */
  readonly env: Record<string, string | undefined>;
  run(args: string[], options?: RunOptions): Promise<Run>;
  /** Runs with --json expecting success; parses the one JSON document of stdout. */
  json<T = any>(args: string[], options?: RunOptions): Promise<T>;
  /** Starts the binary and returns at once (long-running commands: coffer run --watch, signals). */
  spawn(args: string[], options?: Omit<RunOptions, 'input'>): Spawned;
  remove(): Promise<void>;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  /** Working directory (default: the repository root). */
  cwd?: string;
}

export async function cliUser(name: string): Promise<CliUser> {
  const configHome = await fs.mkdtemp(path.join(os.tmpdir(), `coffer-cli-${name}-`));
  const cacheHome = path.join(configHome, 'cache');
  const env: Record<string, string | undefined> = {
    XDG_CONFIG_HOME: configHome,
    XDG_CACHE_HOME: cacheHome,
    COFFER_INSECURE_FAST_KDF: '1',
    COFFER_URL: undefined,
    COFFER_TOKEN: undefined,
    COFFER_APP: undefined,
    COFFER_ENV: undefined,
    COFFER_PATH: undefined,
    CI: 'true',
  };
  const spawn: CliUser['spawn'] = (args, options = {}) => spawnCoffer(args, { ...env, ...options.env }, options.cwd);
  const run: CliUser['run'] = async (args, options = {}) => {
    const child = spawn(args, options);
    const raw: Buffer[] = [];
    child.child.stdout!.on('data', (chunk: Buffer) => raw.push(chunk));
    child.child.stdin!.end(options.input ?? '');
    const code = await child.exited;
    await new Promise<void>((resolve) => (child.child.stdout!.readableEnded ? resolve() : child.child.stdout!.once('end', () => resolve())));
    return { code, stdout: child.stdout.join('\n'), stderr: child.stderr.join('\n'), rawStdout: Buffer.concat(raw).toString('utf8') };
  };
  return {
    configHome,
    cacheHome,
    env,
    credentialsFile: path.join(configHome, 'coffer', 'credentials.json'),
    run,
    spawn,
    async json(args, options) {
      const result = await run([...args, '--json'], options);
      assert.equal(result.code, 0, `coffer ${args.join(' ')} failed: ${result.stderr}`);
      return JSON.parse(result.stdout);
    },
    remove: () => fs.rm(configHome, { recursive: true, force: true }),
  };
}
