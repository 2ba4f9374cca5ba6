/**
 * Dynamic IPv4 home addresses (RFC 5555 §3.1.1: a BU asking for 0.0.0.0):
 * leases from a configured range, each bound to one mobile node's NAI, with
 * an expiry that bounds the binding's lifetime. Pure: time is an argument.
 */
import { addrBytes, formatAddr } from '../dataplane/layout.js';

export interface Lease {
  address: string;
  nai: string;
  expiresMs: number;
}

/** Longer than the home agent's expiry tick (1 s). */
const LEASE_GRACE_MS = 5000;

const toNumber = (a: string): number => addrBytes(a).readUInt32BE(0);
const toAddress = (n: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return formatAddr(b, 4);
};

export class AddressPool {
  private readonly leases = new Map<number, Lease>();
  private readonly byNai = new Map<string, number>();
  /** Who held each address whose lease ended, until another node takes it: only that node may ask for it back by address. */
  private readonly lastHolder = new Map<number, string>();
  private readonly first: number;
  private readonly last: number;

  /** The range from..to (inclusive), less the addresses in `reserved` (static home addresses, the HA's own). */
  constructor(readonly name: string, from: string, to: string, private readonly reserved: ReadonlySet<string> = new Set()) {
    this.first = toNumber(from);
    this.last = toNumber(to);
    if (this.last < this.first) throw new RangeError(`pool ${name}: ${to} comes before ${from}`);
  }

  get size(): number {
    return this.last - this.first + 1;
  }

  /** The node's lease if it has one, else a free address (one its last holder may come back for only when no other is free); null when the pool is exhausted. */
  lease(nai: string, nowMs: number, seconds: number): Lease | null {
    this.expire(nowMs);
    const n = this.byNai.get(nai) ?? this.free(nai);
    return n === undefined ? null : this.grant(n, nai, nowMs, seconds);
  }

  /**
   * Leases this very address to the node if it was allocated to the node
   * (RFC 5555 §4.5): its lease, or its last one, ended (a revocation, say)
   * and the address still free. Any other address, free or not, is refused:
   * a node cannot pick its address from the pool.
   */
  leaseAddress(address: string, nai: string, nowMs: number, seconds: number): Lease | null {
    this.expire(nowMs);
    if (!this.contains(address) || this.reserved.has(address)) return null;
    const n = toNumber(address);
    const holder = this.leases.get(n);
    if (holder ? holder.nai !== nai : this.lastHolder.get(n) !== nai) return null;
    const mine = this.byNai.get(nai);
    if (mine !== undefined && mine !== n) this.end(mine);
    return this.grant(n, nai, nowMs, seconds);
  }

  private grant(n: number, nai: string, nowMs: number, seconds: number): Lease {
    const lease = { address: toAddress(n), nai, expiresMs: nowMs + seconds * 1000 };
    this.leases.set(n, lease);
    this.byNai.set(nai, n);
    this.lastHolder.delete(n);
    return lease;
  }

  /** A lease over: its address free again, remembered as its holder's. */
  private end(n: number): void {
    const lease = this.leases.get(n);
    if (!lease) return;
    this.leases.delete(n);
    this.byNai.delete(lease.nai);
    this.lastHolder.set(n, lease.nai);
  }

  /** Takes back a lease a journal kept (a restart); false if its address is not this pool's or another holds it. */
  restore(lease: Lease): boolean {
    if (!this.contains(lease.address)) return false;
    const n = toNumber(lease.address);
    const holder = this.leases.get(n);
    if (holder && holder.nai !== lease.nai) return false;
    this.leases.set(n, { ...lease });
    this.byNai.set(lease.nai, n);
    return true;
  }

  /** The lease of an address, only if it is this node's (an address is only ever bound to its holder). */
  leaseOf(address: string, nai: string, nowMs: number): Lease | null {
    this.expire(nowMs);
    const lease = this.contains(address) ? this.leases.get(toNumber(address)) : undefined;
    return lease && lease.nai === nai ? lease : null;
  }

  contains(address: string): boolean {
    const n = toNumber(address);
    return n >= this.first && n <= this.last;
  }

  release(nai: string): boolean {
    const n = this.byNai.get(nai);
    if (n === undefined) return false;
    this.end(n);
    return true;
  }

  /**
   * Drops the leases that ended (a grace period past their end: the home
   * agent removes an expired binding on its next tick, and its address must
   * not be someone else's before then); returns them.
   */
  expire(nowMs: number): Lease[] {
    const ended: Lease[] = [];
    for (const [n, lease] of this.leases) {
      if (lease.expiresMs + LEASE_GRACE_MS > nowMs) continue;
      this.end(n);
      ended.push(lease);
    }
    return ended;
  }

  /** A free address for nai: its own last one, else one no one held last, else any. */
  private free(nai: string): number | undefined {
    const own = this.lastOf(nai);
    if (own !== undefined && !this.leases.has(own)) return own;
    let held: number | undefined;
    for (let n = this.first; n <= this.last; n++) {
      if (this.leases.has(n) || this.reserved.has(toAddress(n))) continue;
      if (!this.lastHolder.has(n)) return n;
      held ??= n;
    }
    return held;
  }

  /** The address nai held last, if no one took it since. */
  private lastOf(nai: string): number | undefined {
    for (const [n, holder] of this.lastHolder) if (holder === nai) return n;
    return undefined;
  }
}
