// Declaring a /coffer/v1 route once: each method it serves with its documented schema (tag
// `coffer`), every other method answered 405 like the public routes.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from 'fastify';
import { methodNotAllowed } from '../../../domain/errors.js';
import { assertJsonBody, type ConsoleAuth } from './auth.js';

type Method = 'GET' | 'POST' | 'DELETE';
const ALL_METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

export const CONSOLE_PREFIX = '/coffer/v1';

/**
 * The body limit of routes anyone may call (sign-in, setup, invites) and of the 405 answers: their
 * largest body is a keyring and a token, a few KB. Without it an anonymous client could make the
 * server hold BODY_LIMIT (2.5 MB by default) per connection.
 */
export const PUBLIC_BODY_LIMIT = 64 * 1024;
export const tags = ['coffer'];

/** The OpenAPI security of each auth mode. */
export const SECURITY: Record<ConsoleAuth, FastifySchema['security']> = {
  public: [],
  optional: [{}, { session: [] }, { bearer: [] }],
  account: [{ session: [] }, { bearer: [] }],
};

export interface ConsoleMethod {
  schema: FastifySchema;
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export interface ConsoleRoute {
  url: string;
  auth: ConsoleAuth;
  methods: Partial<Record<Method, ConsoleMethod>>;
}

export function defineConsoleRoute(app: FastifyInstance, route: ConsoleRoute): void {
  const url = `${CONSOLE_PREFIX}${route.url}`;
  const supported = Object.keys(route.methods) as Method[];
  for (const method of supported) {
    const spec = route.methods[method]!;
    app.route({
      method,
      url,
      config: { console: route.auth },
      ...(route.auth === 'account' ? {} : { bodyLimit: PUBLIC_BODY_LIMIT }),
      schema: { tags, security: SECURITY[route.auth], ...spec.schema },
      handler: async (request, reply) => {
        if (method !== 'GET') assertJsonBody(request);
        return spec.handler(request, reply);
      },
    });
  }
  app.route({
    method: ALL_METHODS.filter((m) => !supported.includes(m as Method)),
    url,
    config: { console: 'public' },
    bodyLimit: PUBLIC_BODY_LIMIT,
    schema: { hide: true },
    handler: async (request) => {
      throw methodNotAllowed(request.method);
    },
  });
}
