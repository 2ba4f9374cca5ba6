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
