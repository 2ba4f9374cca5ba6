/**
 * The frames the benchmark sends: plain UDP over IPv6 or IPv4 in 64-byte
 * Ethernet frames, the same packets inside each tunnel format, and a
 * Mobility Header packet. Checksums are finished, as on a wire.
 */
import { addrBytes, addrFamily, macBytes, type TunnelFormatName } from '../control/dataplane/layout.js';

export const FRAME_LEN = 64; // Ethernet header to the end of the UDP payload, no FCS
export const DSMIP_PORT = 4191;

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const IPPROTO_IPIP = 4;
const IPPROTO_UDP = 17;
const IPPROTO_IPV6 = 41;
const IPPROTO_MH = 135;

export { macBytes };

function sum16(buf: Buffer, sum = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ethernet(dst: string, src: string, packet: Buffer): Buffer {
  const eth = Buffer.alloc(14);
  macBytes(dst).copy(eth, 0);
  macBytes(src).copy(eth, 6);
  eth.writeUInt16BE(packet[0]! >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP, 12);
  return Buffer.concat([eth, packet]);
}

export function ipv6(src: string, dst: string, nexthdr: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = nexthdr;
  h[7] = 64;
  addrBytes(src).copy(h, 8);
  addrBytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

export function ipv4(src: string, dst: string, protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = 64;
  h[9] = protocol;
  addrBytes(src).copy(h, 12);
  addrBytes(dst).copy(h, 16);
  h.writeUInt16BE(fold(sum16(h)), 10);
  return Buffer.concat([h, payload]);
}

/** A UDP datagram with its checksum over the pseudo-header (0 if checksum is false: IPv4 only). */
function udp(src: string, dst: string, sport: number, dport: number, data: Buffer, checksum = true): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + data.length, 4);
  const dgram = Buffer.concat([u, data]);
  if (!checksum) return dgram;
  const pseudo = Buffer.concat([addrBytes(src), addrBytes(dst), Buffer.from([0, IPPROTO_UDP]), Buffer.alloc(2)]);
  pseudo.writeUInt16BE(dgram.length, pseudo.length - 2);
  const c = fold(sum16(dgram, sum16(pseudo)));
  dgram.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return dgram;
}

/** An IP packet carrying UDP whose Ethernet frame is FRAME_LEN bytes. */
export function udpPacket(src: string, dst: string): Buffer {
  const family = addrFamily(src);
  const data = Buffer.alloc(FRAME_LEN - 14 - (family === 6 ? 40 : 20) - 8, 0xab);
  const dgram = udp(src, dst, 40000, 9, data);
  return family === 6 ? ipv6(src, dst, IPPROTO_UDP, dgram) : ipv4(src, dst, IPPROTO_UDP, dgram);
}

/** Bytes each tunnel format adds in front of the inner packet (as in bpf/lib/common.h). */
export const OVERHEAD: Record<TunnelFormatName, number> = { ip6: 40, ip4: 20, udp4: 28, 'udp4-tlv': 32 };

/** inner inside format's outer headers, from src to dst (the UDP forms between DSMIP_PORT and itself). */
export function encapsulate(format: TunnelFormatName, src: string, dst: string, inner: Buffer): Buffer {
  const proto = inner[0]! >> 4 === 6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
  if (format === 'ip6') return ipv6(src, dst, proto, inner);
  if (format === 'ip4') return ipv4(src, dst, proto, inner);
  let payload = inner;
  if (format === 'udp4-tlv') {
    const tlv = Buffer.from([proto === IPPROTO_IPV6 ? 2 : 1, inner.length & 0xff, 0, 0]);
    payload = Buffer.concat([tlv, inner]);
  }
  return ipv4(src, dst, IPPROTO_UDP, udp(src, dst, DSMIP_PORT, DSMIP_PORT, payload, false));
}

/** A Mobility Header packet (a Binding Update's first 8 bytes: payload proto 59, length 0, type 5). */
export function mhPacket(src: string, dst: string): Buffer {
  const mh = Buffer.from([59, 0, 5, 0, 0, 0, 0, 0]);
  return ipv6(src, dst, IPPROTO_MH, mh);
}
