// `coffer secrets get KEY`: prints one value (the effective one: your active override, references
// resolved; --raw: as stored). Exactly the value when stdout is not a terminal, so
// `coffer secrets get TLS_KEY > key.pem` writes it byte for byte.
import { createUi } from '../../ui.js';
import { resolveTarget, withSecretsClient, type TargetOptions } from '../../secrets-client.js';
import { normaliseKey, oneNamed, where } from './shared.js';

export interface SecretsGetOptions extends TargetOptions {
  raw?: boolean;
  json?: boolean;
}

export async function secretsGet(name: string, options: SecretsGetOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const key = normaliseKey(name);
  const target = await resolveTarget(options);
  await withSecretsClient(target, { raw: options.raw === true }, async (client) => {
    const secret = oneNamed(client, await client.list({ key, ...(target.path ? { path: target.path } : {}) }), key, target.path);
    if (ui.json) {
      ui.printJson({
        ...where(client, target.path),
        raw: client.raw,
        key: secret.key,
        value: secret.value,
        overridden: secret.overridden,
        path: secret.path,
        type: secret.type,
        tags: secret.tags,
        comment: secret.comment,
        version: secret.version,
      });
      return;
    }
    process.stdout.write(process.stdout.isTTY ? `${secret.value}\n` : secret.value);
  });
}
