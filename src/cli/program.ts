// Every coffer command, declared in one place; the work lives in lazily imported modules.
import { Command } from 'commander';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description('Coffer: a self-hostable secrets manager, wire-compatible with Phase')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });

  program
    .command('serve')
    .description('run the Coffer server (configured by environment variables, see README)')
    .addHelpText('after', '\nExamples:\n  coffer serve\n  PORT=9000 DATABASE_URL=postgres://localhost/coffer COFFER_MASTER_KEY=$(openssl rand -hex 32) coffer serve')
    .action(async () => (await import('./commands/serve.js')).serve());

  return program;
}
