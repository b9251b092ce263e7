/**
 * A minimal stand-in for the client-protocol endpoints (crypto spec §4.3, §4.4, §4.5, §6), only so that
 * the crypto layer can be checked against the unmodified Phase Node SDK. It serves what it is given and
 * authenticates by the SHA-256 of the bearer, as the real server will; the real endpoints live in
 * src/http and are tested there.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerHash } from '../../../src/crypto/index.js';

const TIMESTAMP = '2025-01-01T00:00:00.000000Z';

export interface MockEnvironment {
  id: string;
  name: string;
  envType: 'dev' | 'staging' | 'prod' | 'custom';
  index: number;
  /** EnvironmentKey row of the token's principal. */
  identityKey: string;
  wrappedSeed: string;
  wrappedSalt: string;
}

export interface MockApp {
  id: string;
  name: string;
  environments: MockEnvironment[];
}

export interface MockSecret {
  id: string;
  key: string;
  value: string;
  comment: string;
  keyDigest: string;
  path: string;
  tags: string[];
  version: number;
}

export interface MockPrincipal {
  authType: 'User' | 'ServiceAccount';
  /** user_id for a PAT, account_id for a service-account token. */
  id: string;
  bearerHash: string;
  wrappedKeyShare: string;
}

export interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface MockPhaseServer {
  host: string;
  secrets: Map<string, MockSecret[]>;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startMockPhaseServer(options: {
  principal: MockPrincipal;
  apps: MockApp[];
  secrets?: Map<string, MockSecret[]>;
}): Promise<MockPhaseServer> {
  const secrets = options.secrets ?? new Map<string, MockSecret[]>();
  const requests: CapturedRequest[] = [];

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      try {
        route(req, res, body);
      } catch (error) {
        sendJson(res, 500, { error: String(error) });
      }
    });
  });

  function authenticated(req: IncomingMessage): boolean {
    const [scheme, type, bearer, ...rest] = (req.headers.authorization ?? '').split(' ');
    return (
      scheme?.toLowerCase() === 'bearer' &&
      type === options.principal.authType &&
      bearer !== undefined &&
      rest.length === 0 &&
      bearerHash(bearer) === options.principal.bearerHash
    );
  }

  function findEnvironment(id: string | undefined): MockEnvironment | undefined {
    return options.apps.flatMap((app) => app.environments).find((env) => env.id === id);
  }

  function route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/service/secrets/tokens/' && req.method === 'GET') {
      if (!authenticated(req)) return sendJson(res, 403, { error: 'Token expired or deleted' });
      return sendJson(res, 200, tokensResponse());
    }
    if (path !== '/service/secrets/') return sendJson(res, 404, { error: 'Not found' });
    if (!authenticated(req)) return sendJson(res, 401, { error: 'Token expired or deleted' });
    const envId = header(req, 'environment');
    const env = findEnvironment(envId);
    if (!env) return sendJson(res, 401, { error: 'Environment not found' });
    const rows = secrets.get(env.id) ?? [];
    secrets.set(env.id, rows);

    if (req.method === 'GET') {
      const digest = header(req, 'keydigest');
      const wanted = header(req, 'path');
      const selected = rows.filter((row) => (!digest || row.keyDigest === digest) && (!wanted || row.path === wanted));
      const camel = req.headers['x-use-camel-case'] === 'true';
      return sendJson(res, 200, selected.map((row) => secretResponse(row, env.id, camel)));
    }
    if (req.method === 'POST') {
      // The Node SDK sends JSON labelled application/x-www-form-urlencoded: parse whatever the type.
      const payload = JSON.parse(body) as { secrets: Array<Omit<MockSecret, 'id' | 'version'>> };
      for (const secret of payload.secrets) rows.push({ ...secret, id: randomUUID(), version: 1, path: secret.path || '/' });
      res.writeHead(200).end();
      return;
    }
    sendJson(res, 405, { error: 'Method not allowed' });
  }

  /** §4.3, always snake_case. */
  function tokensResponse(): unknown {
    const { principal } = options;
    return {
      wrapped_key_share: principal.wrappedKeyShare,
      ...(principal.authType === 'User' ? { user_id: principal.id } : { account_id: principal.id }),
      offline_enabled: false,
      organisation: { id: 'org-under-test', name: 'coffer-test' },
      apps: options.apps.map((app) => ({
        id: app.id,
        name: app.name,
        encryption: 'SSE',
        environment_keys: app.environments.map((env) => ({
          id: randomUUID(),
          environment: {
            id: env.id,
            name: env.name,
            env_type: env.envType,
            index: env.index,
            created_at: TIMESTAMP,
            updated_at: TIMESTAMP,
          },
          paths: null,
          identity_key: env.identityKey,
          wrapped_seed: env.wrappedSeed,
          wrapped_salt: env.wrappedSalt,
          created_at: TIMESTAMP,
          updated_at: TIMESTAMP,
          deleted_at: null,
          user: principal.authType === 'User' ? principal.id : null,
          service_account: principal.authType === 'ServiceAccount' ? principal.id : null,
        })),
      })),
    };
  }

  /** §4.4 element, camelCase when X-Use-Camel-Case: true, otherwise snake_case. */
  function secretResponse(row: MockSecret, environmentId: string, camel: boolean): unknown {
    const common = {
      id: row.id,
      key: row.key,
      value: row.value,
      comment: row.comment,
      tags: row.tags,
      override: null,
      type: 'secret',
      lifecycle: 'static',
      path: row.path,
      version: row.version,
      environment: environmentId,
      folder: null,
    };
    return camel
      ? { ...common, keyDigest: row.keyDigest, createdAt: TIMESTAMP, updatedAt: TIMESTAMP }
      : { ...common, key_digest: row.keyDigest, created_at: TIMESTAMP, updated_at: TIMESTAMP };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `http://127.0.0.1:${port}`,
    secrets,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
