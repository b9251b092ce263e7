// /v1/secrets/ (rest-api §4): plaintext secrets of SSE apps, references resolved.
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../../domain/errors.js';
import type { SecretList } from '../../../domain/secrets/secrets.js';
import { readJsonBodyAnyType } from '../../body.js';
import { errorSchema, secretListSchema, secretView, serializeSecrets } from '../../views.js';
import { definePublicRoute } from '../define.js';

const tags = ['secrets'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const context = {
  type: 'object',
  properties: {
    app_id: { type: 'string', format: 'uuid', description: 'App id' },
    env: { type: 'string', description: 'Environment name (case-insensitive)' },
  },
} as const;
const listQuery = {
  type: 'object',
  properties: {
    ...context.properties,
    path: { type: 'string', description: 'Only secrets at exactly this path' },
    key: { type: 'string', description: 'Only secrets with this key (case-insensitive)' },
    tags: { type: 'string', description: 'Comma-separated tag names; a secret matches when it has any' },
  },
} as const;
const secretInput = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    value: { type: 'string' },
    comment: { type: 'string' },
    type: { type: 'string', enum: ['secret', 'sealed', 'config'] },
    tags: { type: 'array', items: { type: 'string' } },
    path: { type: 'string' },
    override: { type: 'object', properties: { value: { type: 'string' }, isActive: { type: 'boolean' } } },
  },
} as const;

/**
 * The serialized list as encoded bytes, memoised on the cached resolved environment per filter
 * selection: a repeated read neither serializes nor UTF-8-encodes the body again.
 */
function render(list: SecretList): Uint8Array {
  const rendered = list.environment.rendered;
  let body = rendered.get(list.selection);
  if (body === undefined) {
    body = Buffer.from(serializeSecrets(list.secrets.map(secretView)), 'utf8');
    if (rendered.size > 64) rendered.clear();
    rendered.set(list.selection, body);
  }
  return body;
}

/** Phase answers other methods on the secrets endpoints with 403, after authentication (§1.3). */
const unsupported = (_call: unknown, method: string): never => {
  throw new DomainError('forbidden', `Unsupported HTTP method: ${method}`);
};

export async function secretRoutes(app: FastifyInstance) {
  const { domain } = app;
  // Coffer has no dynamic secrets: the read's context, method and permission checks, then 404 (§15).
  definePublicRoute(app, {
    url: '/v1/secrets/dynamic/',
    auth: 'query',
    unsupported,
    methods: {
      GET: {
        schema: { tags, summary: 'Dynamic secrets (none in Coffer: 404 after the checks of a read)', querystring: context, response: { ...errors } },
        handler: async (call) => domain.secrets.listDynamic(call),
      },
    },
  });
  definePublicRoute(app, {
    url: '/v1/secrets/',
    auth: 'query',
    unsupported,
    methods: {
      GET: {
        schema: { tags, summary: 'List secrets of an environment (plaintext, references resolved)', querystring: listQuery, response: { 200: secretListSchema, ...errors } },
        handler: async (call, request, reply) => {
          const query = request.query as Record<string, string | undefined>;
          const list = await domain.secrets.list(call, {
            path: query.path,
            key: query.key,
            tags: query.tags,
            dynamic: query.dynamic,
            includeDynamic: query.include_dynamic,
            leaseTtl: query.lease_ttl,
          });
          return reply.type('application/json').send(render(list));
        },
      },
      POST: {
        schema: { tags, summary: 'Create secrets (all or nothing)', querystring: context, body: { type: 'object', required: ['secrets'], properties: { secrets: { type: 'array', items: secretInput } } }, response: { 200: secretListSchema, ...errors } },
        handler: async (call, request, reply) => {
          const created = await domain.secrets.create(call, () => readJsonBodyAnyType(request));
          return reply.type('application/json').send(serializeSecrets(created.map(secretView)));
        },
      },
      PUT: {
        schema: {
          tags,
          summary: 'Update secrets by id (all or nothing; version +1 per entry)',
          querystring: context,
          body: { type: 'object', required: ['secrets'], properties: { secrets: { type: 'array', items: { ...secretInput, required: ['id'], properties: { id: { type: 'string' }, ...secretInput.properties } } } } },
          response: { 200: secretListSchema, ...errors },
        },
        handler: async (call, request, reply) => {
          const updated = await domain.secrets.update(call, () => readJsonBodyAnyType(request));
          return reply.type('application/json').send(serializeSecrets(updated.map(secretView)));
        },
      },
      DELETE: {
        schema: { tags, summary: 'Delete secrets by id (all or nothing)', querystring: context, body: { type: 'object', required: ['secrets'], properties: { secrets: { type: 'array', items: { type: 'string' } } } }, response: { 200: { type: 'object', properties: { message: { type: 'string' } } }, ...errors } },
        handler: async (call, request) => ({ message: await domain.secrets.delete(call, () => readJsonBodyAnyType(request)) }),
      },
    },
  });
}
