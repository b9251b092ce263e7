// Who calls a /coffer/v1 route: a console session (HttpOnly cookie; X-CSRF-Token on every
// state-changing call) or a personal access token (`Authorization: Bearer User ...` or the full
// `pss_user:v1:...`). Resolved in onRequest, before any body is read; handlers get `request.account`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../../domain/errors.js';
import { bucketOf } from '../../../domain/principal.js';
import { SESSION_TTL_MS, type NewSession } from '../../../domain/sessions.js';
import { personRequired, type AccountCaller } from '../../../domain/users.js';
import { isJsonMediaType, isRawBody } from '../../body.js';
import { beforeHandlerOfWrites, carriesBody, clientIp } from '../../plugins/authenticate.js';

/**
 * `public`: no caller (setup, login, opening an invite). `optional`: the caller if the request
 * carries valid credentials (accepting an invite). `account`: a signed-in person is required.
 */
export type ConsoleAuth = 'public' | 'optional' | 'account';

declare module 'fastify' {
  interface FastifyContextConfig {
    console?: ConsoleAuth;
  }
  interface FastifyRequest {
    account?: AccountCaller | null;
  }
}

export const SESSION_COOKIE = 'coffer_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const cookieHeader = header(request, 'cookie');
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/**
 * HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), Path=/, and
 * Secure when the request came over TLS (`X-Forwarded-Proto` counts only with TRUST_PROXY=true,
 * which is what Fastify's request.protocol implements).
 */
function cookieAttributes(request: FastifyRequest, maxAgeSeconds: number): string {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  return `Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, session: NewSession): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${session.sessionId}; ${cookieAttributes(request, Math.floor(SESSION_TTL_MS / 1000))}`);
  reply.header('cache-control', 'no-store');
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; ${cookieAttributes(request, 0)}`);
}

/**
 * Console bodies must be `application/json`: a cross-site form (urlencoded, multipart, text/plain)
 * can then never reach these endpoints without a CORS preflight, which only ALLOWED_ORIGINS pass.
 */
export function assertJsonBody(request: FastifyRequest): void {
  const raw = isRawBody(request.body) ? request.body : undefined;
  if (!raw || (raw.text === '' && raw.mediaType === '')) return;
  if (isJsonMediaType(raw.mediaType)) return;
  throw new DomainError('unsupported_media_type', `Unsupported media type "${raw.contentTypeHeader}" in request. Send JSON with Content-Type: application/json.`);
}

export function consoleAuthHook(app: FastifyInstance): void {
  app.decorateRequest('account', null);
  app.addHook('onRequest', async (request) => {
    const mode = request.routeOptions.config?.console;
    if (!mode || mode === 'public' || request.is404) return;
    await identify(app, request, mode, { countRequest: true });
  });
  // As on the public API (plugins/authenticate.ts): a state-changing call acts for the caller as
  // they are once its body has arrived, not as they were when its headers did.
  beforeHandlerOfWrites(app, 'console', async (request) => {
    const mode = request.routeOptions.config?.console;
    if (!mode || mode === 'public' || !carriesBody(request)) return;
    await identify(app, request, mode, { countRequest: false });
  });
}

async function identify(app: FastifyInstance, request: FastifyRequest, mode: ConsoleAuth, options: { countRequest: boolean }): Promise<void> {
  const { domain } = app;
  const ip = clientIp(request);
  // What the guess budget counts by: never an address the client wrote itself (TRUST_PROXY).
  const address = request.ip;
  const agent = header(request, 'user-agent');
  const userAgent = agent ? agent.slice(0, 512) : null;
  const authorization = header(request, 'authorization');
  if (authorization !== undefined) {
    const principal = await domain.authenticator.authenticate(authorization);
    if (principal.kind !== 'member') throw personRequired();
    if (options.countRequest) await domain.rateLimiter.check(bucketOf(principal));
    request.account = { via: 'token', userId: principal.userId, principal, ip, address, userAgent };
    return;
  }
  const sessionId = readCookie(request, SESSION_COOKIE);
  if (mode === 'optional') {
    // Only a session that also proves it is not a cross-site request counts as the caller here.
    request.account = null;
    const session = sessionId ? await domain.sessions.find(sessionId) : undefined;
    if (session) {
      try {
        domain.sessions.checkCsrf(session, header(request, 'x-csrf-token'));
        request.account = { via: 'session', userId: session.userId, session, ip, address, userAgent };
      } catch {
        request.account = null;
      }
    }
    return;
  }
  if (!sessionId) {
    throw new DomainError('unauthenticated', 'Sign in first: send the console session cookie, or Authorization: Bearer User <token> with a personal access token.');
  }
  const session = await domain.sessions.require(sessionId);
  if (!SAFE_METHODS.has(request.method)) domain.sessions.checkCsrf(session, header(request, 'x-csrf-token'));
  if (options.countRequest) await domain.rateLimiter.check(`session_${session.userId}`);
  request.account = { via: 'session', userId: session.userId, session, ip, address, userAgent };
}
