// Real servers on loopback for HTTP tests: the same startServer() as `coffer serve`.
import { randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/server.js';
import type { StoreKind } from '../../src/store/connect.js';
import { TEST_DATABASE_URL } from './stores.js';

export interface TestServer extends RunningServer {
  /** Everything the server logged, one JSON document per line. */
  readonly logs: string[];
}

export interface TestServerOptions {
  store: StoreKind;
  env?: Record<string, string>;
  /** Use this database instead of TEST_DATABASE_URL (PostgreSQL only). */
  databaseUrl?: string;
  extraRoutes?: StartOptions['extraRoutes'];
  /** PGlite only: a file-backed data directory instead of an in-memory store. */
  dataDir?: string;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    COFFER_MASTER_KEY: randomBytes(32).toString('hex'),
    ...options.env,
  };
  if (options.store === 'postgres') {
    const url = options.databaseUrl ?? TEST_DATABASE_URL;
    if (!url) throw new Error('TEST_DATABASE_URL is not set');
    env.DATABASE_URL = url;
  }
  if (options.store === 'pglite' && options.dataDir) env.COFFER_DATA_DIR = options.dataDir;
  const config: Config = loadConfig(env);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const server = await startServer(config, { logger: createLogger(config.logLevel, sink), memoryStore: options.store === 'pglite' && !options.dataDir, ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}) });
  return Object.assign(server, { logs });
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** fetch + parse, never throwing on HTTP errors. */
export async function request<T = any>(url: string, init: RequestInit & { json?: unknown } = {}): Promise<JsonResponse<T>> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    rest.body = JSON.stringify(json);
  }
  const response = await fetch(url, { ...rest, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: jsonOrUndefined(text), text };
}

/** A response text as JSON; undefined when empty or not JSON. */
function jsonOrUndefined(text: string): any {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A loopback address of its own (127.0.0.2-254), so budgets counted per address start empty. */
export const ownLoopbackAddress = (): string => `127.0.0.${randomInt(2, 255)}`;

/** A JSON request sent from `localAddress` (fetch cannot choose it). */
export function requestFrom<T = any>(localAddress: string, url: string, init: { method: string; json?: unknown; headers?: Record<string, string> }): Promise<JsonResponse<T>> {
  const payload = init.json === undefined ? undefined : JSON.stringify(init.json);
  const headers: Record<string, string> = { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method, headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers: responseHeaders, body: jsonOrUndefined(text), text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
