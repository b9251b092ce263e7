// Validation of the client protocol's write batches (crypto spec §4.5–§4.7). The server never sees
// plaintext here: keys, values, comments and override values are ph:v1 ciphertexts made by the
// client, checked for shape only and stored verbatim; key digests are stored exactly as sent.
import type { Ciphertext } from '../../crypto/index.js';
import { asUuid } from '../../store/directory.js';
import type { SecretType } from '../../store/secrets.table.js';
import { invalid } from '../errors.js';
import { checkFolderNames, normalisePath } from '../secrets/paths.js';
import { pythonLiteral } from '../secrets/python-literal.js';
import { processTags } from '../secrets/tags.js';
import { checkBatchSize, checkTagNames, checkWellFormedField, SECRET_TYPES } from '../secrets/validate.js';

export const INVALID_CIPHERTEXT = 'Invalid ciphertext format';

/**
 * Phase's check is `ph:v1:[0-9a-fA-F]{64}:.+` anchored at the start. Coffer also anchors the end and
 * allows only what libsodium's decoder (the SDKs') reads in the body: padded, canonical standard
 * base64 of at least a nonce and a MAC. Anything else (a fifth `:` part, stray characters, base64
 * without its `=`, a body too short to hold a box) would be stored and then break every Node SDK
 * `get()` of the environment (the SDK fails the whole read on one bad field). Every official
 * client's output matches.
 */
const CIPHERTEXT = /^ph:v1:[0-9a-fA-F]{64}:([A-Za-z0-9+/]+={0,2})$/;
const KEY_DIGEST = /^[0-9a-fA-F]{64}$/;
/** The nonce (24 bytes) and the MAC (16) that every ph:v1 body holds, whatever it encrypts. */
const MIN_BODY_BYTES = 40;

export function isCiphertext(value: unknown): value is Ciphertext {
  if (typeof value !== 'string') return false;
  const body = CIPHERTEXT.exec(value)?.[1];
  if (body === undefined) return false;
  // Node's decoder is lenient: the body is canonical exactly when encoding its bytes gives it back.
  const bytes = Buffer.from(body, 'base64');
  return bytes.length >= MIN_BODY_BYTES && bytes.toString('base64') === body;
}

export interface OverrideCiphertext {
  value: Ciphertext;
  isActive: boolean;
}

export interface CiphertextCreateEntry {
  key: Ciphertext;
  value: Ciphertext;
  /** "" for no comment, as clients send it. */
  comment: Ciphertext;
  keyDigest: string;
  path: string;
  tags: string[];
  tooLongTag?: string | undefined;
  type: SecretType;
  override?: OverrideCiphertext | undefined;
}

