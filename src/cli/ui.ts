// Everything the CLI shows or asks, in one place (STYLE §4): @clack/prompts on a terminal, plain
// lines when output is not a TTY or in CI, nothing at all on stdout with --json (one JSON document
// is the whole output then). Every prompt can be cancelled: Ctrl-C prints a line and exits 0.
import * as clack from '@clack/prompts';
import { ExitError, UserError } from './errors.js';
import { noControls as clean } from './table.js';

export interface Spinner {
  start(message: string): void;
  stop(message: string): void;
  error(message: string): void;
}

export interface Ui {
  /** Prompts are possible: stdin and stdout are terminals and this is not CI. */
  readonly interactive: boolean;
  readonly json: boolean;
  intro(title: string): void;
  outro(message: string): void;
  info(message: string): void;
  success(message: string): void;
  /** Always shown (on stderr with --json): something the user should know. */
  warn(message: string): void;
  note(body: string, title: string): void;
  /** A value to copy (a token): on a line of its own, never wrapped or boxed. */
  secret(title: string, value: string): void;
  spinner(): Spinner;
  text(options: { message: string; placeholder?: string; validate?: (value: string) => string | undefined }): Promise<string>;
  password(options: { message: string; validate?: (value: string) => string | undefined }): Promise<string>;
  select<T extends string>(options: { message: string; options: Array<{ value: T; label: string; hint?: string }> }): Promise<T>;
  /** Prints the one JSON document of --json. */
  printJson(value: unknown): void;
}

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !clack.isCI();
}

function cancelled(value: unknown): asserts value is never {
  if (clack.isCancel(value)) {
    clack.cancel('Cancelled; nothing was changed.');
    throw new ExitError(0);
  }
}

