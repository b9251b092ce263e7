// A bound on how long a statement of a pool may run. Read-audit statements hold reads that wait for
// their event (no audit, no secrets): a lock someone holds on `events`, or a database that stopped
// answering, would otherwise make every read of the node wait without end. A session setting
// (`statement_timeout` at connect) would be a startup parameter PgBouncer refuses, or a session
// state it hands to other clients; so the statement is cancelled as psql's Ctrl-C cancels one: a
// CancelRequest on a connection of its own, naming the backend by its process id and secret key.
// PostgreSQL then fails the statement (57014) and rolls its transaction back, so a refused read
// leaves no event. If no answer came a while after that (the server unreachable), the connection
// is closed, which fails the statement and takes the connection out of the pool.
import pg from 'pg';
import { interceptQuery } from './pg-query.js';

const DEADLINE_HOOK = Symbol('coffer.statementDeadline');

interface LentClient {
  activeQuery?: unknown;
  connection?: { stream?: { destroy(): void } };
}

interface Canceller {
  connection: { on(event: 'error', listener: () => void): void };
  cancel(client: unknown, query: unknown): void;
}

/** For `pool.on('connect')`: each statement of the client is cancelled after `deadlineMs`, its connection closed `deadlineMs` later. */
export function enforceStatementDeadline(config: pg.ClientConfig, deadlineMs: number): (client: pg.PoolClient) => void {
  return (client) => {
    interceptQuery(client, DEADLINE_HOOK, (query, text, rest) => {
      const pending = query(text, ...rest);
      if (!(pending instanceof Promise)) return pending;
      // One timer per statement (every read batch passes here); the close is armed only once a cancel was sent.
      let timer = setTimeout(() => {
        sendCancel(config, client);
        timer = setTimeout(() => (client as unknown as LentClient).connection?.stream?.destroy(), deadlineMs).unref();
      }, deadlineMs).unref();
      const settled = () => clearTimeout(timer);
      pending.then(settled, settled);
      return pending;
    });
  };
}

function sendCancel(config: pg.ClientConfig, client: pg.PoolClient): void {
  const active = (client as unknown as LentClient).activeQuery;
  if (!active) return;
  const canceller = new pg.Client(config) as unknown as Canceller;
  // The cancel's own connection failing (the server unreachable) is what the close above is for.
  canceller.connection.on('error', () => {});
  canceller.cancel(client, active);
}
