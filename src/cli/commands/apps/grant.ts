// `coffer apps grant APP --member EMAIL | --service-account NAME`: give someone added after an
// end-to-end encrypted app was created its keys. The server cannot open them, so they are unwrapped
// here (from what your token holds) and wrapped to the recipient's key; the server only stores the
// result. SSE apps are granted by the server itself (PUT /v1/members/{id}/access/).
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { resolveRecipient, withSession, type RecipientOptions } from './shared.js';

export interface AppsGrantOptions extends RecipientOptions {
  env?: string[];
  url?: string;
  json?: boolean;
}

export async function appsGrant(app: string, options: AppsGrantOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const recipient = await resolveRecipient(account, options);
  // The same environment named twice (in any case) is one environment.
  const environments = options.env && [...new Map(options.env.map((name) => [name.toLowerCase(), name])).values()];
  const spinner = ui.spinner();
  spinner.start('Wrapping the environment keys for the recipient');
  const { answer, appName, environmentNames } = await withSession(account, async (session) => {
    const target = session.app(app);
    if (target.encryption === 'SSE') {
      throw new UserError(`${target.name} uses server-side encryption: the server gives its keys`, `use PUT /v1/${recipient.type === 'member' ? 'members' : 'service-accounts'}/{id}/access/`);
    }
    const answer = await session.grantE2ee(target.id, recipient, environments);
    const names = new Map(target.environments.map((env) => [env.id, env.name]));
    return { answer, appName: target.name, environmentNames: (ids: string[]) => ids.map((id) => names.get(id) ?? id) };
  });
  const who = options.member ?? options.serviceAccount!;
  if (ui.json) {
    ui.printJson({ url: account.url, appId: answer.appId, recipient, environmentsGranted: answer.environmentsGranted, environmentsAlreadyHeld: answer.environmentsAlreadyHeld });
    return;
  }
  spinner.stop(
    answer.environmentsGranted.length > 0
      ? `${who} now holds ${appName}: ${environmentNames(answer.environmentsGranted).join(', ')}`
      : `${who} already held every environment named; nothing changed (keys that do not open for them are replaced with \`coffer apps revoke\`, then a new grant)`,
  );
  if (answer.environmentsGranted.length > 0 && answer.environmentsAlreadyHeld.length > 0) {
    ui.info(`Already held, left as they were: ${environmentNames(answer.environmentsAlreadyHeld).join(', ')}.`);
  }
}
