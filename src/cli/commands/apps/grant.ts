// `coffer apps grant APP --member EMAIL | --service-account NAME`: give someone added after an
// end-to-end encrypted app was created its keys. The server cannot open them, so they are unwrapped
// here (from what your token holds) and wrapped to the recipient's key; the server only stores the
// result. SSE apps are granted by the server itself (PUT /v1/members/{id}/access/).
import { CofferApi } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { withSession } from './shared.js';

export interface AppsGrantOptions {
  member?: string;
  serviceAccount?: string;
  env?: string[];
  url?: string;
  json?: boolean;
}

interface Named {
  id: string;
  email?: string;
  name?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function appsGrant(app: string, options: AppsGrantOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  if (Boolean(options.member) === Boolean(options.serviceAccount)) {
    throw new UserError('name one recipient: --member EMAIL or --service-account NAME', 'e.g. coffer apps grant vault --member alice@example.com');
  }
  const account = await resolveAccount(options.url);
  const api = new CofferApi(account.url, { kind: 'token', token: account.token });
  const recipient = options.member
    ? { type: 'member' as const, id: await resolveId(api, '/v1/members/', options.member, (m) => m.email, 'member') }
    : { type: 'service_account' as const, id: await resolveId(api, '/v1/service-accounts/', options.serviceAccount!, (sa) => sa.name, 'service account') };
  const spinner = ui.spinner();
  spinner.start('Wrapping the environment keys for the recipient');
  const { answer, appName, environmentNames } = await withSession(account, async (session) => {
    const target = session.app(app);
    if (target.encryption === 'SSE') {
      throw new UserError(`${target.name} uses server-side encryption: the server gives its keys`, `use PUT /v1/${recipient.type === 'member' ? 'members' : 'service-accounts'}/{id}/access/`);
    }
    const answer = await session.grantE2ee(target.id, recipient, options.env);
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
      : `${who} already held every environment named; nothing changed`,
  );
  if (answer.environmentsGranted.length > 0 && answer.environmentsAlreadyHeld.length > 0) {
    ui.info(`Already held, left as they were: ${environmentNames(answer.environmentsAlreadyHeld).join(', ')}.`);
  }
}

/** An id as given, or the one member (by e-mail, case-insensitively) or service account (by name) so called. */
async function resolveId(api: CofferApi, path: string, given: string, label: (item: Named) => string | undefined, kind: string): Promise<string> {
  if (UUID.test(given)) return given.toLowerCase();
  const list = await api.get<{ data: Named[] }>(path, (value) => typeof value === 'object' && value !== null && Array.isArray((value as { data?: unknown }).data));
  const matches = list.data.filter((item) => label(item)?.toLowerCase() === given.toLowerCase());
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length > 1) throw new UserError(`${matches.length} ${kind}s are called ${given}`, `pass the id instead: ${matches.map((m) => m.id).join(', ')}`);
  throw new UserError(`no ${kind} ${given} in this organisation`, kind === 'member' ? 'invite them first; they must have accepted' : 'create it first with POST /v1/service-accounts/');
}
