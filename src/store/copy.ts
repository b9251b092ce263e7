// Bulk loads with COPY on the embedded store, through Kysely like any other statement. In PGlite
// (PostgreSQL compiled to WebAssembly, in this thread) a row costs far more through INSERT than
// through COPY, and far more through text COPY than binary: 100 secrets inserted with one
// statement measured at about 15 ms, as binary COPY at about 1 ms. Kysely's PGlite driver has no
// way to hand COPY its input, so the PGlite instance it is given runs one statement shape itself:
// `copy ... from '/dev/blob' ...` with a single parameter, the input (COPY text or binary bytes).
import type { PGlite, Transaction as PGliteTransaction } from '@electric-sql/pglite';
import { CompiledQuery, PGliteAdapter } from 'kysely';
import type { Executor } from './database.js';

const COPY_FROM_BLOB = /^copy\s[\s\S]*\sfrom\s+'\/dev\/blob'/i;

/** True on the embedded store, whose statements may be COPY FROM '/dev/blob' (copyFrom). */
export function canCopy(db: Executor): boolean {
  return db.getExecutor().adapter instanceof PGliteAdapter;
}

/**
 * Runs `copy <table> (<columns>) from '/dev/blob'` with `data` as its input, in db's transaction
 * if it is one. Embedded store only (canCopy).
 */
export async function copyFrom(db: Executor, target: string, data: string | Uint8Array, format: 'text' | 'binary'): Promise<number> {
  const statement = `copy ${target} from '/dev/blob'${format === 'binary' ? ' with (format binary)' : ''}`;
  const result = await db.executeQuery(CompiledQuery.raw(statement, [data]));
  return Number(result.numAffectedRows ?? 0);
}

/** The PGlite instance for Kysely: as `pglite`, except that it runs copyFrom's statements. */
export function withCopyFromBlob(pglite: PGlite): PGlite {
  return copying(pglite, (property, target) =>
    property === 'transaction'
      ? <T>(work: (tx: PGliteTransaction) => Promise<T>) => target.transaction((tx) => work(copying(tx)))
      : undefined,
  );
}

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

type Queryable = Pick<PGlite, 'query'>;

function copyingQuery(target: Queryable): Queryable['query'] {
  return (statement, parameters, options) => {
    const input = parameters?.length === 1 ? parameters[0] : undefined;
    if ((typeof input === 'string' || input instanceof Uint8Array) && COPY_FROM_BLOB.test(statement)) {
      // Bytes come from BinaryCopyWriter, never on a SharedArrayBuffer.
      return target.query(statement, [], { ...options, blob: new Blob([input as string | Uint8Array<ArrayBuffer>]) });
    }
    return target.query(statement, parameters, options);
  };
}
