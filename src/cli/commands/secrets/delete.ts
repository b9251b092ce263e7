// `coffer secrets delete KEY...`: deletes the named secrets in one batch (all or none).
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { describeTarget, resolveTarget, withSecretsClient, type TargetOptions } from '../../secrets-client.js';
import { normaliseKey, oneNamed, where } from './shared.js';
import { checkBatchSize, MAX_BATCH } from './write.js';
import { visible } from '../../table.js';

export interface SecretsDeleteOptions extends TargetOptions {
  json?: boolean;
}

export async function secretsDelete(names: string[], options: SecretsDeleteOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const keys = [...new Set(names.map(normaliseKey))];
  checkBatchSize(keys.length, 'this would delete', `delete at most ${MAX_BATCH} names per command (each command is then all or nothing on its own)`);
  const target = await resolveTarget(options);
  await withSecretsClient(target, {}, async (client) => {
    const existing = await client.list({ ...(target.path ? { path: target.path } : {}), resolve: false });
    const missing = keys.filter((k) => !existing.some((s) => s.key === k));
    if (missing.length > 0) {
      throw new UserError(`not found in ${describeTarget(client, target.path)}: ${missing.map(visible).join(', ')}; nothing was deleted`, '`coffer secrets list` shows what there is');
    }
    const chosen = keys.map((k) => oneNamed(client, existing, k, target.path));
    await client.delete(chosen.map((s) => s.id));
    if (ui.json) {
      ui.printJson({ ...where(client, target.path), deleted: chosen.map((s) => ({ key: s.key, path: s.path, id: s.id })) });
      return;
    }
    ui.success(`Deleted ${chosen.map((s) => visible(s.key)).join(', ')} from ${describeTarget(client, target.path)}.`);
  });
}
