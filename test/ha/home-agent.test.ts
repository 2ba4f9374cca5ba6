/**
 * The home agent's Binding Update processing: BUs built and signed with the
 * wire encoders as a mobile node would, BAs decoded and verified back.
 */
import { describe, expect, it } from 'vitest';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgent, sequenceNewer, type Outcome, type ReceivedBu } from '../../control/ha/home-agent.js';
import { signMnHa, verifyMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { decodeMobilityHeader, encodeMobilityHeader, type MobilityOption } from '../../control/wire/mh/index.js';
import { config, HA6, KEY, NO_FLAGS, signedBu, type BuSpec } from '../helpers/ha-config.js';

/** A BU from an IPv6 care-of address, with a Home Address option. */
const overIpv6 = (s: Omit<BuSpec, 'careOf' | 'home'> & { careOf?: string }): ReceivedBu => {
  const careOf = s.careOf ?? '2001:db8:f::2';
  const home = '2001:db8:1::100';
  return { transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: home, mh: signedBu({ ...s, careOf, home }), nowMs: s.atMs ?? 1_000_000 };
};

/** A BU in UDP/IPv4 from mn2 behind a NAT (private 10.0.0.2, seen as 198.51.100.7:40000). */
const throughNat = (s: Omit<BuSpec, 'careOf' | 'home'> & { src?: string; srcPort?: number }): ReceivedBu => {
  const home = '2001:db8:1::200';
  const options: MobilityOption[] = [{ type: 'ipv4CareOfAddress', address: '10.0.0.2' }, ...(s.options ?? [])];
  return {
    transport: 'udp4', outer: { src: s.src ?? '198.51.100.7', srcPort: s.srcPort ?? 40000, dst: '203.0.113.1', dstPort: 4191 }, ipv6Src: home,
    mh: signedBu({ nai: 'mn2@example.net', spi: 4097, ...s, options, careOf: '10.0.0.2', home }), nowMs: s.atMs ?? 1_000_000,
  };
};

function ba(o: Outcome, careOf: string, home: string) {
  expect(o.reply).toBeDefined();
  const mh = o.reply!.mh;
  expect(verifyMnHa(mh, { careOf, home, keyFor: () => Buffer.from(KEY, 'hex') }).verdict).toBe('ok');
  return decodeMobilityHeader(mh);
}

describe('home registration from an IPv6 care-of address', () => {
  it('installs an ip6 tunnel before answering with a signed BA over a type 2 routing header', () => {
    const ha = new HomeAgent(config());
    const o = ha.handleBindingUpdate(overIpv6({ seq: 7, lifetime: 600, options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.100' }] }));
    expect(o.dataPlane).toEqual([{ install: { id: 1, tunnel: { format: 'ip6', local: HA6, remote: '2001:db8:f::2' }, homeAddresses: ['2001:db8:1::100', '10.1.0.100'], prefixes: [] } }]);
    expect(o.reply!.route).toEqual({ transport: 'ipv6', src: HA6, dst: '2001:db8:f::2', routingHeader2: '2001:db8:1::100' });
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({
      type: 'bindingAcknowledgement', status: 0, sequence: 7, lifetime: 600,
      options: expect.arrayContaining([{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.100' }]),
    });
    expect(ha.binding('mn1@example.net')).toMatchObject({ careOf: '2001:db8:f::2', sequence: 7, expiresMs: 1_600_000 });
  });

  it('caps the lifetime by policy', () => {
    const o = new HomeAgent(config({ maxLifetime: 120 })).handleBindingUpdate(overIpv6({ lifetime: 600 }));
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 0, lifetime: 120 });
  });

  it.each([
    ['a wrong key', { key: 'ff'.repeat(20) }, 146],
    ['an unknown SPI', { spi: 9999 }, 146],
    ['no H flag, no home registration', { flags: { h: false } }, 131],
  ] as const)('refuses %s (status %i) and installs nothing', (_what, spec, status) => {
    const o = new HomeAgent(config()).handleBindingUpdate(overIpv6(spec));
    expect(o.dataPlane).toEqual([]);
    expect(decodeMobilityHeader(o.reply!.mh)).toMatchObject({ status, lifetime: 0 });
  });

  it('refuses no H flag from a node with a home registration as a registration type change (139, RFC 6275 §9.5.1); the binding stands', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(overIpv6({ seq: 1 }));
    const o = ha.handleBindingUpdate(overIpv6({ seq: 2, flags: { h: false }, atMs: 1_000_100 }));
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 139, lifetime: 0 });
    expect(o.dataPlane).toEqual([]);
    expect(ha.binding('mn1@example.net')).toMatchObject({ sequence: 1 });
  });

  it('answers a BU that fails authentication unsigned: a signed refusal of a forgery would end the real node\'s registration', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(overIpv6({ key: 'ff'.repeat(20) }));
    expect(decodeMobilityHeader(o.reply!.mh)).toMatchObject({ status: 146, options: [] });
  });

  it('keeps a revoked binding deprecated: a replay of its last BU cannot bring it back', () => {
    const ha = new HomeAgent(config());
    const last = overIpv6({ seq: 5 });
    ha.handleBindingUpdate(last);
    expect(ha.revoke('mn1@example.net', 1_000_500)).toEqual([{ remove: 1 }]);
    const replayed = ha.handleBindingUpdate({ ...last, nowMs: 1_001_000 });
    expect(decodeMobilityHeader(replayed.reply!.mh)).toMatchObject({ status: 144 });
    expect(replayed.dataPlane).toEqual([]);
    expect(ha.binding('mn1@example.net')).toBeUndefined();
  });

  it('refuses a replay within the window even once the entry is gone: expired, or deleted after its deregistration (144)', () => {
    const ha = new HomeAgent(config({ minDelayBeforeBceDelete: 0 }));
    const short = overIpv6({ seq: 1, lifetime: 4 });
    expect(ha.handleBindingUpdate(short).status).toBe(0);
    ha.expire(1_005_000);
    expect(ha.binding('mn1@example.net')).toBeUndefined();
    const replayed = ha.handleBindingUpdate({ ...short, nowMs: 1_006_000 });
    expect(ba(replayed, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 144 });
    expect(replayed.dataPlane).toEqual([]);
    const first = overIpv6({ seq: 2, atMs: 1_006_100 });
    ha.handleBindingUpdate(first);
    ha.handleBindingUpdate(overIpv6({ seq: 3, lifetime: 0, atMs: 1_006_200 }));
    ha.expire(1_006_300); // the deprecated entry deleted at once (MinDelayBeforeBCEDelete 0)
    expect([...ha.entries()]).toEqual([]);
    expect(ha.handleBindingUpdate({ ...first, nowMs: 1_006_400 }).status).toBe(144);
    const fresh = overIpv6({ seq: 4, atMs: 1_006_500 });
    expect(ha.handleBindingUpdate(fresh).status).toBe(0);
    const profile = ha.profile('mn1@example.net')!;
    ha.deleteProfile(profile.nai);
    ha.setProfile(profile); // deleted and saved again: still its last timestamp
    expect(ha.handleBindingUpdate({ ...fresh, nowMs: 1_006_600 }).status).toBe(144);
  });

  it('refuses a profile whose static IPv4 address a pool hands out (409 material), and keeps statics current', () => {
    const ha = new HomeAgent(config());
    const mn1 = ha.profile('mn1@example.net')!;
    expect(() => ha.setProfile({ ...mn1, ipv4HomeAddress: { static: '10.1.0.200' } })).toThrow(/is in pool visitors/);
    ha.setProfile({ ...mn1, ipv4HomeAddress: { static: '10.1.0.99' } }); // 10.1.0.100 is free again
    expect(() => ha.setProfile({ ...ha.profile('mn2@example.net')!, ipv4HomeAddress: { static: '10.1.0.99' } })).toThrow(/already mn1@example.net's/);
    ha.setProfile({ ...ha.profile('mn2@example.net')!, ipv4HomeAddress: { static: '10.1.0.100' } });
    const mr2 = { ...ha.profile('mr@example.net')!, nai: 'mr2@example.net', spi: 5000, homeAddress: '2001:db8:1::301' };
    expect(() => ha.setProfile({ ...mr2, prefixes: ['2001:db8:300:1::/64'] })).toThrow(/prefixes: 2001:db8:300:1::\/64 overlaps 2001:db8:300::\/48, mr@example.net's/); // a mobile network prefix is one router's
    expect(() => ha.setProfile({ ...mr2, prefixes: ['10.0.0.0/8'] })).toThrow(/overlaps 10.30.0.0\/16/);
    ha.setProfile({ ...mr2, prefixes: ['2001:db8:302::/48'] });
  });

  it('with L, defends and tunnels the link-local address of the home address\'s interface identifier too; another node\'s gets 134 until it deregisters', () => {
    const twoLinks = parseHomeAgentConfig({
      homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '2001:db8:2::/64'] }, homeAgent: { ipv6: HA6 },
      mobileNodes: [
        { nai: 'mn1@example.net', key: KEY, spi: 4096, homeAddress: '2001:db8:1::100' },
        { nai: 'twin@example.net', key: KEY, spi: 4099, homeAddress: '2001:db8:2::100' }, // the same interface identifier
      ],
    });
    const ha = new HomeAgent(twoLinks);
    const twin = (seq: number, lifetime = 600): ReceivedBu => ({
      transport: 'ipv6', outer: { src: '2001:db8:f::9', dst: HA6 }, ipv6Src: '2001:db8:f::9', homeAddressOption: '2001:db8:2::100',
      mh: signedBu({ seq, lifetime, flags: { l: true }, nai: 'twin@example.net', spi: 4099, careOf: '2001:db8:f::9', home: '2001:db8:2::100' }), nowMs: 1_000_000 + seq,
    });
    expect(ha.handleBindingUpdate(overIpv6({ seq: 1 })).dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::100'] }) }]);
    const withL = ha.handleBindingUpdate(overIpv6({ seq: 2, flags: { l: true }, atMs: 1_000_010 }));
    expect(withL.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::100', 'fe80::100'] }) }]);
    expect(ha.binding('mn1@example.net')?.linkLocal).toBe('fe80::100');
    const refused = ha.handleBindingUpdate(twin(1));
    expect(ba(refused, '2001:db8:f::9', '2001:db8:2::100')).toMatchObject({ status: 134 });
    expect(refused).toMatchObject({ dataPlane: [], event: "link-local address fe80::100 is mn1@example.net's" });
    const restarted = new HomeAgent(twoLinks); // restored from what a journal kept: still defended
    restarted.restore([...ha.entries()], new Map());
    expect(ba(restarted.handleBindingUpdate(twin(1)), '2001:db8:f::9', '2001:db8:2::100')).toMatchObject({ status: 134 });
    ha.handleBindingUpdate(overIpv6({ seq: 3, lifetime: 0, atMs: 1_000_020 })); // mn1 deregisters: fe80::100 is free
    expect(ha.handleBindingUpdate(twin(2)).dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:2::100', 'fe80::100'] }) }]);
  });

  it('asks for duplicate address detection of each IPv6 address it starts defending, and only those (RFC 6275 §10.3.1)', () => {
    const ha = new HomeAgent(config());
    const first = ha.handleBindingUpdate(overIpv6({ seq: 1, flags: { l: true } }));
    expect(first.dad?.addresses).toEqual(['2001:db8:1::100', 'fe80::100']);
    expect(ha.handleBindingUpdate(overIpv6({ seq: 2, flags: { l: true }, careOf: '2001:db8:e::2', atMs: 1_000_010 })).dad).toBeUndefined(); // a move
    const refusal = ha.handleBindingUpdate(overIpv6({ seq: 3, atMs: 1_000_020, careOf: '2001:db8:e::3' })).dad; // without L: no link-local to probe
    expect(refusal).toBeUndefined();
    ha.handleBindingUpdate(overIpv6({ seq: 4, lifetime: 0, atMs: 1_000_030 })); // deregistered: no longer defended
    const again = ha.handleBindingUpdate(overIpv6({ seq: 5, atMs: 1_000_040 }));
    expect(again.dad?.addresses).toEqual(['2001:db8:1::100']);
    const refused = again.dad!.refuse('2001:db8:1::100');
    expect(ba(refused, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 134, sequence: 5 });
    expect(ha.binding('mn1@example.net')).toBeUndefined();
    expect(new HomeAgent(config({ duplicateAddressDetection: false })).handleBindingUpdate(overIpv6({ seq: 1 })).dad).toBeUndefined();
  });

  it('refuses a BU without a timestamp with 145, which has none to echo (RFC 4285 §6)', () => {
    const mh = signMnHa(encodeMobilityHeader({
      type: 'bindingUpdate', sequence: 1, lifetime: 600, flags: { ...NO_FLAGS, a: true, h: true },
      options: [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn1@example.net' }, { type: 'mobilityMessageAuthentication', subtype: 1, spi: 4096, authenticator: Buffer.alloc(12) }],
    }), { key: Buffer.from(KEY, 'hex'), spi: 4096, careOf: '2001:db8:f::2', home: '2001:db8:1::100' });
    const o = new HomeAgent(config()).handleBindingUpdate({ ...overIpv6({}), mh });
    const answer = ba(o, '2001:db8:f::2', '2001:db8:1::100');
    expect(answer).toMatchObject({ status: 145 });
    expect(answer.options.map((x: { type: string }) => x.type)).toEqual(['mobileNodeIdentifier', 'mobilityMessageAuthentication']);
    expect(o.dataPlane).toEqual([]);
  });

  it('refuses a replayed BU (144, with its own clock) and an old sequence number (135, with the last one)', () => {
    const ha = new HomeAgent(config());
    const first = overIpv6({ seq: 10 });
    expect(ha.handleBindingUpdate(first).dataPlane).toHaveLength(1);
    const replayed = ba(ha.handleBindingUpdate({ ...first, nowMs: 1_000_300 }), '2001:db8:f::2', '2001:db8:1::100');
    expect(replayed).toMatchObject({ status: 144, options: expect.arrayContaining([{ type: 'replayProtection', timestamp: ntpTimestamp(1_000_300) }]) });
    const old = ha.handleBindingUpdate(overIpv6({ seq: 9, atMs: 1_001_000 }));
    expect(ba(old, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 135, sequence: 10 });
    expect(old.dataPlane).toEqual([]);
  });

  it('answers 143 and keeps the previous binding when the data plane cannot take the new one', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(overIpv6({ seq: 1 }));
    const moved = ha.handleBindingUpdate(overIpv6({ seq: 2, careOf: '2001:db8:e::2', atMs: 1_001_000 }));
    expect(ha.binding('mn1@example.net')?.careOf).toBe('2001:db8:e::2');
    const refusal = moved.onDataPlaneFailure!();
    expect(refusal.dataPlane).toEqual([]);
    expect(ba(refusal, '2001:db8:e::2', '2001:db8:1::100')).toMatchObject({ status: 143, sequence: 2, lifetime: 0 });
    expect(ha.binding('mn1@example.net')).toMatchObject({ careOf: '2001:db8:f::2', sequence: 1 });
  });

  it('asks for a refresh once, the lead time before expiry, and expires the binding when its lifetime runs out', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(overIpv6({ seq: 1, lifetime: 600 }));
    expect(ha.expire(1_569_999)).toEqual([]);
    const [brr, ...none] = ha.expire(1_570_000); // 30 s before, the default lead
    expect(none).toEqual([]);
    // to the home address through the node's tunnel: a type 2 routing header is for BAs only (RFC 6275 §6.1)
    expect(brr!.reply!.route).toEqual({ transport: 'ipv6-in-ipv6', src: HA6, dst: '2001:db8:f::2', innerSrc: HA6, innerDst: '2001:db8:1::100' });
    expect(decodeMobilityHeader(brr!.reply!.mh)).toMatchObject({ type: 'bindingRefreshRequest' });
    expect(ha.expire(1_599_999)).toEqual([]);
    expect(ha.expire(1_600_000)).toEqual([{ dataPlane: [{ remove: 1 }], event: 'binding of mn1@example.net expired' }]);
    expect(ha.binding('mn1@example.net')).toBeUndefined();
  });

  it('asks a node registered over UDP for its refresh in UDP, as its BAs go (inner packet to the home address, no routing header)', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(throughNat({ seq: 1, lifetime: 600 }));
    const [brr] = ha.expire(1_570_000);
    expect(brr!.reply!.route).toEqual({ transport: 'udp4', src: '203.0.113.1', dst: '198.51.100.7', srcPort: 4191, dstPort: 40000, ipv6Src: HA6, ipv6Dst: '2001:db8:1::200' });
  });

  it('asks for no refresh of a binding whose whole lifetime is within twice the lead (the node refreshes it itself)', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(overIpv6({ seq: 1, lifetime: 60 }));
    for (const at of [1_000_000, 1_030_000, 1_059_999]) expect(ha.expire(at)).toEqual([]);
  });

  it('refuses an IPv4 care-of address in a BU sent over IPv6 (174)', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(overIpv6({ options: [{ type: 'ipv4CareOfAddress', address: '198.51.100.2' }] }));
    expect(o.dataPlane).toEqual([]);
    expect(decodeMobilityHeader(o.reply!.mh)).toMatchObject({ status: 174 });
  });

  it('deregisters on lifetime 0 and removes the tunnel', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(overIpv6({ seq: 1 }));
    const o = ha.handleBindingUpdate(overIpv6({ seq: 2, lifetime: 0, atMs: 1_001_000 }));
    expect(o.dataPlane).toEqual([{ remove: 1 }]);
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 0, lifetime: 0 });
    expect(ha.binding('mn1@example.net')).toBeUndefined();
  });

  it('refuses a deregistration with no binding to end (133, RFC 6275 §10.3.2): none yet, or only a deprecated one', () => {
    const ha = new HomeAgent(config());
    const none = ha.handleBindingUpdate(overIpv6({ seq: 1, lifetime: 0 }));
    expect(ba(none, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 133, lifetime: 0 });
    expect(none.dataPlane).toEqual([]);
    ha.handleBindingUpdate(overIpv6({ seq: 2, atMs: 1_001_000 }));
    expect(ba(ha.handleBindingUpdate(overIpv6({ seq: 3, lifetime: 0, atMs: 1_002_000 })), '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 0 });
    const again = ha.handleBindingUpdate(overIpv6({ seq: 4, lifetime: 0, atMs: 1_003_000 }));
    expect(ba(again, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 133 });
    expect(again.dataPlane).toEqual([]);
  });

  it.each(['ff02::1', '::', '::1', 'fe80::1', '::ffff:10.1.0.5', '2001:db8:1::1', HA6])('refuses %s as an alternate care-of address (174): not a global unicast address away from home', (alternate) => {
    const bu = overIpv6({ careOf: alternate, options: [{ type: 'alternateCareOfAddress', address: alternate }] });
    const o = new HomeAgent(config()).handleBindingUpdate({ ...bu, outer: { src: '2001:db8:f::2', dst: HA6 }, ipv6Src: '2001:db8:f::2' });
    expect(o.dataPlane).toEqual([]);
    expect(ba(o, alternate, '2001:db8:1::100')).toMatchObject({ status: 174 });
  });

  it.each(['ff02::1', 'fe80::5', '2001:db8:1::77', HA6])('refuses a BU from %s, no Alternate Care-of Address option: its source names no care-of address either (174)', (source) => {
    const o = new HomeAgent(config()).handleBindingUpdate(overIpv6({ careOf: source }));
    expect(o.dataPlane).toEqual([]);
    expect(ba(o, source, '2001:db8:1::100')).toMatchObject({ status: 174 });
  });

  it('refuses a home address off the home link with 132 (RFC 6275 §10.3.1), one on it but not the node\'s with 133', () => {
    const ha = new HomeAgent(config());
    const signedFor = (home: string): ReceivedBu => ({ ...overIpv6({}), homeAddressOption: home, mh: signedBu({ careOf: '2001:db8:f::2', home }) });
    expect(ba(ha.handleBindingUpdate(signedFor('2001:db8:99::1')), '2001:db8:f::2', '2001:db8:99::1')).toMatchObject({ status: 132 });
    expect(ba(ha.handleBindingUpdate(signedFor('2001:db8:1::999')), '2001:db8:f::2', '2001:db8:1::999')).toMatchObject({ status: 133 });
  });

  it('binds the Alternate Care-of Address option\'s address (RFC 6275 §9.5.1), authenticated over it, and answers where the BU came from', () => {
    const alternate = '2001:db8:e::9';
    const bu = overIpv6({ careOf: alternate, options: [{ type: 'alternateCareOfAddress', address: alternate }] });
    const o = new HomeAgent(config()).handleBindingUpdate({ ...bu, outer: { src: '2001:db8:f::2', dst: HA6 }, ipv6Src: '2001:db8:f::2' });
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ tunnel: { format: 'ip6', local: HA6, remote: alternate } }) }]);
    expect(o.reply!.route).toEqual({ transport: 'ipv6', src: HA6, dst: '2001:db8:f::2', routingHeader2: '2001:db8:1::100' });
    expect(ba(o, alternate, '2001:db8:1::100')).toMatchObject({ status: 0 });
  });

  it('keeps a deregistered entry deprecated for MinDelayBeforeBCEDelete: a late BU with an old sequence is refused', () => {
    const ha = new HomeAgent(config({ minDelayBeforeBceDelete: 10 }));
    ha.handleBindingUpdate(overIpv6({ seq: 1 }));
    ha.handleBindingUpdate(overIpv6({ seq: 2, lifetime: 0, atMs: 1_001_000 }));
    const late = ha.handleBindingUpdate(overIpv6({ seq: 1, atMs: 1_002_000 }));
    expect(ba(late, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 135, sequence: 2 });
    expect(late.dataPlane).toEqual([]);
    expect(ha.expire(1_010_999)).toEqual([]);
    expect(ha.expire(1_011_000)).toEqual([]); // deleted without a data-plane change: its tunnel went at deregistration
    expect(ba(ha.handleBindingUpdate(overIpv6({ seq: 1, atMs: 1_012_000 })), '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 0 });
  });

  it('answers a wrong static IPv4 home address with IPv4 acknowledgement status 130', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(overIpv6({ options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.99' }] }));
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100').options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 130, prefixLength: 0, address: '10.1.0.99' });
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::100'] }) }]);
  });
});

describe('registration over UDP/IPv4', () => {
  const dynamic: MobilityOption = { type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' };

  it('detects the NAT, tunnels in UDP to the mapped address and port, leases an IPv4 home address, and answers in UDP', () => {
    const ha = new HomeAgent(config());
    const o = ha.handleBindingUpdate(throughNat({ options: [dynamic] }));
    expect(o.dataPlane).toEqual([{ install: {
      id: 2, tunnel: { format: 'udp4', local: '203.0.113.1', remote: '198.51.100.7', localPort: 4191, remotePort: 40000 },
      homeAddresses: ['2001:db8:1::200', '10.1.0.200'], prefixes: [],
    } }]);
    expect(o.reply!.route).toEqual({ transport: 'udp4', src: '203.0.113.1', dst: '198.51.100.7', srcPort: 4191, dstPort: 40000, ipv6Src: HA6, ipv6Dst: '2001:db8:1::200' });
    const answer = ba(o, '10.0.0.2', '2001:db8:1::200');
    expect(answer.options).toContainEqual({ type: 'natDetection', f: false, refreshTime: 110 });
    expect(answer.options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' });
  });

  it('negotiates the TLV format when asked and allowed', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(throughNat({ flags: { t: true } }));
    expect(o.dataPlane[0]).toMatchObject({ install: { tunnel: { format: 'udp4-tlv' } } });
    expect(ba(o, '10.0.0.2', '2001:db8:1::200')).toMatchObject({ flags: { t: true } });
  });

  it('uses plain IPv4-in-IPv4 when there is no NAT', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(throughNat({ src: '10.0.0.2', srcPort: 4191 }));
    expect(o.dataPlane[0]).toMatchObject({ install: { tunnel: { format: 'ip4', local: '203.0.113.1', remote: '10.0.0.2' } } });
    expect(ba(o, '10.0.0.2', '2001:db8:1::200').options.some((x) => x.type === 'natDetection')).toBe(false);
  });

  it('forced UDP without a NAT: tunnels in UDP and says so with a NAT Detection option, F set, no refresh (all 1s)', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(throughNat({ src: '10.0.0.2', srcPort: 4191, flags: { f: true } }));
    expect(o.dataPlane[0]).toMatchObject({ install: { tunnel: { format: 'udp4', remote: '10.0.0.2', remotePort: 4191 } } });
    expect(ba(o, '10.0.0.2', '2001:db8:1::200').options).toContainEqual({ type: 'natDetection', f: true, refreshTime: 0xffffffff });
  });

  it('puts the NAT Detection option in every signed BA to a BU that came through a NAT: a refusal, a deregistration (§3.2.2: "MUST be sent")', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(throughNat({ seq: 5 }));
    const natd = { type: 'natDetection', f: false, refreshTime: 110 };
    const stale = ha.handleBindingUpdate(throughNat({ seq: 4, atMs: 1_000_100 }));
    expect(ba(stale, '10.0.0.2', '2001:db8:1::200')).toMatchObject({ status: 135, options: expect.arrayContaining([natd]) });
    const leaving = ha.handleBindingUpdate(throughNat({ seq: 6, lifetime: 0, atMs: 1_000_200 }));
    expect(ba(leaving, '10.0.0.2', '2001:db8:1::200')).toMatchObject({ status: 0, options: expect.arrayContaining([natd]) });
    const forged = ha.handleBindingUpdate(throughNat({ seq: 7, key: 'ff'.repeat(20), atMs: 1_000_300 }));
    expect(decodeMobilityHeader(forged.reply!.mh)).toMatchObject({ status: 146, options: [] }); // unsigned, nothing in it
  });

  it('gives a node\'s lease back to its pool when its profile moves it to another source of IPv4 addresses', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(throughNat({ options: [dynamic] })); // mn2 leases 10.1.0.200, the pool's one address
    ha.setProfile({ ...ha.profile('mn2@example.net')!, ipv4HomeAddress: { static: '10.1.0.150' } });
    ha.setProfile({ ...ha.profile('mn1@example.net')!, ipv4HomeAddress: { pool: 'visitors' } });
    const o = ha.handleBindingUpdate(overIpv6({ seq: 1, options: [dynamic] }));
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100').options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' });
  });

  it('keeps a node\'s lease when a registration that would have replaced its address is undone (143)', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(throughNat({ options: [dynamic] })); // mn2: 10.1.0.200
    const home = '2001:db8:1::200', onLink = '10.1.0.77';
    const atHome = ha.handleBindingUpdate({ // from the home link: its on-link address is its dynamic one now (extended home link §4.1)
      transport: 'udp4', outer: { src: onLink, srcPort: 4191, dst: '203.0.113.1', dstPort: 4191 }, ipv6Src: home, nowMs: 1_000_100,
      mh: signedBu({ seq: 2, nai: 'mn2@example.net', spi: 4097, careOf: onLink, home, atMs: 1_000_100, options: [dynamic, { type: 'ipv4CareOfAddress', address: onLink }] }),
    });
    expect(atHome.onDataPlaneFailure!().status).toBe(143);
    expect(ha.binding('mn2@example.net')).toMatchObject({ ipv4HomeAddress: '10.1.0.200' });
    ha.setProfile({ ...ha.profile('mn1@example.net')!, ipv4HomeAddress: { pool: 'visitors' } }); // the pool's one address is still mn2's
    const o = ha.handleBindingUpdate(overIpv6({ seq: 1, options: [dynamic], atMs: 1_000_200 }));
    expect(ba(o, '2001:db8:f::2', '2001:db8:1::100').options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 132, prefixLength: 0, address: '0.0.0.0' });
  });

  it('refuses forced UDP when the policy does (129), and leases the address again after a deregistration freed it', () => {
    const refusing = new HomeAgent(config({ forceUdp: 'refuse' })).handleBindingUpdate(throughNat({ src: '10.0.0.2', srcPort: 4191, flags: { f: true } }));
    expect(ba(refusing, '10.0.0.2', '2001:db8:1::200')).toMatchObject({ status: 129 });
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(throughNat({ options: [dynamic] }));
    ha.handleBindingUpdate(throughNat({ seq: 2, lifetime: 0, atMs: 1_001_000 })); // deregistration frees the lease
    expect(ba(ha.handleBindingUpdate(throughNat({ seq: 3, options: [dynamic], atMs: 1_002_000 })), '10.0.0.2', '2001:db8:1::200').options)
      .toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' });
  });
});

