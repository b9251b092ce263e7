// /v1/environments/ (rest-api §9)
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { environmentSchema, environmentView, errorSchema } from '../../views.js';
import { definePublicRoute } from '../define.js';

const tags = ['environments'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const envIdParam = { type: 'object', properties: { env_id: { type: 'string', format: 'uuid' } } } as const;
const appIdQuery = { type: 'object', required: ['app_id'], properties: { app_id: { type: 'string', format: 'uuid' } } } as const;
const nameBody = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-zA-Z0-9\\-_]{1,64}$' } } } as const;

export async function environmentRoutes(app: FastifyInstance) {
  const { domain } = app;

  definePublicRoute(app, {
    url: '/v1/environments/',
    auth: 'query',
    before: (call) => domain.apps.assertSse(call),
    methods: {
      GET: {
        schema: { tags, summary: "List an app's environments you can access (by index)", querystring: appIdQuery, response: { 200: { type: 'object', properties: { data: { type: 'array', items: environmentSchema } } }, ...errors } },
        handler: async (call) => ({ data: (await domain.environments.list(call)).map(environmentView) }),
      },
      POST: {
        schema: { tags, summary: 'Create a custom environment', querystring: appIdQuery, body: nameBody, response: { 201: environmentSchema, ...errors } },
        handler: async (call, request, reply) => {
          const created = await domain.environments.create(call, () => readJsonBody(request));
          reply.code(201);
          return environmentView(created);
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/environments/:env_id/',
    auth: 'environment',
    before: (call) => domain.apps.assertSse(call),
    methods: {
      GET: {
        schema: { tags, summary: 'Get an environment', params: envIdParam, response: { 200: environmentSchema, ...errors } },
        handler: async (call) => environmentView(await domain.environments.get(call, 'read')),
      },
      PUT: {
        schema: { tags, summary: 'Rename an environment', params: envIdParam, body: nameBody, response: { 200: environmentSchema, ...errors } },
        handler: async (call, request) => environmentView(await domain.environments.rename(call, () => readJsonBody(request))),
      },
      DELETE: {
        schema: { tags, summary: 'Delete an environment and its secrets', params: envIdParam, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, _request, reply) => {
          await domain.environments.delete(call);
          return reply.code(204).send();
        },
      },
    },
  });
}
