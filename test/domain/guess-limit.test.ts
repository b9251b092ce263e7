// The guess limiter's memory bound must not hand a guesser a fresh budget: past MAX_KEYS it forgets
// keys that aged out or are under budget, and keeps the ones it is refusing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuessLimiter, MAX_KEYS } from '../../src/domain/guess-limit.js';

const WINDOW_MS = 15 * 60_000;

describe('guess limiter', () => {
  it('refuses a key past its budget until its oldest failure ages out', () => {
    let now = 1_000_000;
    const limiter = new GuessLimiter({ max: 3, windowMs: WINDOW_MS }, () => now);
    for (let i = 0; i < 3; i++) limiter.fail(['email:a']);
    assert.throws(() => limiter.check(['email:a', 'ip:1']), { message: 'Too many failed attempts. Try again in 900 seconds.' });
    limiter.check(['email:b']);
    now += WINDOW_MS + 1;
    limiter.check(['email:a']);
  });

  it('counts a guess from its start, so guesses checked at the same time share the budget; a success takes its own back', () => {
    const now = 1_000_000;
    const limiter = new GuessLimiter({ max: 3, windowMs: WINDOW_MS }, () => now);
    const inFlight = [limiter.begin(['email:a', 'ip:1']), limiter.begin(['email:a', 'ip:1']), limiter.begin(['email:a', 'ip:2'])];
    assert.throws(() => limiter.begin(['email:a', 'ip:3']), /Too many failed attempts/, 'three unfinished guesses use the budget');
    inFlight[0]!.succeeded();
    const fourth = limiter.begin(['email:a', 'ip:3']);
    fourth.succeeded();
    fourth.succeeded(); // twice: takes back nothing more
    limiter.begin(['email:a']); // the two unfinished ones still count: one more fits
    assert.throws(() => limiter.begin(['email:a']), /Too many failed attempts/);
    limiter.begin(['email:b', 'ip:3']);
  });

  it(`keeps refusing a locked-out key while ${MAX_KEYS.toLocaleString('en')} other keys fail`, () => {
    let now = 1_000_000;
    const limiter = new GuessLimiter({ max: 10, windowMs: WINDOW_MS }, () => now);
    for (let i = 0; i < 10; i++) limiter.fail(['email:victim', `ip:first-${i}`]);
    assert.throws(() => limiter.check(['email:victim']), /Too many failed attempts/);
    // A guesser varying its address fails once per address.
    for (let i = 0; i <= MAX_KEYS; i++) {
      now += 1;
      limiter.fail([`ip:flood-${i}`]);
    }
    assert.throws(() => limiter.check(['email:victim']), /Too many failed attempts/, 'the victim keeps its count');
  });

  it('stays within its memory bound when every key is refused', () => {
    let now = 1_000_000;
    const limiter = new GuessLimiter({ max: 1, windowMs: WINDOW_MS }, () => now);
    for (let i = 0; i <= MAX_KEYS + 10; i++) {
      now += 1;
      limiter.fail([`ip:${i}`]);
    }
    // The oldest refused keys went first; the newest are still refused.
    limiter.check(['ip:0']);
    assert.throws(() => limiter.check([`ip:${MAX_KEYS + 10}`]), /Too many failed attempts/);
  });
});
