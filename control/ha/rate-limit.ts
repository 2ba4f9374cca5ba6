/**
 * Per-source rate limiting of signalling: a token bucket per source (an
 * IPv6 address, or an IPv4 address and UDP port: many nodes share a NAT's
 * address), refilled at `rate` per second up to `burst`. The table is
 * bounded: past `maxSources` the least recently seen source is forgotten
 * (it starts again with a full bucket), so a flood from many addresses
 * costs memory only up to that bound. Pure: time is an argument.
 */
export interface RateLimit {
  rate: number;
  burst: number;
  maxSources: number;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  /** Packets refused so far. */
  limited = 0;

  constructor(readonly limit: RateLimit) {}

  allow(source: string, nowMs: number): boolean {
    const { rate, burst, maxSources } = this.limit;
    const b = this.buckets.get(source);
    const elapsed = b ? Math.max(0, nowMs - b.atMs) : 0; // a clock stepped back refills nothing, and takes nothing either
    const tokens = b ? Math.min(burst, b.tokens + (elapsed / 1000) * rate) : burst;
    if (b) this.buckets.delete(source); // re-inserted last: the map's order is least recently seen first
    else if (this.buckets.size >= maxSources) this.buckets.delete(this.buckets.keys().next().value!);
    const allowed = tokens >= 1;
    this.buckets.set(source, { tokens: allowed ? tokens - 1 : tokens, atMs: nowMs });
    if (!allowed) this.limited++;
    return allowed;
  }

  get sources(): number {
    return this.buckets.size;
  }
}
