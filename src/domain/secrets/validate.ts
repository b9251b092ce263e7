// Validation of secret write batches, in Phase's order and with its messages (rest-api §4.3–§4.5).
// Everything here runs before anything is written; checks that need the database (duplicates,
// existence) run afterwards in the write transaction, in the order the spec gives.
import { invalid } from '../errors.js';
import type { SecretType } from '../../store/secrets.table.js';
import { checkFolderNames, normalisePath } from './paths.js';
import { isPythonBlank, pythonLiteral, pythonStr } from './python-literal.js';
import { processTags } from './tags.js';

export const SECRET_TYPES: readonly SecretType[] = ['secret', 'sealed', 'config'];

/**
 * Most entries one POST, PUT or DELETE batch may hold (REST and client protocol; Coffer's limit, see
 * docs/security.md): a batch is one transaction holding the environment's lock, so an unbounded one
 * would stall every other writer of the environment.
 */
export const MAX_BATCH_SIZE = 1000;

export function checkBatchSize(entries: readonly unknown[]): void {
  if (entries.length > MAX_BATCH_SIZE) {
    throw invalid(`Too many secrets in one request: at most ${MAX_BATCH_SIZE} per batch (got ${entries.length}). Split the batch.`);
  }
}

export interface OverrideInput {
  value: string;
  isActive: boolean;
}

export interface CreateEntry {
  /** Upper-cased (rest-api §5.1). */
  key: string;
  value: string;
  comment: string;
  type: SecretType;
  path: string;
  tags: string[];
  tooLongTag?: string | undefined;
  override?: OverrideInput | undefined;
}

