/**
 * Gratuitous ARP and unsolicited Neighbor Advertisements: our frames are
 * byte for byte the ones scapy builds (it computes the ICMPv6 checksum
 * itself), and tshark reads them as meant.
 */
import { describe, expect, it } from 'vitest';
import { macBytes } from '../../control/dataplane/layout.js';
import { dadSolicitation, gratuitousArp, solicitedNode, unsolicitedNeighborAdvert } from '../../control/wire/ip/neighbour.js';
import { scapy } from '../helpers/scapy.js';
import { field, tshark } from '../helpers/tshark.js';

const MAC = '02:a0:00:00:01:01';

describe('link-layer announcements', () => {
  const f = scapy({
    arp: `Ether(dst='ff:ff:ff:ff:ff:ff', src='${MAC}')/ARP(op=1, hwsrc='${MAC}', psrc='10.1.0.100', hwdst='00:00:00:00:00:00', pdst='10.1.0.100')`,
    dad: `Ether(dst='33:33:ff:ab:01:00', src='${MAC}')/IPv6(src='::', dst='ff02::1:ffab:100', hlim=255)/ICMPv6ND_NS(tgt='2001:db8:1::12ab:100')`,
    na: `Ether(dst='33:33:00:00:00:01', src='${MAC}')/IPv6(src='2001:db8:1::1', dst='ff02::1', hlim=255)/ICMPv6ND_NA(tgt='2001:db8:1::100', R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='${MAC}')`,
  });

  it('a gratuitous ARP is scapy\'s, and tshark calls it one', () => {
    const frame = gratuitousArp(MAC, '10.1.0.100');
    expect(frame.toString('hex')).toBe(f.arp.toString('hex'));
    const [p] = tshark([frame]);
    expect(field(p!, 'arp.isgratuitous')).toEqual(['1']);
  });

  it('an unsolicited NA is scapy\'s, with a good checksum', () => {
    const frame = unsolicitedNeighborAdvert(MAC, '2001:db8:1::1', '2001:db8:1::100');
    expect(frame.toString('hex')).toBe(f.na.toString('hex'));
    const [p] = tshark([frame]);
    expect(field(p!, 'icmpv6.checksum.status')).toEqual(['1']);
    expect(field(p!, 'icmpv6.nd.na.flag.s')).toEqual(['0']);
  });

  it('a duplicate address detection probe is scapy\'s: from ::, to the solicited-node group, no option', () => {
    expect(solicitedNode('2001:db8:1::12ab:100')).toBe('ff02::1:ffab:100');
    const frame = dadSolicitation(MAC, '2001:db8:1::12ab:100');
    expect(frame.toString('hex')).toBe(f.dad.toString('hex'));
    const [p] = tshark([frame]);
    expect(field(p!, 'icmpv6.checksum.status')).toEqual(['1']);
    expect(field(p!, 'icmpv6.nd.ns.target_address')).toEqual(['2001:db8:1::12ab:100']);
  });

  it('refuses what is not a MAC address', () => {
    expect(() => macBytes('02:a0:00:00:01')).toThrow(/not a MAC address/);
    expect(() => gratuitousArp('zz:a0:00:00:01:01', '10.1.0.1')).toThrow(/not a MAC address/);
  });
});
