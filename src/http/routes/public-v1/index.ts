// The public REST API v1 (rest-api.md), Phase-compatible.
import type { FastifyInstance } from 'fastify';
import { appRoutes } from './apps.js';
import { environmentRoutes } from './environments.js';
import { memberRoutes } from './members.js';
import { roleRoutes } from './roles.js';
import { secretRoutes } from './secrets.js';
import { serviceAccountRoutes } from './service-accounts.js';

export async function publicV1Routes(app: FastifyInstance) {
  await appRoutes(app);
  await environmentRoutes(app);
  await secretRoutes(app);
  await serviceAccountRoutes(app);
  await roleRoutes(app);
  await memberRoutes(app);
}
