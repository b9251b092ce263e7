// `coffer apps delete APP`: deletes an app with all its environments and secrets, for good. Asks
// for the app's name on a terminal; elsewhere --yes is required.
import { ApiError } from '../../api.js';
import { ExitError, UserError } from '../../errors.js';
import { findApp, resolveSecretsAccount, restApi } from '../../secrets-client.js';
import { createUi } from '../../ui.js';

export interface AppsDeleteOptions {
  yes?: boolean;
  url?: string;
  json?: boolean;
}

export async function appsDelete(ref: string, options: AppsDeleteOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveSecretsAccount(options.url);
  const app = await findApp(account, ref);
  if (!options.yes) {
    if (!ui.interactive) throw new UserError(`deleting ${app.name} removes all its environments and secrets for good`, 'pass --yes to confirm');
    const typed = await ui.text({ message: `This deletes ${app.name} (${app.id}) with all its environments and secrets. Type its name to confirm` });
    if (typed.trim() !== app.name) {
      ui.outro('The name does not match; nothing was deleted.');
      throw new ExitError(1);
    }
  }
  const path = app.sseEnabled ? `/v1/apps/${app.id}/` : `/coffer/v1/apps/${app.id}/`;
  try {
    await restApi(account).send('DELETE', path);
  } catch (error) {
    if (error instanceof ApiError && !app.sseEnabled && (error.status === 405 || (error.status === 404 && error.message === 'Not found.'))) {
      throw new UserError('this server cannot delete end-to-end encrypted apps yet', 'upgrade the server, or enable SSE first (`coffer apps enable-sse`) and delete it then');
    }
    throw error;
  }
  if (ui.json) {
    ui.printJson({ deleted: { id: app.id, name: app.name } });
    return;
  }
  ui.success(`Deleted ${app.name} (${app.id}) with its environments and secrets.`);
}
