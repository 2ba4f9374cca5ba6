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

  /** The node's lease if it has one, else a free address; null when the pool is exhausted. */
  lease(nai: string, nowMs: number, seconds: number): Lease | null {
    this.expire(nowMs);
    let n = this.byNai.get(nai);
    if (n === undefined) n = this.free();
    if (n === undefined) return null;
    const lease = { address: toAddress(n), nai, expiresMs: nowMs + seconds * 1000 };
    this.leases.set(n, lease);
    this.byNai.set(nai, n);
    return lease;
  }

  /** Leases this very address to the node, if it is the pool's and free (the node's old address, asked for again). */
  leaseAddress(address: string, nai: string, nowMs: number, seconds: number): Lease | null {
    this.expire(nowMs);
    if (!this.contains(address) || this.reserved.has(address)) return null;
    const n = toNumber(address);
    const holder = this.leases.get(n);
    if (holder && holder.nai !== nai) return null;
    const mine = this.byNai.get(nai);
    if (mine !== undefined && mine !== n) this.leases.delete(mine);
    const lease = { address, nai, expiresMs: nowMs + seconds * 1000 };
    this.leases.set(n, lease);
    this.byNai.set(nai, n);
    return lease;
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
    this.leases.delete(n);
    this.byNai.delete(nai);
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
      this.leases.delete(n);
      this.byNai.delete(lease.nai);
      ended.push(lease);
    }
    return ended;
  }

  private free(): number | undefined {
    for (let n = this.first; n <= this.last; n++) {
      if (!this.leases.has(n) && !this.reserved.has(toAddress(n))) return n;
    }
    return undefined;
  }
}
