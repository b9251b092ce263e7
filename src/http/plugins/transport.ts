// Transport conventions shared by every route (rest-api §1): raw body capture with the framework
// messages, content negotiation (406), CORS from ALLOWED_ORIGINS and a request id header.
import { isUtf8 } from 'node:buffer';
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Negotiator from 'negotiator';
import type { RawBody } from '../body.js';
import { notFoundHandler, sendError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes that answer something other than JSON (docs page, metrics) skip the 406 check. */
    notJson?: boolean;
  }
  interface FastifyRequest {
    /** The Content-Type header as the client sent it (the framework is shown RAW_BODY_TYPE instead). */
    contentTypeSent: string | undefined;
  }
}

/**
 * What the framework sees as every body's type: all bodies go to the one raw parser below, and the
 * type as sent is judged by the endpoint (../body.ts). A malformed type (`foo`, `;`) is then the
 * endpoint's answer — 415 where the type selects the parser, read as JSON on the secrets endpoints,
 * which ignore it (rest-api §1.4) — not a 415 from the framework before any check.
 */
const RAW_BODY_TYPE = 'application/octet-stream';

export interface TransportOptions {
  allowedOrigins: string[];
}

function mediaTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Accept values clients send nearly always; anything else goes through full negotiation. */
const ACCEPTS_JSON = new Set(['*/*', 'application/json', 'application/json, text/plain, */*']);

function acceptsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (accept === undefined || ACCEPTS_JSON.has(accept) || accept.trim() === '') return true;
  return new Negotiator({ headers: { accept } }).mediaType(['application/json']) !== undefined;
}

/**
 * A path parameter matches a non-empty segment only (rest-api §1.2), so `/v1/apps//` is no route:
 * 404 before authentication, as for any unknown path (the router itself matches it with an empty id).
 */
function hasEmptyParameter(params: unknown): boolean {
  const values = params as Record<string, string>;
  for (const name in values) if (values[name] === '') return true;
  return false;
}

async function transport(app: FastifyInstance, options: TransportOptions) {
  // Bodies are kept raw; each handler parses them after its access checks (see ../body.ts).
  app.removeAllContentTypeParsers();
  app.decorateRequest('contentTypeSent', undefined);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, buffer, done) => {
    const header = request.contentTypeSent ?? '';
    const bytes = buffer as Buffer;
    const body: RawBody = { mediaType: mediaTypeOf(header), contentTypeHeader: header, text: bytes.toString('utf8'), validUtf8: isUtf8(bytes) };
    done(null, body);
  });

  // Without ALLOWED_ORIGINS no cross-origin request is allowed and none is answered early: OPTIONS
  // goes to the routes like any other unsupported method (rest-api §1.3), and no request pays for
  // a CORS hook.
  if (options.allowedOrigins.length > 0) {
    await app.register(cors, { origin: options.allowedOrigins, credentials: true, methods: ['GET', 'POST', 'PUT', 'DELETE'], hook: 'onRequest' });
  }

  // Callback style: an async hook costs a promise per request for work that never waits.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    const sent = request.headers['content-type'];
    if (sent !== undefined) {
      request.contentTypeSent = sent;
      request.headers['content-type'] = RAW_BODY_TYPE;
    }
    reply.header('x-request-id', request.id);
    // Answered before the body is read: an unknown path is no reason to buffer megabytes.
    if (request.is404 || hasEmptyParameter(request.params)) return notFoundHandler(request, reply);
    if (request.routeOptions.config?.notJson || acceptsJson(request)) return done();
    sendError(reply, 406, 'Could not satisfy the request Accept header.');
  });
}

export default fp(transport, { name: 'coffer-transport' });
