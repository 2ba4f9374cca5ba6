/**
 * Fuzzing (bench/fuzz.ts) in the test run: a hundred thousand mutated real
 * messages per target, and fast-check's random bytes, through every
 * signalling decoder and both state machines: nothing but a clean return or
 * a DecodeError, and the home agent's state stays bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzz, targets } from '../../bench/fuzz.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgent } from '../../control/ha/home-agent.js';
import { inspectPacket } from '../../control/wire/inspect.js';

describe('mutated real messages', () => {
  it.each(targets().map((t) => [t.name, t] as const))('%s: 100,000 inputs, no finding', (_, target) => {
    const r = fuzz(target, 100_000, 0x5eed);
    expect(r.findings).toEqual([]);
    expect(r.rejected).toBeGreaterThan(0); // the mutations do reach the refusals...
    expect(r.rejected).toBeLessThan(r.inputs); // ...and some still get through
  }, 120_000);
});

describe('random bytes (fast-check)', () => {
  it('`decode` inspection of any IP packet returns, never throws', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(0x45, 0x60), (bytes, first) => {
      const b = Buffer.from(bytes);
      if (b.length) b[0] = first; // an IPv4 or IPv6 header to start, so the decoders behind are reached
      inspectPacket(b);
    }), { numRuns: 50_000 });
  });

  it('the home agent answers or discards any bytes as an MH, and its cache holds at most its profiles', () => {
    const ha = new HomeAgent(parseHomeAgentConfig({ homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: '2001:db8:1::1' },
      mobileNodes: [{ nai: 'mn@example.net', key: '00', spi: 300, homeAddress: '2001:db8:1::100' }] }));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const o = ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: '2001:db8:f::2', dst: '2001:db8:1::1' }, ipv6Src: '2001:db8:f::2', mh: Buffer.from(bytes), nowMs: 0 });
      expect(o.event).toEqual(expect.any(String));
    }), { numRuns: 50_000 });
    expect([...ha.entries()].length).toBeLessThanOrEqual(1);
  });
});

describe('what the fuzzer found stays fixed', () => {
  it.each([
    ['an IPv4 total length that leaves no room for the UDP header', '45000016390040004011f45ccb0071020a0100019c40105f007825a0600000000048874020010db8'],
    ['an IPv4 total length of zero', '450000000000000040110000c63364020a01000101b2018000200000010002580a0100640a010001c63364020000000000000001'],
  ])('%s: no signalling, no exception', (_, hex) => {
    expect(inspectPacket(Buffer.from(hex, 'hex'))).toBeNull();
  });
});