export function createUi(options: { json?: boolean } = {}): Ui {
  const json = options.json === true;
  const interactive = !json && isInteractive();
  const fancy = !json && Boolean(process.stdout.isTTY) && !clack.isCI();
  const out = (line: string) => {
    if (!json) process.stdout.write(`${line}\n`);
  };
  const requireInteractive = (what: string): void => {
    if (!interactive) throw new UserError(`${what} is needed, and there is no terminal to ask in`, 'pass it as an option (see --help)');
  };
  return {
    interactive,
    json,
    // Messages name apps, environments, organisations...: user data, so no raw control characters.
    intro: (title) => (fancy ? clack.intro(clean(title)) : out(clean(title))),
    outro: (message) => (fancy ? clack.outro(clean(message)) : out(clean(message))),
    info: (message) => (fancy ? clack.log.info(clean(message)) : out(clean(message))),
    success: (message) => (fancy ? clack.log.success(clean(message)) : out(clean(message))),
    warn: (raw) => {
      const message = clean(raw);
      if (fancy) clack.log.warn(message);
      else if (json) process.stderr.write(`warning: ${message}\n`);
      else out(`Warning: ${message}`);
    },
    note: (body, title) => {
      if (fancy) clack.note(body, title);
      else out(`\n${title}:\n${body.split('\n').map((l) => `  ${l}`).join('\n')}\n`);
    },
    secret: (title, value) => {
      if (fancy) {
        clack.log.step(title);
        process.stdout.write(`\n${value}\n\n`);
      } else out(`\n${title}:\n${value}\n`);
    },
    spinner: () => {
      if (json) return { start() {}, stop() {}, error() {} };
      if (!fancy) return { start: (m) => out(`${m}...`), stop: (m) => out(m), error: (m) => process.stderr.write(`${m}\n`) };
      const s = clack.spinner();
      return { start: (m) => s.start(m), stop: (m) => s.stop(m), error: (m) => s.error(m) };
    },
    async text({ message, placeholder, validate }) {
      requireInteractive(message);
      const value = await clack.text({ message, ...(placeholder ? { placeholder } : {}), validate: (v) => validate?.(v ?? '') });
      cancelled(value);
      return value;
    },
    async password({ message, validate }) {
      requireInteractive(message);
      const value = await clack.password({ message, validate: (v) => validate?.(v ?? '') });
      cancelled(value);
      return value;
    },
    async select({ message, options: choices }) {
      requireInteractive(message);
      const value = await clack.select({ message, options: choices as never });
      cancelled(value);
      return value as never;
    },
    printJson(value) {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

/** The whole of stdin, with one trailing newline removed (what `echo "$PASSWORD" |` adds). */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new UserError('--password-stdin reads the password from standard input, but stdin is a terminal', 'pipe it in, e.g. printf %s "$PASSWORD" | coffer ...');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Two secrets from standard input, one per line (the first line break separates them; the second
 * may contain more), e.g. the current and the new password. Neither may be empty.
 */
async function readTwoFromStdin(names: [string, string], option: string): Promise<[string, string]> {
  const text = await readStdin();
  const at = text.search(/\r?\n/);
  const first = at === -1 ? text : text.slice(0, at);
  const second = at === -1 ? '' : text.slice(at + (text[at] === '\r' ? 2 : 1));
  if (first === '' || second === '') {
    throw new UserError(`${option} expects the ${names[0]} on the first line of standard input and the ${names[1]} on the second`, `e.g. printf '%s\\n%s\\n' "$FIRST" "$SECOND" | coffer ... ${option}`);
  }
  return [first, second];
}

/**
 * A password: from stdin with --password-stdin (never a prompt then), else asked in the terminal
 * (twice when `confirm`), else an error saying how to pass it.
 */
export async function obtainPassword(
  ui: Ui,
  options: { stdin: boolean | undefined; message: string; confirm?: boolean; validate?: (value: string) => string | undefined },
): Promise<string> {
  if (options.stdin) {
    const password = await readStdin();
    if (password === '') throw new UserError('no password on standard input', 'pipe it in, e.g. printf %s "$PASSWORD" | coffer ... --password-stdin');
    const problem = options.validate?.(password);
    if (problem) throw new UserError(`the password on standard input is too weak: ${problem}`);
    return password;
  }
  if (!ui.interactive) throw new UserError('a password is needed, and there is no terminal to ask in', 'pass --password-stdin and pipe the password in');
  const password = await ui.password({ message: options.message, ...(options.validate ? { validate: options.validate } : {}) });
  if (options.confirm) {
    await ui.password({ message: 'Type it again', validate: (again) => (again === password ? undefined : 'The two passwords differ.') });
  }
  return password;
}

/**
 * Something secret (the current password, a recovery phrase) and a new password: from stdin, one
 * per line, with `option`; else asked in the terminal (the new password twice); else an error
 * saying how to pass them. `validate` judges the new password.
 */
export async function obtainSecretAndNewPassword(
  ui: Ui,
  options: { stdin: boolean | undefined; option: string; first: { name: string; message: string }; validate: (value: string) => string | undefined },
): Promise<[string, string]> {
  if (options.stdin) {
    const [first, password] = await readTwoFromStdin([options.first.name, 'new password'], options.option);
    const problem = options.validate(password);
    if (problem) throw new UserError(`the new password on standard input is too weak: ${problem}`);
    return [first, password];
  }
  if (!ui.interactive) throw new UserError(`the ${options.first.name} and a new password are needed, and there is no terminal to ask in`, `pass ${options.option} with the two on two lines`);
  const first = await ui.password({ message: options.first.message });
  const password = await ui.password({ message: 'New password', validate: options.validate });
  await ui.password({ message: 'Type the new password again', validate: (again) => (again === password ? undefined : 'The two passwords differ.') });
  return [first, password];
}

/** An option's value, else a prompt on a terminal, else an error naming the option. */
export async function optionOrAsk(
  ui: Ui,
  value: string | undefined,
  option: string,
  prompt: { message: string; placeholder?: string; validate?: (value: string) => string | undefined },
): Promise<string> {
  if (value !== undefined && value.trim() !== '') return value.trim();
  if (!ui.interactive) throw new UserError(`missing ${option}`, `pass ${option} (see --help)`);
  return (await ui.text(prompt)).trim();
}
