/**
 * Link-layer announcements of who holds an address (RFC 6275 §10.4.1,
 * §11.5.4): a gratuitous ARP (RFC 5227 §3's announcement: an ARP request
 * with sender and target both the address) and an unsolicited Neighbor
 * Advertisement to all-nodes (RFC 4861 §7.2.6: O set, S clear), each as a
 * whole Ethernet frame. The home agent sends them when it starts answering
 * for an away node's home address, the node when it is back home. Before
 * that, the home agent's duplicate address detection probe (RFC 4862
 * §5.4.2: a Neighbor Solicitation from the unspecified address to the
 * target's solicited-node group, no link-layer address option).
 */
import { addrBytes, formatAddr, macBytes } from '../../dataplane/layout.js';
import { checksum6 } from '../checksum.js';

const BROADCAST = 'ff:ff:ff:ff:ff:ff';
const ALL_NODES = 'ff02::1';
const ALL_NODES_MAC = '33:33:00:00:00:01';
const ICMPV6 = 58;

function ethernet(dst: string, src: string, ethertype: number, payload: Buffer): Buffer {
  const hdr = Buffer.alloc(14);
  macBytes(dst).copy(hdr, 0);
  macBytes(src).copy(hdr, 6);
  hdr.writeUInt16BE(ethertype, 12);
  return Buffer.concat([hdr, payload]);
}

/** "ipv4 is at mac", broadcast. */
export function gratuitousArp(mac: string, ipv4: string): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0); // Ethernet
  arp.writeUInt16BE(0x0800, 2);
  arp.writeUInt8(6, 4);
  arp.writeUInt8(4, 5);
  arp.writeUInt16BE(1, 6); // request
  macBytes(mac).copy(arp, 8);
  addrBytes(ipv4).copy(arp, 14);
  addrBytes(ipv4).copy(arp, 24); // target hardware address stays zero
  return ethernet(BROADCAST, mac, 0x0806, arp);
}

/** The solicited-node multicast group of an address (RFC 4291 §2.7.1): ff02::1:ff and its last 24 bits. */
export function solicitedNode(address: string): string {
  const b = Buffer.from('ff020000000000000000000000000000', 'hex');
  b[11] = 1;
  b[12] = 0xff;
  addrBytes(address).copy(b, 13, 13, 16);
  return formatAddr(b, 6);
}

/** "Is anyone using target?", from the unspecified address to its solicited-node group, out of mac. */
export function dadSolicitation(mac: string, target: string): Buffer {
  const group = solicitedNode(target);
  const ns = Buffer.alloc(24);
  ns.writeUInt8(135, 0);
  addrBytes(target).copy(ns, 8);
  ns.writeUInt16BE(checksum6('::', group, ICMPV6, ns, 2), 2);
  const g = addrBytes(group);
  return ethernet(`33:33:${[...g.subarray(12)].map((x) => x.toString(16).padStart(2, '0')).join(':')}`, mac, 0x86dd, Buffer.concat([ipv6Header('::', group, ns.length), ns]));
}

function ipv6Header(source: string, destination: string, payloadLength: number): Buffer {
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(payloadLength, 4);
  ip.writeUInt8(ICMPV6, 6);
  ip.writeUInt8(255, 7);
  addrBytes(source).copy(ip, 8);
  addrBytes(destination).copy(ip, 24);
  return ip;
}

/** "target is at mac", from source (an address of ours on the link), to all nodes; Override set so caches take it. */
export function unsolicitedNeighborAdvert(mac: string, source: string, target: string): Buffer {
  const na = Buffer.alloc(32);
  na.writeUInt8(136, 0);
  na.writeUInt8(0x20, 4); // O
  addrBytes(target).copy(na, 8);
  na.writeUInt8(2, 24); // Target Link-Layer Address option, 8 bytes
  na.writeUInt8(1, 25);
  macBytes(mac).copy(na, 26);
  na.writeUInt16BE(checksum6(source, ALL_NODES, ICMPV6, na, 2), 2);
  return ethernet(ALL_NODES_MAC, mac, 0x86dd, Buffer.concat([ipv6Header(source, ALL_NODES, na.length), na]));
}
