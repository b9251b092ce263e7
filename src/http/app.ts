// The HTTP application: a tree of small plugins. It translates HTTP to domain calls and back;
// the process around it (listening, signals, store lifetime) lives in cli/commands/serve.ts.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { errorHandler, frameworkErrorHandler, notFoundHandler } from './errors.js';
import { EVERY_METHOD } from './methods.js';
import { consoleAssets } from './plugins/console.js';
import metrics from './plugins/metrics.js';
import openapi from './plugins/openapi.js';
import transport from './plugins/transport.js';
import { parseQueryString } from './query.js';
import { rootRoutes } from './routes/root.js';
import { lazyChildLogger } from './request-logger.js';

export interface HttpOptions {
  bodyLimit: number;
  allowedOrigins: string[];
  /** Proxy hops to believe (0: none). */
  trustProxy: number;
  /** Seconds to receive all headers (HEADERS_TIMEOUT); default 10. */
  headersTimeout?: number;
  /** Seconds to receive the whole request (REQUEST_TIMEOUT); default 30. */
  requestTimeout?: number;
  /** The bearer /metrics asks for (COFFER_METRICS_TOKEN); unset: /metrics is open. */
  metricsToken?: string | undefined;
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

/**
 * Requests Node's HTTP parser refuses (bad bytes, framing, oversized headers) or abandons (timeouts)
 * never reach a route; they get the API's error shape too, then the connection is closed.
 */
function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request timed out: headers and body must arrive within the server limits.']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request headers too large.']
        : [400, 'Malformed HTTP request.'];
  this.log.debug({ code: error.code, status }, 'client error');
  if (refusing.has(socket)) return; // the parser reports every later chunk too
  refusing.add(socket);
  const refuse = () => {
    if (socket.writable) socket.write(rawErrorResponse(status, message));
    socket.destroy(error);
  };
  // A request read whole before the bad bytes (pipelined) is still being served: its answer goes
  // first, then the error. Answered at once, it would close the connection under that request,
  // whose client would see a failure while its write went through. The request the error is about
  // (a body too slow, malformed chunks) is answered at once.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight && !inFlight.writableEnded && inFlight.req.complete) inFlight.once('close', refuse);
  else refuse();
}

/** Connections whose client error has been answered, or will be once the request in flight is. */
const refusing = new WeakSet<Socket>();

/** A whole HTTP/1.1 error response in the API's shape, for the answers written below Fastify. */
function rawErrorResponse(status: number, message: string): string {
  const body = JSON.stringify({ error: message });
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Two requests Node answers itself, with no body, unless told otherwise: an `Expect` other than
 * `100-continue` (417) and `CONNECT` (the socket is closed). They get the API's error shape too.
 */
function answerWhatNodeWouldDrop(server: HttpServer): void {
  server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({ error: "Unsupported 'Expect' header: only '100-continue' is supported." });
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    response.end(body);
  });
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    socket.end(rawErrorResponse(405, 'CONNECT is not supported.'));
  });
}

/**
 * Answers a connection may have waiting behind the one being sent (HTTP/1.1 pipelining). Node reads
 * a connection's requests a whole chunk at a time, up to ~1,600 in 64 KB, and queues every answer
 * until the client reads: one that never reads could make the server hold gigabytes (40 connections
 * of 1,000 `GET /openapi.json` each ran it out of memory). Past this many, the connection is closed.
 */
export const MAX_QUEUED_RESPONSES = 32;
const queuedResponses = Symbol('coffer.queuedResponses');

function limitPipelining(server: HttpServer): void {
  const handlers = server.listeners('request') as Array<(request: IncomingMessage, response: ServerResponse) => void>;
  if (handlers.length !== 1) throw new Error(`expected Fastify's one request listener, found ${handlers.length}`);
  const [handle] = handlers as [(request: IncomingMessage, response: ServerResponse) => void];
  server.removeListener('request', handle);
  server.on('request', (request, response) => {
    // A response with its socket is the one being sent: the common case costs this one check.
    if (response.socket === null) {
      const socket = request.socket as IncomingMessage['socket'] & { [queuedResponses]?: number };
      const queued = (socket[queuedResponses] ?? 0) + 1;
      if (queued > MAX_QUEUED_RESPONSES) {
        socket.destroy();
        return;
      }
      socket[queuedResponses] = queued;
      response.once('close', () => {
        socket[queuedResponses]!--;
      });
    }
    handle(request, response);
  });
}

/** Where an HTTP/1.1 request without a Host header is routed, to be refused (RFC 9112 §3.2: 400). */
const MISSING_HOST_ROUTE = '/.coffer-missing-host';

function lacksRequiredHost(request: IncomingMessage): boolean {
  return request.headers.host === undefined && request.httpVersionMajor === 1 && request.httpVersionMinor === 1;
}

function refuseMissingHost(app: FastifyInstance): void {
  app.all(MISSING_HOST_ROUTE, { schema: { hide: true } }, (request, reply) => {
    if (!lacksRequiredHost(request.raw)) return reply.callNotFound();
    return reply.code(400).header('connection', 'close').send({ error: 'An HTTP/1.1 request needs a Host header.' });
  });
}

/**
 * Believes the X-Forwarded-* headers of the `hops` proxies nearest to Coffer, so the client address
 * is the one the outermost of them appended (TRUST_PROXY promises that Coffer is reached only through
 * them). Fastify's own number option believes none, and `true` believes the leftmost address, which
 * the client writes itself.
 */
function trustNearestProxies(hops: number): false | ((address: string, hop: number) => boolean) {
  return hops > 0 ? (_address, hop) => hop < hops : false;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const headersTimeoutMs = (options.http.headersTimeout ?? 10) * 1000;
  const requestTimeoutMs = (options.http.requestTimeout ?? 30) * 1000;
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new RequestLogController(),
    childLoggerFactory: lazyChildLogger,
    genReqId: () => randomUUID(),
    bodyLimit: options.http.bodyLimit,
    exposeHeadRoutes: false,
    trustProxy: trustNearestProxies(options.http.trustProxy),
    rewriteUrl: (request) => (lacksRequiredHost(request) ? MISSING_HOST_ROUTE : rewriteUrl(request.url ?? '/')),
    routerOptions: { querystringParser: parseQueryString },
    // Slow or stalled clients may not hold a connection forever (docs/security.md "Limits"): all
    // headers within headersTimeout, the whole request within requestTimeout, checked every second;
    // an idle keep-alive connection is closed after 72 s (longer than common proxies' 60 s).
    // An HTTP/1.1 request without Host is answered by a route (MISSING_HOST_ROUTE), in the API's
    // error shape: Node's own answer to it has no body.
    http: { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1000, requireHostHeader: false },
    requestTimeout: requestTimeoutMs,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  }) as unknown as FastifyInstance;

  // Schemas describe routes for the OpenAPI document; validation is done by hand where the Phase
  // contract fixes exact messages and check order, and responses are serialized from what the
  // handlers build (never silently trimmed to a schema).
  answerWhatNodeWouldDrop(app.server);
  limitPipelining(app.server);
  for (const method of EVERY_METHOD) if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  refuseMissingHost(app);
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(transport, { allowedOrigins: options.http.allowedOrigins });
  await app.register(openapi);
  await app.register(metrics, { token: options.http.metricsToken });
  await app.register(rootRoutes);
  await app.register(consoleAssets);
  if (options.routes) await app.register(options.routes);
  return app;
}
