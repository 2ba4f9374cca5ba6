/**
 * The extended home link draft (draft-premec-mext-extended-home-link-00
 * §4.1, §4.3, §5.2) and NEMO (RFC 3963) as DSMIPv6 carries them (RFC 5555
 * §3.1.1: IPv4 mobile network prefixes), at their edges: an IPv4 option
 * refused at home, a NAT, a refresh, a change of registration type.
 */
import { describe, expect, it } from 'vitest';
import { HomeAgent, type Outcome, type ReceivedBu } from '../../control/ha/home-agent.js';
import { decodeMobilityHeader, type MobilityOption } from '../../control/wire/mh/index.js';
import { config, HA4, HA6, KEY, signedBu } from '../helpers/ha-config.js';

const v4addr = (address: string, prefixLength = 32, p = false): MobilityOption => ({ type: 'ipv4HomeAddress', prefixLength, p, address });
const acks = (o: Outcome) => (decodeMobilityHeader(o.reply!.mh) as { options: MobilityOption[] }).options.filter((x) => x.type === 'ipv4AddressAcknowledgement');
const status = (o: Outcome) => (decodeMobilityHeader(o.reply!.mh) as { status: number }).status;

/** mn1 (static 10.1.0.100) from an IPv6 care-of address. */
const mn1Away6 = (seq: number, atMs: number, options: MobilityOption[] = [], careOf = '2001:db8:f::2'): ReceivedBu => ({
  transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: '2001:db8:1::100', nowMs: atMs,
  mh: signedBu({ seq, atMs, careOf, home: '2001:db8:1::100', options }),
});
/** mn1 IPv6-wise at home: from its home address, Alternate CoA = home address, no Home Address option. */
const mn1Home6 = (seq: number, atMs: number, options: MobilityOption[] = []): ReceivedBu => {
  const home = '2001:db8:1::100';
  return { transport: 'ipv6', outer: { src: home, dst: HA6 }, ipv6Src: home, nowMs: atMs,
    mh: signedBu({ seq, atMs, careOf: home, home, options: [{ type: 'alternateCareOfAddress', address: home }, ...options] }) };
};
/** mn2 (pool) over UDP/IPv4 with the given IPv4 CoA option and outer source. */
const mn2Udp = (seq: number, atMs: number, coa: string, outer: { src: string; srcPort: number }, options: MobilityOption[]): ReceivedBu => {
  const home = '2001:db8:1::200';
  return { transport: 'udp4', outer: { ...outer, dst: HA4, dstPort: 4191 }, ipv6Src: home, nowMs: atMs,
    mh: signedBu({ seq, atMs, nai: 'mn2@example.net', spi: 4097, careOf: coa, home, options: [...options, { type: 'ipv4CareOfAddress', address: coa }] }) };
};