export interface CiphertextUpdateEntry {
  id: string;
  key?: { ciphertext: Ciphertext; keyDigest: string } | undefined;
  value?: Ciphertext | undefined;
  comment?: Ciphertext | undefined;
  path?: string | undefined;
  /** Absent: unchanged (Phase clears them; every official client sends them). */
  tags?: string[] | undefined;
  tooLongTag?: string | undefined;
  type?: SecretType | undefined;
  override?: OverrideCiphertext | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function given(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * `secrets` of a POST or PUT. An empty list is allowed: Phase loops over it and answers 200, and the
 * Node SDK's create([]) and update([]) never settle on anything else (crypto spec §4.5, §4.6, §4.10).
 */
function secretsList(body: Record<string, unknown>): unknown[] {
  const secrets = body.secrets;
  if (!Array.isArray(secrets)) throw invalid("'secrets' must be a list.");
  checkBatchSize(secrets);
  return secrets;
}

function ciphertext(value: unknown, field: string, options: { required: boolean; allowEmpty: boolean }): Ciphertext | undefined {
  if (!given(value)) {
    if (options.required) throw invalid(`Missing required field: ${field}`);
    return undefined;
  }
  if (options.allowEmpty && value === '') return '' as Ciphertext;
  if (!isCiphertext(value)) throw invalid(INVALID_CIPHERTEXT);
  return value;
}

function keyDigest(value: unknown, required: boolean): string | undefined {
  if (!given(value)) {
    if (required) throw invalid('Missing required field: keyDigest');
    return undefined;
  }
  if (typeof value !== 'string' || !KEY_DIGEST.test(value)) throw invalid("'keyDigest' must be 64 hexadecimal characters.");
  return value;
}

function secretType(value: unknown): SecretType | undefined {
  if (!given(value)) return undefined;
  if (typeof value !== 'string' || !SECRET_TYPES.includes(value as SecretType)) {
    throw invalid(`Invalid 'type': ${pythonLiteral(value)}. Must be one of ['config', 'sealed', 'secret'].`);
  }
  return value as SecretType;
}

function path(value: unknown): string | undefined {
  if (!given(value)) return undefined;
  if (typeof value !== 'string') throw invalid("'path' must be a string.");
  const normalised = normalisePath(value === '' ? '/' : value);
  checkFolderNames(normalised);
  checkWellFormedField('path', value);
  return normalised;
}

function tags(value: unknown): { names: string[]; tooLong?: string } {
  if (!given(value)) return { names: [] };
  if (!Array.isArray(value)) throw invalid("'tags' must be a list of strings.");
  const processed = processTags(value);
  // Stored as text, as on the REST route: PostgreSQL refuses NUL, and a lone surrogate is no UTF-8.
  checkTagNames(processed.names);
  return processed;
}

function override(value: unknown): OverrideCiphertext | undefined {
  if (!given(value)) return undefined;
  if (!isObject(value)) throw invalid("'override' must be a JSON object.");
  // Every reader decrypts override.value whenever an override exists: "" is not a valid value here.
  const ciphertextValue = ciphertext(value.value, 'override.value', { required: true, allowEmpty: false })!;
  const isActive = value.isActive ?? value.is_active;
  if (typeof isActive !== 'boolean') throw invalid("'override.isActive' must be a boolean.");
  return { value: ciphertextValue, isActive };
}

/** POST /service/secrets/ body → entries, or the first 400. */
export function validateCiphertextCreateBatch(body: Record<string, unknown>): CiphertextCreateEntry[] {
  return secretsList(body).map((raw) => {
    if (!isObject(raw)) throw invalid("Each entry in 'secrets' must be an object.");
    const processed = tags(raw.tags);
    return {
      key: ciphertext(raw.key, 'key', { required: true, allowEmpty: false })!,
      value: ciphertext(raw.value, 'value', { required: true, allowEmpty: false })!,
      comment: ciphertext(raw.comment, 'comment', { required: true, allowEmpty: true })!,
      keyDigest: keyDigest(raw.keyDigest, true)!,
      path: path(raw.path) ?? '/',
      tags: processed.names,
      tooLongTag: processed.tooLong,
      type: secretType(raw.type) ?? 'secret',
      override: override(raw.override),
    };
  });
}

/** PUT /service/secrets/ body → entries: fields not sent keep their stored value. */
export function validateCiphertextUpdateBatch(body: Record<string, unknown>): CiphertextUpdateEntry[] {
  return secretsList(body).map((raw) => {
    if (!isObject(raw) || typeof raw.id !== 'string' || raw.id === '') throw invalid('Secret ID not provided');
    const key = ciphertext(raw.key, 'key', { required: false, allowEmpty: false });
    const digest = keyDigest(raw.keyDigest, false);
    if (key !== undefined && digest === undefined) throw invalid("'keyDigest' is required when 'key' is given.");
    if (key === undefined && digest !== undefined) throw invalid("'key' is required when 'keyDigest' is given.");
    const processed = 'tags' in raw ? tags(raw.tags) : undefined;
    return {
      id: raw.id,
      key: key === undefined ? undefined : { ciphertext: key, keyDigest: digest! },
      value: ciphertext(raw.value, 'value', { required: false, allowEmpty: false }),
      comment: ciphertext(raw.comment, 'comment', { required: false, allowEmpty: true }),
      path: path(raw.path),
      tags: processed?.names,
      tooLongTag: processed?.tooLong,
      type: secretType(raw.type),
      override: override(raw.override),
    };
  });
}

/** DELETE /service/secrets/ body → ids (strings; ids that match nothing here are ignored later). */
export function validateCiphertextDeleteBatch(body: Record<string, unknown>): string[] {
  const secrets = body.secrets;
  // An empty list is allowed: Phase answers 200 to a delete that matches nothing (crypto spec §4.7).
  if (!Array.isArray(secrets) || !secrets.every((id) => typeof id === 'string')) {
    throw invalid("'secrets' must be a list of secret IDs.");
  }
  checkBatchSize(secrets);
  return secrets as string[];
}

/** An environment's seed and salt, each wrapped (`ph:v1`) to one recipient. */
export interface WrappedEnvironmentKeys {
  wrappedSeed: string;
  wrappedSalt: string;
}

/**
 * `[{id, wrappedSeed, wrappedSalt}]` of enabling SSE and of E2EE grants: environments of the app
 * (`environmentIds`, canonical), each once, with well-formed ciphertexts; keyed by canonical id.
 */
export function parseWrappedEnvironmentKeys(entries: readonly unknown[], environmentIds: ReadonlySet<string>): Map<string, WrappedEnvironmentKeys> {
  const given = new Map<string, WrappedEnvironmentKeys>();
  for (const entry of entries) {
    if (!isObject(entry) || typeof entry.id !== 'string') throw invalid("Each entry in 'environments' must be an object with an 'id'.");
    const id = asUuid(entry.id);
    if (!id || !environmentIds.has(id)) throw invalid(`Environment ${entry.id} is not an environment of this app.`);
    if (given.has(id)) throw invalid(`Environment ${entry.id} is listed twice.`);
    if (!isCiphertext(entry.wrappedSeed) || !isCiphertext(entry.wrappedSalt)) throw invalid(INVALID_CIPHERTEXT);
    given.set(id, { wrappedSeed: entry.wrappedSeed, wrappedSalt: entry.wrappedSalt });
  }
  return given;
}
