// The embedded store can be opened by one process only, so administrative commands (key rotation,
// backups, audit verification) reach a running embedded server through a Unix socket in its data
// directory. The socket is mode 0600: whoever can read the data directory is the administrator.
import fs from 'node:fs';
import http from 'node:http';

export type AdminHandler = (body: Record<string, unknown>) => Promise<unknown>;

/** An operation refused for a reason the operator can fix; shown as one line, with a hint. */
export class AdminRefusal extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'AdminRefusal';
  }
}

export interface AdminSocket {
  readonly path: string;
  close(): Promise<void>;
}

export const ADMIN_SOCKET_FILE = 'admin.sock';

export async function startAdminSocket(socketPath: string, handlers: Record<string, AdminHandler>, onError: (error: unknown) => void): Promise<AdminSocket> {
  fs.rmSync(socketPath, { force: true });
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const name = (request.url ?? '/').replace(/^\/+|\/+$/g, '');
      const handler = request.method === 'POST' ? handlers[name] : undefined;
      const reply = (status: number, body: unknown) => {
        let text: string;
        try {
          text = JSON.stringify(body);
        } catch (error) {
          // Never let an answer that cannot be sent (one past V8's string limit) take the server down.
          onError(error);
          status = 500;
          text = JSON.stringify({ error: `the answer could not be sent (${(error as Error)?.message ?? String(error)})` });
        }
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(text);
      };
      if (!handler) return reply(404, { error: `unknown admin operation: ${request.method} /${name}` });
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        return reply(400, { error: 'body must be JSON' });
      }
      handler(body).then(
        (result) => reply(200, result),
        (error: unknown) => {
          // A refusal is the operator's to fix (a path that cannot be written, an unknown organisation): not a server error.
          if (error instanceof AdminRefusal) return reply(400, { error: error.message, ...(error.hint ? { hint: error.hint } : {}) });
          onError(error);
          reply(500, { error: (error as Error)?.message ?? String(error) });
        },
      );
    });
  });
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(previousUmask);
  }
  fs.chmodSync(socketPath, 0o600);
  return {
    path: socketPath,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          fs.rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}

/** Calls a running server's admin socket; undefined when no server answers there. */
export async function callAdminSocket(socketPath: string, operation: string, body: Record<string, unknown> = {}): Promise<{ status: number; body: any } | undefined> {
  if (!fs.existsSync(socketPath)) return undefined;
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, path: `/${operation}`, method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          resolve({ status: response.statusCode ?? 0, body: { error: text } });
        }
      });
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      // A socket file left behind by a killed server: nobody listens.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(undefined);
      else reject(error);
    });
    request.end(JSON.stringify(body));
  });
}
