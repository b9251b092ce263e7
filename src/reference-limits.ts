// Coffer's bounds on the work of expanding secret references, shared by the server's resolution
// (src/domain/secrets/references.ts) and the client's (src/client/references.ts): a secret's value is
// untrusted input to whoever reads it, so neither the server nor a reader's CLI may be held by one.
// Past a bound the value stays verbatim, as an unresolvable reference does.

/**
 * Bounds on the work one value's expansion may cost (docs/security.md "Limits"): depth alone does
 * not bound it, since a value naming two secrets that each name two more doubles per hop
 * (2^25 expansions within the depth limit). Past either bound the value is returned verbatim, as
 * an unresolvable reference is.
 */
export const MAX_REFERENCE_EXPANSIONS = 1000;
export const MAX_RESOLVED_LENGTH = 4 * 1024 * 1024;
/**
 * References one value may hold: finding each costs about a microsecond per phase, so a 2 MB value
 * of 520,000 references held the thread half a second a read (the value is returned verbatim).
 */
export const MAX_REFERENCES_PER_VALUE = 10_000;
/** Characters read and written by one value's substitutions (many references to one long value). */
export const MAX_SCANNED_PER_VALUE = 32 * 1024 * 1024;
/**
 * The same bounds for one read (every value one resolution expands): past any of them the remaining
 * values are returned verbatim. Per-value bounds alone let 1,100 values that each expand to 4 MB
 * exhaust the process's memory, and 990 values that each cost 16 MB of work hold it 14 s.
 */
export const MAX_READ_EXPANSIONS = 100_000;
export const MAX_READ_GROWTH = 64 * 1024 * 1024;
export const MAX_READ_SCANNED = 256 * 1024 * 1024;
/**
 * Characters read and written by the client's substitutions (src/client/references.ts), per value
 * and per read. Phase's SDK replaces one reference at a time, each time finding it from the start
 * of the value and writing the value again, so its cost grows with references × length: a value
 * of 100,000 references held a reader's CLI 46 s. Higher than the server's bounds because memory
 * copies are what they count (about a gigabyte a second here): a value of MAX_REFERENCES_PER_VALUE
 * references still resolves, as on the server, and a read costs about a second at the most.
 */
export const MAX_CLIENT_SCANNED_PER_VALUE = 512 * 1024 * 1024;
export const MAX_CLIENT_READ_SCANNED = 1024 * 1024 * 1024;
