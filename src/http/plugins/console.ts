// The web console (web/, built by Vite into dist/web) as static files under /console/. The page
// talks to the same origin only, so its headers forbid everything else: no framing, no other
// origin to load from or send to, no referrer. Hashed assets are cached for good; the page never.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorHandler, sendError } from '../errors.js';

export const CONSOLE_PATH = '/console/';

/** dist/src/http/plugins → dist/web */
const BUILT_CONSOLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');

// 'wasm-unsafe-eval': libsodium runs as WebAssembly compiled from bytes in the bundle.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export async function consoleAssets(app: FastifyInstance, options: { root?: string }) {
  const root = options.root ?? BUILT_CONSOLE;
  app.get('/console', { schema: { hide: true } }, async (_request, reply) => reply.redirect(CONSOLE_PATH, 308));
  if (!fs.existsSync(path.join(root, 'index.html'))) {
    const notBuilt = async (_request: FastifyRequest, reply: FastifyReply) => sendError(reply, 503, 'The console is not built in this installation: run `npm run build`.');
    app.get(`${CONSOLE_PATH}*`, { schema: { hide: true } }, notBuilt);
    app.get('/invites/*', { schema: { hide: true } }, notBuilt);
    return;
  }
  // A path the file server refuses (an encoded `..`, a dot-file) is one more file that is not there.
  app.setErrorHandler((error, request, reply) => {
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(reply, 404, 'Not found.');
    return errorHandler(error, request, reply);
  });
  await app.register(fastifyStatic, {
    root,
    prefix: CONSOLE_PATH,
    index: false,
    dotfiles: 'deny',
    schemaHide: true,
    setHeaders(reply, filePath) {
      for (const [name, value] of Object.entries(PAGE_HEADERS)) reply.header(name, value);
      const immutable = filePath.startsWith(path.join(root, 'assets') + path.sep);
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const page = async (_request: FastifyRequest, reply: FastifyReply) => reply.sendFile('index.html');
  app.route({ method: ['GET', 'HEAD'], url: CONSOLE_PATH, schema: { hide: true }, handler: page });
  // The link the REST API hands out for an invite (inviteUrl) opens the console's invite page.
  for (const url of ['/invites/:invite_token', '/invites/:invite_token/']) app.route({ method: ['GET', 'HEAD'], url, schema: { hide: true }, handler: page });
}
