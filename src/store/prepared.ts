// Hot statements on PostgreSQL are parsed and planned once per connection instead of on every
// execution: planning the audit append (a CTE over JSON parameters) costs about a third of its
// time. A statement opts in with a leading marker comment; only statements whose text never varies
// may carry one (one parameter per field or per JSON document, never a list of placeholders), since
// a prepared statement is kept per name for the life of the connection. The embedded store ignores
// the marker (it is a comment).
import { sql, type RawBuilder } from 'kysely';
import type pg from 'pg';
import { interceptQuery } from './pg-query.js';

const MARKER = /^\/\* prepared:([a-z][a-z0-9-]*) \*\//;

/** Put first in a statement's text: `sql\`${preparedAs('name')} select ...\``. */
export function preparedAs(name: string): RawBuilder<unknown> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`invalid prepared statement name: ${name}`);
  return sql.raw(`/* prepared:${name} */ `);
}

const PREPARED_HOOK = Symbol('coffer.preparedStatements');

/** For `pool.on('connect')`: the client runs marked statements as named prepared statements. */
export function runMarkedStatementsPrepared(client: pg.PoolClient): void {
  interceptQuery(client, PREPARED_HOOK, (query, text, rest) => {
    const marked = MARKER.exec(text);
    if (!marked || !(rest.length === 0 || Array.isArray(rest[0]))) return undefined;
    return query({ name: marked[1], text, values: rest[0] ?? [] });
  });
}
