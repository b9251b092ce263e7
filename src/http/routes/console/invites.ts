// /coffer/v1/invites/{token}/: opening and accepting an invite (rest-api OPEN-10). The token in
// the path is the one-time secret from the invite link; only its SHA-256 is stored.
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { clientIp } from '../../plugins/authenticate.js';
import { defineConsoleRoute } from './define.js';
import { errors, keyringInputSchema, newMembershipSchema, roleRefSchema, tokenInputSchema } from './schemas.js';

const params = { type: 'object', properties: { invite_token: { type: 'string', description: 'the one-time token of the invite link' } } } as const;

export async function inviteRoutes(app: FastifyInstance) {
  const { domain } = app;
  defineConsoleRoute(app, {
    url: '/invites/:invite_token/',
    auth: 'public',
    methods: {
      GET: {
        schema: {
          summary: 'What an invite is for: organisation, e-mail address and role (404 when unknown, used or expired)',
          params,
          response: {
            200: {
              type: 'object',
              properties: {
                organisationId: { type: 'string', format: 'uuid' },
                organisationName: { type: 'string' },
                email: { type: 'string' },
                role: roleRefSchema,
                expiresAt: { type: 'string', format: 'date-time' },
              },
            },
            ...errors(404),
          },
        },
        handler: async (request, reply) => {
          reply.header('cache-control', 'no-store');
          return domain.inviteAcceptance.describe((request.params as { invite_token: string }).invite_token);
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/invites/:invite_token/accept/',
    auth: 'optional',
    methods: {
      POST: {
        schema: {
          summary: "Accept an invite with a keyring made on the client for the organisation's id and a first token",
          description:
            'A new user is created with `loginHash`. An existing user proves it is them with the same login hash as at sign-in, ' +
            'or by calling with one of their sessions (plus X-CSRF-Token) or tokens. The invite works once.',
          params,
          body: {
            type: 'object',
            required: ['keyring', 'token'],
            properties: {
              email: { type: 'string', description: "optional; must be the invite's address" },
              fullName: { type: 'string', maxLength: 150 },
              loginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
              keyring: keyringInputSchema,
              token: tokenInputSchema,
            },
          },
          response: {
            201: { ...newMembershipSchema, properties: { ...newMembershipSchema.properties, email: { type: 'string' }, role: roleRefSchema } },
            ...errors(400, 401, 403, 404, 409, 415, 429),
          },
        },
        handler: async (request, reply) => {
          if (request.account) await domain.users.requireLiveToken(request.account);
          const agent = request.headers['user-agent'];
          const accepted = await domain.inviteAcceptance.accept((request.params as { invite_token: string }).invite_token, () => readJsonBody(request), {
            userId: request.account?.userId ?? null,
            ip: clientIp(request),
            address: request.ip,
            userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
          });
          reply.code(201);
          return accepted;
        },
      },
    },
  });
}
