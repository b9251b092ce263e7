#!/usr/bin/env node
// Entry point of the `coffer` command and its single error funnel.
import { ConfigError } from '../config.js';
import { ExitError, UserError } from './errors.js';
import { buildProgram } from './program.js';
import { noControls } from './table.js';

function fail(message: string, hint?: string, code = 1): never {
  process.stderr.write(`coffer: ${noControls(message)}\n`);
  if (hint) process.stderr.write(`  ${noControls(hint)}\n`);
  process.exit(code);
}

function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  const errno = error as (NodeJS.ErrnoException & { address?: unknown }) | undefined;
  // `path` for files, `address` for sockets (the admin socket of a server run by another user).
  return error instanceof Error && typeof errno?.code === 'string' && typeof errno.syscall === 'string' && (typeof errno.path === 'string' || typeof errno.address === 'string');
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof ExitError) process.exit(error.exitCode);
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
    if (error instanceof UserError) fail(error.message, error.hint, error.exitCode);
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === 'EADDRINUSE') fail(`cannot listen: ${(error as Error).message}; set PORT to a free port`);
    if (error instanceof Error && error.name === 'DataDirLockedError') fail(error.message);
    // The store holds material sealed under a master key this command was not given: the message
    // names the key id and what to configure.
    if (error instanceof Error && error.name === 'UnknownMasterKeyError') fail(error.message);
    // A file the command was told to read or write (no such directory, no permission, a full disk):
    // Node's message names the file and the system's reason; a stack trace would add nothing.
    if (isFileSystemError(error)) fail(error.message);
    process.stderr.write(`coffer: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  }
}

await main(process.argv);
