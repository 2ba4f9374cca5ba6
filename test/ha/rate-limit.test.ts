import { describe, expect, it } from 'vitest';
import { SourceRateLimiter } from '../../control/ha/rate-limit.js';

describe('per-source rate limiting', () => {
  it('lets a burst through, then the rate, per source', () => {
    const l = new SourceRateLimiter({ rate: 10, burst: 5, maxSources: 100 });
    const at = (ms: number, n: number, src = 'a') => Array.from({ length: n }, () => l.allow(src, ms)).filter(Boolean).length;
    expect(at(0, 20)).toBe(5);
    expect(at(0, 5, 'b')).toBe(5); // another source has its own bucket
    expect(at(100, 5)).toBe(1); // 100 ms at 10/s: one more
    expect(at(10_000, 20)).toBe(5); // never more than the burst, however long it waited
    expect(l.limited).toBe(15 + 4 + 15);
  });

  it('takes a clock stepped back in its stride: no refill, no debt', () => {
    const l = new SourceRateLimiter({ rate: 10, burst: 2, maxSources: 10 });
    expect([l.allow('a', 3_600_000), l.allow('a', 3_600_000), l.allow('a', 3_600_000)]).toEqual([true, true, false]);
    expect(l.allow('a', 0)).toBe(false); // an hour back: still empty, not an hour in debt...
    expect(l.allow('a', 100)).toBe(true); // ...so 100 ms later, one more
  });

  it('keeps at most maxSources, forgetting the least recently seen', () => {
    const l = new SourceRateLimiter({ rate: 1, burst: 1, maxSources: 1000 });
    for (let i = 0; i < 100_000; i++) l.allow(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, i);
    expect(l.sources).toBe(1000);
    expect(l.allow('10.1.134.159', 100_000)).toBe(false); // recent: still remembered, bucket empty
    expect(l.allow('10.0.0.1', 100_000)).toBe(true); // long forgotten: a fresh bucket
  });

  it('keeps the bucket of a source still spending it, however many others come and go: the hand forgets full buckets first', () => {
    const limit = { rate: 10, burst: 1 };
    const churned = new SourceRateLimiter({ ...limit, maxSources: 100 });
    const alone = new SourceRateLimiter({ ...limit, maxSources: 100 });
    let allowed = 0, expected = 0;
    for (let i = 0; i < 2000; i++) { // a flooder and a newcomer every 20 ms: the table turns over 20 times
      if (churned.allow('flooder', 20 * i)) allowed++;
      if (alone.allow('flooder', 20 * i)) expected++;
      churned.allow(`10.0.${i >> 8}.${i & 255}`, 20 * i);
    }
    expect(churned.sources).toBe(100);
    expect(allowed).toBe(expected); // never a fresh bucket: as if it were alone
    expect(expected).toBeLessThan(2000 / 4); // (its rate, 10/s, not its 50/s)
  });
});
