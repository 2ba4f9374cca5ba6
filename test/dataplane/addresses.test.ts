/**
 * Address text to bytes (control/dataplane/layout.ts, hand-parsed for
 * speed) against Node's own parser: the same bytes for every address Node
 * accepts, and a TypeError for what it refuses.
 */
import { isIP, SocketAddress } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addrBytes, addrFamily, formatAddr, writeAddr } from '../../control/dataplane/layout.js';

/** Node's bytes for an address, through its canonical form in a SocketAddress. */
function nodeBytes(text: string): Buffer {
  const family = isIP(text);
  const canonical = new SocketAddress({ address: text, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
  return family === 4 ? Buffer.from(canonical.split('.').map(Number)) : Buffer.from(expand(canonical));
}

function expand(text: string): number[] {
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text); // Node writes some addresses with an IPv4 tail (::0.1.0.0)
  const v6 = quad ? text.slice(0, quad.index) + [[quad[1], quad[2]], [quad[3], quad[4]]].map(([a, b]) => ((Number(a) << 8) | Number(b)).toString(16)).join(':') : text;
  const [head = '', tail] = v6.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

describe('addrBytes', () => {
  it('agrees with Node on every IPv4 and IPv6 address (fast-check, text forms of all kinds)', () => {
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
      expect(addrBytes(text).toString('hex')).toBe(nodeBytes(text).toString('hex'));
      expect(addrFamily(text)).toBe(isIP(text));
    }), { numRuns: 20_000 });
  });

  it('writeAddr puts the same bytes where it is told, touching nothing around them, and says how many', () => {
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(8), (text, at) => {
      const into = Buffer.alloc(32, 0xee);
      const n = writeAddr(text, into, at);
      expect(n).toBe(isIP(text) === 4 ? 4 : 16);
      expect(into.subarray(at, at + n).toString('hex')).toBe(nodeBytes(text).toString('hex'));
      expect([...into.subarray(0, at), ...into.subarray(at + n)].every((x) => x === 0xee)).toBe(true);
    }), { numRuns: 5_000 });
  });

  it('refuses what is no address with a TypeError, addrBytes and writeAddr alike', () => {
    for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '12345::1', '1:2:3:4:5:6:7:8:9', '::1.2.3', 'fe80::1%eth0', 'host.example']) {
      expect(() => addrBytes(bad), bad).toThrow(TypeError);
      expect(() => writeAddr(bad, Buffer.alloc(16), 0), bad).toThrow(TypeError);
    }
  });

  it('round-trips through formatAddr', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      expect(addrBytes(formatAddr(Buffer.from(b), 6))).toEqual(Buffer.from(b));
    }), { numRuns: 10_000 });
  });

  it('formatAddr spells every address as the WHATWG URL host serializer does (RFC 5952 for IPv6), and IPv4 as a dotted quad', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xf })); // runs of zeros, short groups
    fc.assert(fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (groups, v4) => {
      const b = Buffer.alloc(17);
      groups.forEach((g, i) => b.writeUInt16BE(g, 1 + 2 * i));
      const whatwg = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
      expect(formatAddr(b, 6, 1)).toBe(whatwg);
      expect(formatAddr(v4, 4)).toBe([...v4].join('.'));
    }), { numRuns: 20_000 });
    expect([formatAddr(Buffer.alloc(16), 6), formatAddr(Buffer.alloc(4), 4), formatAddr(Buffer.alloc(4, 255), 4)]).toEqual(['::', '0.0.0.0', '255.255.255.255']);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '12345::',
    '::g', '1:', ':1', '1:2:3:4:5:6:7:1.2.3.4', 'fe80::1%eth0', '::1.2.3', 'not an address'])('refuses %j, as Node does', (text) => {
    expect(isIP(text)).toBe(text === 'fe80::1%eth0' ? 6 : 0); // Node takes a zone index; we do not (no use for one here)
    expect(() => addrBytes(text)).toThrow(TypeError);
  });
});
