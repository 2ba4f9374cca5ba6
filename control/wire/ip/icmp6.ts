/**
 * ICMPv6 error messages the home agent sends itself (RFC 4443): it takes
 * signalling from its data plane before the kernel sees it, so the IPv6
 * layer's duties for those packets are its own. So far one: a Parameter
 * Problem, code 2, for an option whose unknown type says so (RFC 8200 §4.2).
 */
import { icmp6Checksum } from '../checksum.js';
import { Writer } from '../buffer.js';
import { IPPROTO, IPV6_HEADER_LENGTH } from './constants.js';
import { ipv6Header } from './ipv6.js';
import { noSource } from '../../dataplane/layout.js';
import type { SignallingPacket6 } from './signalling.js';

/** RFC 4443 §3.4. */
export const ParameterProblem = { type: 4, erroneousHeaderField: 0, unrecognizedNextHeader: 1, unrecognizedOption: 2 } as const;
/** An error message goes no longer than the IPv6 minimum MTU (RFC 4443 §2.4(c)). */
export const ICMP6_ERROR_MAX = 1280;
const ICMP6_ERROR_HEADER = 8;
const DEFAULT_HOP_LIMIT = 64;

/**
 * The IPv6 packet of a Parameter Problem from src to dst: code, pointer
 * (the offending octet's offset in the invoking packet) and as much of the
 * invoking packet as fits in 1280 bytes.
 */
export function encodeParameterProblem(o: { src: string; dst: string; code: number; pointer: number; invoking: Uint8Array }): Buffer {
  const body = o.invoking.subarray(0, ICMP6_ERROR_MAX - IPV6_HEADER_LENGTH - ICMP6_ERROR_HEADER);
  const w = Writer.sized(IPV6_HEADER_LENGTH + ICMP6_ERROR_HEADER + body.length);
  ipv6Header.write({ trafficClass: 0, flowLabel: 0, payloadLength: ICMP6_ERROR_HEADER + body.length, nextHeader: IPPROTO.ICMPV6, hopLimit: DEFAULT_HOP_LIMIT, src: o.src, dst: o.dst }, w);
  w.u8(ParameterProblem.type).u8(o.code).u16(0).u32(o.pointer).bytes(body);
  const packet = w.filled(o);
  packet.writeUInt16BE(icmp6Checksum(o.src, o.dst, packet.subarray(IPV6_HEADER_LENGTH)), IPV6_HEADER_LENGTH + 2);
  return packet;
}

/** A received signalling packet as parameterProblemFor() takes it: how it came, its IPv6 packet decoded, and that packet's bytes. */
export interface ReceivedIpv6 {
  transport: 'ipv6' | 'udp4';
  /** It came in a link-layer multicast or broadcast frame. */
  linkGroup?: true;
  signalling: SignallingPacket6;
  ipv6: Buffer;
}

/**
 * The Parameter Problem (code 2, pointing at the option) a packet discarded
 * for an option whose unknown type asks for one gets (RFC 8200 §4.2), from
 * the address it was sent to. None inside UDP (the inner source is a home
 * address its node is not at); none to a multicast or unspecified source;
 * none for type 11 in a link-layer multicast or broadcast frame (RFC 4443
 * §2.4(e)). None for a packet sent to a multicast group either: type 10
 * would ask for one, but from a unicast address of the interface (§2.2),
 * not known here (the data planes hand over only packets to their own
 * unicast addresses). An anycast source the caller knows of is its own to
 * leave out.
 */
export function parameterProblemFor(p: ReceivedIpv6): Buffer | undefined {
  const refused = p.signalling.refusedOption;
  const { src, dst } = p.signalling.ipv6;
  if (!refused || refused.action === 'discard' || p.transport !== 'ipv6' || noSource(src) || dst.startsWith('ff')) return undefined;
  if (refused.action === 'discard-icmp-unless-multicast' && p.linkGroup) return undefined; // §2.4(e.3)–(e.5): type 11 in a link-layer group frame
  return encodeParameterProblem({ src: dst, dst: src, code: ParameterProblem.unrecognizedOption, pointer: refused.at, invoking: p.ipv6 });
}

/** At most perSecond ICMP errors a second (RFC 4443 §2.4(f)): how many it let go to the socket, and how many it held back. */
export class IcmpErrorLimit {
  sent = 0;
  limited = 0;
  private budget = { second: -Infinity, left: 0 };

  constructor(readonly perSecond: number) {}

  /** May one more go now? Counted either way. */
  take(nowMs: number): boolean {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.budget.second) this.budget = { second, left: this.perSecond };
    if (this.budget.left === 0) {
      this.limited++;
      return false;
    }
    this.budget.left--;
    this.sent++;
    return true;
  }
}
