// `coffer secrets export`: the environment's secrets as a dotenv, JSON, YAML, CSV or TOML document
// on stdout (or --output FILE, written with mode 0600). Values are what `coffer run` injects (your
// active overrides, references resolved), or as stored with --raw. Every format reads back to the
// same names and values (`coffer secrets import` takes them all).
import fs from 'node:fs/promises';
import { UserError } from '../../errors.js';
import { checkFormat, stringifyEntries } from '../../formats.js';
import { createUi } from '../../ui.js';
import { describeTarget, resolveTarget, splitList, withSecretsClient, type TargetOptions } from '../../secrets-client.js';
import { sortSecrets } from './shared.js';
import { visible } from '../../table.js';

export interface SecretsExportOptions extends TargetOptions {
  format?: string;
  tags?: string;
  raw?: boolean;
  output?: string;
}

export async function secretsExport(options: SecretsExportOptions): Promise<void> {
  const ui = createUi();
  const format = checkFormat(options.format ?? 'dotenv');
  const tags = splitList(options.tags);
  const target = await resolveTarget(options);
  await withSecretsClient(target, { raw: options.raw === true }, async (client) => {
    const secrets = sortSecrets(await client.list({ ...(target.path ? { path: target.path } : {}), ...(tags ? { tags } : {}) }));
    const entries = flatten(secrets, describeTarget(client));
    const text = stringifyEntries(format, entries);
    if (!options.output) {
      process.stdout.write(text);
      return;
    }
    await writePrivately(options.output, text);
    ui.success(`Wrote ${entries.length} secret${entries.length === 1 ? '' : 's'} of ${describeTarget(client, target.path)} to ${options.output} (${format}, mode 0600).`);
  });
}

/**
 * Writes secrets to a file readable by its owner only, before the first byte: an existing file
 * keeps its mode when it is opened, so it is narrowed to 0600 first (writing, then changing the
 * mode, left the secrets readable by others in between).
 */
async function writePrivately(file: string, text: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(file, 'w', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new UserError(`cannot write ${file}: ${why}`, '--output names the file to write (its directory must exist)');
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** One value per name: a name at several paths needs --path to say which. */
export function flatten(secrets: ReadonlyArray<{ key: string; value: string; path: string }>, where: string): Array<{ key: string; value: string }> {
  const byKey = new Map<string, { value: string; path: string }>();
  for (const s of secrets) {
    const seen = byKey.get(s.key);
    if (seen) {
      const paths = secrets.filter((other) => other.key === s.key).map((other) => visible(other.path));
      throw new UserError(`${visible(s.key)} exists at several paths in ${where} (${paths.join(', ')})`, 'pass --path to choose one');
    }
    byKey.set(s.key, { value: s.value, path: s.path });
  }
  return [...byKey].map(([key, v]) => ({ key, value: v.value }));
}
