// /v1/roles/ (rest-api §11)
import type { FastifyInstance } from 'fastify';
import { roleDetailSchema, roleDetailView, roleSummarySchema, roleSummaryView } from '../../account-views.js';
import { readJsonBody } from '../../body.js';
import { errorSchema } from '../../views.js';
import { definePublicRoute } from '../define.js';

const tags = ['roles'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 405: errorSchema, 409: errorSchema };
const roleParam = { type: 'object', properties: { role_id: { type: 'string', format: 'uuid' } } } as const;
const permissionMap = { type: ['object', 'null'], additionalProperties: { type: 'array', items: { type: 'string', enum: ['create', 'read', 'update', 'delete'] } } } as const;
const roleBody = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 64 },
    description: { type: 'string', maxLength: 500 },
    color: { type: 'string', maxLength: 7 },
    permissions: { type: 'object', properties: { permissions: permissionMap, app_permissions: permissionMap } },
  },
} as const;

function roleIdOf(params: unknown): string {
  return (params as { role_id: string }).role_id;
}

export async function roleRoutes(app: FastifyInstance) {
  const { roles } = app.domain;

  definePublicRoute(app, {
    url: '/v1/roles/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'List roles (the five defaults first)', response: { 200: { type: 'object', properties: { data: { type: 'array', items: roleSummarySchema } } }, ...errors } },
        handler: async (call) => ({ data: (await roles.list(call)).map(roleSummaryView) }),
      },
      POST: {
        schema: { tags, summary: 'Create a custom role', body: { ...roleBody, required: ['name', 'permissions'] }, response: { 201: roleDetailSchema, ...errors } },
        handler: async (call, request, reply) => {
          const role = await roles.create(call, () => readJsonBody(request));
          reply.code(201);
          return roleDetailView(role);
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/roles/:role_id/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'Get a role with its permissions', params: roleParam, response: { 200: roleDetailSchema, ...errors } },
        handler: async (call, request) => roleDetailView(await roles.get(call, roleIdOf(request.params))),
      },
      PUT: {
        schema: { tags, summary: 'Update a custom role', params: roleParam, body: roleBody, response: { 200: roleDetailSchema, ...errors } },
        handler: async (call, request) => roleDetailView(await roles.update(call, roleIdOf(request.params), () => readJsonBody(request))),
      },
      DELETE: {
        schema: { tags, summary: 'Delete a custom role nobody holds', params: roleParam, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, request, reply) => {
          await roles.delete(call, roleIdOf(request.params));
          return reply.code(204).send();
        },
      },
    },
  });
}
