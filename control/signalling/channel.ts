/**
 * The control plane's signalling channel. Receiving: the data plane takes
 * Mobility Header packets out of the kernel path (the kernel has no MIPv6
 * and would drop a packet with a Home Address option) and hands over whole
 * frames; this unwraps them to the IPv6 packet that carries the MH, with
 * the outer addresses, ports and interface it came in on. Sending: whole IP
 * packets through raw sockets, so a reply can carry a type 2 routing header
 * or travel inside UDP from the port the mobile node expects.
 */
import { addrFamily } from '../dataplane/layout.js';
import type { DataPlane } from '../dataplane/dataplane.js';
import type { SignalFrame } from '../dataplane/signals.js';
import { DecodeError } from '../wire/buffer.js';
import { IPPROTO } from '../wire/ip/constants.js';
import { decodeSignalling, decodeTunnelledSignalling6, encodeSignalling4, type SignallingPacket6 } from '../wire/ip/signalling.js';
import { RawIpSocket } from '../sys/libc.js';

export interface SignalPacket {
  ifindex: number;
  /** How it arrived: directly over IPv6, or inside UDP over IPv4 (RFC 5555 4.1). */
  transport: 'ipv6' | 'udp4';
  /** It came in a link-layer multicast or broadcast frame. */
  linkGroup?: true;
  /** Addresses (and ports, for udp4) of the packet as it arrived: behind a NAT, the NAT's. */
  outer: { src: string; dst: string; srcPort?: number; dstPort?: number; tlv?: boolean };
  /** udp4: whether the IPv4 header checksum holds (XDP hands the frame over before the kernel checks it). */
  ipv4ChecksumOk?: boolean;
  /** udp4: whether the UDP checksum holds (null: the sender left it out, as IPv4 allows). */
  udpChecksumOk?: boolean | null;
  /** The IPv6 packet carrying the Mobility Header, decoded down to the MH... */
  signalling: SignallingPacket6;
  /** ...and its bytes, from its IPv6 header on. */
  ipv6: Buffer;
}

const ETH_HLEN = 14;

/** Unwraps a captured frame to the IPv6 signalling packet it carries; throws DecodeError naming what is wrong. */
export function unwrapSignal({ ifindex, frame }: SignalFrame): SignalPacket {
  const ethertype = frame.length >= ETH_HLEN ? frame.readUInt16BE(12) : -1;
  if (ethertype !== 0x86dd && ethertype !== 0x0800) throw new DecodeError('eth.type', 12, ethertype, 'not IPv4 or IPv6');
  const ip = frame.subarray(ETH_HLEN);
  const link = (frame[0]! & 1) === 1 ? { linkGroup: true as const } : {}; // (the group bit of the Ethernet destination: multicast or broadcast)
  if (ethertype === 0x86dd && ip[6] === IPPROTO.IPV6) { // tunnelled to a mobile node's home address (a Binding Refresh Request)
    const { outer, inner } = decodeTunnelledSignalling6(ip);
    return { ifindex, transport: 'ipv6', ...link, outer: { src: outer.src, dst: outer.dst }, signalling: inner, ipv6: ip.subarray(40, 80 + inner.ipv6.payloadLength) };
  }
  const p = decodeSignalling(ip);
  if (p.transport === 'ipv6') {
    return { ifindex, transport: 'ipv6', ...link, outer: { src: p.ipv6.src, dst: p.ipv6.dst }, signalling: p, ipv6: ip.subarray(0, 40 + p.ipv6.payloadLength) };
  }
  const innerAt = (ip[0]! & 0x0f) * 4 + 8 + (p.tlv ? 4 : 0);
  return {
    ifindex,
    transport: 'udp4',
    ...link,
    outer: { src: p.ipv4.src, dst: p.ipv4.dst, srcPort: p.udp.srcPort, dstPort: p.udp.dstPort, tlv: p.tlv !== undefined },
    ipv4ChecksumOk: p.ipv4.checksumOk,
    udpChecksumOk: p.udpChecksumOk,
    signalling: p.inner,
    ipv6: ip.subarray(innerAt, innerAt + 40 + p.inner.ipv6.payloadLength),
  };
}

/** The IPv6 packet a frame carries directly (not in UDP over IPv4), cut to its payload length; undefined for any other frame. */
export function ipv6PacketOf(frame: Buffer): Buffer | undefined {
  if (frame.length < ETH_HLEN + 40 || frame[12] !== 0x86 || frame[13] !== 0xdd) return undefined;
  const end = ETH_HLEN + 40 + frame.readUInt16BE(ETH_HLEN + 4);
  return end <= frame.length ? frame.subarray(ETH_HLEN, end) : undefined;
}

/** Sees every IP packet the channel receives or sends (a capture file, say). */
export type SignallingTap = (ipPacket: Buffer, direction: 'in' | 'out') => void;

export interface ChannelHandlers {
  onPacket?: (p: SignalPacket) => void;
  /** Instead of onPacket: the frame as captured, for a receiver that may answer some without unwrapping them (it unwraps the rest: unwrapSignal). */
  onFrame?: (frame: SignalFrame) => void;
  /** A captured frame that does not unwrap to signalling. */
  onError?: (err: Error, frame: SignalFrame) => void;
  /** After each batch of packets the data plane handed over at once. */
  onDrained?: () => void;
  /** Asked first, before any decoding: false drops the frame (a rate limit, say). */
  admit?: (frame: SignalFrame) => boolean;
  /** Sees every packet received and sent. */
  tap?: SignallingTap;
}

