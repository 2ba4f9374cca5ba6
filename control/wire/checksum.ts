/**
 * The Internet checksum (RFC 1071) and the pseudo-header sums built on it:
 * the IPv4 header checksum, UDP over IPv4 (RFC 768) and over IPv6, ICMPv6,
 * and the Mobility Header checksum (RFC 6275 §6.1.1), all with the IPv6
 * pseudo-header of RFC 8200 §8.1.
 *
 * Every function takes the bytes as they are on the wire and treats the
 * checksum field inside them as zero, so the same call computes a checksum
 * to write and (compared with the field) checks one that was received.
 */
import { sharedAddrBytes } from '../dataplane/layout.js';
import { IPPROTO } from './ip/constants.js';
import { MH_CHECKSUM_OFFSET } from './mh/constants.js';

/** An address as text (RFC 5952 / dotted quad) or as its 4 or 16 bytes. */
export type Addr = string | Uint8Array;

const ZERO16 = new Uint8Array(2);

/**
 * The 16-bit one's-complement sum of byte strings taken as if concatenated
 * (RFC 1071 §4.1), folded but not complemented. A part of odd length shifts
 * the next part by one byte, exactly as in the concatenation.
 */
export function onesSum(parts: readonly Uint8Array[], initial = 0): number {
  let sum = initial;
  let odd = false; // the next byte is the low half of a 16-bit word
  for (const p of parts) {
    let i = 0;
    if (odd && p.length > 0) {
      sum += p[0]!;
      i = 1;
      odd = false;
    }
    for (; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (i < p.length) {
      sum += p[i]! << 8;
      odd = true;
    }
  }
  return fold(sum);
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of the concatenated parts: ~sum, 16 bits. */
export function internetChecksum(...parts: Uint8Array[]): number {
  return ~onesSum(parts) & 0xffff;
}

function addr(a: Addr, family: 4 | 6, what: string): Uint8Array {
  const b = typeof a === 'string' ? sharedAddrBytes(a) : a;
  if (b.length !== (family === 4 ? 4 : 16)) throw new TypeError(`${what}: not an IPv${family} address`);
  return b;
}

/** RFC 8200 §8.1 pseudo-header: source, destination, upper-layer length (32 bits), 3 zero bytes, next header. */
export function pseudoHeader6(src: Addr, dst: Addr, upperLength: number, nextHeader: number): Buffer {
  const ph = Buffer.alloc(40);
  ph.set(addr(src, 6, 'pseudo-header source'), 0);
  ph.set(addr(dst, 6, 'pseudo-header destination'), 16);
  ph.writeUInt32BE(upperLength >>> 0, 32);
  ph[39] = nextHeader;
  return ph;
}

/** RFC 768 pseudo-header: source, destination, zero, protocol, length (16 bits). */
export function pseudoHeader4(src: Addr, dst: Addr, protocol: number, length: number): Buffer {
  const ph = Buffer.alloc(12);
  ph.set(addr(src, 4, 'pseudo-header source'), 0);
  ph.set(addr(dst, 4, 'pseudo-header destination'), 4);
  ph[9] = protocol;
  ph.writeUInt16BE(length & 0xffff, 10);
  return ph;
}

/** The segment's parts with its 2-byte checksum field replaced by zeros. */
function withoutField(segment: Uint8Array, at: number): Uint8Array[] {
  if (at < 0 || at + 2 > segment.length) throw new RangeError(`checksum field at ${at} outside a ${segment.length}-byte segment`);
  return [segment.subarray(0, at), ZERO16, segment.subarray(at + 2)];
}

/** Checksum of an upper-layer segment over IPv6 (checksum field at `at` taken as zero). */
export function checksum6(src: Addr, dst: Addr, nextHeader: number, segment: Uint8Array, at: number): number {
  return ~onesSum([pseudoHeader6(src, dst, segment.length, nextHeader), ...withoutField(segment, at)]) & 0xffff;
}

/** Checksum of an upper-layer segment over IPv4 (checksum field at `at` taken as zero). */
export function checksum4(src: Addr, dst: Addr, protocol: number, segment: Uint8Array, at: number): number {
  return ~onesSum([pseudoHeader4(src, dst, protocol, segment.length), ...withoutField(segment, at)]) & 0xffff;
}

/** IPv4 header checksum (RFC 791), over the whole header including options. */
export function ipv4HeaderChecksum(header: Uint8Array): number {
  return ~onesSum(withoutField(header, 10)) & 0xffff;
}

/** True when the header's checksum field is right (the sum over it all is 0xffff). */
export function ipv4HeaderChecksumOk(header: Uint8Array): boolean {
  return onesSum([header]) === 0xffff;
}

/** UDP checksum; a computed 0 is sent as 0xffff (RFC 768), 0 on the wire meaning "none" over IPv4. */
export function udp4Checksum(src: Addr, dst: Addr, udp: Uint8Array): number {
  return checksum4(src, dst, IPPROTO.UDP, udp, 6) || 0xffff;
}

/** UDP over IPv6: the same, and mandatory (RFC 8200 §8.1). */
export function udp6Checksum(src: Addr, dst: Addr, udp: Uint8Array): number {
  return checksum6(src, dst, IPPROTO.UDP, udp, 6) || 0xffff;
}

/** ICMPv6 checksum (RFC 4443 §2.3), field at offset 2. */
export function icmp6Checksum(src: Addr, dst: Addr, message: Uint8Array): number {
  return checksum6(src, dst, IPPROTO.ICMPV6, message, 2);
}

/**
 * Mobility Header checksum (RFC 6275 §6.1.1): next header 135 in the
 * pseudo-header, the upper-layer length the whole MH. Which addresses go in
 * is the caller's (see ip/signalling.ts): the source is the home address
 * when a Home Address option is present, the destination the final one.
 */
export function mhChecksum(pseudoSource: Addr, finalDestination: Addr, mh: Uint8Array): number {
  return checksum6(pseudoSource, finalDestination, IPPROTO.MH, mh, MH_CHECKSUM_OFFSET);
}

/** True when the segment's stored checksum is right (the pseudo-header sum over everything is 0xffff). */
export function checksum6Ok(src: Addr, dst: Addr, nextHeader: number, segment: Uint8Array): boolean {
  return onesSum([pseudoHeader6(src, dst, segment.length, nextHeader), segment]) === 0xffff;
}

export function checksum4Ok(src: Addr, dst: Addr, protocol: number, segment: Uint8Array): boolean {
  return onesSum([pseudoHeader4(src, dst, protocol, segment.length), segment]) === 0xffff;
}
