// What the envs commands share: the app they work on (--app, COFFER_APP, or the linked directory's app).
import { UserError } from '../../errors.js';
import { findProject } from '../../project.js';
import { findApp, resolveSecretsAccount, type AppInfo, type SecretsAccount } from '../../secrets-client.js';

export interface EnvsTargetOptions {
  app?: string;
  url?: string;
}

export async function envsTarget(options: EnvsTargetOptions): Promise<{ account: SecretsAccount; app: AppInfo }> {
  const account = await resolveSecretsAccount(options.url);
  const ref = options.app?.trim() || (await findProject())?.config.appId;
  if (!ref) throw new UserError('no app given', 'pass --app (id or name), set COFFER_APP, or link this directory with `coffer init`');
  return { account, app: await findApp(account, ref) };
}

/** The REST API manages environments of SSE apps only (Phase answers 403 for E2EE apps). */
export function requireSse(app: AppInfo, what: string): void {
  if (!app.sseEnabled) {
    throw new UserError(
      `${app.name} is end-to-end encrypted: its environments are fixed when it is created, so they cannot be ${what}`,
      'create a new E2EE app with the environments you need (`coffer apps create NAME --e2ee --environments a,b`), or enable SSE first',
    );
  }
}
