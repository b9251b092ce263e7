// Phase's client protocol (crypto spec §4): `/service/secrets/tokens/` and `/service/secrets/`, the
// endpoints the official SDKs and CLIs call. (`/service` is stripped before routing, app.ts.) Both
// routes also answer without the trailing slash, since clients build the URL from a configured host.
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { NO_CREDENTIALS } from '../../../domain/auth.js';
import { createClientProtocol, tokenRejected, type ClientSecretSelection } from '../../../domain/client-protocol/index.js';
import { DomainError, methodNotAllowed } from '../../../domain/errors.js';
import { bucketOf } from '../../../domain/principal.js';
import type { Principal } from '../../../domain/principal.js';
import { readJsonBodyAnyType } from '../../body.js';
import { errorSchema } from '../../views.js';
import {
  camelSecretListSchema,
  camelSecretView,
  serializeCamelSecrets,
  serializeSnakeSecrets,
  sessionSchema,
  sessionView,
  snakeSecretView,
} from './views.js';

const tags = ['client protocol'];
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 429: errorSchema };
const OTHER_METHODS: HTTPMethods[] = ['PATCH', 'HEAD', 'OPTIONS'];

const secretHeaders = {
  type: 'object',
  properties: {
    environment: { type: 'string', format: 'uuid', description: 'Environment id (required)' },
    'x-use-camel-case': { type: 'string', description: '`true` for camelCase keys; otherwise snake_case' },
  },
} as const;
const listHeaders = {
  type: 'object',
  properties: {
    ...secretHeaders.properties,
    keydigest: { type: 'string', description: 'Only the secret with this key digest (empty = absent)' },
    path: { type: 'string', description: 'Only secrets at exactly this path (empty = absent)' },
    tags: { type: 'string', description: 'Comma-separated tag names; a secret matches when it has any' },
  },
} as const;
const emptyOk = { 200: { type: 'null', description: 'Empty body' }, ...errors };

/** A header's value; empty means absent (crypto spec §4.1). */
function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The serialized list, memoised per selection and casing as encoded bytes: a repeated read of an
 * unchanged environment neither serializes nor UTF-8-encodes its (large, ciphertext) body again.
 */
function render(selection: ClientSecretSelection, camel: boolean): Uint8Array {
  const casing = camel ? 'camel' : 'snake';
  let body = selection.rendered.get(casing);
  if (body === undefined) {
    const json = camel ? serializeCamelSecrets(selection.items.map(camelSecretView)) : serializeSnakeSecrets(selection.items.map(snakeSecretView));
    body = Buffer.from(json, 'utf8');
    selection.rendered.set(casing, body);
  }
  return body;
}

/** Phase answers 200 with an empty body on every successful write; the Node SDK resolves only on 200. */
function ok(reply: FastifyReply) {
  return reply.code(200).send();
}

export async function clientProtocolRoutes(app: FastifyInstance) {
  const { domain } = app;
  const protocol = createClientProtocol(domain);

  /** §4.3: unknown, expired or deleted tokens (and unknown type words) are 403 here, not 401. */
  async function tokenHolder(request: FastifyRequest): Promise<Principal> {
    let principal: Principal;
    try {
      principal = await domain.authenticator.authenticate(request.headers.authorization, request.socket);
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'unauthenticated' && error.message !== NO_CREDENTIALS) throw tokenRejected();
      throw error;
    }
    await domain.rateLimiter.check(bucketOf(principal));
    return principal;
  }

  for (const url of ['/secrets/tokens/', '/secrets/tokens']) {
    const hide = url.endsWith('s');
    app.route({
      method: 'GET',
      url,
      schema: { tags, summary: "The token's wrapped key share and environment keys (always snake_case)", hide, response: { 200: sessionSchema, 401: errorSchema, 403: errorSchema, 429: errorSchema } },
      handler: async (request, reply) => {
        const session = await protocol.sessions.describe(await tokenHolder(request));
        return reply.type('application/json').send(JSON.stringify(sessionView(session)));
      },
    });
    app.route({
      method: ['POST', 'PUT', 'DELETE', ...OTHER_METHODS],
      url,
      schema: { hide: true },
      handler: async (request) => {
        await tokenHolder(request);
        throw methodNotAllowed(request.method);
      },
    });
  }

  for (const url of ['/secrets/', '/secrets']) {
    const hide = url.endsWith('s');
    const config = { auth: 'query' as const };
    app.route({
      method: 'GET',
      url,
      config,
      schema: { tags, summary: 'List the secrets of an environment (ciphertext, as stored)', hide, headers: listHeaders, response: { 200: camelSecretListSchema, ...errors } },
      handler: async (request, reply) => {
        const selection = await protocol.secrets.list(request.call!, {
          keyDigest: header(request, 'keydigest'),
          path: header(request, 'path'),
          tags: header(request, 'tags'),
        });
        return reply.type('application/json').send(render(selection, request.headers['x-use-camel-case'] === 'true'));
      },
    });
    app.route({
      method: 'POST',
      url,
      config,
      schema: { tags, summary: 'Create secrets (client ciphertext, all or nothing)', hide, headers: secretHeaders, response: emptyOk },
      handler: async (request, reply) => {
        await protocol.secrets.create(request.call!, () => readJsonBodyAnyType(request));
        return ok(reply);
      },
    });
    app.route({
      method: 'PUT',
      url,
      config,
      schema: { tags, summary: 'Update secrets of this environment by id (all or nothing)', hide, headers: secretHeaders, response: emptyOk },
      handler: async (request, reply) => {
        await protocol.secrets.update(request.call!, () => readJsonBodyAnyType(request));
        return ok(reply);
      },
    });
    app.route({
      method: 'DELETE',
      url,
      config,
      schema: { tags, summary: 'Delete secrets of this environment by id (ids elsewhere change nothing)', hide, headers: secretHeaders, response: emptyOk },
      handler: async (request, reply) => {
        await protocol.secrets.delete(request.call!, () => readJsonBodyAnyType(request));
        return ok(reply);
      },
    });
    app.route({
      method: OTHER_METHODS,
      url,
      config,
      schema: { hide: true },
      handler: async (request) => {
        throw methodNotAllowed(request.method);
      },
    });
  }
}
