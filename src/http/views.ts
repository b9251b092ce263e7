// Wire shapes of the public API (rest-api §3): camelCase, timestamps in UTC with 6 fractional
// digits (D-18), optional values as null.
import fastJson from 'fast-json-stringify';
import type { App, Environment } from '../store/apps.table.js';
import type { ResolvedSecret } from '../domain/secrets/read-path.js';
import type { OverrideEntry, SecretEntry } from '../domain/secrets/snapshot.js';

/** `2024-06-01T12:00:00.123000Z` */
export function timestamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, -1)}000Z`;
}

export function appView(app: App) {
  return {
    id: app.id,
    name: app.name,
    description: app.description,
    sseEnabled: app.sse_enabled,
    createdAt: timestamp(app.created_at),
    updatedAt: timestamp(app.updated_at),
  };
}

export function environmentView(env: Environment) {
  return {
    id: env.id,
    name: env.name,
    envType: env.env_type,
    index: env.index,
    createdAt: timestamp(env.created_at),
    updatedAt: timestamp(env.updated_at),
  };
}

/**
 * A secret in Phase's camelCase shape, with the key, value, comment and override value given: the
 * plaintext (REST) or the stored ciphertext (client protocol).
 */
export function camelSecretShape(
  entry: SecretEntry,
  text: { key: string; value: string; comment: string },
  override: { entry: OverrideEntry; value: string } | null,
) {
  return {
    id: entry.id,
    key: text.key,
    value: text.value,
    comment: text.comment,
    tags: entry.tags,
    override: override
      ? { id: override.entry.id, value: override.value, isActive: override.entry.isActive, createdAt: timestamp(override.entry.createdAt), updatedAt: timestamp(override.entry.updatedAt) }
      : null,
    type: entry.type,
    lifecycle: 'static',
    path: entry.path,
    keyDigest: entry.keyDigest,
    version: entry.version,
    createdAt: timestamp(entry.createdAt),
    updatedAt: timestamp(entry.updatedAt),
    environment: entry.environmentId,
    folder: entry.folderId,
  };
}

export function secretView({ entry, value, override }: ResolvedSecret) {
  return camelSecretShape(entry, { key: entry.key!, value, comment: entry.comment ?? '' }, override && { entry: override, value: override.resolvedValue });
}

export const overrideSchema = {
  type: ['object', 'null'],
  properties: {
    id: { type: 'string' },
    value: { type: 'string' },
    isActive: { type: 'boolean' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
  required: ['id', 'value', 'isActive', 'createdAt', 'updatedAt'],
} as const;

export const secretSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    key: { type: 'string' },
    value: { type: 'string', description: 'Plaintext with references resolved' },
    comment: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    override: overrideSchema,
    type: { type: 'string', enum: ['secret', 'sealed', 'config'] },
    lifecycle: { type: 'string', enum: ['static', 'rotating'] },
    path: { type: 'string' },
    keyDigest: { type: 'string' },
    version: { type: 'integer' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    environment: { type: 'string', format: 'uuid' },
    folder: { type: ['string', 'null'] },
  },
  required: ['id', 'key', 'value', 'comment', 'tags', 'override', 'type', 'lifecycle', 'path', 'keyDigest', 'version', 'createdAt', 'updatedAt', 'environment', 'folder'],
} as const;

export const secretListSchema = { type: 'array', items: secretSchema } as const;

/** Precompiled serializer for secret arrays (the hot path). */
export const serializeSecrets: (secrets: ReturnType<typeof secretView>[]) => string = fastJson(secretListSchema as never) as never;

export const appSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    sseEnabled: { type: 'boolean' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const environmentSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    envType: { type: 'string', enum: ['dev', 'staging', 'prod', 'custom'] },
    index: { type: 'integer' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const errorSchema = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const;
