// Coffer's extension for end-to-end encrypted apps (docs/client-protocol.md): who must receive the
// environment keys of a new app, creating an app from client-made keys, and enabling SSE on it
// later with the server's key-exchange key, and handing its keys to members and service accounts
// added later. The server never sees an E2EE app's seeds or salts before SSE is enabled.
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { createClientProtocol, type E2eeGrantResult } from '../../../domain/client-protocol/index.js';
import { methodNotAllowed } from '../../../domain/errors.js';
import type { Environment } from '../../../store/apps.table.js';
import { readJsonBody } from '../../body.js';
import type { AuthMode } from '../../plugins/authenticate.js';
import { appSchema, appView, errorSchema, timestamp } from '../../views.js';

const tags = ['e2ee apps'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const UNSUPPORTED: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

const recipientSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['member', 'service_account'] },
    id: { type: 'string', format: 'uuid' },
    identityKey: { type: 'string', description: 'hex Ed25519 public key' },
    kxPublicKey: { type: 'string', description: 'hex X25519 key to wrap seeds and salts to (ph:v1)' },
    required: { type: 'boolean', description: 'Must receive every environment of a new E2EE app' },
  },
} as const;

const ciphertext = { type: 'string', pattern: '^ph:v1:' } as const;
const createBody = {
  type: 'object',
  required: ['name', 'encryption', 'environments'],
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    encryption: { type: 'string', enum: ['e2ee'] },
    environments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'identityKey', 'grants'],
        properties: {
          name: { type: 'string' },
          envType: { type: 'string', enum: ['dev', 'staging', 'prod', 'custom'] },
          identityKey: { type: 'string', description: 'hex X25519 public key of crypto_kx_seed_keypair(seed)' },
          grants: {
            type: 'array',
            items: {
              type: 'object',
              properties: { memberId: { type: 'string' }, serviceAccountId: { type: 'string' }, wrappedSeed: ciphertext, wrappedSalt: ciphertext },
            },
          },
        },
      },
    },
  },
} as const;

const e2eeEnvironmentSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    envType: { type: 'string' },
    index: { type: 'integer' },
    identityKey: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

function e2eeEnvironmentView(env: Environment) {
  return {
    id: env.id,
    name: env.name,
    envType: env.env_type,
    index: env.index,
    identityKey: env.identity_key,
    createdAt: timestamp(env.created_at),
    updatedAt: timestamp(env.updated_at),
  };
}

