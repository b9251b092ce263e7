// /v1/service-accounts/ (rest-api §10)
import type { FastifyInstance } from 'fastify';
import { methodNotAllowed } from '../../../domain/errors.js';
import {
  appsAccessSchema,
  createdTokenSchema,
  createdTokenView,
  serviceAccountDetailSchema,
  serviceAccountDetailView,
  serviceAccountSchema,
  serviceAccountView,
} from '../../account-views.js';
import { readJsonBody } from '../../body.js';
import { floatLiteralKeysOf } from '../../json-literals.js';
import { errorSchema } from '../../views.js';
import { definePublicRoute } from '../define.js';

const tags = ['service accounts'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 405: errorSchema };
const saParam = { type: 'object', properties: { sa_id: { type: 'string', format: 'uuid' } } } as const;
const tokenParams = { type: 'object', properties: { sa_id: { type: 'string', format: 'uuid' }, token_id: { type: 'string', format: 'uuid' } } } as const;

function saIdOf(params: unknown): string {
  return (params as { sa_id: string }).sa_id;
}

export async function serviceAccountRoutes(app: FastifyInstance) {
  const { domain } = app;
  const accounts = domain.serviceAccounts;

  definePublicRoute(app, {
    url: '/v1/service-accounts/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'List service accounts (newest first)', response: { 200: { type: 'object', properties: { data: { type: 'array', items: serviceAccountSchema } } }, ...errors } },
        handler: async (call) => ({ data: (await accounts.list(call)).map(serviceAccountView) }),
      },
      POST: {
        schema: {
          tags,
          summary: 'Create a service account with a server-managed keyring and its first token',
          body: {
            type: 'object',
            required: ['name', 'role_id'],
            properties: { name: { type: 'string', maxLength: 64 }, role_id: { type: 'string', format: 'uuid' }, token_name: { type: 'string', maxLength: 64, default: 'Default' } },
          },
          response: { 201: { ...serviceAccountSchema, properties: { ...serviceAccountSchema.properties, initialToken: createdTokenSchema } }, ...errors },
        },
        handler: async (call, request, reply) => {
          const created = await accounts.create(call, () => readJsonBody(request));
          reply.code(201);
          return { ...serviceAccountView(created.account), initialToken: createdTokenView(created.token) };
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/service-accounts/:sa_id/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'Get a service account with its tokens and app access', params: saParam, response: { 200: serviceAccountDetailSchema, ...errors } },
        handler: async (call, request) => serviceAccountDetailView(await accounts.get(call, saIdOf(request.params))),
      },
      PUT: {
        schema: {
          tags,
          summary: 'Rename a service account or change its role',
          params: saParam,
          body: { type: 'object', properties: { name: { type: 'string', maxLength: 64 }, role_id: { type: 'string', format: 'uuid' } } },
          response: { 200: serviceAccountDetailSchema, ...errors },
        },
        handler: async (call, request) => serviceAccountDetailView(await accounts.update(call, saIdOf(request.params), () => readJsonBody(request))),
      },
      DELETE: {
        schema: { tags, summary: 'Delete a service account (revokes its tokens and removes its access)', params: saParam, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, request, reply) => {
          await accounts.delete(call, saIdOf(request.params));
          return reply.code(204).send();
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/service-accounts/:sa_id/access/',
    auth: 'query',
    // The permission is checked before the method on this endpoint (§10.6).
    unsupported: (call, method) => {
      accounts.requireAccessPermission(call);
      throw methodNotAllowed(method);
    },
    methods: {
      PUT: {
        schema: {
          tags,
          summary: "Set the service account's app and environment access (the complete desired state)",
          params: saParam,
          body: {
            type: 'object',
            required: ['apps'],
            properties: { apps: { type: 'array', items: { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, environments: { type: 'array', items: { type: 'string', format: 'uuid' } } } } } },
          },
          response: { 200: { ...serviceAccountDetailSchema, properties: { ...serviceAccountDetailSchema.properties, apps: appsAccessSchema } }, ...errors },
        },
        handler: async (call, request) => serviceAccountDetailView(await accounts.setAccess(call, saIdOf(request.params), () => readJsonBody(request))),
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/service-accounts/:sa_id/tokens/',
    auth: 'query',
    unsupported: (call, method) => {
      accounts.requireTokenPermission(call, 'create');
      throw methodNotAllowed(method);
    },
    methods: {
      POST: {
        schema: {
          tags,
          summary: 'Mint a service-account token (pss_service:v2, shown once)',
          params: saParam,
          body: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', maxLength: 64 },
              expires_at: { type: 'string', description: "ISO-8601 with offset, e.g. '2026-12-31T23:59:59Z'" },
              expires_in: { type: 'integer', minimum: 1, description: 'Seconds (used when expires_at is absent)' },
            },
          },
          response: { 201: createdTokenSchema, ...errors },
        },
        handler: async (call, request, reply) => {
          const created = await accounts.mintToken(call, saIdOf(request.params), () => ({ body: readJsonBody(request), floatKeys: floatLiteralKeysOf(request) }));
          reply.code(201);
          return createdTokenView(created);
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/service-accounts/:sa_id/tokens/:token_id/',
    auth: 'query',
    unsupported: (call, method) => {
      accounts.requireTokenPermission(call, 'delete');
      throw methodNotAllowed(method);
    },
    methods: {
      DELETE: {
        schema: { tags, summary: 'Revoke a service-account token', params: tokenParams, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, request, reply) => {
          const params = request.params as { sa_id: string; token_id: string };
          await accounts.revokeToken(call, params.sa_id, params.token_id);
          return reply.code(204).send();
        },
      },
    },
  });
}
