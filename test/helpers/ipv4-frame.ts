/**
 * Minimal Ethernet + IPv4 (+ UDP) framing so that payloads we encode can be
 * written to a pcap and dissected by tshark. Checksums are real (IPv4 header
 * and UDP), so tshark sees well-formed packets.
 */
import { addrBytes } from '../../control/dataplane/layout.js';
import { ipv4HeaderChecksum, udp4Checksum } from '../../control/wire/checksum.js';

const ETH = Buffer.from('020000000002' + '020000000001' + '0800', 'hex');

/** An Ethernet frame carrying an IPv4 packet of `protocol` with `payload`. */
export function ipv4Frame(src: string, dst: string, protocol: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payload.length, 2);
  ip[8] = 64; // TTL
  ip[9] = protocol;
  addrBytes(src).copy(ip, 12);
  addrBytes(dst).copy(ip, 16);
  ip.writeUInt16BE(ipv4HeaderChecksum(ip), 10);
  return Buffer.concat([ETH, ip, payload]);
}

/** An Ethernet frame carrying IPv4/UDP with `payload`. */
export function udp4Frame(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const udp = Buffer.concat([Buffer.alloc(8), payload]);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.writeUInt16BE(udp4Checksum(src, dst, udp), 6);
  return ipv4Frame(src, dst, 17, udp);
}

/** An Ethernet frame carrying IPv4/ICMP (the message's own checksum is left as it is). */
export const icmp4Frame = (src: string, dst: string, icmp: Buffer): Buffer => ipv4Frame(src, dst, 1, icmp);
