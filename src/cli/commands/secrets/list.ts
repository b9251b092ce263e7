// `coffer secrets list`: the secrets of an environment; values masked unless --show.
import { createUi } from '../../ui.js';
import { describeTarget, resolveTarget, splitList, withSecretsClient, type TargetOptions } from '../../secrets-client.js';
import { cell, MASK, printTable, visible } from '../../table.js';
import { sortSecrets, where } from './shared.js';

export interface SecretsListOptions extends TargetOptions {
  tags?: string;
  show?: boolean;
  json?: boolean;
}

export async function secretsList(options: SecretsListOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const target = await resolveTarget(options);
  await withSecretsClient(target, {}, async (client) => {
    const tags = splitList(options.tags);
    const secrets = sortSecrets(await client.list({ ...(target.path ? { path: target.path } : {}), ...(tags ? { tags } : {}) }));
    if (ui.json) {
      ui.printJson({
        ...where(client, target.path),
        data: secrets.map((s) => ({
          id: s.id,
          key: s.key,
          ...(options.show ? { value: s.value } : {}),
          overridden: s.overridden,
          path: s.path,
          type: s.type,
          tags: s.tags,
          comment: s.comment,
          version: s.version,
          updatedAt: s.updatedAt,
        })),
      });
      return;
    }
    if (secrets.length === 0) {
      process.stdout.write(`${visible(`No secrets in ${describeTarget(client, target.path)}${tags ? ` tagged ${tags.join(' or ')}` : ''}.`)}\n`);
      return;
    }
    printTable(
      ['KEY', 'VALUE', 'PATH', 'TYPE', 'TAGS', 'COMMENT'],
      secrets.map((s) => [
        cell(s.key, 200),
        `${options.show ? cell(s.value) : MASK}${s.overridden ? ' (override)' : ''}`,
        cell(s.path, 200),
        cell(s.type),
        cell(s.tags.join(','), 200),
        cell(s.comment, 40),
      ]),
    );
    if (!options.show) process.stderr.write(`${secrets.length} secret${secrets.length === 1 ? '' : 's'} in ${visible(describeTarget(client, target.path))}; --show prints the values.\n`);
  });
}
