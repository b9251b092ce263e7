// HTTP/1.1 over a bare socket, for the reliability suites: requests whose bytes fetch() would refuse
// or fix (invalid UTF-8, odd header bytes, bad percent-encoding, unknown methods), bodies and headers
// sent slowly, and a client-side deadline on every exchange.
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** Request target exactly as sent (already encoded, or deliberately not). */
  target: string;
  /** Header lines in order; values are written as given (a Buffer as raw bytes). */
  headers?: Array<[string, string | Buffer]>;
  body?: Buffer | string;
  /** Adds `content-length` for the body unless a header of that name (or transfer-encoding) is given. */
  autoLength?: boolean;
}

export type RawOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: Buffer; ms: number }
  | { kind: 'closed'; ms: number; received: Buffer }
  | { kind: 'timeout'; ms: number };

export function encodeRequest(request: RawRequest): Buffer {
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
  const headers = [...(request.headers ?? [])];
  const names = new Set(headers.map(([name]) => name.toLowerCase()));
  if (!names.has('host')) headers.unshift(['host', '127.0.0.1']);
  if ((request.autoLength ?? true) && !names.has('content-length') && !names.has('transfer-encoding') && (body.length > 0 || request.method !== 'GET')) {
    headers.push(['content-length', String(body.length)]);
  }
  headers.push(['connection', 'close']);
  const parts: Buffer[] = [Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\n`, 'latin1')];
  for (const [name, value] of headers) {
    parts.push(Buffer.from(`${name}: `, 'latin1'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from('\r\n', 'latin1'), body);
  return Buffer.concat(parts);
}

/** Splits a complete HTTP/1.1 response (connection: close) into status, headers and decoded body. */
export function parseResponse(bytes: Buffer): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks: Buffer[] = [];
    let rest = body;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) break;
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size) || size === 0) break;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(chunks);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { status: Number(match[1]), headers, body };
}

export interface SendOptions {
  port: number;
  /** Client-side deadline for the whole exchange. */
  timeoutMs: number;
  /**
   * Write the request in pieces of this many bytes, `delayMs` apart (a slow client); the first
   * `startAt` bytes (e.g. the headers) go at once.
   */
  trickle?: { bytes: number; delayMs: number; startAt?: number; stopAfter?: number };
  /** The client's address (another loopback address than 127.0.0.1: a client the server counts apart). */
  localAddress?: string;
}

/** Sends one request on a new connection and reads until the server closes it (or the deadline). */
export function sendRaw(request: RawRequest | Buffer, options: SendOptions): Promise<RawOutcome> {
  const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ port: options.port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    const received: Buffer[] = [];
    let settled = false;
    let trickleTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (trickleTimer) clearTimeout(trickleTimer);
      socket.destroy();
      resolve(outcome);
    };
    const deadline = setTimeout(() => finish({ kind: 'timeout', ms: Date.now() - started }), options.timeoutMs);
    socket.on('data', (chunk) => received.push(chunk));
    const done = () => {
      const all = Buffer.concat(received);
      const parsed = parseResponse(all);
      finish(parsed ? { kind: 'response', ...parsed, ms: Date.now() - started } : { kind: 'closed', ms: Date.now() - started, received: all });
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => {});
    socket.on('connect', () => {
      if (!options.trickle) {
        socket.write(bytes);
        return;
      }
      const { bytes: size, delayMs, startAt = 0, stopAfter } = options.trickle;
      const limit = Math.min(bytes.length, stopAfter ?? bytes.length);
      let offset = Math.min(startAt, limit);
      if (offset > 0) socket.write(bytes.subarray(0, offset));
      const next = () => {
        if (settled || socket.destroyed) return;
        const piece = bytes.subarray(offset, Math.min(offset + size, limit));
        offset += piece.length;
        if (piece.length > 0) socket.write(piece);
        if (offset < limit) trickleTimer = setTimeout(next, delayMs);
      };
      next();
    });
  });
}
