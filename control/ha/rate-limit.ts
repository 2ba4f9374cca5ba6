/**
 * Per-source rate limiting of signalling: a token bucket per source (an
 * IPv6 address, or an IPv4 address and UDP port: many nodes share a NAT's
 * address), refilled at `rate` per second up to `burst`. The table is
 * bounded: past `maxSources` a source is forgotten (it starts again with a
 * full bucket), so a flood from many addresses costs memory only up to that
 * bound. Pure: time is an argument.
 *
 * Which source is forgotten is chosen as CLOCK chooses a page to evict: a
 * hand goes round the table and takes the first bucket that is full again
 * by now (forgetting it changes nothing: a new bucket starts full), passing
 * over the others. So a source that has spent its bucket keeps it however
 * many others come and go. A bucket is changed in place, and a forgotten
 * one serves the new source: nothing is allocated once the table is full.
 * (It was a Map kept in least-recently-seen order, each packet's bucket a
 * new object, deleted and inserted again: with more sources than the bound
 * every packet then looked for the oldest past the deleted entries at the
 * map's front, ~30 µs a packet with 100,000 nodes.)
 */
export interface RateLimit {
  rate: number;
  burst: number;
  maxSources: number;
}

interface Bucket {
  source: string;
  tokens: number;
  atMs: number;
}

/** Buckets the hand passes over, at most, before it takes one not yet full (a flood from more sources than the bound). */
const SECOND_CHANCES = 8;

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Every bucket, in the order the hand visits them. */
  private readonly ring: Bucket[] = [];
  private hand = 0;
  /** Packets refused so far. */
  limited = 0;

  constructor(readonly limit: RateLimit) {
    if (!(limit.maxSources >= 1)) throw new RangeError(`maxSources must be at least 1, not ${limit.maxSources}`);
  }

  allow(source: string, nowMs: number): boolean {
    let b = this.buckets.get(source);
    if (b) b.tokens = this.refilled(b, nowMs);
    else b = this.bucketFor(source, nowMs);
    b.atMs = nowMs; // (a clock stepped back refills nothing, and takes nothing either)
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    else this.limited++;
    return allowed;
  }

  get sources(): number {
    return this.buckets.size;
  }

  private refilled(b: Bucket, nowMs: number): number {
    return Math.min(this.limit.burst, b.tokens + (Math.max(0, nowMs - b.atMs) / 1000) * this.limit.rate);
  }

  /** A full bucket for a source the table does not hold: a new one while there is room, else the one the hand takes. */
  private bucketFor(source: string, nowMs: number): Bucket {
    let b: Bucket;
    if (this.ring.length < this.limit.maxSources) {
      b = { source, tokens: this.limit.burst, atMs: nowMs };
      this.ring.push(b);
    } else {
      b = this.take(nowMs);
      this.buckets.delete(b.source);
      b.source = source;
      b.tokens = this.limit.burst;
    }
    this.buckets.set(source, b);
    return b;
  }

  /** The bucket to forget: the first the hand finds full again, or after SECOND_CHANCES the one under it anyway. */
  private take(nowMs: number): Bucket {
    for (let passed = 0; ; passed++) {
      const b = this.ring[this.hand]!;
      this.hand = (this.hand + 1) % this.ring.length;
      if (passed === SECOND_CHANCES || this.refilled(b, nowMs) >= this.limit.burst) return b;
    }
  }
}
