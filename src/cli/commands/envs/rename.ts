// `coffer envs rename ENV NEW_NAME`: references that name the old name stop resolving (rest-api §9.1).
import { createUi } from '../../ui.js';
import { listEnvironments, pickEnvironment, restApi } from '../../secrets-client.js';
import { envsTarget, requireSse, type EnvsTargetOptions } from './shared.js';

export interface EnvsRenameOptions extends EnvsTargetOptions {
  json?: boolean;
}

export async function envsRename(ref: string, newName: string, options: EnvsRenameOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const { account, app } = await envsTarget(options);
  requireSse(app, 'renamed');
  const env = pickEnvironment(await listEnvironments(account, app), ref, app, 'exact');
  const renamed = await restApi(account).send<{ id: string; name: string }>('PUT', `/v1/environments/${env.id}/`, { name: newName });
  if (ui.json) {
    ui.printJson({ app: { id: app.id, name: app.name }, id: env.id, previousName: env.name, name: renamed.body.name });
    return;
  }
  ui.success(`Renamed ${env.name} to ${renamed.body.name} in ${app.name}.`);
  ui.warn(`References that name '${env.name}' (like \${${env.name}.KEY}) no longer resolve; a linked directory (.coffer.json) may name it too.`);
}
