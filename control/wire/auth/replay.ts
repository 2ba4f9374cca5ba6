/**
 * Replay protection of RFC 4285 §6: the Mobility Message Replay Protection
 * option (type 10) carries a 64-bit NTP timestamp (RFC 1305: seconds since
 * 1900 in the high 32 bits, the fraction in the low 32). The receiver
 * accepts a timestamp within a "close enough" window of its clock (default
 * 7 seconds, §5.1) and greater than the last one it accepted from the same
 * mobile node. Pure: the caller passes the clock and remembers lastSeen.
 *
 * NTP seconds wrap in 2036; as RFC 4330 §3 suggests, a timestamp whose top
 * seconds bit is clear is taken to be in the next era (2036–2104).
 */
import { DecodeError, EncodeError } from '../buffer.js';
import { OptionType } from '../mh/constants.js';
import { optionLocations } from '../mh/messages.js';

/** Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800n;
/** RFC 4285 §5.1: "a default value of 7 seconds". */
export const DEFAULT_REPLAY_WINDOW_MS = 7000;

const ERA = 1n << 32n;
/** Earliest and latest instants the two eras cover (RFC 4330 §3), in Unix ms. */
const MIN_MS = -Number(NTP_UNIX_OFFSET_S - (ERA >> 1n)) * 1000; // 1968-01-20
const MAX_MS = Number(ERA + (ERA >> 1n) - NTP_UNIX_OFFSET_S) * 1000; // 2104-02-26

/** The NTP timestamp of a Unix time in ms (fraction to the nearest 2^-32 s below). */
export function ntpTimestamp(dateMs: number): bigint {
  if (!Number.isFinite(dateMs) || dateMs < MIN_MS || dateMs >= MAX_MS) throw new EncodeError('timestamp', dateMs, 'outside 1968–2104, the range an NTP timestamp can name');
  const ms = BigInt(Math.floor(dateMs));
  const seconds = (ms >= 0n ? ms / 1000n : (ms - 999n) / 1000n) + NTP_UNIX_OFFSET_S; // floor division
  const fractionMs = ms - (seconds - NTP_UNIX_OFFSET_S) * 1000n;
  return ((seconds % ERA) << 32n) | ((fractionMs << 32n) / 1000n);
}

/** The timestamp as a count of 2^-32 s since 1900, era resolved (monotonic across 2036). */
export function ntpUnwrap(timestamp: bigint): bigint {
  const t = BigInt.asUintN(64, timestamp);
  return t >> 63n ? t : t + (ERA << 32n);
}

/** Timestamps of era 0 (1968–2036) have their top bit set; those of era 1 (to 2104) do not (see ntpUnwrap()). */
const ERA_0_BIT = 1n << 63n;

/** a is later than b, eras resolved as ntpUnwrap() does: comparisons only, no BigInt made (the predicted BU's path takes two a BU). */
export function ntpAfter(a: bigint, b: bigint): boolean {
  const x = a < 0n ? BigInt.asUintN(64, a) : a, y = b < 0n ? BigInt.asUintN(64, b) : b;
  const xEra0 = x >= ERA_0_BIT, yEra0 = y >= ERA_0_BIT;
  return xEra0 === yEra0 ? x > y : yEra0;
}

/** ntpAfter() of timestamps given as their 32-bit halves (numbers): no bigint made (control/ha/in-place.ts keeps them so). */
export function ntpAfterHalves(aHigh: number, aLow: number, bHigh: number, bLow: number): boolean {
  const aEra0 = aHigh >= 2 ** 31, bEra0 = bHigh >= 2 ** 31;
  return aEra0 === bEra0 ? aHigh > bHigh || (aHigh === bHigh && aLow > bLow) : bEra0;
}

/** Unix time in ms (rounded to the nearest ms) of an NTP timestamp. */
export function fromNtp(timestamp: bigint): number {
  const t = ntpUnwrap(timestamp);
  const seconds = (t >> 32n) - NTP_UNIX_OFFSET_S;
  const fraction = t & 0xffffffffn;
  return Number(seconds) * 1000 + Number((fraction * 1000n + (1n << 31n)) >> 32n);
}

export type ReplayVerdict =
  | { verdict: 'fresh'; skewMs: number }
  | { verdict: 'too-old'; skewMs: number }
  | { verdict: 'too-new'; skewMs: number }
  | { verdict: 'replayed'; skewMs: number };

/**
 * Whether a received timestamp may be accepted (RFC 4285 §6). skewMs is
 * the timestamp minus now. A timestamp not greater than the last accepted
 * one is a replay even inside the window.
 */
export function checkReplay(timestamp: bigint, nowMs: number, windowMs = DEFAULT_REPLAY_WINDOW_MS, lastSeen?: bigint, timestampMs = fromNtp(timestamp)): ReplayVerdict {
  const skewMs = timestampMs - nowMs;
  if (skewMs > windowMs) return { verdict: 'too-new', skewMs };
  if (skewMs < -windowMs) return { verdict: 'too-old', skewMs };
  if (lastSeen !== undefined && !ntpAfter(timestamp, lastSeen)) return { verdict: 'replayed', skewMs };
  return { verdict: 'fresh', skewMs };
}

/**
 * The timestamp of the Replay Protection option in an encoded MH, or
 * undefined if it has none. Throws DecodeError if the MH is malformed.
 */
export function replayTimestampOf(mh: Buffer): bigint | undefined {
  const o = optionLocations(mh).find((l) => l.code === OptionType.replayProtection);
  if (!o) return undefined;
  if (o.length !== 2 + 8) throw new DecodeError('mip6.mseg_id.length', o.offset + 1, o.length - 2, 'the timestamp is 8 bytes');
  return mh.readBigUInt64BE(o.offset + 2);
}