/**
 * Who sent a captured frame, cheaply, from its bytes: the outer IPv6 source,
 * or the outer IPv4 source and UDP source port (nodes behind one NAT share
 * its address). Undefined for a frame too short to say.
 */
export function frameSource(frame: Buffer): string | undefined {
  const ethertype = frame.length >= ETH_HLEN ? frame.readUInt16BE(12) : 0;
  if (ethertype === 0x86dd && frame.length >= ETH_HLEN + 40) return frame.toString('hex', ETH_HLEN + 8, ETH_HLEN + 24);
  if (ethertype !== 0x0800 || frame.length < ETH_HLEN + 20) return undefined;
  const udp = ETH_HLEN + (frame[ETH_HLEN]! & 0x0f) * 4;
  return frame.length >= udp + 2 ? frame.toString('hex', ETH_HLEN + 12, ETH_HLEN + 16) + frame.toString('hex', udp, udp + 2) : undefined;
}

/** A packet the kernel would not send, and why. */
export interface SendRefusal { packet: Buffer; error: Error }
const NONE_REFUSED: readonly SendRefusal[] = Object.freeze([]);

export class SignallingChannel {
  private readonly sockets: { 4: RawIpSocket; 6: RawIpSocket };
  private readonly tap?: SignallingTap;
  /** Packets held (hold(), sendTogether()), by family; how many holds are open. */
  private readonly queued: Record<4 | 6, Buffer[]> = { 4: [], 6: [] };
  private holds = 0;

  /** Opens raw sockets in the current network namespace and starts reading the data plane's signals. */
  constructor(private readonly dataPlane: DataPlane, handlers: ChannelHandlers | ((p: SignalPacket) => void)) {
    const h = typeof handlers === 'function' ? { onPacket: handlers } : handlers;
    this.tap = h.tap;
    this.sockets = { 4: new RawIpSocket(4), 6: new RawIpSocket(6) };
    dataPlane.onSignal((frame) => {
      if (h.admit && !h.admit(frame)) return;
      h.tap?.(frame.frame.subarray(ETH_HLEN), 'in');
      if (h.onFrame) {
        h.onFrame(frame);
        return;
      }
      let packet: SignalPacket;
      try {
        packet = unwrapSignal(frame);
      } catch (err) {
        h.onError?.(err as Error, frame);
        return;
      }
      h.onPacket?.(packet);
    }, h.onDrained);
  }

  /** Sends a whole IPv6 packet (its own header, any routing header, the MH) to its destination field. */
  sendIpv6(packet: Buffer): void {
    this.tap?.(packet, 'out');
    if (this.holds) this.queued[6].push(packet);
    else this.sockets[6].send(packet);
  }

  /** Sends an IPv6 signalling packet inside UDP over IPv4 (to a NAT-mapped address and port, say). */
  sendUdp4(ipv6: Buffer, o: { src: string; dst: string; srcPort: number; dstPort: number; tlv?: boolean }): void {
    if (addrFamily(o.dst) !== 4) throw new TypeError(`sendUdp4: not an IPv4 destination: ${o.dst}`);
    const packet = encodeSignalling4({ ...o, ipv6 });
    this.tap?.(packet, 'out');
    if (this.holds) this.queued[4].push(packet);
    else this.sockets[4].send(packet);
  }

  /**
   * Runs fn with what it sends held, then sends it all: one system call per
   * family for up to SEND_BATCH packets (a drain's BAs). A packet the kernel
   * refuses does not keep the others from going: returned, with why.
   */
  sendTogether(fn: () => void): readonly SendRefusal[] {
    this.hold();
    try {
      fn();
    } catch (err) {
      this.release(false);
      throw err;
    }
    return this.release();
  }

  /** sendTogether() in two calls (no closure made with each drain): what is sent from now on is held, until the matching release(). */
  hold(): void {
    this.holds++;
  }

  /** The end of a hold(): the last one's sends what was held (unless told not to: dropped), and returns what the kernel refused. */
  release(send = true): readonly SendRefusal[] {
    if (this.holds === 0) throw new Error('release() without hold()'); // (else every later send would wait for a release that never comes)
    if (--this.holds > 0) return NONE_REFUSED;
    let refused: SendRefusal[] | undefined;
    try {
      if (send) refused = this.sendQueued(4, this.sendQueued(6, refused));
    } finally {
      this.queued[4].length = 0;
      this.queued[6].length = 0;
    }
    return refused ?? NONE_REFUSED;
  }

  /** The family's held packets out; those refused added to refused (made if one is). */
  private sendQueued(family: 4 | 6, refused: SendRefusal[] | undefined): SendRefusal[] | undefined {
    const packets = this.queued[family];
    if (packets.length === 0) return refused;
    for (const f of this.sockets[family].sendMany(packets)) (refused ??= []).push({ packet: packets[f.index]!, error: f.error });
    return refused;
  }

  /** Stops reading the data plane's signals and closes the sockets. */
  close(): void {
    this.dataPlane.offSignal();
    this.sockets[4].close();
    this.sockets[6].close();
  }
}