describe('extended home link', () => {
  it("deregisters a node IPv6-wise at home that registers no IPv4 home address: the same family's entry goes (§5.2), no 128 with the old tunnel kept", () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }));
    expect(ha.handleBindingUpdate(mn1Away6(1, 1_000_000, [v4addr('10.1.0.100')])).status).toBe(0);
    const home = ha.handleBindingUpdate(mn1Home6(2, 1_000_100));
    expect(status(home)).toBe(0);
    expect(home.dataPlane).toEqual([{ remove: 1 }]);
    expect(ha.binding('mn1@example.net')).toBeUndefined();
  });

  it('removes the IPv6 entry of a node IPv6-wise at home whose IPv4 home address is refused (§5.2), the refusal acknowledged', () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }));
    ha.handleBindingUpdate(mn1Away6(1, 1_000_000, [v4addr('10.1.0.100')]));
    const home = ha.handleBindingUpdate(mn1Home6(2, 1_000_100, [v4addr('10.1.0.99')])); // wrong static: 130
    expect(acks(home)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 130, prefixLength: 0, address: '10.1.0.99' });
    expect(home.dataPlane).toEqual([{ remove: 1 }]);
    expect(ha.binding('mn1@example.net')?.binding.homeAddresses ?? []).not.toContain('2001:db8:1::100');
  });

  it('takes a node behind a NAT whose private care-of address falls in the home IPv4 prefix for away: no on-link home address, not IPv4-wise at home', () => {
    const ha = new HomeAgent(config());
    const o = ha.handleBindingUpdate(mn2Udp(1, 1_000_000, '10.1.0.50', { src: '198.51.100.7', srcPort: 40000 }, [v4addr('0.0.0.0')]));
    expect(status(o)).toBe(0);
    expect(acks(o)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' }); // a pool lease
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: ['2001:db8:1::200', '10.1.0.200'] }) }]);
  });

  it("keeps the on-link address it handed out as a dynamic IPv4 home address the node's: refreshed by address, and kept when the node moves away", () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }));
    const onLink = '10.1.0.77';
    const first = ha.handleBindingUpdate(mn2Udp(1, 1_000_000, onLink, { src: onLink, srcPort: 4191 }, [v4addr('0.0.0.0')]));
    expect(acks(first)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: onLink });
    // refresh at home naming the address it was given (RFC 5555 §4.5: "MUST check that this address is allocated to the mobile node")
    const refresh = ha.handleBindingUpdate(mn2Udp(2, 1_000_100, onLink, { src: onLink, srcPort: 4191 }, [v4addr(onLink)]));
    expect(acks(refresh)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: onLink });
    // leaves the home link for an IPv6 network, keeping its IPv4 home address
    const home = '2001:db8:1::200', careOf = '2001:db8:f::7';
    const away = ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: home, nowMs: 1_000_200,
      mh: signedBu({ seq: 3, atMs: 1_000_200, nai: 'mn2@example.net', spi: 4097, careOf, home, options: [v4addr(onLink)] }) });
    expect(acks(away)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: onLink });
    expect(away.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: [home, onLink] }) }]);
  });

  it('hands out an on-link address to no other node while one holds it, whichever came first', () => {
    const mn5 = { nai: 'mn5@example.net', key: KEY, spi: 5000, homeAddress: '2001:db8:1::500', ipv4HomeAddress: { pool: 'visitors' } };
    const X = '10.1.0.77';
    const mn5Udp = (seq: number, atMs: number) => ({ ...mn2Udp(seq, atMs, X, { src: X, srcPort: 4191 }, []), ipv6Src: mn5.homeAddress,
      mh: signedBu({ seq, atMs, nai: mn5.nai, spi: mn5.spi, careOf: X, home: mn5.homeAddress, options: [v4addr('0.0.0.0'), { type: 'ipv4CareOfAddress', address: X }] }) });
    const holders = (ha: HomeAgent) => ha.bindings().filter((e) => e.ipv4HomeAddress === X).map((e) => e.nai);
    // mn2 is given X on the home link, then leaves keeping it; mn5 comes to the home link with X: it gets the pool's address
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }, [mn5]));
    ha.handleBindingUpdate(mn2Udp(1, 1_000_000, X, { src: X, srcPort: 4191 }, [v4addr('0.0.0.0')]));
    const careOf = '2001:db8:f::7', home = '2001:db8:1::200';
    ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: home, nowMs: 1_000_100,
      mh: signedBu({ seq: 2, atMs: 1_000_100, nai: 'mn2@example.net', spi: 4097, careOf, home, options: [v4addr(X)] }) });
    expect(acks(ha.handleBindingUpdate(mn5Udp(1, 1_000_200)))).toEqual([{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' }]);
    expect(holders(ha)).toEqual(['mn2@example.net']);
    // both on the home link with X at once: the first gets it
    const again = new HomeAgent(config({ duplicateAddressDetection: false }, [mn5]));
    again.handleBindingUpdate(mn2Udp(1, 1_000_000, X, { src: X, srcPort: 4191 }, [v4addr('0.0.0.0')]));
    again.handleBindingUpdate(mn5Udp(1, 1_000_100));
    expect(holders(again)).toEqual(['mn2@example.net']);
    // nor is it made another node's static address meanwhile (the REST API's 409)
    expect(() => ha.setProfile({ ...ha.profile('mn1@example.net')!, ipv4HomeAddress: { static: X } })).toThrow(`${X} is mn2@example.net's now (granted on the home link)`);
  });
});

