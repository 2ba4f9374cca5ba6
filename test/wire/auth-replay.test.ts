/**
 * RFC 4285 §6 replay protection: NTP timestamps (known values, the 2036
 * era change, round trips) and the verdicts of checkReplay.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import { DEFAULT_REPLAY_WINDOW_MS, checkReplay, fromNtp, ntpAfter, ntpAfterHalves, ntpTimestamp, ntpUnwrap, replayTimestampOf } from '../../control/wire/auth/replay.js';

describe('NTP timestamps', () => {
  it('known values: the Unix epoch, 2000-01-01, half a second', () => {
    expect(ntpTimestamp(0)).toBe(0x83aa7e80_00000000n); // 2 208 988 800 s after 1900
    expect(ntpTimestamp(Date.UTC(2000, 0, 1))).toBe(0xbc17c200_00000000n); // 3 155 673 600
    expect(ntpTimestamp(500)).toBe(0x83aa7e80_80000000n);
    expect(ntpTimestamp(Date.UTC(2000, 0, 1) + 250)).toBe(0xbc17c200_40000000n);
    expect(fromNtp(0xbc17c200_c0000000n)).toBe(Date.UTC(2000, 0, 1) + 750);
  });

  it('wraps to era 1 on 2036-02-07T06:28:16Z and keeps counting (RFC 4330 §3)', () => {
    const wrap = Date.UTC(2036, 1, 7, 6, 28, 16);
    expect(ntpTimestamp(wrap - 1000)).toBe(0xffffffff_00000000n);
    expect(ntpTimestamp(wrap)).toBe(0n);
    expect(fromNtp(0n)).toBe(wrap);
    expect(fromNtp(0xffffffff_00000000n)).toBe(wrap - 1000);
    expect(ntpUnwrap(0n) > ntpUnwrap(0xffffffff_ffffffffn)).toBe(true);
  });

  it('refuses instants no NTP timestamp can name', () => {
    expect(() => ntpTimestamp(Date.UTC(1960, 0, 1))).toThrow(EncodeError);
    expect(() => ntpTimestamp(Date.UTC(2105, 0, 1))).toThrow(EncodeError);
    expect(() => ntpTimestamp(Number.NaN)).toThrow(EncodeError);
  });

  it('round-trips any millisecond from 1968 to 2104, and orders like time', () => {
    const ms = fc.integer({ min: Date.UTC(1968, 1, 1), max: Date.UTC(2104, 0, 1) });
    fc.assert(fc.property(ms, (t) => {
      expect(fromNtp(ntpTimestamp(t))).toBe(t);
    }), { numRuns: 2000 });
    fc.assert(fc.property(ms, ms, (a, b) => {
      expect(ntpUnwrap(ntpTimestamp(a)) < ntpUnwrap(ntpTimestamp(b))).toBe(a < b);
    }), { numRuns: 2000 });
  });
});

describe('ntpAfter', () => {
  const EDGES = [0n, 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 63n) + 1n, (1n << 64n) - 1n, ntpTimestamp(Date.UTC(2036, 1, 7, 6, 28, 15)), ntpTimestamp(Date.UTC(2036, 1, 7, 6, 28, 17))];
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  it('orders timestamps as their unwrapped values do, across the 2036 era boundary', () => {
    for (const a of EDGES) for (const b of EDGES) expect(ntpAfter(a, b), `${a} ${b}`).toBe(ntpUnwrap(a) > ntpUnwrap(b));
    fc.assert(fc.property(u64, u64, (a, b) => ntpAfter(a, b) === ntpUnwrap(a) > ntpUnwrap(b)), { numRuns: 20_000 });
  });

  it('orders timestamps given as their 32-bit halves as it orders them whole (ntpAfterHalves)', () => {
    const halves = (t: bigint) => [Number(t >> 32n), Number(t & 0xffffffffn)] as const;
    const agree = (a: bigint, b: bigint) => ntpAfterHalves(...halves(a), ...halves(b)) === ntpAfter(a, b);
    for (const a of EDGES) for (const b of EDGES) expect(agree(a, b), `${a} ${b}`).toBe(true);
    fc.assert(fc.property(u64, u64, agree), { numRuns: 20_000 });
    fc.assert(fc.property(u64, fc.nat(0xffffffff), fc.nat(0xffffffff), (a, dh, dl) => agree(a, BigInt.asUintN(64, a + (BigInt(dh % 3) << 32n) + BigInt(dl % 3) - 1n))), { numRuns: 5_000 }); // neighbours: equal halves
  });

  it('takes a negative (signed) 64-bit value as ntpUnwrap does', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(1n << 63n), max: -1n }), u64, (a, b) => ntpAfter(a, b) === ntpUnwrap(a) > ntpUnwrap(b) && ntpAfter(b, a) === ntpUnwrap(b) > ntpUnwrap(a)), { numRuns: 5_000 });
  });
});

describe('checkReplay', () => {
  const now = Date.UTC(2025, 5, 1, 12);

  it('fresh inside the default 7-second window, both edges included', () => {
    expect(DEFAULT_REPLAY_WINDOW_MS).toBe(7000);
    expect(checkReplay(ntpTimestamp(now), now)).toEqual({ verdict: 'fresh', skewMs: 0 });
    expect(checkReplay(ntpTimestamp(now - 7000), now)).toEqual({ verdict: 'fresh', skewMs: -7000 });
    expect(checkReplay(ntpTimestamp(now + 7000), now)).toEqual({ verdict: 'fresh', skewMs: 7000 });
  });

  it('too-old and too-new outside it; a window of the caller\'s choosing', () => {
    expect(checkReplay(ntpTimestamp(now - 7001), now)).toEqual({ verdict: 'too-old', skewMs: -7001 });
    expect(checkReplay(ntpTimestamp(now + 7001), now)).toEqual({ verdict: 'too-new', skewMs: 7001 });
    expect(checkReplay(ntpTimestamp(now - 20_000), now, 30_000)).toEqual({ verdict: 'fresh', skewMs: -20_000 });
    expect(checkReplay(ntpTimestamp(now + 2000), now, 1000)).toEqual({ verdict: 'too-new', skewMs: 2000 });
  });

  it('replayed when not greater than the last accepted timestamp, even inside the window', () => {
    const last = ntpTimestamp(now - 1000);
    expect(checkReplay(last, now, 7000, last)).toEqual({ verdict: 'replayed', skewMs: -1000 });
    expect(checkReplay(last - 1n, now, 7000, last)).toEqual({ verdict: 'replayed', skewMs: -1000 });
    expect(checkReplay(last + 1n, now, 7000, last)).toEqual({ verdict: 'fresh', skewMs: -1000 });
    expect(checkReplay(ntpTimestamp(now), now, 7000, last)).toEqual({ verdict: 'fresh', skewMs: 0 });
  });

  it('compares across the 2036 era change', () => {
    const wrap = Date.UTC(2036, 1, 7, 6, 28, 16);
    expect(checkReplay(ntpTimestamp(wrap + 500), wrap + 1000, 7000, ntpTimestamp(wrap - 500))).toEqual({ verdict: 'fresh', skewMs: -500 });
    expect(checkReplay(ntpTimestamp(wrap - 500), wrap, 7000, ntpTimestamp(wrap + 500))).toEqual({ verdict: 'replayed', skewMs: -500 });
  });
});

describe('the Replay Protection option in an MH', () => {
  // BU (12 bytes), PadN(4) so the option sits at 8n+2, the option (type 10, length 8), PadN(2): 32 bytes
  const BU = '3b030500' + '0000' + '0007' + '0000' + '0019';
  const mh = Buffer.from(BU + '010400000000' + '0a08' + 'e6f0a1b280000000' + '01020000', 'hex');

  it('reads the timestamp, or undefined when there is no such option', () => {
    expect(mh.length).toBe(32);
    expect(replayTimestampOf(mh)).toBe(0xe6f0a1b2_80000000n);
    expect(replayTimestampOf(Buffer.from('3b01050000000007000000190102' + '0000', 'hex'))).toBeUndefined();
  });

  it('throws DecodeError for an option of the wrong length', () => {
    const short = Buffer.from(BU + '010400000000' + '0a06' + '000000000000' + '010400000000', 'hex');
    expect(short.length).toBe(32);
    expect(() => replayTimestampOf(short)).toThrow(DecodeError);
  });
});
