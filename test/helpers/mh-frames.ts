/**
 * Minimal framing for Mobility Header oracles: Ethernet + IPv6 (next header
 * 135) around an encoded MH, as tshark reads it from a pcap. The MH checksum
 * is left as encoded: tshark dissects the fields without checking it.
 */
import { addrBytes } from '../../control/dataplane/layout.js';

export const MH_SRC = '2001:db8:1::10';
export const MH_DST = '2001:db8:2::1';

export function ipv6Frame(payload: Buffer, nextHeader = 135, src = MH_SRC, dst = MH_DST): Buffer {
  const eth = Buffer.from('02000000000202000000000186dd', 'hex');
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(payload.length, 4);
  ip6[6] = nextHeader;
  ip6[7] = 64;
  addrBytes(src).copy(ip6, 8);
  addrBytes(dst).copy(ip6, 24);
  return Buffer.concat([eth, ip6, payload]);
}
