// Statement shapes a node-postgres client runs its own way (prepared.ts: named prepared
// statements; copy.ts: COPY FROM STDIN with streamed input), installed on each new connection
// (`pool.on('connect')`) around the client's `query`.
import type pg from 'pg';

type Query = (...args: unknown[]) => unknown;

/**
 * Wraps `client.query` once per `name`: `intercept` sees every call's text and arguments and
 * returns what the call should return, or undefined to let it through unchanged.
 */
export function interceptQuery(client: pg.PoolClient, name: symbol, intercept: (query: Query, text: string, rest: unknown[]) => unknown): void {
  const target = client as pg.PoolClient & { [key: symbol]: true | undefined };
  if (target[name]) return;
  target[name] = true;
  const query = client.query.bind(client) as Query;
  (client as unknown as { query: Query }).query = (text: unknown, ...rest: unknown[]) =>
    (typeof text === 'string' && typeof rest[1] !== 'function' ? intercept(query, text, rest) : undefined) ?? query(text, ...rest);
}
