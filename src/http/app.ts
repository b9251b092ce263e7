// The HTTP application: a tree of small plugins. It translates HTTP to domain calls and back;
// the process around it (listening, signals, store lifetime) lives in cli/commands/serve.ts.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { errorHandler, notFoundHandler } from './errors.js';
import metrics from './plugins/metrics.js';
import openapi from './plugins/openapi.js';
import transport from './plugins/transport.js';
import { parseQueryString } from './query.js';
import { rootRoutes } from './routes/root.js';

export interface HttpOptions {
  bodyLimit: number;
  allowedOrigins: string[];
  trustProxy: boolean;
}

export interface AppOptions {
  http: HttpOptions;
  logger: Logger;
  /** Registers the API routes (public REST, client protocol, console); absent in transport-only tests. */
  routes?: (app: FastifyInstance) => Promise<void>;
}

/**
 * Phase strips a leading `/service` segment before routing, so `/service/v1/...` is `/v1/...`
 * (rest-api §1.1). A doubled leading slash (a client host configured with a trailing `/`) is
 * collapsed so the SDKs' `{host}/service/secrets/` still routes.
 */
export function rewriteUrl(url: string): string {
  let path = url;
  if (path.startsWith('//')) path = `/${path.replace(/^\/+/, '')}`;
  if (path === '/service' || path.startsWith('/service/') || path.startsWith('/service?')) {
    path = path.slice('/service'.length);
    if (path === '' || path.startsWith('?')) path = `/${path}`;
  }
  return path;
}

/** One log line per request, after the response, with the query values left out. */
class RequestLogController extends LogController {
  override incomingRequest() {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new RequestLogController(),
    genReqId: () => randomUUID(),
    bodyLimit: options.http.bodyLimit,
    exposeHeadRoutes: false,
    trustProxy: options.http.trustProxy,
    rewriteUrl: (request) => rewriteUrl(request.url ?? '/'),
    routerOptions: { querystringParser: parseQueryString },
    // Slow or stalled clients may not hold a connection forever (see docs/limits.md).
    requestTimeout: 30_000,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
  }) as unknown as FastifyInstance;

  // Schemas describe routes for the OpenAPI document; validation is done by hand where the Phase
  // contract fixes exact messages and check order, and responses are serialized from what the
  // handlers build (never silently trimmed to a schema).
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(transport, { allowedOrigins: options.http.allowedOrigins });
  await app.register(openapi);
  await app.register(metrics);
  await app.register(rootRoutes);
  if (options.routes) await app.register(options.routes);
  return app;
}
