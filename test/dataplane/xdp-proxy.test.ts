/**
 * Proxy ARP and proxy Neighbor Discovery at XDP on a home link: for a home
 * address with a tunnel entry (its node is away), an ARP request becomes
 * our ARP reply and a Neighbor Solicitation our Neighbor Advertisement,
 * sent back out of the interface they came in on; the expected frames are
 * scapy's (which computes the ICMPv6 checksum itself), and tshark checks
 * the NA's checksum. Anything else passes to the kernel untouched.
 */
import { addrBytes, formatAddr } from '../../control/dataplane/layout.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, MAC, TC_ACT_OK, TC_ACT_REDIRECT, XDP_PASS, XDP_REDIRECT, anchorTunnel, buildDataPlaneLab, changed, hex, named, type DataPlaneLab } from '../helpers/dataplane-lab.js';
import { eth, inner } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';
import { field, tshark } from '../helpers/tshark.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const HOME_LINK = 'a-cn'; // any interface will do as the home link here
/** The solicited-node multicast address of v6 (RFC 4291 §2.7.1). */
const solicited = (v6: string) => {
  const b = addrBytes(v6);
  return `ff02::1:ff${b.subarray(13, 14).toString('hex')}:${b.subarray(14).toString('hex')}`;
};
/** fe80:: and v6's interface identifier: the link-local address a BU with L has defended too (RFC 6275 §10.3.1). */
const linkLocal = (v6: string) => formatAddr(Buffer.concat([Buffer.from('fe80000000000000', 'hex'), addrBytes(v6).subarray(8)]), 6);
const CN_LINK_LOCAL = 'fe80::c';
const ns = (src: string, target: string, hlim = 255, opt = `/ICMPv6NDOptSrcLLAddr(lladdr='${MAC.cn}')`) =>
  `${eth(MAC.cn, '33:33:ff:00:01:00')}/IPv6(src='${src}', dst='${solicited(target)}', hlim=${hlim})/ICMPv6ND_NS(tgt='${target}')${opt}`;

/** home1 away, registered with L: its home addresses and its link-local address proxied. */
const binding1 = () => ({ id: 1, tunnel: anchorTunnel('ip6'), homeAddresses: [ADDR.home1.v6, linkLocal(ADDR.home1.v6), ADDR.home1.v4], prefixes: [] });

beforeAll(() => {
  t = buildDataPlaneLab('dppx');
  t.within(t.anchor, () => t.anchor.setHomeLink(HOME_LINK, MAC.aCn, ADDR.anchorCn.v6));
  t.anchor.install(binding1());
  f = scapy({
    arp: `${eth(MAC.cn, 'ff:ff:ff:ff:ff:ff')}/ARP(op=1, hwsrc='${MAC.cn}', psrc='${ADDR.cn.v4}', pdst='${ADDR.home1.v4}')`,
    arpReply: `${eth(MAC.aCn, MAC.cn)}/ARP(op=2, hwsrc='${MAC.aCn}', psrc='${ADDR.home1.v4}', hwdst='${MAC.cn}', pdst='${ADDR.cn.v4}')`,
    arpProbe: `${eth(MAC.cn, 'ff:ff:ff:ff:ff:ff')}/ARP(op=1, hwsrc='${MAC.cn}', psrc='0.0.0.0', pdst='${ADDR.home1.v4}')`,
    arpProbeReply: `${eth(MAC.aCn, MAC.cn)}/ARP(op=2, hwsrc='${MAC.aCn}', psrc='${ADDR.home1.v4}', hwdst='${MAC.cn}', pdst='0.0.0.0')`,
    arpOther: `${eth(MAC.cn, 'ff:ff:ff:ff:ff:ff')}/ARP(op=1, hwsrc='${MAC.cn}', psrc='${ADDR.cn.v4}', pdst='${ADDR.home2.v4}')`,
    arpGratuitous: `${eth(MAC.mn, 'ff:ff:ff:ff:ff:ff')}/ARP(op=1, hwsrc='${MAC.mn}', psrc='${ADDR.home1.v4}', pdst='${ADDR.home1.v4}')`,
    ns: ns(ADDR.cn.v6, ADDR.home1.v6),
    na: `${eth(MAC.aCn, MAC.cn)}/IPv6(src='${ADDR.anchorCn.v6}', dst='${ADDR.cn.v6}', hlim=255)/ICMPv6ND_NA(tgt='${ADDR.home1.v6}', R=0, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr='${MAC.aCn}')`,
    nsNoOption: ns(ADDR.cn.v6, ADDR.home1.v6, 255, '/Raw(bytes([14, 1, 1, 2, 3, 4, 5, 6]) + bytes(8))'),
    nsDad: ns('::', ADDR.home1.v6, 255, ''),
    naDad: `${eth(MAC.aCn, '33:33:00:00:00:01')}/IPv6(src='${ADDR.anchorCn.v6}', dst='ff02::1', hlim=255)/ICMPv6ND_NA(tgt='${ADDR.home1.v6}', R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='${MAC.aCn}')`,
    nsHop64: ns(ADDR.cn.v6, ADDR.home1.v6, 64),
    nsOther: ns(ADDR.cn.v6, ADDR.home2.v6),
    nsLinkLocal: ns(CN_LINK_LOCAL, linkLocal(ADDR.home1.v6)),
    toLinkLocal: `${eth(MAC.cn, MAC.aCn)}/${inner(6, { src: CN_LINK_LOCAL, dst: linkLocal(ADDR.home1.v6) })}`,
    ownToLinkLocal: `${eth(MAC.aCn, MAC.cn)}/${inner(6, { src: 'fe80::a', dst: linkLocal(ADDR.home1.v6) })}`,
    naLinkLocal: `${eth(MAC.aCn, MAC.cn)}/IPv6(src='${ADDR.anchorCn.v6}', dst='${CN_LINK_LOCAL}', hlim=255)/ICMPv6ND_NA(tgt='${linkLocal(ADDR.home1.v6)}', R=0, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr='${MAC.aCn}')`,
  });
});
afterAll(() => t?.destroy());

