// /coffer/v1/tokens/: the caller's personal access tokens. The client mints them (crypto spec
// §3.2) and registers the public parts; listing never returns anything secret.
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { defineConsoleRoute } from './define.js';
import { errors, organisationIdQuery, tokenInputSchema, tokenSchema } from './schemas.js';

const orgOf = (query: unknown) => (query as Record<string, string | undefined>).organisation_id;

export async function tokenRoutes(app: FastifyInstance) {
  const { domain } = app;
  defineConsoleRoute(app, {
    url: '/tokens/',
    auth: 'account',
    methods: {
      GET: {
        schema: {
          summary: 'List your personal access tokens in one organisation (newest first; revoked ones are gone)',
          querystring: organisationIdQuery,
          response: { 200: { type: 'object', properties: { data: { type: 'array', items: tokenSchema } } }, ...errors(400, 401, 403, 404) },
        },
        handler: async (request) => ({ data: await domain.users.listTokens(request.account!, orgOf(request.query)) }),
      },
      POST: {
        schema: {
          summary: 'Register a personal access token minted on the client',
          description: "`identityKey` must be the member's own X25519 key; the bearer is never sent, only its SHA-256.",
          querystring: organisationIdQuery,
          body: tokenInputSchema,
          response: { 201: tokenSchema, ...errors(400, 401, 403, 404, 415) },
        },
        handler: async (request, reply) => {
          const registered = await domain.users.createToken(request.account!, orgOf(request.query), () => readJsonBody(request));
          reply.code(201);
          return { ...registered, lastUsed: null };
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/tokens/:token_id/',
    auth: 'account',
    methods: {
      DELETE: {
        schema: {
          summary: 'Revoke one of your personal access tokens; its next request gets 401 `Token expired or deleted`',
          params: { type: 'object', properties: { token_id: { type: 'string', format: 'uuid' } } },
          querystring: organisationIdQuery,
          response: { 204: { type: 'null' }, ...errors(400, 401, 403, 404) },
        },
        handler: async (request, reply) => {
          const { token_id: tokenId } = request.params as { token_id: string };
          await domain.users.revokeToken(request.account!, orgOf(request.query), tokenId);
          return reply.code(204).send();
        },
      },
    },
  });
}
