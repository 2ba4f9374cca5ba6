/**
 * The home agent's expiry schedule: keys by the second they fall due, taken
 * out in order of their seconds once those have come, each in one second at
 * most.
 */
import { describe, expect, it } from 'vitest';
import { DueWheel } from '../../control/ha/due.js';

describe('DueWheel', () => {
  it('gives back the keys whose second has come, earliest second first, and takes them out', () => {
    const w = new DueWheel<string>();
    w.set('late', 9_000);
    w.set('b', 2_500);
    w.set('a', 1_999);
    w.set('same-second', 2_000);
    expect(w.take(999)).toEqual([]);
    expect(w.take(2_100)).toEqual(['a', 'b', 'same-second']); // b (2.5 s) is in the second that came: the caller checks
    expect(w.take(2_999)).toEqual([]);
    expect(w.size).toBe(1);
    expect(w.take(60_000)).toEqual(['late']);
    expect(w.size).toBe(0);
  });

  it('keeps a key in one second only: moved, or gone when it no longer falls due', () => {
    const w = new DueWheel<string>();
    w.set('k', 5_000);
    w.set('k', 7_000);
    expect(w.take(6_000)).toEqual([]);
    expect(w.take(7_000)).toEqual(['k']);
    w.set('k', 8_000);
    w.set('k', undefined);
    expect(w.size).toBe(0);
    expect(w.take(100_000)).toEqual([]);
  });
});
