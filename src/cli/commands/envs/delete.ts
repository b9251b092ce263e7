// `coffer envs delete ENV`: deletes an environment with all its secrets, for good.
import { ExitError, UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { listEnvironments, pickEnvironment, restApi } from '../../secrets-client.js';
import { envsTarget, requireSse, type EnvsTargetOptions } from './shared.js';

export interface EnvsDeleteOptions extends EnvsTargetOptions {
  yes?: boolean;
  json?: boolean;
}

export async function envsDelete(ref: string, options: EnvsDeleteOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const { account, app } = await envsTarget(options);
  requireSse(app, 'deleted');
  const env = pickEnvironment(await listEnvironments(account, app), ref, app, 'exact');
  if (!options.yes) {
    if (!ui.interactive) throw new UserError(`deleting ${env.name} removes all its secrets for good`, 'pass --yes to confirm');
    const typed = await ui.text({ message: `This deletes ${env.name} of ${app.name} with all its secrets. Type its name to confirm` });
    if (typed.trim() !== env.name) {
      ui.outro('The name does not match; nothing was deleted.');
      throw new ExitError(1);
    }
  }
  await restApi(account).send('DELETE', `/v1/environments/${env.id}/`);
  if (ui.json) {
    ui.printJson({ app: { id: app.id, name: app.name }, deleted: { id: env.id, name: env.name } });
    return;
  }
  ui.success(`Deleted environment ${env.name} of ${app.name} with its secrets.`);
}
