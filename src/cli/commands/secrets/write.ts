// Creating or updating named secrets at one path: the REST API (and the client protocol) create
// with POST and update with PUT, and no single request does both. So a write is planned first
// (which names exist), then sent as at most two batches, each atomic on the server: the PUT of the
// existing names, then the POST of the new ones. If the POST fails after the PUT succeeded, the
// updates stay; running the same command again finishes the job (everything then exists and is
// updated). See docs/cli.md.
import { UserError } from '../../errors.js';
import { describeTarget, type Secret, type SecretInput, type SecretsClient, type SecretType, type SecretUpdate } from '../../secrets-client.js';
import { visible } from '../../table.js';

export interface WriteFields {
  comment?: string;
  tags?: string[];
  type?: SecretType;
}

export interface WritePlan {
  creates: SecretInput[];
  updates: Array<SecretUpdate & { key: string }>;
}

export function planWrites(client: SecretsClient, existing: readonly Secret[], values: ReadonlyArray<{ key: string; value: string }>, path: string, fields: WriteFields): WritePlan {
  const plan: WritePlan = { creates: [], updates: [] };
  for (const { key, value } of values) {
    const current = existing.find((s) => s.key === key && s.path === path);
    if (!current) {
      plan.creates.push({ key, value, path, ...fields });
      continue;
    }
    if (current.type === 'sealed' && fields.type !== undefined && fields.type !== 'sealed') {
      throw new UserError(`${key} is sealed and cannot become '${fields.type}'`, 'delete it and set it again');
    }
    if (current.type === 'sealed') {
      throw new UserError(`${key} in ${describeTarget(client, path)} is sealed: its value can no longer change`, `delete it (\`coffer secrets delete ${key}\`) and set it again`);
    }
    plan.updates.push({ id: current.id, key, value, ...fields });
  }
  return plan;
}

/** The server writes (and deletes) at most this many secrets in one request (MAX_BATCH_SIZE). */
export const MAX_BATCH = 1000;

/** Refused before anything is sent: one batch holds at most MAX_BATCH, and splitting it would break all-or-nothing. */
export function checkBatchSize(count: number, what: string, hint: string): void {
  if (count > MAX_BATCH) throw new UserError(`${what} ${count} secrets, but the server takes at most ${MAX_BATCH} in one all-or-nothing batch; nothing was written`, hint);
}

/**
 * Names, values, comments and tags must be text: a lone UTF-16 surrogate (JSON and YAML files can
 * spell one, `"\ud800"`) has no UTF-8 form. The server refuses it in SSE apps; in E2EE apps it is
 * encrypted here, where encoding would silently replace it with U+FFFD. Refused before anything
 * is sent, for both.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

export function checkWellFormed(plan: WritePlan): void {
  for (const entry of [...plan.updates, ...plan.creates]) {
    const fields: Array<[string, string | undefined]> = [
      ['name', entry.key],
      ['value', entry.value],
      ['comment', entry.comment],
      ...(entry.tags ?? []).map((tag): [string, string] => ['tag', tag]),
    ];
    for (const [field, text] of fields) {
      if (text !== undefined && LONE_SURROGATE.test(text)) {
        throw new UserError(`the ${field} of ${visible(entry.key.replace(/\p{Surrogate}/gu, '\uFFFD'))} holds an unpaired UTF-16 surrogate, which is not text; nothing was written`, 'fix the file: \\ud800-\\udfff escapes must come in pairs');
      }
    }
  }
}

/** PUT batch, then POST batch (each all-or-nothing on the server); `progress` hears how many are written. */
export async function applyWrites(client: SecretsClient, plan: WritePlan, progress: (written: number, stage: string) => void = () => {}): Promise<void> {
  checkWellFormed(plan);
  const hint = `split the file (or the command) into parts of at most ${MAX_BATCH} names and write each; each part is then all or nothing on its own`;
  checkBatchSize(plan.creates.length, 'this would create', hint);
  checkBatchSize(plan.updates.length, 'this would update', hint);
  let written = 0;
  if (plan.updates.length > 0) {
    progress(written, `updating ${plan.updates.length} existing in one batch`);
    await client.update(plan.updates.map(({ key: _key, ...update }) => update));
    written += plan.updates.length;
  }
  if (plan.creates.length > 0) {
    progress(written, `creating ${plan.creates.length} in one batch`);
    try {
      await client.create(plan.creates);
    } catch (error) {
      if (plan.updates.length > 0 && error instanceof UserError) {
        throw new UserError(
          `${plan.updates.length} existing secret(s) were updated (${namesOf(plan.updates)}), but creating the ${plan.creates.length} new one(s) (${namesOf(plan.creates)}) failed, so none of those exists: ${error.message}`,
          'fix the cause and run the same command again: it updates what now exists and creates the rest',
        );
      }
      throw error;
    }
    written += plan.creates.length;
  }
  progress(written, 'done');
}

/** Up to 10 names, then how many more: enough to know what changed without a screenful. */
function namesOf(entries: ReadonlyArray<{ key: string }>): string {
  const shown = entries.slice(0, 10).map((e) => visible(e.key)).join(', ');
  return entries.length > 10 ? `${shown} and ${entries.length - 10} more` : shown;
}

/** Names after upper-casing must be unique in one write. */
export function checkDistinct(keys: readonly string[], where: string): void {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const key of keys) (seen.has(key) ? repeated : seen).add(key);
  if (repeated.size > 0) throw new UserError(`${where} names ${[...repeated].map(visible).join(', ')} more than once (names are upper-cased)`, 'keep one of each');
}
