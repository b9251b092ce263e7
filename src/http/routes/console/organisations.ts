// /coffer/v1/organisations/: a signed-in person creates another organisation of their own.
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { defineConsoleRoute } from './define.js';
import { errors, keyringInputSchema, newMembershipSchema, organisationInputSchema, tokenInputSchema } from './schemas.js';

export async function organisationRoutes(app: FastifyInstance) {
  const { domain } = app;
  defineConsoleRoute(app, {
    url: '/organisations/',
    auth: 'account',
    methods: {
      POST: {
        schema: {
          summary: 'Create an organisation owned by the caller, with a keyring made on the client for its id and a first token',
          description:
            'Organisations share nothing: the new membership has its own keyring, and its token works in the new organisation only. ' +
            "An account with a password sends its login hash: the keyring is wrapped under that password, which must be the current one " +
            '(403 `Incorrect password.`; 409 when it changed while the request ran).',
          body: {
            type: 'object',
            required: ['organisation', 'keyring', 'token'],
            properties: {
              organisation: organisationInputSchema,
              keyring: keyringInputSchema,
              token: tokenInputSchema,
              loginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: "the account's login hash (required when it has a password)" },
            },
          },
          response: { 201: newMembershipSchema, ...errors(400, 401, 403, 404, 409, 415, 429) },
        },
        handler: async (request, reply) => {
          const created = await domain.users.createOrganisation(request.account!, () => readJsonBody(request));
          reply.code(201);
          return created;
        },
      },
    },
  });
}
