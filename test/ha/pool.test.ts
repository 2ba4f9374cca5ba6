import { describe, expect, it } from 'vitest';
import { AddressPool } from '../../control/ha/pool.js';

describe('IPv4 address pool', () => {
  const pool = () => new AddressPool('visitors', '10.1.0.10', '10.1.0.12', new Set(['10.1.0.11']));

  it('leases free addresses, skipping reserved ones, until exhausted', () => {
    const p = pool();
    expect(p.size).toBe(3);
    expect(p.lease('a@x', 0, 60)).toEqual({ address: '10.1.0.10', nai: 'a@x', expiresMs: 60_000 });
    expect(p.lease('b@x', 0, 60)?.address).toBe('10.1.0.12');
    expect(p.lease('c@x', 0, 60)).toBeNull();
  });

  it('gives a node its own lease again, renewed', () => {
    const p = pool();
    p.lease('a@x', 0, 60);
    expect(p.lease('a@x', 30_000, 60)).toEqual({ address: '10.1.0.10', nai: 'a@x', expiresMs: 90_000 });
  });

  it('binds an address only to its holder', () => {
    const p = pool();
    p.lease('a@x', 0, 60);
    expect(p.leaseOf('10.1.0.10', 'a@x', 1)?.nai).toBe('a@x');
    expect(p.leaseOf('10.1.0.10', 'b@x', 1)).toBeNull();
    expect(p.leaseOf('10.9.9.9', 'a@x', 1)).toBeNull();
  });

  it('frees addresses on release, and on expiry after a grace of 5 s (the binding leaves on the next expiry tick)', () => {
    const p = pool();
    p.lease('a@x', 0, 60);
    p.lease('b@x', 0, 10);
    expect(p.release('a@x')).toBe(true);
    expect(p.release('a@x')).toBe(false);
    expect(p.expire(14_999)).toEqual([]);
    expect(p.expire(15_000).map((l) => l.nai)).toEqual(['b@x']);
    expect(p.lease('c@x', 15_000, 60)?.address).toBe('10.1.0.10');
    expect(p.lease('d@x', 15_000, 60)?.address).toBe('10.1.0.12');
  });

  it('leases an address asked for by name only to a node it was allocated to (RFC 5555 §4.5): its own, or its last one while no other node took it', () => {
    const p = pool();
    expect(p.leaseAddress('10.1.0.12', 'a@x', 0, 60)).toBeNull(); // free, but never a@x's: a node cannot pick its address
    p.lease('a@x', 0, 60); // 10.1.0.10
    expect(p.leaseAddress('10.1.0.10', 'b@x', 0, 60)).toBeNull();
    p.release('a@x');
    expect(p.leaseAddress('10.1.0.10', 'b@x', 1, 60)).toBeNull(); // free again, still a@x's last
    expect(p.leaseAddress('10.1.0.10', 'a@x', 1, 60)).toEqual({ address: '10.1.0.10', nai: 'a@x', expiresMs: 60_001 });
    p.release('a@x');
    expect(p.lease('b@x', 2, 60)?.address).toBe('10.1.0.12'); // a new node gets an address no one held last, while there is one
    expect(p.lease('c@x', 2, 60)?.address).toBe('10.1.0.10'); // then a@x's: it is now c@x's
    p.release('b@x');
    expect(p.leaseAddress('10.1.0.10', 'a@x', 3, 60)).toBeNull();
    expect(p.lease('a@x', 3, 60)?.address).toBe('10.1.0.12'); // asked anew, it gets what is free
  });

  it('gives a node asking anew its last address back if still free, before one no one held', () => {
    const p = pool();
    p.lease('a@x', 0, 60);
    p.lease('b@x', 0, 60); // 10.1.0.12
    p.release('a@x');
    p.release('b@x');
    expect(p.lease('b@x', 1, 60)?.address).toBe('10.1.0.12');
    const restored = pool(); // after a restart: b@x's lease from the journal, then released
    restored.restore({ address: '10.1.0.12', nai: 'b@x', expiresMs: 60_000 });
    restored.release('b@x');
    expect(restored.lease('b@x', 1, 60)?.address).toBe('10.1.0.12'); // not 10.1.0.10, which no one held
  });

  it('refuses a range that runs backwards', () => {
    expect(() => new AddressPool('bad', '10.1.0.9', '10.1.0.1')).toThrow(/pool bad: 10.1.0.1 comes before 10.1.0.9/);
  });
});