describe('on a home link, for an away node\'s home address', () => {
  it.each([
    ['an ARP request gets our ARP reply', 'arp', 'arpReply', 'proxy_arp'],
    ['an ARP probe (sender 0.0.0.0) is answered: the address is defended', 'arpProbe', 'arpProbeReply', 'proxy_arp'],
    ['a Neighbor Solicitation gets our solicited NA (R clear, O set), from our address on the link', 'ns', 'na', 'proxy_na'],
    ['an NS with other options (a nonce, no source link-layer address) gets the same NA: the frame is cut to size', 'nsNoOption', 'na', 'proxy_na'],
    ['a duplicate address detection NS gets an unsolicited NA to all-nodes', 'nsDad', 'naDad', 'proxy_na'],
    ['an NS for the node\'s link-local address (registered with L) gets our NA for it', 'nsLinkLocal', 'naLinkLocal', 'proxy_na'],
  ])('%s', (_, input, expected, event) => {
    const r = t.xdp(t.anchor, HOME_LINK, named(f, input));
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(named(f, expected)));
    expect(r.delta).toEqual(changed({ events: { [event]: 1 } }));
  });

  it('tshark finds the NA\'s checksum good and its fields as meant', () => {
    const r = t.xdp(t.anchor, HOME_LINK, named(f, 'ns'));
    const [na] = tshark([r.frame]);
    expect(field(na!, 'icmpv6.checksum.status')).toEqual(['1']); // Wireshark: 0 bad, 1 good, 2 unverified
    expect(field(na!, 'icmpv6.nd.na.target_address')).toEqual([ADDR.home1.v6]);
    expect(field(na!, 'icmpv6.nd.na.flag.o')).toEqual(['1']);
    expect(field(na!, 'icmpv6.opt.linkaddr')).toEqual([MAC.aCn]);
  });
});

describe('the node\'s link-local address is its own only on the home link (RFC 4291 §2.5.6)', () => {
  it('a packet for it that comes in on the home link is tunnelled; on another link it is another host\'s, passed untouched', () => {
    const here = t.xdp(t.anchor, HOME_LINK, named(f, 'toLinkLocal'), [1]);
    expect(here.verdict).toBe(XDP_REDIRECT);
    expect(here.delta.bindings?.[1]).toMatchObject({ encapPackets: 1 });
    const elsewhere = t.xdp(t.anchor, 'a-mn', named(f, 'toLinkLocal'), [1]);
    expect(elsewhere.verdict).toBe(XDP_PASS);
    expect(hex(elsewhere.frame)).toBe(hex(named(f, 'toLinkLocal')));
    expect(elsewhere.delta).toEqual(changed({}));
  });

  it('the host\'s own packet for it is tunnelled at TC egress on the home link, and left alone on another', () => {
    const here = t.tc(t.anchor, named(f, 'ownToLinkLocal'), [1], 'tc', HOME_LINK);
    expect(here.verdict).toBe(TC_ACT_REDIRECT);
    expect(here.delta.bindings?.[1]).toMatchObject({ encapPackets: 1 });
    const elsewhere = t.tc(t.anchor, named(f, 'ownToLinkLocal'), [1], 'tc', 'a-mn');
    expect(elsewhere.verdict).toBe(TC_ACT_OK);
    expect(hex(elsewhere.frame)).toBe(hex(named(f, 'ownToLinkLocal')));
    expect(elsewhere.delta).toEqual(changed({}));
  });
});

describe('not ours to answer: the kernel gets it untouched', () => {
  it.each([
    ['an ARP request for an address with no binding', 'arpOther', HOME_LINK],
    ['the node\'s own gratuitous ARP (it is back)', 'arpGratuitous', HOME_LINK],
    ['an NS for an address with no binding', 'nsOther', HOME_LINK],
    ['an NS whose hop limit is not 255 (not from the link)', 'nsHop64', HOME_LINK],
    ['an ARP request on an interface that is not a home link', 'arp', 'a-mn'],
    ['an NS on an interface that is not a home link', 'ns', 'a-mn'],
  ])('%s', (_, input, ifname) => {
    const r = t.xdp(t.anchor, ifname, named(f, input));
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(named(f, input)));
    expect(r.delta).toEqual(changed({}));
  });

  it('once the binding goes, so does the proxy', () => {
    t.anchor.remove(1);
    for (const input of ['arp', 'ns', 'nsLinkLocal']) expect(t.xdp(t.anchor, HOME_LINK, named(f, input)).verdict).toBe(XDP_PASS);
    t.anchor.install(binding1());
  });
});
