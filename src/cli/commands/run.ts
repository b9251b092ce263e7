// `coffer run [--app A] [--env E] [--path P] -- command args…`: runs a command with the
// environment's secrets in its environment (your active personal overrides applied, references
// resolved; secrets win over variables of the same name). Exit code and signals pass through:
// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to the child, and coffer exits with the
// child's code, or 128 + the number of the signal that ended it. Secrets whose names are not
// environment variable names are skipped with one warning line (see NameFilter).
//
// --watch restarts the child when the secrets change. It polls every --interval seconds (default
// 5) with one cheap request: for SSE apps GET /v1/environments/?app_id= (whose updatedAt moves with
// every secret write in the app; no audit event); for E2EE apps GET /service/secrets/ for the
// environment, compared by ids, versions and times without decrypting (one read event per poll).
// Only when that marker moves are the secrets fetched again, and the child restarts only if the
// values it would get differ (SIGTERM, then SIGKILL after 10 s).
//
// --fallback keeps the last fetched secrets in an encrypted cache (src/cli/offline-cache.ts) and
// uses it only when the server cannot be reached.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { ExitError, UserError } from '../errors.js';
import { readOfflineCache, writeOfflineCache, type CacheLookup } from '../offline-cache.js';
import { asUnreachable, describeTarget, openSecretsClient, resolveTarget, type ResolvedTarget, type SecretsClient, type TargetOptions } from '../secrets-client.js';
import { noControls } from '../table.js';
import { flatten } from './secrets/export.js';

export interface RunOptions extends TargetOptions {
  watch?: boolean;
  interval?: string;
  fallback?: boolean;
}

export const DEFAULT_WATCH_INTERVAL_SECONDS = 5;
// SIGUSR1 is forwarded too. (Node's inspector stays closed because bin/coffer.js listens to SIGUSR1
// before the CLI loads; until the child runs, the signal is ignored.)
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const STOP_GRACE_MS = 10_000;
/** setTimeout cannot wait longer than 2^31-1 ms; a day is plenty for a poll. */
export const MAX_WATCH_INTERVAL_SECONDS = 86_400;
/** Linux's MAX_ARG_STRLEN: one `NAME=value` string of the environment (with its NUL) may not be longer. */
const MAX_ENV_STRING_BYTES = 32 * 4096;

type Values = Record<string, string>;
/** A POSIX environment variable name: what a shell can export and a program can read back. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function run(command: string[], options: RunOptions): Promise<void> {
  if (command.length === 0) throw new UserError('no command to run', 'put it after --, e.g. coffer run --env development -- npm start');
  if (command[0] === '') throw new UserError("command not found: ''", 'the command name is empty', 127);
  const intervalMs = parseInterval(options.interval) * 1000;
  const target = await resolveTarget(options);
  const source = new SecretsSource(target, options);

  let values: Values;
  let marker: string | undefined;
  try {
    ({ values, marker } = await source.fetch());
  } catch (error) {
    const unreachable = asUnreachable(error);
    if (!unreachable) throw error;
    if (!options.fallback) {
      throw new UserError(unreachable.message, 'check --url (or COFFER_URL) and that the server is running; with --fallback, coffer run uses the copy an earlier `coffer run --fallback` cached');
    }
    values = await source.fromCache(unreachable.message);
  }
  const names = new NameFilter();
  values = names.passable(values);
  if (!options.watch) source.close();
  const problem = unpassable(values);
  if (problem) throw new UserError(`cannot start ${command[0]}: ${problem.message}`, problem.hint);

  const supervisor = new Supervisor(command);
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => supervisor.signal(signal);
  for (const signal of FORWARDED) process.on(signal, onSignal);
  supervisor.start(values);

  if (options.watch) {
    let lastProblem = '';
    const poll = async () => {
      try {
        const changed = await source.changed(marker);
        if (changed) {
          marker = changed.marker;
          changed.values = names.passable(changed.values);
          const refused = sameValues(values, changed.values) ? undefined : unpassable(changed.values);
          if (refused) {
            // Checked before the old child is stopped: it keeps running with the values it has.
            process.stderr.write(`coffer: the secrets of ${source.where} changed, but ${refused.message}; ${command[0]} keeps running with the previous values\n`);
          } else if (!sameValues(values, changed.values)) {
            values = changed.values;
            process.stderr.write(`coffer: the secrets of ${source.where} changed; restarting ${command[0]}\n`);
            await supervisor.restart(values);
          }
        }
        if (lastProblem) process.stderr.write('coffer: the server answers again; watching for changes\n');
        lastProblem = '';
      } catch (error) {
        const problem = error instanceof Error ? error.message : String(error);
        if (problem !== lastProblem) process.stderr.write(`coffer: cannot check for changes (${problem}); ${command[0]} keeps running and coffer tries again\n`);
        lastProblem = problem;
      }
      if (!supervisor.finished) timer = setTimeout(() => void poll(), intervalMs);
    };
    timer = setTimeout(() => void poll(), intervalMs);
  }

  const outcome = await supervisor.done;
  if (timer) clearTimeout(timer);
  for (const signal of FORWARDED) process.off(signal, onSignal);
  source.close();
  if ('error' in outcome) {
    const code = outcome.error.code;
    if (code === 'ENOENT') throw new UserError(`command not found: ${command[0]}`, 'check its name and your PATH', 127);
    if (code === 'EACCES') throw new UserError(`cannot execute ${command[0]}: permission denied`, 'check that it is executable', 126);
    if (code === 'E2BIG') {
      throw new UserError(`cannot start ${command[0]}: its arguments and environment are too large for the system (E2BIG)`, largest(values), 126);
    }
    // Only the code: a message of Node's may quote an argument or a variable of the environment.
    throw new UserError(`cannot start ${command[0]}: ${code ?? 'error'}`, undefined, 126);
  }
  if (outcome.code !== 0) throw new ExitError(outcome.code);
}

function parseInterval(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WATCH_INTERVAL_SECONDS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 1) throw new UserError(`--interval ${text} is not a number of seconds of at least 1`, 'e.g. --interval 10');
  if (seconds > MAX_WATCH_INTERVAL_SECONDS) throw new UserError(`--interval ${text} is more than ${MAX_WATCH_INTERVAL_SECONDS} seconds (a day)`, 'e.g. --interval 60');
  return seconds;
}

/**
 * Drops the secrets whose names are not environment variable names (spaces, a leading digit, '-',
 * '.', unicode, '=', empty…), as dotenv-style tools do, and says which on stderr: once, and again
 * under --watch only when that list changes. The names are the user's own, shown on their terminal
 * with control characters as \xHH; `coffer secrets export` and --json still give every secret.
 */
