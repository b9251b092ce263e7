// `coffer envs create NAME`: a new environment in an SSE app (envType custom, next index).
import { createUi } from '../../ui.js';
import { restApi } from '../../secrets-client.js';
import { envsTarget, requireSse, type EnvsTargetOptions } from './shared.js';

export interface EnvsCreateOptions extends EnvsTargetOptions {
  json?: boolean;
}

interface CreatedEnv {
  id: string;
  name: string;
  envType: string;
  index: number;
}

export async function envsCreate(name: string, options: EnvsCreateOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const { account, app } = await envsTarget(options);
  requireSse(app, 'added');
  const env = await restApi(account).post<CreatedEnv>(`/v1/environments/?app_id=${encodeURIComponent(app.id)}`, { name });
  if (ui.json) {
    ui.printJson({ app: { id: app.id, name: app.name }, id: env.id, name: env.name, envType: env.envType, index: env.index });
    return;
  }
  ui.success(`Created environment ${env.name} (${env.id}) in ${app.name}.`);
}