export async function e2eeRoutes(app: FastifyInstance) {
  const { domain } = app;
  const { e2ee, e2eeGrants } = createClientProtocol(domain);

  /** One route per url: the methods given, everything else 405 after authentication. */
  function route(url: string, auth: AuthMode, methods: Partial<Record<'GET' | 'POST' | 'DELETE', { schema: object; handler: Parameters<FastifyInstance['route']>[0]['handler'] }>>) {
    for (const [method, spec] of Object.entries(methods)) {
      app.route({ method: method as HTTPMethods, url, config: { auth }, schema: spec.schema, handler: spec.handler });
    }
    app.route({
      method: UNSUPPORTED.filter((m) => !(m in methods)),
      url,
      config: { auth },
      schema: { hide: true },
      handler: async (request) => {
        throw methodNotAllowed(request.method);
      },
    });
  }

  route('/coffer/v1/server-key/', 'none', {
    GET: {
      schema: {
        tags,
        summary: "The server's X25519 key to which clients wrap environment seeds and salts when enabling SSE",
        response: { 200: { type: 'object', properties: { publicKey: { type: 'string' }, keyId: { type: 'string' } } }, ...errors },
      },
      handler: async (_request, reply) => reply.send(e2ee.serverKey()),
    },
  });

  route('/coffer/v1/recipients/', 'none', {
    GET: {
      schema: {
        tags,
        summary: 'Principals that can receive environment keys; `required` ones must receive every key of a new E2EE app',
        response: { 200: { type: 'object', properties: { recipients: { type: 'array', items: recipientSchema } } }, ...errors },
      },
      handler: async (request, reply) => reply.send({ recipients: await e2ee.recipients(request.call!) }),
    },
  });

  route('/coffer/v1/apps/', 'none', {
    POST: {
      schema: {
        tags,
        summary: 'Create an end-to-end encrypted app from keys made and wrapped by the client',
        body: createBody,
        response: { 201: { ...appSchema, properties: { ...appSchema.properties, encryption: { type: 'string' }, environments: { type: 'array', items: e2eeEnvironmentSchema } } }, ...errors },
      },
      handler: async (request, reply) => {
        const created = await e2ee.create(request.call!, () => readJsonBody(request));
        return reply.code(201).send({ ...appView(created.app), encryption: 'e2ee', environments: created.environments.map(e2eeEnvironmentView) });
      },
    },
  });

  // Deleting needs no key: the REST API's DELETE /v1/apps/{id}/ answers 403 for E2EE apps (as Phase),
  // so `coffer apps delete` uses this route for them. Same permission (Apps/delete), same effects.
  route('/coffer/v1/apps/:app_id/', 'app', {
    DELETE: {
      schema: {
        tags,
        summary: 'Delete an app (E2EE or SSE) with all its environments and secrets',
        params: { type: 'object', properties: { app_id: { type: 'string', format: 'uuid' } } },
        response: { 204: { type: 'null' }, ...errors },
      },
      handler: async (request, reply) => {
        await domain.apps.delete(request.call!);
        return reply.code(204).send();
      },
    },
  });

  route('/coffer/v1/apps/:app_id/enable-sse/', 'app', {
    POST: {
      schema: {
        tags,
        summary: 'Enable server-side encryption on an E2EE app (one-way)',
        params: { type: 'object', properties: { app_id: { type: 'string', format: 'uuid' } } },
        body: {
          type: 'object',
          required: ['environments'],
          properties: {
            environments: {
              type: 'array',
              items: { type: 'object', required: ['id', 'wrappedSeed', 'wrappedSalt'], properties: { id: { type: 'string' }, wrappedSeed: ciphertext, wrappedSalt: ciphertext } },
            },
          },
        },
        response: { 200: appSchema, ...errors },
      },
      handler: async (request, reply) => reply.send(appView(await e2ee.enableSse(request.call!, () => readJsonBody(request)))),
    },
  });

  route('/coffer/v1/apps/:app_id/grants/', 'app', {
    POST: {
      schema: {
        tags,
        summary: "Hand an E2EE app's environment keys, wrapped by a client that holds them, to a member or service account",
        params: { type: 'object', properties: { app_id: { type: 'string', format: 'uuid' } } },
        body: {
          type: 'object',
          required: ['environments'],
          properties: {
            memberId: { type: 'string', format: 'uuid' },
            serviceAccountId: { type: 'string', format: 'uuid' },
            environments: {
              type: 'array',
              items: { type: 'object', required: ['id', 'wrappedSeed', 'wrappedSalt'], properties: { id: { type: 'string' }, wrappedSeed: ciphertext, wrappedSalt: ciphertext } },
            },
          },
        },
        response: { 200: grantResultSchema, ...errors },
      },
      handler: async (request, reply) => reply.send(grantResultView(await e2eeGrants.grant(request.call!, () => readJsonBody(request)))),
    },
    DELETE: {
      schema: {
        tags,
        summary: "Take an E2EE app's keys back from a member or service account (it leaves the app); grant again to replace keys that do not open",
        params: { type: 'object', properties: { app_id: { type: 'string', format: 'uuid' } } },
        body: { type: 'object', properties: { memberId: { type: 'string', format: 'uuid' }, serviceAccountId: { type: 'string', format: 'uuid' } } },
        response: { 200: revokeResultSchema, ...errors },
      },
      handler: async (request, reply) => {
        const { appId, recipient, environmentsRevoked } = await e2eeGrants.revoke(request.call!, () => readJsonBody(request));
        return reply.send({ appId, ...recipient, environmentsRevoked });
      },
    },
  });
}

/** Who a grant or revoke was for, and the app: the fields both answers share. */
const recipientResultProperties = {
  appId: { type: 'string', format: 'uuid' },
  memberId: { type: 'string', format: 'uuid' },
  serviceAccountId: { type: 'string', format: 'uuid' },
} as const;

const grantResultSchema = {
  type: 'object',
  properties: {
    ...recipientResultProperties,
    environmentsGranted: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'Environments whose keys the recipient received now' },
    environmentsAlreadyHeld: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'Environments the recipient already held (their keys were left as they were)' },
  },
} as const;

const revokeResultSchema = {
  type: 'object',
  properties: {
    ...recipientResultProperties,
    environmentsRevoked: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'Environments whose keys the recipient held and no longer holds' },
  },
} as const;

function grantResultView(result: E2eeGrantResult) {
  return { appId: result.appId, ...result.recipient, environmentsGranted: result.environmentsGranted, environmentsAlreadyHeld: result.environmentsAlreadyHeld };
}