class NameFilter {
  #lastWarned = '';

  passable(values: Values): Values {
    const skipped = Object.keys(values).filter((k) => !ENV_NAME.test(k));
    const said = JSON.stringify(skipped);
    if (skipped.length > 0 && said !== this.#lastWarned) {
      const list = skipped.map((k) => `'${noControls(k.replace(/[\n\t]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}'`).join(', ');
      process.stderr.write(
        `coffer: warning: skipped ${skipped.length} ${skipped.length > 1 ? 'secrets whose names are not environment variable names' : 'secret whose name is not an environment variable name'} (letters, digits and _, not starting with a digit): ${list}\n`,
      );
    }
    this.#lastWarned = said;
    return Object.fromEntries(Object.entries(values).filter(([k]) => ENV_NAME.test(k)));
  }
}

/**
 * Why these values cannot be put in a child's environment, naming the secrets but never quoting a
 * value; undefined when they can. (Names are checked before: see NameFilter.)
 */
function unpassable(values: Values): { message: string; hint: string } | undefined {
  const nul = Object.keys(values).filter((k) => values[k]!.includes('\0'));
  if (nul.length > 0) {
    return { message: `the value of ${nul.map(show).join(', ')} contains a NUL byte, which an environment variable cannot hold`, hint: 'remove the NUL byte from the secret, or encode the value (e.g. base64)' };
  }
  const long = Object.keys(values).filter((k) => Buffer.byteLength(`${k}=${values[k]}`) + 1 > MAX_ENV_STRING_BYTES);
  if (long.length > 0 && process.platform === 'linux') {
    return { message: `the value of ${long.map(show).join(', ')} is longer than one environment variable can be (${MAX_ENV_STRING_BYTES / 1024} KiB on Linux)`, hint: 'keep large values in a file and put its path in the secret' };
  }
  return undefined;
}

/** A name as it can be printed on one line. */
function show(name: string): string {
  return /^[\x21-\x7e]+$/.test(name) ? name : JSON.stringify(name);
}

