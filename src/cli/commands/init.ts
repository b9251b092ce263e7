// `coffer init`: links this directory to an app and a default environment (and optionally a path)
// by writing .coffer.json, which holds ids and names only and can be committed. Asks on a terminal
// for what the flags do not say.
import { UserError } from '../errors.js';
import { findProject, normalisePath, PROJECT_FILE, writeProject } from '../project.js';
import { listApps, listEnvironments, pickApp, pickEnvironment, resolveSecretsAccount, restApi } from '../secrets-client.js';
import { createUi } from '../ui.js';

export interface InitOptions {
  app?: string;
  env?: string;
  path?: string;
  url?: string;
  json?: boolean;
}

export async function init(options: InitOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveSecretsAccount(options.url);
  const apps = await listApps(restApi(account));
  // The list holds the apps this token may use: empty may mean none exist or none are shared with you.
  if (apps.length === 0) {
    if (options.app?.trim()) throw new UserError(`no app '${options.app.trim()}' is accessible with this token`, 'ask an owner or admin for access; `coffer apps list` shows what you can use');
    throw new UserError('no app is accessible with this token', 'create one with `coffer apps create NAME`, or ask an owner or admin for access to one');
  }
  let app;
  if (options.app?.trim()) app = pickApp(apps, options.app.trim());
  else {
    if (!ui.interactive) throw new UserError('missing --app', 'pass --app (id or name); `coffer apps list` shows them');
    const id = await ui.select({ message: 'Which app?', options: apps.map((a) => ({ value: a.id, label: a.name, hint: `${a.sseEnabled ? 'SSE' : 'E2EE'} · ${a.id}` })) });
    app = pickApp(apps, id);
  }
  const envs = await listEnvironments(account, app);
  if (envs.length === 0) throw new UserError(`you hold no environment of ${app.name}`, 'ask an owner or admin for access');
  let env;
  if (options.env?.trim()) env = pickEnvironment(envs, options.env.trim(), app);
  else {
    if (!ui.interactive) throw new UserError('missing --env', `pass --env; ${app.name} has ${envs.map((e) => e.name).join(', ')}`);
    const id = await ui.select({ message: 'Default environment?', options: envs.map((e) => ({ value: e.id, label: e.name })) });
    env = pickEnvironment(envs, id, app);
  }
  const path = options.path?.trim() ? normalisePath(options.path.trim()) : undefined;
  const previous = await findProject(process.cwd());
  const file = await writeProject(process.cwd(), { version: 1, appId: app.id, appName: app.name, env: env.name, ...(path ? { path } : {}) });
  if (ui.json) {
    ui.printJson({ file, appId: app.id, appName: app.name, env: env.name, path: path ?? null, encryption: app.sseEnabled ? 'sse' : 'e2ee' });
    return;
  }
  if (previous?.file === file) ui.info(`Replaced the previous link (${previous.config.appName} / ${previous.config.env}).`);
  ui.success(`Linked this directory to ${app.name} / ${env.name}${path ? ` (${path})` : ''}.`);
  ui.outro(`Commit ${PROJECT_FILE}: it holds ids and names only. Try \`coffer secrets list\` or \`coffer run -- <command>\`.`);
}