export interface UpdateEntry {
  id: string;
  key?: string | undefined;
  value?: string | undefined;
  comment?: string | undefined;
  type?: SecretType | undefined;
  path?: string | undefined;
  tags?: string[] | undefined;
  tooLongTag?: string | undefined;
  override?: OverrideInput | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireSecretsList(body: Record<string, unknown>): unknown[] {
  const secrets = body.secrets;
  if (!Array.isArray(secrets) || secrets.length === 0) throw invalid("'secrets' must be a non-empty list.");
  checkBatchSize(secrets);
  return secrets;
}

function checkType(type: unknown): void {
  if (type === undefined || type === null) return;
  if (typeof type !== 'string' || !SECRET_TYPES.includes(type as SecretType)) {
    throw invalid(`Invalid 'type': ${pythonLiteral(type)}. Must be one of ['config', 'sealed', 'secret'].`);
  }
}

function parseOverride(entry: Record<string, unknown>): OverrideInput | undefined {
  if (!('override' in entry)) return undefined;
  const override = entry.override;
  if (!isObject(override)) throw invalid("'override' must be a JSON object.");
  if (typeof override.value !== 'string') throw invalid("'override.value' must be a string.");
  if (typeof override.isActive !== 'boolean') throw invalid("'override.isActive' must be a boolean.");
  return { value: override.value, isActive: override.isActive };
}

/** Tag names are stored as text, which PostgreSQL refuses with NUL in it (Phase crashes; Coffer message). */
export const NUL_IN_TAG = 'Tag names cannot contain NUL (0x00) characters.';

export function hasNul(text: string): boolean {
  return text.includes('\u0000');
}

/**
 * Text that is not well-formed UTF-16 (an unpaired surrogate, which JSON can carry as `\ud800`) cannot
 * be encrypted as UTF-8 without changing it: Phase crashes, Coffer refuses it (Coffer message) rather
 * than store U+FFFD and answer with the original.
 */
const UNPAIRED_SURROGATE = /\p{Surrogate}/u;
export const wellFormed = (text: string) => !UNPAIRED_SURROGATE.test(text);

/** 400 when a string field is not well-formed UTF-16 (REST and client protocol). */
export function checkWellFormedField(field: string, text: unknown): void {
  if (typeof text === 'string' && !wellFormed(text)) throw invalid(`'${field}' must not contain unpaired surrogates.`);
}

/** 400 when a tag name cannot be stored as text: NUL, then unpaired surrogates (REST and client protocol). */
export function checkTagNames(names: readonly string[] | undefined): void {
  if (names?.some(hasNul)) throw invalid(NUL_IN_TAG);
  checkWellFormedTags(names);
}

function checkWellFormedTags(names: readonly string[] | undefined): void {
  if (names?.some((name) => !wellFormed(name))) throw invalid("'tags' must not contain unpaired surrogates.");
}

function checkWellFormed(entry: Record<string, unknown>, override: OverrideInput | undefined, tags: readonly string[] | undefined): void {
  for (const field of ['key', 'value', 'comment', 'path'] as const) checkWellFormedField(field, entry[field]);
  if (override) checkWellFormedField('override.value', override.value);
  checkWellFormedTags(tags);
}

/** Phase tests `key.strip()`: Python's whitespace, not JavaScript's. */
function hasNonWhitespace(text: string): boolean {
  return !isPythonBlank(text);
}

/** POST /v1/secrets/ body → entries, or the first 400 in Phase's order. */
export function validateCreateBatch(body: Record<string, unknown>): CreateEntry[] {
  const secrets = requireSecretsList(body);
  // Step 2: a-e for each entry before moving to the next.
  const overrides: Array<OverrideInput | undefined> = [];
  for (const entry of secrets) {
    if (!isObject(entry)) throw invalid("Each entry in 'secrets' must be an object.");
    if (typeof entry.key !== 'string' || !hasNonWhitespace(entry.key)) throw invalid("Each secret requires a non-empty 'key'.");
    if (typeof entry.value !== 'string') throw invalid("Each secret requires a 'value' string.");
    checkType(entry.type);
    overrides.push(parseOverride(entry));
  }
  // Step 3: the field types Phase does not check (DEVIATION D-7).
  return secrets.map((raw, index) => {
    const entry = raw as Record<string, unknown>;
    if (entry.comment !== undefined && entry.comment !== null && typeof entry.comment !== 'string') throw invalid("'comment' must be a string.");
    if (entry.path !== undefined && entry.path !== null && typeof entry.path !== 'string') throw invalid("'path' must be a string.");
    if (entry.tags !== undefined && entry.tags !== null && !Array.isArray(entry.tags)) throw invalid("'tags' must be a list of strings.");
    const path = normalisePath(typeof entry.path === 'string' ? entry.path : '/');
    checkFolderNames(path);
    const tags = processTags(Array.isArray(entry.tags) ? entry.tags : []);
    if (tags.names.some(hasNul)) throw invalid(NUL_IN_TAG);
    checkWellFormed(entry, overrides[index], tags.names);
    return {
      key: (entry.key as string).toUpperCase(),
      value: entry.value as string,
      comment: typeof entry.comment === 'string' ? entry.comment : '',
      type: (entry.type ?? 'secret') as SecretType,
      path,
      tags: tags.names,
      tooLongTag: tags.tooLong,
      override: overrides[index],
    };
  });
}

/** PUT /v1/secrets/ body → entries (null = absent for key, value, comment, type, path). */
export function validateUpdateBatch(body: Record<string, unknown>): UpdateEntry[] {
  const secrets = requireSecretsList(body);
  const overrides: Array<OverrideInput | undefined> = [];
  for (const entry of secrets) {
    if (!isObject(entry) || !('id' in entry)) throw invalid('Secret ID not provided');
    checkType(entry.type);
    overrides.push(parseOverride(entry));
  }
  return secrets.map((raw, index) => {
    const entry = raw as Record<string, unknown>;
    for (const field of ['key', 'value', 'comment', 'path'] as const) {
      const value = entry[field];
      if (value !== undefined && value !== null && typeof value !== 'string') throw invalid(`'${field}' must be a string.`);
    }
    if (entry.tags !== undefined && entry.tags !== null && !Array.isArray(entry.tags)) throw invalid("'tags' must be a list of strings.");
    const path = typeof entry.path === 'string' ? normalisePath(entry.path) : undefined;
    if (path !== undefined) checkFolderNames(path);
    if (typeof entry.key === 'string' && !hasNonWhitespace(entry.key)) throw invalid("Each secret requires a non-empty 'key'.");
    // `tags: null` removes every tag; absent leaves them unchanged.
    const tags = 'tags' in entry ? processTags(Array.isArray(entry.tags) ? entry.tags : []) : undefined;
    if (tags?.names.some(hasNul)) throw invalid(NUL_IN_TAG);
    checkWellFormed(entry, overrides[index], tags?.names);
    return {
      // As Phase interpolates it into `Secret not found: <id>` (a non-string id names no secret).
      id: pythonStr(entry.id),
      key: typeof entry.key === 'string' ? entry.key.toUpperCase() : undefined,
      value: typeof entry.value === 'string' ? entry.value : undefined,
      comment: typeof entry.comment === 'string' ? entry.comment : undefined,
      type: typeof entry.type === 'string' ? (entry.type as SecretType) : undefined,
      path,
      tags: tags?.names,
      tooLongTag: tags?.tooLong,
      override: overrides[index],
    };
  });
}

/** DELETE /v1/secrets/ body → ids. */
export function validateDeleteBatch(body: Record<string, unknown>): string[] {
  const secrets = body.secrets;
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((id) => typeof id === 'string')) {
    throw invalid("'secrets' must be a non-empty list of secret IDs.");
  }
  checkBatchSize(secrets);
  return secrets as string[];
}
