import { describe, expect, it } from 'vitest';
import { ConfigError, parseHomeAgentConfig } from '../../control/ha/config.js';

const good = {
  homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
  homeAgent: { ipv6: '2001:db8:f::1', ipv4: '198.51.100.1', publicIpv4: '203.0.113.1' },
  pools: { visitors: { from: '10.1.0.100', to: '10.1.0.199' } },
  policy: { forceUdp: 'refuse', natRefreshTime: 60 },
  mobileNodes: [
    { nai: 'mn1@example.net', key: '00112233445566778899aabbccddeeff00112233', spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.10' },
    { nai: 'mr@example.net', key: 'aabb', spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: { pool: 'visitors' }, prefixes: ['2001:db8:200::/48'], mobileRouter: true },
  ],
};

const problems = (json: unknown): string[] => {
  try {
    parseHomeAgentConfig(json);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('home agent configuration', () => {
  it('reads a valid file, with defaults for the policy it leaves out', () => {
    const c = parseHomeAgentConfig(good);
    expect(c.policy).toEqual({ forceUdp: 'refuse', tlv: true, maxLifetime: 3600, natRefreshTime: 60, replayWindow: 7, minDelayBeforeBceDelete: 10, bindingRefreshLead: 30, signallingRate: 10, signallingBurst: 20, duplicateAddressDetection: true });
    expect(c.mobileNodes[0]).toMatchObject({ spi: 4096, ipv4HomeAddress: { static: '10.1.0.10' }, prefixes: [], mobileRouter: false });
    expect(c.mobileNodes[0]!.key.toString('hex')).toBe('00112233445566778899aabbccddeeff00112233');
    expect(c.mobileNodes[1]).toMatchObject({ ipv4HomeAddress: { pool: 'visitors' }, prefixes: ['2001:db8:200::/48'], mobileRouter: true });
    expect(c.homeAgent.publicIpv4).toBe('203.0.113.1');
  });

  it('names every problem with its key path', () => {
    const bad = {
      ...good,
      homeAgent: { ipv6: '198.51.100.1' },
      policy: { forceUdp: 'maybe', maxLifetime: 7, colour: 'red' },
      mobileNodes: [
        { nai: 'mn1@example.net', key: 'xyz', spi: 7, homeAddress: '2001:db8:1::100', ipv4HomeAddress: { pool: 'nowhere' } },
        { nai: 'mn1@example.net', key: 'aa', homeAddress: '2001:db8:1::101', prefixes: ['2001:db8::/129'] },
      ],
    };
    expect(problems(bad)).toEqual([
      'homeAgent.ipv6: must be an IPv6 address, got "198.51.100.1"',
      'policy.colour: unknown key (known: forceUdp, tlv, maxLifetime, natRefreshTime, replayWindow, minDelayBeforeBceDelete, bindingRefreshLead, signallingRate, signallingBurst, duplicateAddressDetection)',
      'policy.forceUdp: must be "allow" or "refuse", got "maybe"',
      'policy.maxLifetime: must be seconds in 4..262140, a multiple of 4 (the wire counts 4-second units), got 7',
      'mobileNodes[0].key: must be a hex string, got "xyz"',
      'mobileNodes[0].ipv4HomeAddress.pool: no pool named "nowhere"',
      'mobileNodes[0].spi: must be an integer in 256..4294967295, got 7',
      'mobileNodes[1].spi: must be an integer in 256..4294967295, got null',
      'mobileNodes[1].prefixes[0]: must be a prefix "address/length", got "2001:db8::/129"',
      'mobileNodes[1].prefixes: mobile network prefixes are a mobile router\'s: set mobileRouter: true',
      'mobileNodes[1].nai: mn1@example.net is already mobileNodes[0]\'s',
    ]);
  });

  it('refuses pools that run backwards, overlap, or hold the home agent\'s own address; prefixes of two nodes that overlap; a pool named after an Object method', () => {
    const mn = (i: number, extra: object) => ({ nai: `n${i}@example.net`, key: 'aa', spi: 5000 + i, homeAddress: `2001:db8:1::${i}`, mobileRouter: true, ...extra });
    expect(problems({
      ...good,
      pools: { backwards: { from: '10.1.1.9', to: '10.1.1.1' }, a: { from: '10.1.2.0', to: '10.1.2.99' }, b: { from: '10.1.2.50', to: '10.1.2.60' }, mine: { from: '198.51.100.0', to: '198.51.100.9' },
        routed: { from: '10.40.9.0', to: '10.40.9.9' }, ['__proto__']: { from: '10.1.3.9', to: '10.1.3.1' } },
      mobileNodes: [
        mn(1, { prefixes: ['2001:db8:300::/48'] }), mn(2, { prefixes: ['2001:db8:300:5::/64'] }), mn(3, { prefixes: ['2001:db8:300::1/48'] }), mn(4, { prefixes: ['10.40.0.0/16', '2001:db8:400::/48'] }),
        mn(5, { ipv4HomeAddress: { pool: 'toString' } }),
      ],
    })).toEqual([
      'mobileNodes[4].ipv4HomeAddress.pool: no pool named "toString"',
      'pools.backwards: 10.1.1.1 comes before 10.1.1.9',
      'pools.mine: holds the home agent\'s own address 198.51.100.1',
      'pools.__proto__: 10.1.3.1 comes before 10.1.3.9', // a pool like any other, not the object's prototype
      'pools.b: overlaps pools.a',
      'pools.routed: overlaps 10.40.0.0/16, mobileNodes[3]\'s', // a node's IPv4 prefix: its addresses are that node's
      'mobileNodes[2].prefixes: 2001:db8:300::1/48 overlaps 2001:db8:300::/48, mobileNodes[0]\'s', // (in address order)
      'mobileNodes[1].prefixes: 2001:db8:300:5::/64 overlaps 2001:db8:300::/48, mobileNodes[0]\'s',
    ]);
  });

  it('refuses what is not an object', () => {
    expect(problems(null)[0]).toBe('config: must be an object, got null');
  });
});

describe('static IPv4 home addresses', () => {
  it('are each one node\'s', () => {
    expect(() => parseHomeAgentConfig({ homeLink: { interface: 'h0', prefixes: [] }, homeAgent: { ipv6: '2001:db8:f::1' }, mobileNodes: [
      { nai: 'a@b', key: '00', spi: 300, homeAddress: '2001:db8:1::1', ipv4HomeAddress: '10.1.0.5' },
      { nai: 'c@d', key: '00', spi: 301, homeAddress: '2001:db8:1::2', ipv4HomeAddress: '10.1.0.5' }] })).toThrow(/mobileNodes\[1\]\.ipv4HomeAddress: 10\.1\.0\.5 is already mobileNodes\[0\]'s/);
  });
});

describe('mobile network prefixes', () => {
  it('are each one router\'s, however written', () => {
    expect(() => parseHomeAgentConfig({ homeLink: { interface: 'h0', prefixes: [] }, homeAgent: { ipv6: '2001:db8:f::1' }, mobileNodes: [
      { nai: 'a@b', key: '00', spi: 300, homeAddress: '2001:db8:1::1', mobileRouter: true, prefixes: ['2001:db8:100::/48'] },
      { nai: 'c@d', key: '00', spi: 301, homeAddress: '2001:db8:1::2', mobileRouter: true, prefixes: ['2001:DB8:100:0::/48'] }] }))
      .toThrow(/mobileNodes\[1\]\.prefixes: 2001:db8:100::\/48 is already mobileNodes\[0\]'s/);
  });
});

describe('addresses', () => {
  it('are kept in canonical form, as packets decode them', () => {
    const c = parseHomeAgentConfig({
      homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: '2001:DB8:F:0:0:0:0:1' },
      mobileNodes: [{ nai: 'a@b', key: '00', spi: 300, homeAddress: '2001:db8:1::0:5' }],
    });
    expect(c.homeAgent.ipv6).toBe('2001:db8:f::1');
    expect(c.mobileNodes[0]!.homeAddress).toBe('2001:db8:1::5');
  });

  it('a home address off the home link is refused, naming the profile (its BUs would all get 132)', () => {
    expect(() => parseHomeAgentConfig({
      homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: '2001:db8:f::1' },
      mobileNodes: [{ nai: 'a@b', key: '00', spi: 300, homeAddress: '2001:db8:2::5' }],
    })).toThrow('mobileNodes[0].homeAddress: 2001:db8:2::5 is not on the home link (homeLink.prefixes)');
  });

  it('an NAI longer than a Mobile Node Identifier option holds, or more prefixes than a profile may have, are refused by name', () => {
    const node = (m: object) => () => parseHomeAgentConfig({
      homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: '2001:db8:f::1' },
      mobileNodes: [{ nai: 'a@b', key: '00', spi: 300, homeAddress: '2001:db8:1::5', ...m }],
    });
    expect(node({ nai: `${'n'.repeat(250)}@b.c` })()).toBeDefined(); // 254 bytes
    expect(node({ nai: `${'n'.repeat(251)}@b.c` })).toThrow('mobileNodes[0].nai: 255 bytes, at most 254 fit a Mobile Node Identifier option');
    expect(node({ nai: 'a"b@c' })).toThrow('mobileNodes[0].nai: control characters, quotes and backslashes are no part of an NAI (RFC 7542)');
    expect(node({ nai: 'a\\b@c' })).toThrow(/no part of an NAI/);
    expect(node({ nai: 'a\u0007b@c' })).toThrow(/no part of an NAI/);
    expect(node({ nai: 'ünï@exämple.net' })().mobileNodes[0]!.nai).toBe('ünï@exämple.net'); // UTF-8 is
    const prefixes = (n: number) => Array.from({ length: n }, (_, i) => `2001:db8:${(0x100 + i).toString(16)}::/48`);
    expect(node({ prefixes: prefixes(32), mobileRouter: true })().mobileNodes[0]!.prefixes).toHaveLength(32);
    expect(node({ prefixes: prefixes(33), mobileRouter: true })).toThrow('mobileNodes[0].prefixes: 33 of them, at most 32');
  });
});
