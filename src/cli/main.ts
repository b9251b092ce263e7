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

/**
 * Errors about the store that say in their message what is wrong and what to do; a stack trace
 * would add nothing. DataDirLockedError: another process holds the embedded store.
 * UnknownMasterKeyError: material sealed under a key this command was not given (names the key
 * id). DamagedJournalError, DamagedStoreError: files of the data directory that cannot be read.
 * StoreNewerThanCodeError: the store was migrated by a newer Coffer.
 */
const OPERATOR_ERRORS = new Set(['DataDirLockedError', 'UnknownMasterKeyError', 'DamagedJournalError', 'DamagedStoreError', 'ListenError', 'StoreUnreachableError', 'StoreNewerThanCodeError']);

/**
 * A reader that stops early (`coffer secrets get BIG | head -c1`) closes the pipe: the rest of the
 * output has nowhere to go, which is not the command's failure. Quietly done, as `cat` would be.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe(process.stdout);
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof ExitError) process.exit(error.exitCode);
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
    if (error instanceof UserError) fail(error.message, error.hint, error.exitCode);
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === 'EADDRINUSE') fail(`cannot listen: ${(error as Error).message}; set PORT to a free port`);
    if (error instanceof Error && OPERATOR_ERRORS.has(error.name)) fail(error.message);
    // A file the command was told to read or write (no such directory, no permission, a full disk):
    // Node's message names the file and the system's reason; a stack trace would add nothing.
    if (isFileSystemError(error)) fail(error.message);
    process.stderr.write(`coffer: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  }
}

await main(process.argv);