describe('IPv4 Home Address options (RFC 5555 §3.1.1, §4.5)', () => {
  const mn4 = (options: MobilityOption[]): ReceivedBu => ({
    transport: 'ipv6', outer: { src: '2001:db8:f::4', dst: HA6 }, ipv6Src: '2001:db8:f::4', homeAddressOption: '2001:db8:1::400',
    mh: signedBu({ nai: 'mn4@example.net', spi: 4099, careOf: '2001:db8:f::4', home: '2001:db8:1::400', options }), nowMs: 1_000_000,
  });
  const acks = (o: Outcome) => ba(o, '2001:db8:f::4', '2001:db8:1::400').options.filter((x) => x.type === 'ipv4AddressAcknowledgement');
  const address = (prefixLength: number, a = '10.1.0.104'): MobilityOption => ({ type: 'ipv4HomeAddress', prefixLength, p: false, address: a });
  const prefix: MobilityOption = { type: 'ipv4HomeAddress', prefixLength: 16, p: true, address: '10.40.0.0' };

  it('takes an address and a prefix asked for in two options, acknowledging each, in either order', () => {
    for (const options of [[address(32), prefix], [prefix, address(32)]]) {
      const o = new HomeAgent(config()).handleBindingUpdate(mn4(options));
      expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::400', '10.1.0.104'], prefixes: ['10.40.0.0/16'] }) }]);
      const expected = [
        { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.104' },
        { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 16, address: '10.40.0.0' },
      ];
      expect(acks(o)).toEqual(options[0] === prefix ? expected.reverse() : expected);
    }
  });

  it('allocates a prefix asked for as 0.0.0.0 with P: the node\'s of that length (§4.5), else 133', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(mn4([{ type: 'ipv4HomeAddress', prefixLength: 16, p: true, address: '0.0.0.0' }]));
    expect(acks(o)).toEqual([{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 16, address: '10.40.0.0' }]);
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ prefixes: ['10.40.0.0/16'] }) }]);
    const none = new HomeAgent(config()).handleBindingUpdate(mn4([{ type: 'ipv4HomeAddress', prefixLength: 24, p: true, address: '0.0.0.0' }]));
    expect(acks(none)).toEqual([{ type: 'ipv4AddressAcknowledgement', status: 133, prefixLength: 0, address: '0.0.0.0' }]);
  });

  it('refuses a prefix length of 0 ("invalid and MUST be considered an error") and a second address, each with 128; the IPv6 registration stands', () => {
    const zero = new HomeAgent(config()).handleBindingUpdate(mn4([address(0)]));
    expect(ba(zero, '2001:db8:f::4', '2001:db8:1::400')).toMatchObject({ status: 0 });
    expect(acks(zero)).toEqual([{ type: 'ipv4AddressAcknowledgement', status: 128, prefixLength: 0, address: '10.1.0.104' }]);
    expect(zero.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::400'] }) }]);
    const twice = new HomeAgent(config()).handleBindingUpdate(mn4([address(32), address(32, '10.1.0.105')]));
    expect(acks(twice).map((a) => a.type === 'ipv4AddressAcknowledgement' && a.status)).toEqual([0, 128]);
    expect(twice.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::400', '10.1.0.104'] }) }]);
  });

  it('does not let a pooled node pick a free pool address it was never given (130)', () => {
    const picked = new HomeAgent(config()).handleBindingUpdate(throughNat({ options: [address(32, '10.1.0.200')] }));
    expect(ba(picked, '10.0.0.2', '2001:db8:1::200').options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 130, prefixLength: 0, address: '10.1.0.200' });
    expect(picked.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::200'] }) }]);
  });
});

