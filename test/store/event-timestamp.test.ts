// An event's created_at text (src/store/events.ts eventTimestamp) is what Date#toISOString
// writes, for every instant: it is covered by the event's MAC and read back from the journal.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { eventTimestamp } from '../../src/store/events.js';

test('writes each instant as toISOString does, across minutes, years and the edges of the range', () => {
  const instants = [
    0,
    -1,
    Date.UTC(1969, 11, 31, 23, 59, 59, 999),
    Date.UTC(2026, 10, 24, 12, 0, 0, 0),
    Date.UTC(2026, 10, 24, 12, 0, 59, 999),
    Date.UTC(2026, 10, 24, 12, 1, 0, 0),
    Date.UTC(2028, 1, 29, 23, 59, 59, 1),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    Date.UTC(10_000, 0, 1),
    -62_198_755_200_000, // year -0001
  ];
  // Runs within one minute and jumps between minutes, in both directions (the kept prefix changes).
  const start = Date.UTC(2026, 10, 24, 12, 0, 0, 0);
  for (let i = 0; i < 5_000; i++) instants.push(start + randomInt(0, 180_000));
  for (let i = 0; i < 5_000; i++) instants.push(randomInt(0, 2 ** 47));
  for (const time of instants) {
    const date = new Date(time);
    assert.equal(eventTimestamp(date), date.toISOString(), String(time));
  }
});

test('refuses an invalid date as toISOString does', () => {
  assert.throws(() => eventTimestamp(new Date(Number.NaN)), RangeError);
});
