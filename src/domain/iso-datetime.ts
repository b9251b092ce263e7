// Python's datetime.fromisoformat (3.11+), which Phase uses for token expiry (rest-api §10.7): the
// extended and basic ISO-8601 forms, ISO week dates, any single separator character between date and
// time, fractions of any length (truncated to microseconds), offsets Z, ±HH, ±HHMM, ±HH:MM[:SS[.f]].
// Digits are parsed strictly, as CPython's C implementation does.

export interface IsoDateTime {
  /** The instant, when an offset was given; undefined for a naive value. */
  readonly instant: Date | undefined;
  readonly hasOffset: boolean;
}

/**
 * The instants a datetime may name, as Python's datetime can hold them in UTC: 0001-01-01T00:00:00Z to
 * datetime.max. An offset can carry a value written in year 1 or 9999 outside them
 * (`9999-12-31T23:59:59-23:59` is 10000-01-01 in UTC), which PostgreSQL refuses or answers as
 * `+010000-...` and Phase cannot compute.
 */
export const EARLIEST_INSTANT_MS = -62_135_596_800_000;
export const LATEST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

class IsoError extends Error {}

const DIGIT = /^[0-9]$/;

function digits(text: string, start: number, count: number): number {
  const part = text.slice(start, start + count);
  if (part.length !== count || ![...part].every((c) => DIGIT.test(c))) throw new IsoError();
  return Number(part);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && DIGIT.test(ch);
}

