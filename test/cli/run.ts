// Running the real `coffer` binary (bin/coffer.js) as a child process, as a user would: its own
// config directory, stdin for --password-stdin, the fast test Argon2 parameters.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnCoffer } from '../helpers/process.js';

export interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

export interface CliUser {
  /** $XDG_CONFIG_HOME of this user: credentials land in <home>/coffer/credentials.json. */
  readonly configHome: string;
  readonly credentialsFile: string;
  run(args: string[], options?: { input?: string; env?: Record<string, string | undefined> }): Promise<Run>;
  /** Runs with --json expecting success; parses the one JSON document of stdout. */
  json<T = any>(args: string[], options?: { input?: string; env?: Record<string, string | undefined> }): Promise<T>;
  remove(): Promise<void>;
}

export async function cliUser(name: string): Promise<CliUser> {
  const configHome = await fs.mkdtemp(path.join(os.tmpdir(), `coffer-cli-${name}-`));
  const run: CliUser['run'] = async (args, options = {}) => {
    const child = spawnCoffer(args, {
      XDG_CONFIG_HOME: configHome,
      COFFER_INSECURE_FAST_KDF: '1',
      COFFER_URL: undefined,
      COFFER_TOKEN: undefined,
      CI: 'true',
      ...options.env,
    });
    child.child.stdin!.end(options.input ?? '');
    const code = await child.exited;
    return { code, stdout: child.stdout.join('\n'), stderr: child.stderr.join('\n') };
  };
  return {
    configHome,
    credentialsFile: path.join(configHome, 'coffer', 'credentials.json'),
    run,
    async json(args, options) {
      const result = await run([...args, '--json'], options);
      assert.equal(result.code, 0, `coffer ${args.join(' ')} failed: ${result.stderr}`);
      return JSON.parse(result.stdout);
    },
    remove: () => fs.rm(configHome, { recursive: true, force: true }),
  };
}
