// The OpenAPI document is generated from the route schemas and served at /openapi.json; a
// readable reference (Swagger UI, bundled, no CDN) is at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { VERSION } from '../../version.js';

const DESCRIPTION = `Coffer is a self-hostable secrets manager, wire-compatible with Phase.

Every public route is served under four equivalent prefixes: none (\`/v1/...\`), \`/public\`, \`/service/public\`
(the documented self-hosted base URL) and \`/service\`. Every route ends with a slash; the unslashed form is 404.

Authentication: \`Authorization: Bearer User <token>\` (personal access token), \`Bearer ServiceAccount <token>\`
(service-account token), or the full \`pss_user:v1:...\` / \`pss_service:v2:...\` string after \`Bearer \`.
Errors are always \`{"error": "<message>"}\`.`;

async function openapi(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Coffer API', version: VERSION, description: DESCRIPTION },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: '`User <token>`, `ServiceAccount <token>` or a full token string' },
          session: { type: 'apiKey', in: 'cookie', name: 'coffer_session', description: 'Console session cookie' },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: true } });
  // Serialized once (121 KB): every answer then sends the same bytes instead of building them anew.
  let document: Buffer | undefined;
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    document ??= Buffer.from(JSON.stringify(app.swagger()));
    return reply.type('application/json; charset=utf-8').send(document);
  });
}

export default fp(openapi, { name: 'coffer-openapi' });
