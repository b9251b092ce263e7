// /v1/apps/ (rest-api §8)
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { appSchema, appView, environmentSchema, environmentView, errorSchema } from '../../views.js';
import { definePublicRoute } from '../define.js';

const tags = ['apps'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema };
const appIdParam = { type: 'object', properties: { app_id: { type: 'string', format: 'uuid' } } } as const;

export async function appRoutes(app: FastifyInstance) {
  const { domain } = app;

  definePublicRoute(app, {
    url: '/v1/apps/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'List the apps you can access (newest first)', response: { 200: { type: 'object', properties: { data: { type: 'array', items: appSchema } } }, ...errors } },
        handler: async (call) => ({ data: (await domain.apps.list(call)).map(appView) }),
      },
      POST: {
        schema: {
          tags,
          summary: 'Create an SSE app with Development, Staging and Production, or the environments listed',
          body: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', maxLength: 64 },
              description: { type: 'string', maxLength: 10000 },
              environments: { type: 'array', items: { type: 'string' } },
            },
          },
          response: { 201: { ...appSchema, properties: { ...appSchema.properties, environments: { type: 'array', items: environmentSchema } } }, ...errors },
        },
        handler: async (call, request, reply) => {
          const created = await domain.apps.create(call, () => readJsonBody(request));
          reply.code(201);
          return { ...appView(created.app), environments: created.environments.map(environmentView) };
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/apps/:app_id/',
    auth: 'app',
    before: (call) => domain.apps.assertSse(call),
    methods: {
      GET: {
        schema: { tags, summary: 'Get an app', params: appIdParam, response: { 200: appSchema, ...errors } },
        handler: async (call) => appView(await domain.apps.get(call)),
      },
      PUT: {
        schema: {
          tags,
          summary: 'Update an app (name and/or description)',
          params: appIdParam,
          body: { type: 'object', properties: { name: { type: 'string', maxLength: 64 }, description: { type: 'string', maxLength: 10000 } } },
          response: { 200: appSchema, ...errors },
        },
        handler: async (call, request) => appView(await domain.apps.update(call, () => readJsonBody(request))),
      },
      DELETE: {
        schema: { tags, summary: 'Delete an app and everything in it', params: appIdParam, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, _request, reply) => {
          await domain.apps.delete(call);
          return reply.code(204).send();
        },
      },
    },
  });
}
