// Bulk loads with COPY, through Kysely like any other statement, on both stores. Rows cost far less
// through COPY than through INSERT, and less in COPY's binary format than in text: in PGlite
// (PostgreSQL compiled to WebAssembly, in this thread) 100 secrets inserted with one statement
// measured at about 15 ms, as binary COPY at about 1 ms. Kysely's drivers have no way to hand COPY
// its input, so each store's connection runs one statement shape itself: `copy ... from stdin ...`
// with a single parameter, the input (COPY text, or binary COPY bytes). PostgreSQL gets it
// in one round trip with the statement (CopyInOneTrip); PGlite reads it as the file '/dev/blob'.
import type { PGlite, Transaction as PGliteTransaction } from '@electric-sql/pglite';
import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import type { Executor } from './database.js';
import { interceptQuery } from './pg-query.js';

const COPY_FROM_STDIN = /^copy\s[\s\S]*\sfrom\s+stdin\b/i;

type CopyInput = string | Uint8Array;

/** The input of a `copy ... from stdin` statement, or undefined for any other statement. */
function copyInput(statement: string, parameters: unknown): CopyInput | undefined {
  if (!Array.isArray(parameters) || parameters.length !== 1) return undefined;
  const input: unknown = parameters[0];
  return (typeof input === 'string' || input instanceof Uint8Array) && COPY_FROM_STDIN.test(statement) ? input : undefined;
}

/**
 * Runs `copy <target> from stdin` with `data` as its input, in db's transaction if it is one. All
 * or nothing: a row that violates a constraint fails the whole statement (COPY cannot skip rows).
 */
export async function copyFrom(db: Executor, target: string, data: CopyInput, format: 'text' | 'binary'): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(`copy ${target} from stdin${format === 'binary' ? ' with (format binary)' : ''}`, [data]));
}

const COPY_FROM_STDIN_HOOK = Symbol('coffer.copyFromStdin');

/** For `pool.on('connect')`: the client runs copyFrom's statements, with their input. */
export function runCopyFromStdin(client: pg.PoolClient): void {
  interceptQuery(client, COPY_FROM_STDIN_HOOK, (query, text, rest) => {
    const input = copyInput(text, rest[0]);
    if (input === undefined) return undefined;
    const copy = new CopyInOneTrip(text, typeof input === 'string' ? Buffer.from(input) : input);
    query(copy);
    return copy.done;
  });
}

/** The protocol's message type bytes (PostgreSQL frontend/backend protocol, "Message Formats"). */
const COPY_DATA = 0x64;
const COPY_DONE = 0x63;

/**
 * `copy ... from stdin` as one round trip: the statement, its input and the end of the input are
 * sent together, instead of waiting for PostgreSQL's CopyInResponse before sending the input (a
 * write's two COPYs cost a round trip each that way). PostgreSQL reads the input once the
 * statement has put it in copy mode; should the statement fail before, or the copy fail midway, it
 * answers the error and discards the copy messages that follow (the protocol has it ignore CopyData
 * and CopyDone outside copy mode), then is ready for the next statement. A node-postgres
 * "submittable": the client calls submit() when the connection is free and hands it the statement's
 * answers.
 */
class CopyInOneTrip {
  readonly done: Promise<pg.QueryResult>;
  #settle!: (error: Error | undefined) => void;
  #rowCount = 0;

  constructor(private readonly text: string, private readonly input: Uint8Array) {
    this.done = new Promise((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve({ command: 'COPY', rowCount: this.#rowCount, rows: [], fields: [], oid: 0 }));
    });
  }

  /** Replaced by node-postgres with its query_timeout handling; called when the statement ends. */
  callback(): void {}

  submit(connection: { stream: NodeJS.WritableStream & { cork(): void; uncork(): void }; query(text: string): void }): void {
    const header = Buffer.allocUnsafe(5);
    header[0] = COPY_DATA;
    header.writeUInt32BE(this.input.byteLength + 4, 1);
    const stream = connection.stream;
    stream.cork();
    connection.query(this.text);
    stream.write(header);
    stream.write(this.input);
    stream.write(Buffer.from([COPY_DONE, 0, 0, 0, 4]));
    stream.uncork();
  }

  handleCopyInResponse(): void {} // the input is on its way already

  handleCommandComplete(message: { text?: string }): void {
    const count = /^COPY (\d+)$/.exec(message.text ?? '');
    if (count) this.#rowCount = Number(count[1]);
  }

  /** node-postgres stops routing the statement's answers here after an error: it ends here. */
  handleError(error: Error): void {
    this.callback();
    this.#settle(error);
  }

  handleReadyForQuery(): void {
    this.callback();
    this.#settle(undefined);
  }
}

/** The PGlite instance for Kysely: as `pglite`, except that it runs copyFrom's statements. */
export function withCopyFromStdin(pglite: PGlite): PGlite {
  return copying(pglite, (property, target) =>
    property === 'transaction'
      ? <T>(work: (tx: PGliteTransaction) => Promise<T>) => target.transaction((tx) => work(copying(tx)))
      : undefined,
  );
}

type Queryable = Pick<PGlite, 'query'>;

/**
 * `target` with its `query` replaced by copyingQuery (and whatever `override` returns). Members
 * are read from and bound to the target itself: PGlite keeps its state in private fields.
 */
function copying<T extends Queryable>(target: T, override?: (property: string | symbol, target: T) => unknown): T {
  return new Proxy(target, {
    get(_proxy, property) {
      if (property === 'query') return copyingQuery(target);
      const replaced = override?.(property, target);
      if (replaced !== undefined) return replaced;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function copyingQuery(target: Queryable): Queryable['query'] {
  return (statement, parameters, options) => {
    const input = copyInput(statement, parameters);
    if (input === undefined) return target.query(statement, parameters, options);
    // Bytes come from BinaryCopyWriter, never on a SharedArrayBuffer.
    const blob = new Blob([input as string | Uint8Array<ArrayBuffer>]);
    return target.query(statement.replace(/\sfrom\s+stdin\b/i, " from '/dev/blob'"), [], { ...options, blob });
  };
}