function largest(values: Values): string {
  const sizes = Object.keys(values)
    .map((k) => ({ k, bytes: Buffer.byteLength(values[k]!) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3);
  return sizes.length ? `the largest secrets: ${sizes.map((s) => `${show(s.k)} (${s.bytes} bytes)`).join(', ')}` : 'shorten the arguments or the environment';
}

function sameValues(a: Values, b: Values): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/** Where the values come from: the server (through one client kept open with --watch), or the cache. */
class SecretsSource {
  #client: SecretsClient | undefined;
  #cacheWarned = false;
  where: string;

  constructor(
    readonly target: ResolvedTarget,
    readonly options: RunOptions,
  ) {
    this.where = `${target.appRef} / ${target.envRef}`;
  }

  async #open(): Promise<SecretsClient> {
    if (!this.#client) {
      this.#client = await openSecretsClient(this.target);
      this.where = describeTarget(this.#client, this.target.path);
    }
    return this.#client;
  }

  /** The marker is read before the values, so a write between the two is never missed. */
  async fetch(): Promise<{ values: Values; marker: string | undefined }> {
    const client = await this.#open();
    const marker = this.options.watch ? await client.changeMarker() : undefined;
    const secrets = await client.list(this.target.path ? { path: this.target.path } : {});
    const values = Object.fromEntries(flatten(secrets, describeTarget(client)).map((e) => [e.key, e.value]));
    if (this.options.fallback) await this.#keepOffline(client, values);
    return { values, marker };
  }

  /**
   * The copy a later run falls back on. Failing to write it (a full disk, a cache directory that is
   * not one) costs only that fallback: the values just fetched are good, so it is a warning (once),
   * never the run's failure.
   */
  async #keepOffline(client: SecretsClient, values: Values): Promise<void> {
    try {
      await writeOfflineCache(this.target.account.token, this.#lookups(client), {
        fetchedAt: new Date().toISOString(),
        app: { id: client.app.id, name: client.app.name },
        env: { id: client.env.id, name: client.env.name },
        path: this.target.path ?? null,
        values,
      });
      this.#cacheWarned = false;
    } catch (error) {
      if (this.#cacheWarned) return;
      this.#cacheWarned = true;
      process.stderr.write(`coffer: warning: could not keep the offline copy for --fallback (${noControls((error as Error).message)}); this run goes on with the values just fetched\n`);
    }
  }

  /** New values when the marker moved (or when the run started from the cache), else undefined. */
  async changed(marker: string | undefined): Promise<{ values: Values; marker: string | undefined } | undefined> {
    if (marker !== undefined) {
      const client = await this.#open();
      if ((await client.changeMarker()) === marker) return undefined;
    }
    return this.fetch();
  }

  #lookups(client: SecretsClient): CacheLookup[] {
    const base = { url: this.target.account.url, path: this.target.path };
    return [
      { ...base, app: this.target.appRef, env: this.target.envRef },
      { ...base, app: client.app.id, env: client.env.name },
    ];
  }

  async fromCache(reason: string): Promise<Values> {
    const lookup: CacheLookup = { url: this.target.account.url, app: this.target.appRef, env: this.target.envRef, path: this.target.path };
    const cached = await readOfflineCache(this.target.account.token, lookup);
    if (!cached.found) {
      throw new UserError(
        `${reason}, and there is no usable cached copy of ${this.where}${this.target.path ? ` (${this.target.path})` : ''}`,
        cached.reason === 'missing'
          ? 'a copy is cached by a successful `coffer run --fallback` with the same --app, --env and --path'
          : 'the cached copy does not open with this token (it was cached with another one); run once while the server answers',
      );
    }
    const { value } = cached;
    this.where = `${value.app.name} / ${value.env.name}`;
    process.stderr.write(`coffer: ${reason}; using the copy of ${this.where} cached ${ago(value.fetchedAt)} (${value.fetchedAt})\n`);
    return value.values;
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

type Outcome = { code: number } | { error: NodeJS.ErrnoException };

/** One child at a time; restarts replace it; the first exit that is not a restart ends the run. */
class Supervisor {
  #child: ChildProcess | undefined;
  readonly #replaced = new WeakSet<ChildProcess>();
  #stopSignal: NodeJS.Signals | undefined;
  #restarting = false;
  #resolve!: (outcome: Outcome) => void;
  finished = false;
  readonly done: Promise<Outcome>;

  constructor(readonly command: string[]) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  #finish(outcome: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    this.#resolve(outcome);
  }

  /** Never throws: a failure to start (thrown at once by spawn, or reported later) ends the run. */
  start(values: Values): void {
    let child: ChildProcess;
    try {
      child = spawn(this.command[0]!, this.command.slice(1), { stdio: 'inherit', env: { ...process.env, ...values } });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.#finish({ error: Object.assign(new Error(code ?? 'spawn failed'), { code }) });
      return;
    }
    this.#child = child;
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.#replaced.has(child)) this.#finish({ error });
    });
    child.on('exit', (code, signal) => {
      if (this.#replaced.has(child)) return;
      this.#finish({ code: code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0) });
    });
  }

  /** Stops the current child (SIGTERM, SIGKILL after 10 s) and starts a new one with `values`. */
  async restart(values: Values): Promise<void> {
    const old = this.#child;
    if (this.finished || !old) return;
    this.#replaced.add(old);
    this.#child = undefined;
    this.#restarting = true;
    if (old.exitCode === null && old.signalCode === null) {
      const exited = new Promise<void>((resolve) => old.once('exit', () => resolve()));
      old.kill('SIGTERM');
      const timer = setTimeout(() => old.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    this.#restarting = false;
    if (this.#stopSignal) {
      // A signal came while the old child was stopping: end like the child would have.
      this.#finish({ code: 128 + (os.constants.signals[this.#stopSignal] ?? 0) });
      return;
    }
    this.start(values);
  }

  signal(signal: NodeJS.Signals): void {
    const child = this.#child;
    if (!child) {
      if (signal === 'SIGUSR1') return;
      // Between two children (a restart): remember it; the restart ends the run instead.
      if (this.#restarting) this.#stopSignal = signal;
      // No child and none coming: end now, like a child would have.
      else this.#finish({ code: 128 + (os.constants.signals[signal] ?? 0) });
      return;
    }
    // On a terminal, Ctrl-C already reached the child (same foreground process group): do not
    // deliver SIGINT twice. Anything else (kill, a service manager, CI) is forwarded.
    if (signal === 'SIGINT' && process.stdin.isTTY) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}