describe('mobile routers (NEMO) and IPv4 home prefixes', () => {
  const fromRouter = (nai: string, spi: number, home: string, s: Omit<BuSpec, 'careOf' | 'home' | 'nai' | 'spi'>): ReceivedBu => ({
    transport: 'ipv6', outer: { src: '2001:db8:f::3', dst: HA6 }, ipv6Src: '2001:db8:f::3', homeAddressOption: home,
    mh: signedBu({ ...s, nai, spi, careOf: '2001:db8:f::3', home }), nowMs: 1_000_000,
  });
  const router = (s: Omit<BuSpec, 'careOf' | 'home' | 'nai' | 'spi'>) => fromRouter('mr@example.net', 4098, '2001:db8:1::300', s);
  const mnp = (prefix: string, prefixLength: number): MobilityOption => ({ type: 'mobileNetworkPrefix', prefixLength, prefix });
  const baOf = (o: Outcome) => ba(o, '2001:db8:f::3', o.reply!.route.transport === 'ipv6' ? o.reply!.route.routingHeader2! : '');

  it('registers the prefixes a router names (explicit mode), and answers with R', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(router({ flags: { r: true }, options: [mnp('2001:db8:301::', 48)] }));
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ id: 3, prefixes: ['2001:db8:301::/48'] }) }]);
    expect(baOf(o)).toMatchObject({ status: 0, flags: { r: true } });
  });

  it('deregisters a router with R in its BA too, its prefixes gone with the binding', () => {
    const ha = new HomeAgent(config());
    ha.handleBindingUpdate(router({ seq: 1, flags: { r: true } }));
    const o = ha.handleBindingUpdate(router({ seq: 2, atMs: 1_000_001, lifetime: 0, flags: { r: true } }));
    expect(o.dataPlane).toEqual([{ remove: 3 }]);
    expect(baOf(o)).toMatchObject({ status: 0, lifetime: 0, flags: { r: true } });
  });

  it('registers a prefix named more than once once: an entry holds at most the profile\'s prefixes', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(router({ flags: { r: true }, options: Array.from({ length: 40 }, (_, i) => mnp(`2001:db8:30${i % 2}::`, 48)) }));
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ prefixes: ['2001:db8:300::/48', '2001:db8:301::/48'] }) }]);
  });

  it('registers every configured prefix when the router names none (implicit mode)', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(router({ flags: { r: true } }));
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ prefixes: ['2001:db8:300::/48', '2001:db8:301::/48'] }) }]);
  });

  it.each([
    ['a prefix it does not hold', [mnp('2001:db8:999::', 48)], 142],
    ['a zero-length prefix', [mnp('::', 0)], 141],
  ] as const)('refuses %s (%i)', (_what, options, status) => {
    const o = new HomeAgent(config()).handleBindingUpdate(router({ flags: { r: true }, options: [...options] }));
    expect(o.dataPlane).toEqual([]);
    expect(baOf(o)).toMatchObject({ status });
  });

  it('refuses router operation to a node not configured as a router (140)', () => {
    const o = new HomeAgent(config()).handleBindingUpdate(overIpv6({ flags: { r: true } }));
    expect(decodeMobilityHeader(o.reply!.mh)).toMatchObject({ status: 140 });
  });

  it('grants an IPv4 home prefix (P flag) the profile holds, and refuses one it does not (133)', () => {
    const ok = new HomeAgent(config()).handleBindingUpdate(router({ options: [{ type: 'ipv4HomeAddress', prefixLength: 16, p: true, address: '10.30.0.0' }] }));
    expect(ok.dataPlane).toEqual([{ install: expect.objectContaining({ prefixes: ['10.30.0.0/16'] }) }]);
    expect(baOf(ok).options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 16, address: '10.30.0.0' });
    const no = new HomeAgent(config()).handleBindingUpdate(router({ options: [{ type: 'ipv4HomeAddress', prefixLength: 16, p: true, address: '10.99.0.0' }] }));
    expect(baOf(no).options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 133, prefixLength: 0, address: '10.99.0.0' });
  });
});