describe('NEMO with DSMIPv6', () => {
  const mn4 = (seq: number, atMs: number, options: MobilityOption[]): ReceivedBu => ({
    transport: 'ipv6', outer: { src: '2001:db8:f::4', dst: HA6 }, ipv6Src: '2001:db8:f::4', homeAddressOption: '2001:db8:1::400', nowMs: atMs,
    mh: signedBu({ seq, atMs, nai: 'mn4@example.net', spi: 4099, careOf: '2001:db8:f::4', home: '2001:db8:1::400', options }),
  });

  it('keeps an IPv4 prefix refreshed with P clear ("P ... must be ignored for binding refreshes")', () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }));
    const first = ha.handleBindingUpdate(mn4(1, 1_000_000, [v4addr('10.1.0.104'), v4addr('10.40.0.0', 16, true)]));
    expect(first.dataPlane).toEqual([{ install: expect.objectContaining({ prefixes: ['10.40.0.0/16'] }) }]);
    const refresh = ha.handleBindingUpdate(mn4(2, 1_000_100, [v4addr('10.1.0.104'), v4addr('10.40.0.0', 16, false)])); // Pref = allocated length, P not set
    expect(acks(refresh)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 16, address: '10.40.0.0' });
    expect(ha.binding('mn4@example.net')?.binding.prefixes).toEqual(['10.40.0.0/16']);
  });

  it('keeps an IPv4 prefix refreshed by an address the router formed in it, P clear', () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }));
    ha.handleBindingUpdate(mn4(1, 1_000_000, [v4addr('10.1.0.104'), v4addr('0.0.0.0', 16, true)]));
    const refresh = ha.handleBindingUpdate(mn4(2, 1_000_100, [v4addr('10.1.0.104'), v4addr('10.40.0.1', 16, false)]));
    expect(acks(refresh)).toContainEqual({ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 16, address: '10.40.0.0' });
    expect(ha.binding('mn4@example.net')?.binding.prefixes).toEqual(['10.40.0.0/16']);
  });

  it('registers a mobile router with only an IPv4 prefix, R set, implicit mode, when it asks for that prefix; its refresh with R stands', () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }, [{ nai: 'mr4@example.net', key: KEY, spi: 5000, homeAddress: '2001:db8:1::500', mobileRouter: true, prefixes: ['10.50.0.0/16'] }]));
    const home = '2001:db8:1::500', careOf = '2001:db8:f::5';
    const bu = (seq: number, atMs: number, options: MobilityOption[]): ReceivedBu => ({ transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: home, nowMs: atMs,
      mh: signedBu({ seq, atMs, flags: { r: true }, nai: 'mr4@example.net', spi: 5000, careOf, home, options }) });
    const first = ha.handleBindingUpdate(bu(1, 1_000_000, [v4addr('0.0.0.0', 16, true)]));
    expect([status(first), acks(first)]).toEqual([0, [{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 16, address: '10.50.0.0' }]]);
    expect(first.dataPlane).toEqual([{ install: expect.objectContaining({ homeAddresses: [home], prefixes: ['10.50.0.0/16'] }) }]);
    expect(status(ha.handleBindingUpdate(bu(2, 1_000_100, [v4addr('10.50.0.0', 16, false)])))).toBe(0);
    expect(ha.binding('mr4@example.net')).toMatchObject({ router: true, sequence: 2, binding: { prefixes: ['10.50.0.0/16'] } });
  });

  it('answers 143 to a mobile router in implicit mode with no IPv6 prefix configured that asks only for an IPv4 prefix it does not hold', () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }, [{ nai: 'mr4@example.net', key: KEY, spi: 5000, homeAddress: '2001:db8:1::500', mobileRouter: true, prefixes: ['10.50.0.0/16'] }]));
    const home = '2001:db8:1::500', careOf = '2001:db8:f::5';
    const o = ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: home, nowMs: 1_000_000,
      mh: signedBu({ flags: { r: true }, nai: 'mr4@example.net', spi: 5000, careOf, home, options: [v4addr('0.0.0.0', 24, true)] }) });
    expect([status(o), o.dataPlane]).toEqual([143, []]);
  });

  it('answers 143 to a mobile router in implicit mode with no IPv6 mobile network prefix configured, not 0 with R and nothing forwarded', () => {
    const ha = new HomeAgent(config({}, [{ nai: 'mr4@example.net', key: KEY, spi: 5000, homeAddress: '2001:db8:1::500', mobileRouter: true, prefixes: ['10.50.0.0/16'] }]));
    const home = '2001:db8:1::500', careOf = '2001:db8:f::5';
    const o = ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: home, nowMs: 1_000_000,
      mh: signedBu({ flags: { r: true }, nai: 'mr4@example.net', spi: 5000, careOf, home }) });
    expect(status(o)).toBe(143);
    expect(o.dataPlane).toEqual([]);
  });

  it("refuses a BU without R for a mobile router's binding as a registration type change (139): its prefix routes stay", () => {
    const ha = new HomeAgent(config({ duplicateAddressDetection: false }));
    const mr = (seq: number, atMs: number, r: boolean): ReceivedBu => ({ transport: 'ipv6', outer: { src: '2001:db8:f::3', dst: HA6 }, ipv6Src: '2001:db8:f::3', homeAddressOption: '2001:db8:1::300', nowMs: atMs,
      mh: signedBu({ seq, atMs, flags: { r }, nai: 'mr@example.net', spi: 4098, careOf: '2001:db8:f::3', home: '2001:db8:1::300' }) });
    expect(ha.handleBindingUpdate(mr(1, 1_000_000, true)).status).toBe(0);
    const noR = ha.handleBindingUpdate(mr(2, 1_000_100, false));
    expect(status(noR)).toBe(139);
    expect(ha.binding('mr@example.net')?.binding.prefixes).toEqual(['2001:db8:300::/48', '2001:db8:301::/48']);
  });

  it("gives a node that is no mobile router no IPv4 mobile network prefix (ack 133); a profile holding prefixes must be a router's", () => {
    const o = new HomeAgent(config()).handleBindingUpdate(mn1Away6(1, 1_000_000, [v4addr('10.1.0.100'), v4addr('10.40.0.0', 16, true)])); // mn1: no mobile router
    expect(acks(o)).toEqual([
      { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.100' },
      { type: 'ipv4AddressAcknowledgement', status: 133, prefixLength: 0, address: '10.40.0.0' },
    ]);
    expect(o.dataPlane).toEqual([{ install: expect.objectContaining({ prefixes: [] }) }]);
    expect(() => config({}, [{ nai: 'mn5@example.net', key: KEY, spi: 5000, homeAddress: '2001:db8:1::500', prefixes: ['10.50.0.0/16'] }]))
      .toThrow("mobileNodes[4].prefixes: mobile network prefixes are a mobile router's: set mobileRouter: true");
  });
});
