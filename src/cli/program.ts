// Every coffer command, declared in one place; the work lives in lazily imported modules, each
// exporting one async function that takes typed options.
import { Command, Option } from 'commander';
import { VERSION } from '../version.js';

/** `--help` ends with examples on every command. */
function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

const urlOption = () => new Option('--url <url>', 'Coffer server URL').env('COFFER_URL');
const jsonOption = () => new Option('--json', 'print exactly one JSON document and nothing else');
const passwordStdinOption = () => new Option('--password-stdin', 'read the password from standard input (never prompts)');

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description('Coffer: a self-hostable secrets manager, wire-compatible with Phase')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });

  examples(
    program
      .command('serve')
      .description('run the Coffer server (configured by environment variables, see README)')
      .action(async () => (await import('./commands/serve.js')).serve()),
    ['coffer serve', 'PORT=9000 DATABASE_URL=postgres://localhost/coffer COFFER_MASTER_KEY=$(openssl rand -hex 32) coffer serve'],
  );

  examples(
    program
      .command('setup')
      .description('create the first organisation and its owner on a new server (uses the one-time setup code)')
      .addOption(urlOption())
      .option('--code <code>', 'the one-time setup code from the server log (or COFFER_SETUP_CODE)')
      .option('--email <email>', "the owner's email address")
      .option('--org <name>', 'name of the organisation')
      .option('--full-name <name>', "the owner's full name")
      .addOption(passwordStdinOption())
      .addOption(jsonOption())
      .option('--no-save', 'do not store the new token as your login')
      .action(async (options) => (await import('./commands/setup.js')).setup(options)),
    [
      'coffer setup --url http://127.0.0.1:8080 --code K7QX2-9DM3P-4RT8W-ZB6NE --email you@example.com --org Acme',
      'printf %s "$PASSWORD" | coffer setup --url https://coffer.example.com --code "$CODE" --email you@example.com --org Acme --password-stdin --json',
    ],
  );

  examples(
    program
      .command('login')
      .description('sign in and store a personal access token for the other commands')
      .addOption(urlOption())
      .option('--token <token>', 'store this personal access token (pss_user:v1:...)')
      .option('--email <email>', 'sign in with your email address and password; mints a new token here')
      .option('--org <id-or-name>', 'the organisation to sign in to, when you belong to several')
      .addOption(passwordStdinOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/login.js')).login(options)),
    [
      'coffer login --url https://coffer.example.com --email you@example.com',
      'printf %s "$PASSWORD" | coffer login --url https://coffer.example.com --email you@example.com --password-stdin --org Acme',
      'coffer login --url https://coffer.example.com --token "$COFFER_TOKEN"',
    ],
  );

  examples(
    program
      .command('logout')
      .description('revoke the stored token and forget the login')
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/logout.js')).logout(options)),
    ['coffer logout'],
  );

  examples(
    program
      .command('whoami')
      .description('show the signed-in user, organisation and server')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/whoami.js')).whoami(options)),
    ['coffer whoami', 'COFFER_URL=https://coffer.example.com COFFER_TOKEN=pss_user:v1:... coffer whoami --json'],
  );

  const orgs = program.command('orgs').description('organisations you own');
  examples(
    orgs
      .command('create')
      .description('create another organisation owned by you (with its own keyring and token)')
      .option('--name <name>', 'name of the new organisation')
      .addOption(urlOption())
      .addOption(passwordStdinOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/orgs/create.js')).orgsCreate(options)),
    ['coffer orgs create --name "Acme Labs"', 'printf %s "$PASSWORD" | coffer orgs create --name "Acme Labs" --password-stdin --json'],
  );

  const tokens = program.command('tokens').description('personal access tokens and service-account tokens');
  examples(
    tokens
      .command('create')
      .description('mint a new personal access token (asks for your password), or a service-account token')
      .option('--name <name>', 'a name to recognise the token by')
      .option('--expires-in <duration>', 'lifetime such as 30d, 12h or 90m (default: never expires)')
      .option('--service-account <id>', 'mint a token for this service account instead (server-side keys)')
      .addOption(urlOption())
      .addOption(passwordStdinOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/tokens/create.js')).tokensCreate(options)),
    [
      'coffer tokens create --name laptop --expires-in 30d',
      'printf %s "$PASSWORD" | coffer tokens create --name ci --password-stdin --json',
      'coffer tokens create --service-account 3f2e1d0c-9b8a-7654-3210-fedcba987654 --name deploy --json',
    ],
  );
  examples(
    tokens
      .command('list')
      .description('list your personal access tokens in the current organisation')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/tokens/list.js')).tokensList(options)),
    ['coffer tokens list', 'coffer tokens list --json'],
  );
  examples(
    tokens
      .command('revoke')
      .description('revoke one of your personal access tokens at once')
      .argument('<id>', 'the token id (see `coffer tokens list`)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (id, options) => (await import('./commands/tokens/revoke.js')).tokensRevoke(id, options)),
    ['coffer tokens revoke 0b7c1a52-3f5e-4d8a-9c2b-6e1f0a9d8c7b'],
  );

  const apps = program.command('apps').description('apps and their encryption');
  examples(
    apps
      .command('create')
      .description('create an app; with --e2ee its keys are made here and the server never holds them')
      .argument('<name>', 'name of the new app')
      .option('--e2ee', 'end-to-end encrypted: keys wrapped for you and every member with global access')
      .option('--description <text>', 'a description')
      .option('--environments <names>', 'comma-separated environment names (default: Development,Staging,Production)')
      .option('--service-account <id...>', 'with --e2ee: also give these service accounts every environment key')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (name, options) => (await import('./commands/apps/create.js')).appsCreate(name, options)),
    ['coffer apps create shop', 'coffer apps create vault --e2ee --json', 'coffer apps create ci-secrets --e2ee --environments dev,prod --service-account 3f2e1d0c-9b8a-7654-3210-fedcba987654'],
  );
  examples(
    apps
      .command('enable-sse')
      .description('let the server read an end-to-end encrypted app from now on (one-way; enables the REST API)')
      .argument('<app>', 'app id, or its name when unique')
      .option('--yes', 'do not ask for confirmation')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (app, options) => (await import('./commands/apps/enable-sse.js')).appsEnableSse(app, options)),
    ['coffer apps enable-sse vault', 'coffer apps enable-sse 58006442-007b-4625-b8e2-80f7606484a0 --json'],
  );

  const invites = program.command('invites').description('invitations to join an organisation');
  examples(
    invites
      .command('accept')
      .description('join an organisation from an invite link')
      .argument('<link>', 'the invite URL (or its token with --url)')
      .option('--email <email>', 'the address the invite was sent to')
      .option('--full-name <name>', 'your full name (new accounts)')
      .addOption(urlOption())
      .addOption(passwordStdinOption())
      .addOption(jsonOption())
      .option('--no-save', 'do not store the new token as your login')
      .action(async (link, options) => (await import('./commands/invites/accept.js')).invitesAccept(link, options)),
    [
      'coffer invites accept https://coffer.example.com/invites/8c1e...f2 --email you@example.com',
      'printf %s "$PASSWORD" | coffer invites accept "$INVITE_URL" --email you@example.com --password-stdin --json',
    ],
  );

  const admin = program.command('admin').description('operate a Coffer server (reads the same variables as `coffer serve`)');
  examples(
    admin
      .command('rotate-master-key')
      .description('seal everything kept under the master key again, under a new key, while servers keep serving')
      .option('--no-wait', 'do not pause for other nodes to load the new key file (single node)')
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/admin/rotate-master-key.js')).rotateMasterKeyCommand(options)),
    [
      'COFFER_DATA_DIR=./.coffer-data coffer admin rotate-master-key',
      'DATABASE_URL=postgres://db/coffer COFFER_MASTER_KEY_FILE=/etc/coffer/master.key coffer admin rotate-master-key --json',
    ],
  );

  examples(
    admin
      .command('verify-audit')
      .description('check the hash-chained audit trail; exits 2 and names the first altered, inserted or deleted event')
      .option('--org <id>', 'only this organisation')
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/admin/verify-audit.js')).verifyAuditCommand(options)),
    ['COFFER_DATA_DIR=./.coffer-data coffer admin verify-audit', 'DATABASE_URL=postgres://db/coffer COFFER_MASTER_KEY_FILE=/etc/coffer/master.key coffer admin verify-audit --json'],
  );

  return program;
}
