/**
 * The control plane's signalling channel. Receiving: the data plane takes
 * Mobility Header packets out of the kernel path (the kernel has no MIPv6
 * and would drop a packet with a Home Address option) and hands over whole
 * frames; this unwraps them to the IPv6 packet that carries the MH, with
 * the outer addresses, ports and interface it came in on. Sending: whole IP
 * packets through raw sockets, so a reply can carry a type 2 routing header
 * or travel inside UDP from the port the mobile node expects.
 */
import { addrBytes, addrFamily, formatAddr } from '../dataplane/layout.js';
import type { DataPlane } from '../dataplane/dataplane.js';
import type { SignalFrame } from '../dataplane/signals.js';
import { RawIpSocket } from '../sys/libc.js';

export interface SignalPacket {
  ifindex: number;
  /** How it arrived: directly over IPv6, or inside UDP over IPv4 (RFC 5555 4.1). */
  transport: 'ipv6' | 'udp4';
  /** Addresses (and ports, for udp4) of the packet as it arrived: behind a NAT, the NAT's. */
  outer: { src: string; dst: string; srcPort?: number; dstPort?: number; tlv?: boolean };
  /** The IPv6 packet carrying the Mobility Header, from its IPv6 header on. */
  ipv6: Buffer;
}

export class SignalParseError extends Error {
  constructor(readonly field: string, readonly offset: number, readonly value: number) {
    super(`signal frame: ${field} at offset ${offset}: unexpected value ${value}`);
  }
}

const ETH_HLEN = 14;

/** Unwraps a captured frame to the IPv6 signalling packet it carries. */
export function unwrapSignal({ ifindex, frame }: SignalFrame): SignalPacket {
  if (frame.length < ETH_HLEN + 20) throw new SignalParseError('frame length', 0, frame.length);
  const ethertype = frame.readUInt16BE(12);
  if (ethertype === 0x86dd) {
    const ipv6 = frame.subarray(ETH_HLEN);
    return { ifindex, transport: 'ipv6', outer: { src: formatAddr(ipv6.subarray(8, 24), 6), dst: formatAddr(ipv6.subarray(24, 40), 6) }, ipv6 };
  }
  if (ethertype !== 0x0800) throw new SignalParseError('ethertype', 12, ethertype);
  const ip = frame.subarray(ETH_HLEN);
  const hlen = (ip[0]! & 0x0f) * 4;
  if (ip[9] !== 17) throw new SignalParseError('IPv4 protocol', ETH_HLEN + 9, ip[9]!);
  const udp = ip.subarray(hlen);
  let payload = udp.subarray(8);
  const tlv = payload.length > 0 && payload[0]! >> 4 !== 6;
  if (tlv) {
    if (payload[0] !== 2) throw new SignalParseError('TLV type', ETH_HLEN + hlen + 8, payload[0]!);
    payload = payload.subarray(4);
  }
  return {
    ifindex,
    transport: 'udp4',
    outer: { src: formatAddr(ip.subarray(12, 16), 4), dst: formatAddr(ip.subarray(16, 20), 4), srcPort: udp.readUInt16BE(0), dstPort: udp.readUInt16BE(2), tlv },
    ipv6: payload,
  };
}

function checksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i += 2) sum += (part[i]! << 8) + (part[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** IPv4 + UDP headers around payload (checksums computed), ready for a raw socket. */
export function udp4Packet(payload: Buffer, o: { src: string; dst: string; srcPort: number; dstPort: number }): Buffer {
  const ip = Buffer.alloc(20);
  const udp = Buffer.alloc(8);
  const total = 28 + payload.length;
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(total, 2);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  addrBytes(o.src).copy(ip, 12);
  addrBytes(o.dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  udp.writeUInt16BE(o.srcPort, 0);
  udp.writeUInt16BE(o.dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.alloc(12);
  ip.copy(pseudo, 0, 12, 20);
  pseudo.writeUInt16BE(17, 8);
  pseudo.writeUInt16BE(8 + payload.length, 10);
  udp.writeUInt16BE(checksum(pseudo, udp, payload) || 0xffff, 6);
  return Buffer.concat([ip, udp, payload]);
}

export class SignallingChannel {
  private readonly sockets: { 4: RawIpSocket; 6: RawIpSocket };

  /** Opens raw sockets in the current network namespace and starts reading the data plane's signals. */
  constructor(dataPlane: DataPlane, onPacket: (p: SignalPacket) => void, onError: (err: Error, frame: SignalFrame) => void = () => {}) {
    this.sockets = { 4: new RawIpSocket(4), 6: new RawIpSocket(6) };
    dataPlane.onSignal((frame) => {
      let packet: SignalPacket;
      try {
        packet = unwrapSignal(frame);
      } catch (err) {
        onError(err as Error, frame);
        return;
      }
      onPacket(packet);
    });
  }

  /** Sends a whole IPv6 packet (its own header, any routing header, the MH) to its destination field. */
  sendIpv6(packet: Buffer): void {
    this.sockets[6].send(packet, packet.subarray(24, 40));
  }

  /** Sends an IPv6 signalling packet inside UDP over IPv4 (to a NAT-mapped address and port, say). */
  sendUdp4(ipv6: Buffer, o: { src: string; dst: string; srcPort: number; dstPort: number; tlv?: boolean }): void {
    if (addrFamily(o.dst) !== 4) throw new TypeError(`sendUdp4: not an IPv4 destination: ${o.dst}`);
    const payload = o.tlv ? Buffer.concat([Buffer.from([2, ipv6.length & 0xff, 0, 0]), ipv6]) : ipv6;
    this.sockets[4].send(udp4Packet(payload, o), addrBytes(o.dst));
  }

  close(): void {
    this.sockets[4].close();
    this.sockets[6].close();
  }
}
