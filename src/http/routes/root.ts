// GET / and GET /health/ (rest-api §1.10). No authentication; other methods get 405.
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { VERSION } from '../../version.js';
import { sendError } from '../errors.js';

const ALL_METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

const ROOT_BODY = JSON.stringify({
  message: 'API is alive. Please see https://docs.phase.dev/public-api for documentation on available endpoints.',
  status: 'ok',
});
const HEALTH_BODY = JSON.stringify({ status: 'alive', version: VERSION });

function answer(body: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'GET') return sendError(reply, 405, `Method "${request.method}" not allowed.`);
    return reply.type('application/json').send(body);
  };
}

const rootSchema = {
  summary: 'API root',
  tags: ['meta'],
  security: [],
  response: { 200: { type: 'object', properties: { message: { type: 'string' }, status: { type: 'string' } } } },
};
const healthSchema = {
  summary: 'Health check',
  tags: ['meta'],
  security: [],
  response: { 200: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' } } } },
};

export async function rootRoutes(app: FastifyInstance) {
  // "/service" is stripped before routing (app.ts), so "/" also serves "/service/" and "/service".
  for (const url of ['/', '/public/']) {
    app.route({ method: ALL_METHODS, url, schema: url === '/' ? rootSchema : { ...rootSchema, hide: true }, handler: answer(ROOT_BODY) });
  }
  app.route({ method: ALL_METHODS, url: '/health/', schema: healthSchema, handler: answer(HEALTH_BODY) });
  // Legacy alias polled by the Phase web console.
  app.route({ method: ALL_METHODS, url: '/493c5048-99f9-4eac-ad0d-98c3740b491f/health', schema: { hide: true }, handler: answer(HEALTH_BODY) });
}
