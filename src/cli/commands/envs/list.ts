// `coffer envs list`: the environments of an app that you hold.
import { createUi } from '../../ui.js';
import { listEnvironments } from '../../secrets-client.js';
import { printTable, visible } from '../../table.js';
import { envsTarget, type EnvsTargetOptions } from './shared.js';

export interface EnvsListOptions extends EnvsTargetOptions {
  json?: boolean;
}

export async function envsList(options: EnvsListOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const { account, app } = await envsTarget(options);
  const envs = await listEnvironments(account, app);
  if (ui.json) {
    ui.printJson({ app: { id: app.id, name: app.name }, data: envs });
    return;
  }
  if (envs.length === 0) {
    process.stdout.write(`${visible(app.name)} has no environment you can access.\n`);
    return;
  }
  printTable(['NAME', 'ID', 'TYPE'], envs.map((e) => [e.name, e.id, e.envType]));
}
