// `coffer apps list`: the apps this token can reach, with their encryption.
import { createUi } from '../../ui.js';
import { listApps, resolveSecretsAccount, restApi } from '../../secrets-client.js';
import { printTable } from '../../table.js';

export interface AppsListOptions {
  url?: string;
  json?: boolean;
}

export async function appsList(options: AppsListOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveSecretsAccount(options.url);
  const apps = await listApps(restApi(account));
  if (ui.json) {
    ui.printJson({ data: apps.map((a) => ({ id: a.id, name: a.name, description: a.description, encryption: a.sseEnabled ? 'sse' : 'e2ee', sseEnabled: a.sseEnabled, createdAt: a.createdAt })) });
    return;
  }
  if (apps.length === 0) {
    process.stdout.write('No apps yet. Create one with `coffer apps create NAME`.\n');
    return;
  }
  printTable(
    ['NAME', 'ID', 'ENCRYPTION', 'CREATED'],
    apps.map((a) => [a.name, a.id, a.sseEnabled ? 'SSE' : 'E2EE', a.createdAt?.slice(0, 10) ?? '-']),
  );
}
