// `coffer secrets set KEY=VALUE... | KEY`: creates or updates secrets at one path (default /).
// A bare KEY takes its value from standard input (multi-line values, files: `coffer secrets set
// TLS_CERT < cert.pem`; one trailing newline is removed) or, on a terminal, from a hidden prompt.
import { UserError } from '../../errors.js';
import { createUi, type Ui } from '../../ui.js';
import { checkType, describeTarget, resolveTarget, splitList, withSecretsClient, type TargetOptions } from '../../secrets-client.js';
import { normaliseKey, utf8Text, where } from './shared.js';
import { applyWrites, checkDistinct, planWrites } from './write.js';
import { visible } from '../../table.js';

export interface SecretsSetOptions extends TargetOptions {
  comment?: string;
  type?: string;
  tags?: string;
  json?: boolean;
}

export async function secretsSet(pairs: string[], options: SecretsSetOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const type = checkType(options.type);
  const tags = splitList(options.tags);
  const bare = pairs.filter((p) => !p.includes('='));
  if (bare.length > 1) throw new UserError(`only one name can take its value from standard input, not ${bare.length} (${bare.map(visible).join(', ')})`, 'write the others as KEY=VALUE');
  const values: Array<{ key: string; value: string }> = [];
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at === -1) values.push({ key: normaliseKey(pair), value: await readValue(ui, pair) });
    else values.push({ key: normaliseKey(pair.slice(0, at)), value: pair.slice(at + 1) });
  }
  // Node decodes arguments leniently: bytes that are not UTF-8 arrive as U+FFFD, which cannot be told
  // from one typed on purpose. Said, not refused; standard input refuses such bytes.
  for (const { key, value } of values) {
    if (pairs.includes(`${key}=${value}`) && value.includes('\uFFFD')) {
      ui.warn(`the value of ${visible(key)} holds U+FFFD (�): if the argument had bytes that are not UTF-8, they were replaced; pass the value on standard input (coffer secrets set ${visible(key)} < FILE) to have them refused instead`);
    }
  }
  checkDistinct(values.map((v) => v.key), 'this command');
  const target = await resolveTarget(options);
  const path = target.path ?? '/';
  await withSecretsClient(target, {}, async (client) => {
    const existing = await client.list({ path, resolve: false });
    const plan = planWrites(client, existing, values, path, {
      ...(options.comment !== undefined ? { comment: options.comment } : {}),
      ...(tags !== undefined ? { tags } : {}),
      ...(type !== undefined ? { type } : {}),
    });
    await applyWrites(client, plan);
    const created = plan.creates.map((c) => c.key);
    const updated = plan.updates.map((u) => u.key);
    if (ui.json) {
      ui.printJson({ ...where(client, path), created, updated });
      return;
    }
    const parts = [created.length ? `created ${created.map(visible).join(', ')}` : '', updated.length ? `updated ${updated.map(visible).join(', ')}` : ''].filter(Boolean);
    ui.success(`${describeTarget(client, path)}: ${parts.join('; ')}.`);
  });
}

async function readValue(ui: Ui, key: string): Promise<string> {
  if (process.stdin.isTTY) {
    if (!ui.interactive) throw new UserError(`no value for ${key}`, `write ${key}=VALUE, or pipe the value in: printf %s "$VALUE" | coffer secrets set ${key}`);
    return ui.password({ message: `Value of ${key.toUpperCase()}` });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = utf8Text(Buffer.concat(chunks), `the value of ${key} on standard input`, `store binary data base64-encoded: base64 < FILE | coffer secrets set ${key}`);
  return text.replace(/\r?\n$/, '');
}
