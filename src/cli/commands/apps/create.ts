// `coffer apps create NAME [--e2ee]`: a new app. SSE (the default) asks the server to make the
// environment keys; --e2ee makes them here and wraps them for you and every member with global
// access, so the server never holds them (docs/client-protocol.md).
import { CofferApi } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { withSession } from './shared.js';

export interface AppsCreateOptions {
  e2ee?: boolean;
  description?: string;
  environments?: string;
  serviceAccount?: string[];
  url?: string;
  json?: boolean;
}

interface CreatedApp {
  id: string;
  name: string;
  description: string | null;
  sseEnabled: boolean;
  environments: Array<{ id: string; name: string; envType: string; index: number }>;
}

export async function appsCreate(name: string, options: AppsCreateOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const environments = options.environments
    ?.split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (environments && environments.length === 0) throw new UserError('--environments names no environment', 'pass names separated by commas, e.g. --environments dev,prod');
  if (options.serviceAccount?.length && !options.e2ee) {
    throw new UserError('--service-account is for --e2ee apps', 'grant an SSE app to a service account with PUT /v1/service-accounts/{id}/access/');
  }
  const spinner = ui.spinner();
  let app: CreatedApp;
  if (options.e2ee) {
    spinner.start('Making the environment keys here and wrapping them for every recipient');
    app = await withSession(account, (session) =>
      session.createE2eeApp({
        name,
        ...(options.description ? { description: options.description } : {}),
        ...(environments ? { environments } : {}),
        ...(options.serviceAccount?.length ? { serviceAccountIds: options.serviceAccount } : {}),
      }),
    );
  } else {
    spinner.start('Creating the app');
    const api = new CofferApi(account.url, { kind: 'token', token: account.token });
    app = await api.post<CreatedApp>('/v1/apps/', { name, ...(options.description ? { description: options.description } : {}), ...(environments ? { environments } : {}) });
  }
  const encryption = options.e2ee ? 'e2ee' : 'sse';
  if (ui.json) {
    ui.printJson({
      url: account.url,
      id: app.id,
      name: app.name,
      description: app.description,
      encryption,
      sseEnabled: app.sseEnabled,
      environments: app.environments.map((e) => ({ id: e.id, name: e.name, envType: e.envType, index: e.index })),
    });
    return;
  }
  spinner.stop(`Created ${options.e2ee ? 'end-to-end encrypted' : 'SSE'} app ${app.name} (${app.id})`);
  ui.note(app.environments.map((e) => `${e.name.padEnd(14)} ${e.id}`).join('\n'), 'Environments');
  ui.outro(
    options.e2ee
      ? 'The server cannot read its secrets: use the Phase SDKs or CLI with a token. `coffer apps enable-sse` turns on the REST API later (one-way).'
      : 'Read and write its secrets with the REST API (/v1/secrets/) or the Phase SDKs.',
  );
}
