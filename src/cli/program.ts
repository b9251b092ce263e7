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
// Where the secrets commands act: flags, else COFFER_APP / COFFER_ENV / COFFER_PATH, else .coffer.json (coffer init).
const appOption = () => new Option('--app <app>', 'app id or name (default: the linked directory, see `coffer init`)').env('COFFER_APP');
const envOption = () => new Option('--env <env>', "environment name (default: the linked directory's)").env('COFFER_ENV');
const pathOption = (reads = true) =>
  new Option('--path <path>', reads ? 'only secrets at this path, e.g. /backend (default: every path)' : 'path of the secrets, e.g. /backend (default: /)').env('COFFER_PATH');

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description('Coffer: a self-hostable secrets manager, wire-compatible with Phase')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    // `coffer run` passes everything after the command to it (passThroughOptions needs this).
    .enablePositionalOptions();

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

  const account = program.command('account').description('your password, your recovery phrase, and recovery with it');
  examples(
    account
      .command('password')
      .description('change your password (your keyrings are wrapped again here; tokens keep working)')
      .addOption(urlOption())
      .addOption(new Option('--password-stdin', 'read the current password (first line) and the new one (second line) from standard input'))
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/account/password.js')).accountPassword(options)),
    ['coffer account password', `printf '%s\\n%s\\n' "$CURRENT" "$NEW" | coffer account password --password-stdin --json`],
  );
  examples(
    account
      .command('phrase')
      .description("show this login's organisation's recovery phrase again (asks for your password; opened here)")
      .addOption(urlOption())
      .addOption(passwordStdinOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/account/phrase.js')).accountPhrase(options)),
    ['coffer account phrase', 'printf %s "$PASSWORD" | coffer account phrase --password-stdin --json'],
  );
  examples(
    account
      .command('recover')
      .description("set a new password with an organisation's recovery phrase (when the password is lost)")
      .addOption(urlOption())
      .option('--email <email>', 'the e-mail address of the account')
      .option('--org <id>', 'the organisation the recovery phrase belongs to (its id)')
      .option('--stdin', 'read the recovery phrase (first line) and the new password (second line) from standard input')
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/account/recover.js')).accountRecover(options)),
    [
      'coffer account recover --url https://coffer.example.com --email ada@example.com --org 3f2e1d0c-9b8a-7654-3210-fedcba987654',
      `printf '%s\\n%s\\n' "$PHRASE" "$NEW" | coffer account recover --url URL --email E --org ID --stdin --json`,
    ],
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
      .option('--yes', 'do not ask for confirmation (required without a terminal)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (app, options) => (await import('./commands/apps/enable-sse.js')).appsEnableSse(app, options)),
    ['coffer apps enable-sse vault', 'coffer apps enable-sse 58006442-007b-4625-b8e2-80f7606484a0 --yes --json'],
  );
  examples(
    apps
      .command('grant')
      .description('give a member or service account the keys of an end-to-end encrypted app (wrapped here, from yours)')
      .argument('<app>', 'app id, or its name when unique')
      .option('--member <email>', 'the member (e-mail address or id) who receives the keys')
      .option('--service-account <name>', 'the service account (name or id) that receives the keys')
      .option('--env <names...>', 'only these environments (default: every one you hold)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (app, options) => (await import('./commands/apps/grant.js')).appsGrant(app, options)),
    ['coffer apps grant vault --member alice@example.com', 'coffer apps grant vault --service-account ci --env Production --json'],
  );
  examples(
    apps
      .command('revoke')
      .description('take the keys of an end-to-end encrypted app back from a member or service account (also to replace keys that do not open)')
      .argument('<app>', 'app id, or its name when unique')
      .option('--member <email>', 'the member (e-mail address or id)')
      .option('--service-account <name>', 'the service account (name or id)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (app, options) => (await import('./commands/apps/revoke.js')).appsRevoke(app, options)),
    ['coffer apps revoke vault --member alice@example.com', 'coffer apps revoke vault --service-account ci --json'],
  );
  examples(
    apps
      .command('list')
      .description('list the apps you can reach, with their encryption')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/apps/list.js')).appsList(options)),
    ['coffer apps list', 'coffer apps list --json'],
  );
  examples(
    apps
      .command('delete')
      .description('delete an app with all its environments and secrets, for good')
      .argument('<app>', 'app id, or its name when unique')
      .option('--yes', 'do not ask for confirmation (required without a terminal)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (app, options) => (await import('./commands/apps/delete.js')).appsDelete(app, options)),
    ['coffer apps delete old-shop', 'coffer apps delete 58006442-007b-4625-b8e2-80f7606484a0 --yes --json'],
  );

  examples(
    program
      .command('init')
      .description('link this directory to an app and a default environment (writes .coffer.json: ids and names only, commit it)')
      .option('--app <app>', 'app id or name (asked when missing on a terminal)')
      .option('--env <env>', 'default environment (asked when missing on a terminal)')
      .option('--path <path>', 'default path of the secrets, e.g. /backend')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/init.js')).init(options)),
    ['coffer init', 'coffer init --app shop --env development', 'coffer init --app shop --env production --path /backend --json'],
  );

  const envs = program.command('envs').description("an app's environments");
  examples(
    envs
      .command('list')
      .description('list the environments of an app that you hold')
      .addOption(appOption())
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/envs/list.js')).envsList(options)),
    ['coffer envs list', 'coffer envs list --app shop --json'],
  );
  examples(
    envs
      .command('create')
      .description('add an environment to an (SSE) app')
      .argument('<name>', 'letters, digits, - and _ (at most 64)')
      .addOption(appOption())
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (name, options) => (await import('./commands/envs/create.js')).envsCreate(name, options)),
    ['coffer envs create preview', 'coffer envs create qa --app shop --json'],
  );
  examples(
    envs
      .command('rename')
      .description('rename an environment (references naming the old name stop resolving)')
      .argument('<env>', 'the environment (name or id)')
      .argument('<new-name>', 'its new name')
      .addOption(appOption())
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (env, newName, options) => (await import('./commands/envs/rename.js')).envsRename(env, newName, options)),
    ['coffer envs rename staging preprod', 'coffer envs rename qa QA --app shop'],
  );
  examples(
    envs
      .command('delete')
      .description('delete an environment with all its secrets, for good')
      .argument('<env>', 'the environment (name or id)')
      .option('--yes', 'do not ask for confirmation (required without a terminal)')
      .addOption(appOption())
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (env, options) => (await import('./commands/envs/delete.js')).envsDelete(env, options)),
    ['coffer envs delete preview', 'coffer envs delete qa --app shop --yes'],
  );

  const secrets = program.command('secrets').description('read and write secrets (SSE apps through the REST API, E2EE apps decrypted here)');
  examples(
    secrets
      .command('list')
      .description('list the secrets of an environment (values masked unless --show)')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption())
      .option('--tags <tags>', 'only secrets with any of these tags (comma-separated)')
      .option('--show', 'print the values')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (options) => (await import('./commands/secrets/list.js')).secretsList(options)),
    ['coffer secrets list', 'coffer secrets list --app shop --env production --show', 'coffer secrets list --path /backend --tags db --json'],
  );
  examples(
    secrets
      .command('get')
      .description('print one value (your active override, references resolved)')
      .argument('<key>', 'the secret name (case-insensitive)')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption())
      .option('--raw', 'the value as stored: references not resolved (decrypted here, also for SSE apps)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (key, options) => (await import('./commands/secrets/get.js')).secretsGet(key, options)),
    ['coffer secrets get DATABASE_URL', 'coffer secrets get TLS_KEY --env production > tls.key', 'coffer secrets get API_URL --raw --json'],
  );
  examples(
    secrets
      .command('set')
      .description('create or update secrets: KEY=VALUE pairs, or KEY with the value on standard input')
      .argument('<pairs...>', 'KEY=VALUE, or one KEY alone to read its value from stdin (or a hidden prompt)')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption(false))
      .option('--comment <text>', 'a comment')
      .option('--type <type>', 'secret (default), config or sealed (a sealed value can never be read in the console or changed)')
      .option('--tags <tags>', 'tags, comma-separated (replaces the tags of an existing secret)')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (pairs, options) => (await import('./commands/secrets/set.js')).secretsSet(pairs, options)),
    [
      'coffer secrets set DEBUG=false LOG_LEVEL=info',
      'coffer secrets set TLS_CERT --env production < cert.pem',
      'coffer secrets set DATABASE_URL=\'postgres://db/shop\' --path /backend --tags db --comment "primary database"',
    ],
  );
  examples(
    secrets
      .command('delete')
      .description('delete secrets (one batch: all or none)')
      .argument('<keys...>', 'secret names')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption())
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (keys, options) => (await import('./commands/secrets/delete.js')).secretsDelete(keys, options)),
    ['coffer secrets delete OLD_TOKEN', 'coffer secrets delete A B --env staging --path /backend --json'],
  );
  examples(
    secrets
      .command('import')
      .description('import a .env (or JSON, YAML, CSV, TOML) file in one batch; existing names need --overwrite')
      .argument('<file>', 'the file, or - for standard input')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption(false))
      .option('--format <format>', 'dotenv, json, yaml, csv or toml (default: from the file name, else dotenv)')
      .option('--overwrite', 'also update names that exist (a second batch: see docs/cli.md)')
      .option('--tags <tags>', 'tags for every imported secret (comma-separated)')
      .option('--type <type>', 'type for every imported secret: secret, config or sealed')
      .addOption(urlOption())
      .addOption(jsonOption())
      .action(async (file, options) => (await import('./commands/secrets/import.js')).secretsImport(file, options)),
    ['coffer secrets import .env', 'coffer secrets import .env.production --env production --overwrite', 'coffer secrets import secrets.json --app shop --env staging --path /backend --json'],
  );
  examples(
    secrets
      .command('export')
      .description('print the secrets as dotenv, JSON, YAML, CSV or TOML (values resolved, as `coffer run` injects them)')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption())
      .option('--format <format>', 'dotenv (default), json, yaml, csv or toml')
      .option('--tags <tags>', 'only secrets with any of these tags')
      .option('--raw', 'values as stored: references not resolved')
      .option('--output <file>', 'write to this file (mode 0600) instead of standard output')
      .addOption(urlOption())
      .action(async (options) => (await import('./commands/secrets/export.js')).secretsExport(options)),
    ['coffer secrets export > .env', 'coffer secrets export --env production --format yaml', 'coffer secrets export --format json --raw --output backup.json'],
  );

  examples(
    program
      .command('run')
      .description("run a command with the environment's secrets in its environment; exit code and signals pass through")
      .argument('<command...>', 'the command and its arguments (after --)')
      .addOption(appOption())
      .addOption(envOption())
      .addOption(pathOption())
      .option('--watch', 'restart the command when the secrets change')
      .option('--interval <seconds>', 'with --watch: how often to check for changes', '5')
      .option('--fallback', 'keep an encrypted copy of the secrets; use it when the server cannot be reached')
      .addOption(urlOption())
      .passThroughOptions()
      .action(async (command, options) => (await import('./commands/run.js')).run(command, options)),
    [
      'coffer run -- npm start',
      'coffer run --env production -- node server.js --port 3000',
      'coffer run --app shop --env staging --watch -- ./server',
      'COFFER_APP=shop COFFER_ENV=ci coffer run --fallback -- make test',
    ],
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

  examples(
    admin
      .command('backup')
      .description('write a consistent snapshot of the whole store (ciphertext and hashes only; NOT the master key)')
      .argument('<file>', 'the backup file to write (mode 0600)')
      .option('--force', 'replace the file if it exists')
      .addOption(jsonOption())
      .action(async (file, options) => (await import('./commands/admin/backup.js')).backupCommand(file, options)),
    [
      'COFFER_DATA_DIR=./.coffer-data coffer admin backup coffer-$(date +%F).backup',
      'DATABASE_URL=postgres://db/coffer COFFER_MASTER_KEY_FILE=/etc/coffer/master.key coffer admin backup /backups/coffer.backup --json',
    ],
  );
  examples(
    admin
      .command('restore')
      .description('restore a backup in one transaction (an empty store, or any with --force; needs the same master key)')
      .argument('<file>', 'a file written by `coffer admin backup`')
      .option('--force', 'replace everything in a store that is not empty')
      .addOption(jsonOption())
      .action(async (file, options) => (await import('./commands/admin/restore.js')).restoreCommand(file, options)),
    [
      'COFFER_DATA_DIR=./new-data COFFER_MASTER_KEY=$(cat master.key) coffer admin restore coffer.backup',
      'DATABASE_URL=postgres://db/coffer COFFER_MASTER_KEY_FILE=/etc/coffer/master.key coffer admin restore coffer.backup --force --json',
    ],
  );

  return program;
}
