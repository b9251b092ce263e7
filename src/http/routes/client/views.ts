// Wire shapes of the client protocol (crypto spec §4.3, §4.4). `/service/secrets/tokens/` is always
// snake_case; `/service/secrets/` is camelCase with `X-Use-Camel-Case: true`, snake_case otherwise.
// Keys, values, comments and override values go out exactly as stored: ciphertext.
import fastJson from 'fast-json-stringify';
import type { ClientSecretItem, ClientSession } from '../../../domain/client-protocol/index.js';
import { camelSecretShape, timestamp } from '../../views.js';

export function camelSecretView({ entry, override }: ClientSecretItem) {
  return camelSecretShape(entry, entry.ciphertext, override && { entry: override, value: override.valueCiphertext });
}

export function snakeSecretView({ entry, override }: ClientSecretItem) {
  return {
    id: entry.id,
    key: entry.ciphertext.key,
    value: entry.ciphertext.value,
    comment: entry.ciphertext.comment,
    tags: entry.tags,
    override: override
      ? { id: override.id, value: override.valueCiphertext, is_active: override.isActive, created_at: timestamp(override.createdAt), updated_at: timestamp(override.updatedAt) }
      : null,
    type: entry.type,
    lifecycle: 'static',
    path: entry.path,
    key_digest: entry.keyDigest,
    version: entry.version,
    created_at: timestamp(entry.createdAt),
    updated_at: timestamp(entry.updatedAt),
    environment: entry.environmentId,
    folder: entry.folderId,
  };
}

function secretSchema(casing: 'camel' | 'snake') {
  const c = (camel: string, snake: string) => (casing === 'camel' ? camel : snake);
  return {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      key: { type: 'string', description: 'ph:v1 ciphertext of the name' },
      value: { type: 'string', description: 'ph:v1 ciphertext' },
      comment: { type: 'string', description: 'ph:v1 ciphertext, or "" for none' },
      tags: { type: 'array', items: { type: 'string' } },
      override: {
        type: ['object', 'null'],
        description: "The caller's personal override (personal access tokens only)",
        properties: {
          id: { type: 'string' },
          value: { type: 'string' },
          [c('isActive', 'is_active')]: { type: 'boolean' },
          [c('createdAt', 'created_at')]: { type: 'string' },
          [c('updatedAt', 'updated_at')]: { type: 'string' },
        },
        required: ['id', 'value', c('isActive', 'is_active'), c('createdAt', 'created_at'), c('updatedAt', 'updated_at')],
      },
      type: { type: 'string', enum: ['secret', 'sealed', 'config'] },
      lifecycle: { type: 'string', enum: ['static', 'rotating'] },
      path: { type: 'string' },
      [c('keyDigest', 'key_digest')]: { type: 'string' },
      version: { type: 'integer' },
      [c('createdAt', 'created_at')]: { type: 'string' },
      [c('updatedAt', 'updated_at')]: { type: 'string' },
      environment: { type: 'string', format: 'uuid' },
      folder: { type: ['string', 'null'] },
    },
    required: [
      'id', 'key', 'value', 'comment', 'tags', 'override', 'type', 'lifecycle', 'path', c('keyDigest', 'key_digest'), 'version',
      c('createdAt', 'created_at'), c('updatedAt', 'updated_at'), 'environment', 'folder',
    ],
  } as const;
}

export const camelSecretListSchema = { type: 'array', items: secretSchema('camel') } as const;
export const snakeSecretListSchema = { type: 'array', items: secretSchema('snake') } as const;

/** Precompiled serializers (the hot path). */
export const serializeCamelSecrets: (items: ReturnType<typeof camelSecretView>[]) => string = fastJson(camelSecretListSchema as never) as never;
export const serializeSnakeSecrets: (items: ReturnType<typeof snakeSecretView>[]) => string = fastJson(snakeSecretListSchema as never) as never;

/**
 * The `/tokens/` answer. Every field the Go client reads is a string or null (it decodes into Go
 * strings); `index` stays a number as Phase sends it (no client reads it as a string).
 */
export function sessionView(session: ClientSession) {
  const principal = session.principal;
  return {
    wrapped_key_share: session.wrappedKeyShare,
    ...(principal.kind === 'member' ? { user_id: principal.memberId } : { account_id: principal.serviceAccountId }),
    offline_enabled: false,
    organisation: { id: session.organisation.id, name: session.organisation.name },
    apps: session.apps.map((app) => ({
      id: app.id,
      name: app.name,
      encryption: app.encryption,
      environment_keys: app.environmentKeys.map((key) => ({
        id: key.id,
        environment: {
          id: key.environment_id,
          name: key.environment_name,
          env_type: key.env_type,
          index: key.environment_index,
          created_at: timestamp(key.environment_created_at),
          updated_at: timestamp(key.environment_updated_at),
        },
        paths: null,
        identity_key: key.identity_key,
        wrapped_seed: key.wrapped_seed,
        wrapped_salt: key.wrapped_salt,
        created_at: timestamp(key.created_at),
        updated_at: timestamp(key.updated_at),
        deleted_at: null,
        user: key.member_id,
        service_account: key.service_account_id,
      })),
    })),
  };
}

export const sessionSchema = {
  type: 'object',
  properties: {
    wrapped_key_share: { type: 'string', description: "hex(raw XChaCha20-Poly1305 of the server key share), opened with the token's wrap key" },
    user_id: { type: 'string', description: 'Member id (personal access tokens)' },
    account_id: { type: 'string', description: 'Service account id (service-account tokens)' },
    offline_enabled: { type: 'boolean' },
    organisation: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
    apps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          encryption: { type: 'string', enum: ['SSE', 'E2E'] },
          environment_keys: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                environment: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    name: { type: 'string' },
                    env_type: { type: 'string' },
                    index: { type: 'integer' },
                    created_at: { type: 'string' },
                    updated_at: { type: 'string' },
                  },
                },
                paths: { type: 'null' },
                identity_key: { type: 'string', description: "The environment's public key" },
                wrapped_seed: { type: 'string', description: 'ph:v1 to the token’s public key' },
                wrapped_salt: { type: 'string', description: 'ph:v1 to the token’s public key' },
                created_at: { type: 'string' },
                updated_at: { type: 'string' },
                deleted_at: { type: 'null' },
                user: { type: ['string', 'null'] },
                service_account: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
    },
  },
} as const;
