// /v1/members/ and /v1/members/invites/ (rest-api §12)
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { appsAccessSchema, inviteSchema, inviteView, memberAccessView, memberSchema, memberView } from '../../account-views.js';
import { readJsonBody } from '../../body.js';
import { errorSchema } from '../../views.js';
import { definePublicRoute } from '../define.js';

const tags = ['members'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 405: errorSchema, 409: errorSchema };
const memberParam = { type: 'object', properties: { member_id: { type: 'string', format: 'uuid' } } } as const;
const inviteParam = { type: 'object', properties: { invite_id: { type: 'string', format: 'uuid' } } } as const;
const memberAccessSchema = { type: 'object', properties: { ...memberSchema.properties, apps: appsAccessSchema } } as const;
const accessBody = {
  type: 'object',
  required: ['apps'],
  properties: { apps: { type: 'array', items: { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, environments: { type: 'array', items: { type: 'string', format: 'uuid' } } } } } },
} as const;

function memberIdOf(params: unknown): string {
  return (params as { member_id: string }).member_id;
}

/** Where the console serves invite acceptance: `<scheme>://<host>/invites/<token>`. */
function inviteUrl(request: FastifyRequest, token: string): string {
  return `${request.protocol}://${request.host}/invites/${token}`;
}

export async function memberRoutes(app: FastifyInstance) {
  const { members, invites } = app.domain;

  definePublicRoute(app, {
    url: '/v1/members/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'List active members (oldest first); members join through invites', response: { 200: { type: 'object', properties: { data: { type: 'array', items: memberSchema } } }, ...errors } },
        handler: async (call) => ({ data: (await members.list(call)).map(memberView) }),
      },
    },
  });

  // Static segments win over /v1/members/{member_id}/ in the router, as §1.2 requires.
  definePublicRoute(app, {
    url: '/v1/members/invites/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'List valid, unexpired invites (newest first)', response: { 200: { type: 'object', properties: { data: { type: 'array', items: inviteSchema } } }, ...errors } },
        handler: async (call) => ({ data: (await invites.list(call)).map(inviteView) }),
      },
      POST: {
        schema: {
          tags,
          summary: 'Invite someone by e-mail (expires after 14 days)',
          description: 'Coffer adds `inviteUrl`, the one-time link the invitee opens to join; it is returned only here.',
          body: { type: 'object', required: ['email', 'role_id'], properties: { email: { type: 'string', format: 'email' }, role_id: { type: 'string', format: 'uuid' } } },
          response: { 201: { ...inviteSchema, properties: { ...inviteSchema.properties, inviteUrl: { type: 'string' } } }, ...errors },
        },
        handler: async (call, request, reply) => {
          const created = await invites.create(call, () => readJsonBody(request));
          reply.code(201);
          return { ...inviteView(created.invite), inviteUrl: inviteUrl(request, created.token) };
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/members/invites/:invite_id/',
    auth: 'query',
    methods: {
      DELETE: {
        schema: { tags, summary: 'Delete an invite', params: inviteParam, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, request, reply) => {
          await invites.delete(call, (request.params as { invite_id: string }).invite_id);
          return reply.code(204).send();
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/members/:member_id/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: 'Get a member', params: memberParam, response: { 200: memberSchema, ...errors } },
        handler: async (call, request) => memberView(await members.get(call, memberIdOf(request.params))),
      },
      PUT: {
        schema: { tags, summary: "Change a member's role", params: memberParam, body: { type: 'object', required: ['role_id'], properties: { role_id: { type: 'string', format: 'uuid' } } }, response: { 200: memberSchema, ...errors } },
        handler: async (call, request) => memberView(await members.updateRole(call, memberIdOf(request.params), () => readJsonBody(request))),
      },
      DELETE: {
        schema: { tags, summary: 'Remove a member from the organisation', params: memberParam, response: { 204: { type: 'null' }, ...errors } },
        handler: async (call, request, reply) => {
          await members.remove(call, memberIdOf(request.params));
          return reply.code(204).send();
        },
      },
    },
  });

  definePublicRoute(app, {
    url: '/v1/members/:member_id/access/',
    auth: 'query',
    methods: {
      GET: {
        schema: { tags, summary: "A member's individual app and environment access", params: memberParam, response: { 200: memberAccessSchema, ...errors } },
        handler: async (call, request) => memberAccessView(await members.getAccess(call, memberIdOf(request.params))),
      },
      PUT: {
        schema: { tags, summary: "Set a member's app and environment access (the complete desired state)", params: memberParam, body: accessBody, response: { 200: memberAccessSchema, ...errors } },
        handler: async (call, request) => memberAccessView(await members.setAccess(call, memberIdOf(request.params), () => readJsonBody(request))),
      },
    },
  });
}
