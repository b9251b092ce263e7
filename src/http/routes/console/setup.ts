// /coffer/v1/setup/: is first-run setup still open, and completing it with the one-time code.
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { defineConsoleRoute } from './define.js';
import { errors, keyringInputSchema, newMembershipSchema, organisationInputSchema, tokenInputSchema } from './schemas.js';

export async function setupRoutes(app: FastifyInstance) {
  const { domain } = app;
  defineConsoleRoute(app, {
    url: '/setup/check/',
    auth: 'public',
    methods: {
      POST: {
        schema: {
          summary: 'Check a setup code without using it (before the client spends seconds deriving keys)',
          description: 'Counts against the same guess budget as setup itself.',
          body: { type: 'object', required: ['code'], properties: { code: { type: 'string' } } },
          response: { 200: { type: 'object', properties: { valid: { type: 'boolean', enum: [true] } } }, ...errors(403, 409, 415, 429) },
        },
        handler: async (request) => {
          await domain.setup.checkCode(() => readJsonBody(request), request.ip);
          return { valid: true };
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/setup/',
    auth: 'public',
    methods: {
      GET: {
        schema: {
          summary: 'Whether first-run setup is still open (no organisation exists yet)',
          response: { 200: { type: 'object', properties: { required: { type: 'boolean' } } } },
        },
        handler: async () => ({ required: await domain.setup.required() }),
      },
      POST: {
        schema: {
          summary: 'Create the first organisation, its owner and the owner\'s first personal access token with the one-time setup code',
          description:
            'Everything secret is made on the client (`coffer setup`): the recovery phrase, the keyring, the device key, the token. ' +
            'The server receives public and wrapped material, the Argon2id login hash (stored again under Argon2id) and the token\'s bearer hash. ' +
            'Wrong code: 403. Setup already done: 409. Too many wrong codes from one address: 429.',
          body: {
            type: 'object',
            required: ['code', 'organisation', 'user', 'keyring', 'token'],
            properties: {
              code: { type: 'string', description: 'the one-time setup code logged at first start, or COFFER_SETUP_CODE' },
              organisation: organisationInputSchema,
              user: {
                type: 'object',
                required: ['email', 'loginHash'],
                properties: {
                  email: { type: 'string' },
                  fullName: { type: 'string', maxLength: 150 },
                  loginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'hex Argon2id(password, BLAKE2b-128("auth-v1:" + email))' },
                },
              },
              keyring: keyringInputSchema,
              token: tokenInputSchema,
            },
          },
          response: { 201: { ...newMembershipSchema, properties: { ...newMembershipSchema.properties, email: { type: 'string' } } }, ...errors(400, 403, 409, 415, 429) },
        },
        handler: async (request, reply) => {
          const result = await domain.setup.complete(() => readJsonBody(request), request.ip);
          request.log.warn({ organisationId: result.organisationId }, 'first-run setup completed; the setup code no longer works');
          reply.code(201);
          return result;
        },
      },
    },
  });
}
