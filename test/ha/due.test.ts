/**
 * The home agent's expiry schedule: keys by the second they fall due, taken
 * out in order of their seconds once those have come, each in one second at
 * most.
 */
import { describe, expect, it } from 'vitest';
import { DueWheel } from '../../control/ha/due.js';

/** Keys carry their second; named for the assertions. */
interface Key { name: string; dueSecond?: number | undefined }
const keys = new Map<string, Key>();
const k = (name: string): Key => keys.get(name) ?? keys.set(name, { name }).get(name)!;
const names = (ks: Key[]) => ks.map((x) => x.name);

describe('DueWheel', () => {
  it('gives back the keys whose second has come, earliest second first, and takes them out', () => {
    const w = new DueWheel<Key>();
    w.set(k('late'), 9_000);
    w.set(k('b'), 2_500);
    w.set(k('a'), 1_999);
    w.set(k('same-second'), 2_000);
    expect(names(w.take(999))).toEqual([]);
    expect(names(w.take(2_100))).toEqual(['a', 'b', 'same-second']); // b (2.5 s) is in the second that came: the caller checks
    expect(names(w.take(2_999))).toEqual([]);
    expect(w.size).toBe(1);
    expect(names(w.take(60_000))).toEqual(['late']);
    expect(w.size).toBe(0);
  });

  it('keeps a key in one second only: moved earlier, left where it is when it falls due later, gone when it no longer falls due', () => {
    const w = new DueWheel<Key>();
    w.set(k('k'), 7_000);
    w.set(k('k'), 5_000);
    expect(names(w.take(6_000))).toEqual(['k']);
    w.set(k('k'), 8_000);
    w.set(k('k'), 12_000); // later: still held at 8 s, where the caller will look and set it again
    expect(w.size).toBe(1);
    expect(names(w.take(7_999))).toEqual([]);
    expect(names(w.take(8_000))).toEqual(['k']);
    w.set(k('k'), 12_000);
    w.set(k('k'), undefined);
    expect(w.size).toBe(0);
    expect(names(w.take(100_000))).toEqual([]);
  });
});