/** Where the date part ends (CPython's _find_isoformat_datetime_separator). */
function separatorIndex(text: string): number {
  const length = text.length;
  if (length === 7) return 7;
  if (text[4] === '-') {
    if (text[5] === 'W') {
      if (length < 8) throw new IsoError();
      if (length > 8 && text[8] === '-') {
        if (length === 9) throw new IsoError();
        if (length > 10 && isDigit(text[10])) return 8;
        return 10;
      }
      return 8;
    }
    return 10;
  }
  if (text[4] === 'W') {
    let index = 7;
    while (index < length && isDigit(text[index])) index += 1;
    if (index < 9) return index;
    return index % 2 === 0 ? 7 : 8;
  }
  return 8;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Gregorian date of ISO week `week`, day `day` (1 = Monday) of ISO year `year`. */
function isoWeekToDate(year: number, week: number, day: number): [number, number, number] {
  if (week < 1 || week > 53 || day < 1 || day > 7) throw new IsoError();
  if (week === 53) {
    // Only years starting on a Thursday, or leap years starting on a Wednesday, have 53 weeks.
    const firstWeekday = new Date(Date.UTC(year, 0, 1)).getUTCDay();
    const leap = daysInMonth(year, 2) === 29;
    if (!(firstWeekday === 4 || (leap && firstWeekday === 3))) throw new IsoError();
  }
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const mondayOfWeek1 = jan4.getTime() - ((jan4.getUTCDay() + 6) % 7) * 86_400_000;
  const date = new Date(mondayOfWeek1 + ((week - 1) * 7 + (day - 1)) * 86_400_000);
  return [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
}

function parseDate(text: string): [number, number, number] {
  if (![7, 8, 10].includes(text.length)) throw new IsoError();
  const year = digits(text, 0, 4);
  const dashed = text[4] === '-';
  let pos = dashed ? 5 : 4;
  let result: [number, number, number];
  if (text[pos] === 'W') {
    pos += 1;
    const week = digits(text, pos, 2);
    pos += 2;
    let day = 1;
    if (text.length > pos) {
      if ((text[pos] === '-') !== dashed) throw new IsoError();
      if (dashed) pos += 1;
      day = digits(text, pos, 1);
      pos += 1;
    }
    if (pos !== text.length) throw new IsoError();
    result = isoWeekToDate(year, week, day);
  } else {
    const month = digits(text, pos, 2);
    pos += 2;
    if ((text[pos] === '-') !== dashed) throw new IsoError();
    if (dashed) pos += 1;
    const day = digits(text, pos, 2);
    pos += 2;
    if (pos !== text.length) throw new IsoError();
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw new IsoError();
    result = [year, month, day];
  }
  if (result[0] < 1 || result[0] > 9999) throw new IsoError();
  return result;
}

/** HH[:?MM[:?SS[{.,}f+]]] -> [h, m, s, microseconds] */
function parseClock(text: string): [number, number, number, number] {
  const values = [0, 0, 0];
  let pos = 0;
  let separated = false;
  for (let i = 0; i < 3; i++) {
    values[i] = digits(text, pos, 2);
    pos += 2;
    const next = text[pos];
    if (i === 0) separated = next === ':';
    if (next === undefined || i === 2) break;
    if (next === '.' || next === ',') break;
    if (separated) {
      if (next !== ':') throw new IsoError();
      pos += 1;
    }
  }
  let micros = 0;
  if (pos < text.length) {
    if (text[pos] !== '.' && text[pos] !== ',') throw new IsoError();
    pos += 1;
    const fraction = text.slice(pos);
    if (fraction.length === 0 || ![...fraction].every((c) => DIGIT.test(c))) throw new IsoError();
    micros = Number(fraction.slice(0, 6).padEnd(6, '0'));
  }
  const [hours, minutes, seconds] = values as [number, number, number];
  if (hours > 23 || minutes > 59 || seconds > 59) throw new IsoError();
  return [hours, minutes, seconds, micros];
}

/** Offset in microseconds, or undefined when the time has none. */
function parseTime(text: string): { clock: [number, number, number, number]; offsetMicros: number | undefined } {
  if (text.length < 2) throw new IsoError();
  const zone = [...text].findIndex((c) => c === '+' || c === '-' || c === 'Z');
  if (zone < 0) return { clock: parseClock(text), offsetMicros: undefined };
  const clock = parseClock(text.slice(0, zone));
  if (text[zone] === 'Z') {
    if (zone !== text.length - 1) throw new IsoError();
    return { clock, offsetMicros: 0 };
  }
  const offsetText = text.slice(zone + 1);
  if ([0, 1, 3].includes(offsetText.length)) throw new IsoError();
  const [h, m, s, us] = parseClock(offsetText);
  const magnitude = ((h * 60 + m) * 60 + s) * 1_000_000 + us;
  return { clock, offsetMicros: text[zone] === '-' ? -magnitude : magnitude };
}

/**
 * Parses like datetime.fromisoformat; returns undefined when Python would raise ValueError, and when
 * the instant (the value less its offset) falls outside years 1 to 9999 in UTC.
 */
export function parseIsoDateTime(text: string): IsoDateTime | undefined {
  try {
    if (text.length < 7 || /[^\x20-\x7e]/.test(text)) return undefined;
    const split = separatorIndex(text);
    // Python takes any character as the separator; the contract refuses the lower-case 't' (§10.7).
    if (text[split] === 't') return undefined;
    const [year, month, day] = parseDate(text.slice(0, split));
    const timeText = text.slice(split + 1);
    if (split < text.length && timeText === '') return undefined;
    const { clock, offsetMicros } = timeText === '' ? { clock: [0, 0, 0, 0] as const, offsetMicros: undefined } : parseTime(timeText);
    if (offsetMicros === undefined) return { instant: undefined, hasOffset: false };
    if (Math.abs(offsetMicros) >= 86_400_000_000) return undefined;
    const [hours, minutes, seconds, micros] = clock;
    const local = new Date(Date.UTC(2000, month - 1, day, hours, minutes, seconds, Math.floor(micros / 1000)));
    // Date.UTC reads years 0-99 as 1900-1999: set the year on its own.
    local.setUTCFullYear(year, month - 1, day);
    const instant = local.getTime() - Math.trunc(offsetMicros / 1000);
    if (instant < EARLIEST_INSTANT_MS || instant > LATEST_INSTANT_MS) return undefined;
    return { instant: new Date(instant), hasOffset: true };
  } catch (error) {
    if (error instanceof IsoError) return undefined;
    throw error;
  }
}
