// Declaring a public route once: every method it serves with its own documented schema, the
// methods it does not serve (405, or the endpoint's own answer), both API prefixes.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from 'fastify';
import type { Call } from '../../domain/context.js';
import { methodNotAllowed } from '../../domain/errors.js';
import { EVERY_METHOD } from '../methods.js';
import type { AuthMode } from '../plugins/authenticate.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type CallHandler = (call: Call, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface MethodSpec {
  schema: FastifySchema;
  handler: CallHandler;
}

export interface PublicRoute {
  url: string;
  auth: AuthMode;
  methods: Partial<Record<Method, MethodSpec>>;
  /**
   * Checks that precede the method check on this endpoint (e.g. the SSE check on app detail, §7),
   * run before every method, supported or not.
   */
  before?: (call: Call) => void | Promise<void>;
  /** Answer for unsupported methods; default 405 `Method "X" not allowed.` */
  unsupported?: (call: Call, method: string) => never | Promise<never>;
}

/** Public routes are served at the root and under /public (the /service prefix is stripped earlier). */
export const PUBLIC_PREFIXES = ['', '/public'] as const;

export function definePublicRoute(app: FastifyInstance, route: PublicRoute): void {
  const supported = Object.keys(route.methods) as Method[];
  const unsupported = EVERY_METHOD.filter((m) => !supported.includes(m as Method)) as HTTPMethods[];
  for (const prefix of PUBLIC_PREFIXES) {
    const url = `${prefix}${route.url}`;
    for (const method of supported) {
      const spec = route.methods[method]!;
      app.route({
        method,
        url,
        config: { auth: route.auth },
        schema: prefix === '' ? spec.schema : { ...spec.schema, hide: true },
        handler: async (request, reply) => {
          const call = request.call!;
          if (route.before) await route.before(call);
          return spec.handler(call, request, reply);
        },
      });
    }
    app.route({
      method: unsupported,
      url,
      config: { auth: route.auth },
      schema: { hide: true },
      handler: async (request) => {
        const call = request.call!;
        if (route.before) await route.before(call);
        if (route.unsupported) await route.unsupported(call, request.method);
        throw methodNotAllowed(request.method);
      },
    });
  }
}
