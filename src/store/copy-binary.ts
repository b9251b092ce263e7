// Rows in PostgreSQL's binary COPY format ("Binary Format" of the COPY reference page), how secrets
// and audit events are inserted in bulk (copy.ts). The server then runs no text input function per
// field: in PGlite those are most of a COPY row's cost (a uuid measured at about 2 µs, a
// timestamptz at 2-3 µs), while a binary field is copied as it is.

/** PostgreSQL's epoch (2000-01-01T00:00:00Z) in Unix milliseconds. */
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const UUID_OID = 2950;
const JSONB_VERSION = 1;
const DASH = 45;
/** Where each of a uuid's 16 bytes starts in its text form. */
const UUID_BYTE_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** The value of each hexadecimal digit's character code, or -1 (for every UTF-16 code unit). */
const HEX = new Int8Array(65536).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Bytes before the first row: the signature, the flags and the header extension's length. */
const HEADER_BYTES = SIGNATURE.length + 8;
/** Bytes after the last row: the trailer (a field count of -1). */
const TRAILER_BYTES = 2;

/** Writes the header at the start of `buffer`; returns where the first row starts. */
function writeHeader(buffer: Buffer): number {
  let at = SIGNATURE.copy(buffer, 0);
  at = buffer.writeInt32BE(0, at); // flags: no OIDs
  return buffer.writeInt32BE(0, at); // no header extension
}

/**
 * Several inputs written by BinaryCopyWriter as one: their rows in order, behind one header and
 * before one trailer (an input carries both, so two cannot simply be appended).
 */
export function joinCopyBinary(inputs: readonly Uint8Array[]): Uint8Array {
  if (inputs.length === 1) return inputs[0]!;
  let size = HEADER_BYTES + TRAILER_BYTES;
  for (const input of inputs) size += input.length - HEADER_BYTES - TRAILER_BYTES;
  const out = Buffer.allocUnsafe(size);
  let at = writeHeader(out);
  for (const input of inputs) {
    out.set(input.subarray(HEADER_BYTES, input.length - TRAILER_BYTES), at);
    at += input.length - HEADER_BYTES - TRAILER_BYTES;
  }
  out.writeInt16BE(-1, at);
  return out;
}

export class BinaryCopyWriter {
  #buffer: Buffer;
  #at = 0;

  /** @param sizeHint expected size in bytes (the buffer grows as needed). */
  constructor(sizeHint = 4096) {
    this.#buffer = Buffer.allocUnsafe(Math.max(sizeHint, 64));
    this.#at = writeHeader(this.#buffer);
  }

  /** Starts a row of `fields` fields; each is then written by one of the methods below (null: SQL NULL). */
  row(fields: number): void {
    this.#reserve(2);
    this.#at = this.#buffer.writeInt16BE(fields, this.#at);
  }

  null(): void {
    this.#reserve(4);
    this.#at = this.#buffer.writeInt32BE(-1, this.#at);
  }

  uuid(value: string | null): void {
    if (value === null) return this.null();
    this.#reserve(20);
    this.#at = this.#buffer.writeInt32BE(16, this.#at);
    this.#uuidBytes(value);
  }

  int4(value: number | null): void {
    if (value === null) return this.null();
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) throw new Error(`COPY: ${value} is not a 32-bit integer`);
    this.#reserve(8);
    this.#at = this.#buffer.writeInt32BE(4, this.#at);
    this.#at = this.#buffer.writeInt32BE(value, this.#at);
  }

  int8(value: number | null): void {
    if (value === null) return this.null();
    if (!Number.isSafeInteger(value)) throw new Error(`COPY: ${value} is not an integer`);
    this.#reserve(12);
    this.#at = this.#buffer.writeInt32BE(8, this.#at);
    this.#at = this.#buffer.writeInt32BE(Math.floor(value / 2 ** 32), this.#at);
    this.#at = this.#buffer.writeUInt32BE(value >>> 0, this.#at);
  }

  timestamptz(value: Date | null): void {
    if (value === null) return this.null();
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw new Error('COPY: an invalid date');
    this.int8((ms - POSTGRES_EPOCH_MS) * 1000);
  }

  text(value: string | null): void {
    if (value === null) return this.null();
    this.#reserve(4 + 3 * value.length);
    const length = this.#utf8(value, this.#at + 4);
    this.#buffer.writeInt32BE(length, this.#at);
    this.#at += 4 + length;
  }

  /** jsonb's binary form: a version byte, then the JSON text. */
  jsonb(json: string | null): void {
    if (json === null) return this.null();
    this.#reserve(5 + 3 * json.length);
    this.#buffer[this.#at + 4] = JSONB_VERSION;
    const length = this.#utf8(json, this.#at + 5);
    this.#buffer.writeInt32BE(length + 1, this.#at);
    this.#at += 5 + length;
  }

  /** A one-dimensional uuid[] without nulls. */
  uuidArray(values: readonly string[] | null): void {
    if (values === null) return this.null();
    const dimensions = values.length === 0 ? 0 : 1;
    const size = 12 + dimensions * 8 + values.length * 20;
    this.#reserve(4 + size);
    const b = this.#buffer;
    this.#at = b.writeInt32BE(size, this.#at);
    this.#at = b.writeInt32BE(dimensions, this.#at);
    this.#at = b.writeInt32BE(0, this.#at); // no nulls
    this.#at = b.writeInt32BE(UUID_OID, this.#at);
    if (dimensions === 1) {
      this.#at = b.writeInt32BE(values.length, this.#at);
      this.#at = b.writeInt32BE(1, this.#at); // lower bound
    }
    for (const value of values) {
      this.#at = b.writeInt32BE(16, this.#at);
      this.#uuidBytes(value);
    }
  }

  /** The rows written, with the trailer; the writer is not used after this. */
  finish(): Uint8Array {
    this.#reserve(2);
    this.#at = this.#buffer.writeInt16BE(-1, this.#at);
    return this.#buffer.subarray(0, this.#at);
  }

  /** The 16 bytes of a uuid in its canonical text form (8-4-4-4-12 hexadecimal digits). */
  #uuidBytes(value: string): void {
    const b = this.#buffer;
    const at = this.#at;
    // A -1 (not a hexadecimal digit) anywhere makes `digits` negative.
    let digits = value.length === 36 && value.charCodeAt(8) === DASH && value.charCodeAt(13) === DASH && value.charCodeAt(18) === DASH && value.charCodeAt(23) === DASH ? 0 : -1;
    for (let k = 0; k < 16; k++) {
      const i = UUID_BYTE_AT[k]!;
      const high = HEX[value.charCodeAt(i)]!;
      const low = HEX[value.charCodeAt(i + 1)]!;
      digits |= high | low;
      b[at + k] = (high << 4) | low;
    }
    if (digits < 0) throw new Error(`COPY: ${JSON.stringify(value)} is not a uuid`);
    this.#at = at + 16;
  }

  /**
   * Writes `value` as UTF-8 at `at` (space reserved by the caller) and returns its length. Short
   * ASCII strings (event kinds, MACs, addresses) are copied here: a native write costs more than
   * the copy for them.
   */
  #utf8(value: string, at: number): number {
    const b = this.#buffer;
    if (value.length <= 128) {
      let i = 0;
      for (; i < value.length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        b[at + i] = code;
      }
      if (i === value.length) return i;
    }
    return b.write(value, at, 'utf8');
  }

  #reserve(bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#at + bytes));
    this.#buffer.copy(grown, 0, 0, this.#at);
    this.#buffer = grown;
  }
}
