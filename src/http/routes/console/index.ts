// Coffer's own API under /coffer/v1 (not Phase's): first-run setup, console sessions, the
// signed-in person's keyring, organisations and personal access tokens, invite acceptance.
import type { FastifyInstance } from 'fastify';
import { accountRoutes } from './account.js';
import { consoleAuthHook } from './auth.js';
import { inviteRoutes } from './invites.js';
import { organisationRoutes } from './organisations.js';
import { setupRoutes } from './setup.js';
import { tokenRoutes } from './tokens.js';

export async function consoleRoutes(app: FastifyInstance) {
  consoleAuthHook(app);
  await setupRoutes(app);
  await accountRoutes(app);
  await organisationRoutes(app);
  await tokenRoutes(app);
  await inviteRoutes(app);
}