describe('IPv4 home address requests that cannot be granted', () => {
  it.each([['224.0.0.5', 'multicast'], ['127.0.0.1', 'loopback'], ['0.1.2.3', 'this network'], ['169.254.1.1', 'link-local'], ['255.255.255.255', 'broadcast']])(
    '%s (%s) is an invalid IPv4 address: acknowledged 131, the IPv6 registration stands', (address) => {
      const o = new HomeAgent(config()).handleBindingUpdate(overIpv6({ options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address }] }));
      expect(ba(o, '2001:db8:f::2', '2001:db8:1::100')).toMatchObject({ status: 0, options: expect.arrayContaining([{ type: 'ipv4AddressAcknowledgement', status: 131, prefixLength: 0, address }]) });
      expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::100'] }) }]);
    });
});

describe('extended home link', () => {
  it('IPv4-wise at home (IPv4 care-of address = IPv4 home address): IPv6 tunnelled in IPv4 to it, IPv4 left on the link', () => {
    const home = '2001:db8:1::100';
    const bu: ReceivedBu = {
      transport: 'udp4', outer: { src: '10.1.0.100', srcPort: 4191, dst: '203.0.113.1', dstPort: 4191 }, ipv6Src: home, nowMs: 1_000_000,
      mh: signedBu({ careOf: '10.1.0.100', home, options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.100' }, { type: 'ipv4CareOfAddress', address: '10.1.0.100' }] }),
    };
    const o = new HomeAgent(config()).handleBindingUpdate(bu);
    expect(o.dataPlane).toEqual([{ install: { id: 1, tunnel: { format: 'ip4', local: '203.0.113.1', remote: '10.1.0.100' }, homeAddresses: [home], prefixes: [] } }]);
    expect(ba(o, '10.1.0.100', home)).toMatchObject({ status: 0 });
  });

  it('hands a node asking for a dynamic IPv4 home address from the home link its on-link address (§4.1), never a pool address or another node\'s', () => {
    const home = '2001:db8:1::200';
    const fromHomeLink = (onLink: string): ReceivedBu => ({
      transport: 'udp4', outer: { src: onLink, srcPort: 4191, dst: '203.0.113.1', dstPort: 4191 }, ipv6Src: home, nowMs: 1_000_000,
      mh: signedBu({ nai: 'mn2@example.net', spi: 4097, careOf: onLink, home, options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }, { type: 'ipv4CareOfAddress', address: onLink }] }),
    });
    const o = new HomeAgent(config()).handleBindingUpdate(fromHomeLink('10.1.0.77'));
    expect(o.dataPlane).toEqual([{ install: { id: 2, tunnel: { format: 'ip4', local: '203.0.113.1', remote: '10.1.0.77' }, homeAddresses: [home], prefixes: [] } }]);
    expect(ba(o, '10.1.0.77', home)).toMatchObject({ status: 0, options: expect.arrayContaining([{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.77' }]) });
    // mn1's static address is not handed out: a lease from the pool is, and tunnelled there
    for (const taken of ['10.1.0.100']) {
      const other = new HomeAgent(config()).handleBindingUpdate(fromHomeLink(taken));
      expect(ba(other, taken, home)).toMatchObject({ status: 0 });
      expect(other.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: [home, '10.1.0.200'] }) }]);
      expect((decodeMobilityHeader(other.reply!.mh) as { options: unknown[] }).options).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' });
    }
  });

  it('IPv6-wise at home (alternate care-of address = source, no Home Address option): IPv4 tunnelled in IPv6 to the IPv6 home address', () => {
    const home = '2001:db8:1::100';
    const bu: ReceivedBu = {
      transport: 'ipv6', outer: { src: home, dst: HA6 }, ipv6Src: home, nowMs: 1_000_000,
      mh: signedBu({ careOf: home, home, options: [{ type: 'alternateCareOfAddress', address: home }, { type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.100' }] }),
    };
    const o = new HomeAgent(config()).handleBindingUpdate(bu);
    expect(o.dataPlane).toEqual([{ install: { id: 1, tunnel: { format: 'ip6', local: HA6, remote: home }, homeAddresses: ['10.1.0.100'], prefixes: [] } }]);
    expect(o.reply!.route).toEqual({ transport: 'ipv6', src: HA6, dst: home });
    expect(ba(o, home, home)).toMatchObject({ status: 0 });
  });
});

describe('other messages', () => {
  it('answers an MH type it does not support (a HoTI) with a Binding Error, status 2, to its source', () => {
    const hoti = encodeMobilityHeader({ type: 'unsupported', mhType: 1, data: Buffer.alloc(10) });
    const o = new HomeAgent(config()).handleBindingUpdate({ transport: 'ipv6', outer: { src: '2001:db8:c::2', dst: HA6 }, ipv6Src: '2001:db8:c::2', mh: hoti, nowMs: 0 });
    expect(o.dataPlane).toEqual([]);
    expect(o.reply!.route).toEqual({ transport: 'ipv6', src: HA6, dst: '2001:db8:c::2' });
    expect(decodeMobilityHeader(o.reply!.mh)).toMatchObject({ type: 'bindingError', status: 2, homeAddress: '::' });
  });

  it('discards a malformed MH silently', () => {
    const o = new HomeAgent(config()).handleBindingUpdate({ transport: 'ipv6', outer: { src: '2001:db8:c::2', dst: HA6 }, ipv6Src: '2001:db8:c::2', mh: Buffer.from('3b0105000000', 'hex'), nowMs: 0 });
    expect(o).toMatchObject({ dataPlane: [], event: expect.stringMatching(/^malformed MH discarded/) });
    expect(o.reply).toBeUndefined();
  });
});

describe('sequence numbers', () => {
  it('compare modulo 2^16', () => {
    expect([sequenceNewer(1, 0), sequenceNewer(0, 65535), sequenceNewer(65535, 0), sequenceNewer(5, 5), sequenceNewer(32767, 0), sequenceNewer(32768, 0)])
      .toEqual([true, true, false, false, true, false]);
  });
});
