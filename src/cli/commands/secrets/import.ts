// `coffer secrets import FILE`: every name and value of a .env (or JSON, YAML, CSV, TOML) file into
// one environment and path.
//
// Atomicity (docs/cli.md): new names go in ONE POST batch, which the server applies all-or-nothing.
// Names that already exist are refused (nothing is written) unless --overwrite, which updates them
// in a PUT batch before the POST batch. Each batch is atomic; the two together are not: if the POST
// fails after the PUT, the updates stay, and running the same import again finishes it.
import fs from 'node:fs/promises';
import { UserError } from '../../errors.js';
import { checkFormat, formatOfFile, parseEntries } from '../../formats.js';
import { progressBar } from '../../progress.js';
import { createUi } from '../../ui.js';
import { checkType, describeTarget, resolveTarget, splitList, withSecretsClient, type TargetOptions } from '../../secrets-client.js';
import { normaliseKey, utf8Text, where } from './shared.js';
import { applyWrites, checkDistinct, planWrites } from './write.js';
import { visible } from '../../table.js';

export interface SecretsImportOptions extends TargetOptions {
  format?: string;
  overwrite?: boolean;
  tags?: string;
  type?: string;
  json?: boolean;
}

export async function secretsImport(file: string, options: SecretsImportOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const format = options.format ? checkFormat(options.format) : formatOfFile(file);
  const type = checkType(options.type);
  const tags = splitList(options.tags);
  const text = await readInput(file);
  let parsed;
  try {
    parsed = parseEntries(format, text);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(`${file === '-' ? 'standard input' : file}: ${error.message}`, error.hint);
    throw error;
  }
  if (parsed.length === 0) throw new UserError(`${file === '-' ? 'standard input' : file} holds no secrets`, `is it a ${format} file? --format chooses another`);
  const entries = parsed.map((e) => ({ key: normaliseKey(e.key), value: e.value }));
  checkDistinct(entries.map((e) => e.key), file === '-' ? 'standard input' : file);

  const target = await resolveTarget(options);
  const path = target.path ?? '/';
  await withSecretsClient(target, {}, async (client) => {
    const existing = await client.list({ path, resolve: false });
    const clashes = entries.filter((e) => existing.some((s) => s.key === e.key));
    if (clashes.length > 0 && !options.overwrite) {
      const names = clashes.slice(0, 8).map((e) => visible(e.key)).join(', ') + (clashes.length > 8 ? `, and ${clashes.length - 8} more` : '');
      throw new UserError(
        `${clashes.length} of the ${entries.length} names already exist in ${describeTarget(client, path)} (${names}); nothing was imported`,
        'pass --overwrite to update them too (a second batch; see docs/cli.md), or import into an empty environment or path',
      );
    }
    const plan = planWrites(client, existing, entries, path, { ...(tags ? { tags } : {}), ...(type ? { type } : {}) });
    const bar = progressBar(entries.length, { json: ui.json });
    try {
      await applyWrites(client, plan, (written, stage) => bar.update(written, stage));
    } finally {
      bar.stop();
    }
    const created = plan.creates.map((c) => c.key);
    const updated = plan.updates.map((u) => u.key);
    if (ui.json) {
      ui.printJson({ ...where(client, path), format, created, updated });
      return;
    }
    ui.success(
      `Imported ${entries.length} secret${entries.length === 1 ? '' : 's'} into ${describeTarget(client, path)}: ${created.length} created${updated.length ? `, ${updated.length} updated` : ''}.`,
    );
  });
}

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    if (process.stdin.isTTY) throw new UserError('`-` reads the file from standard input, but stdin is a terminal', 'pipe it in: coffer secrets import - < .env');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return utf8Text(Buffer.concat(chunks), 'standard input', NOT_UTF8_HINT);
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${(error as Error).message}`, 'check the path');
  }
  return utf8Text(bytes, file, NOT_UTF8_HINT);
}

const NOT_UTF8_HINT = 'save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8); store binary values base64-encoded with `coffer secrets set`';
