/**
 * The numbers of the IP layers: protocol / next-header values (IANA
 * "Assigned Internet Protocol Numbers"), IPv6 option types (RFC 8200 §4.2,
 * RFC 6275 §6.3), the type 2 routing header (RFC 6275 §6.4), IPv4 flags
 * (RFC 791) and the DSMIPv6 UDP port (RFC 5555, IANA 4191/udp).
 */
import { EncodeError } from '../buffer.js';
import { IPPROTO_MH, IPPROTO_NONE } from '../mh/constants.js';

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: IPPROTO_NONE,
  DSTOPTS: 60,
  MH: IPPROTO_MH, // the Mobility Header's numbers live in mh/constants.ts
} as const;

/** IPv6 Destination / Hop-by-Hop option types. */
export const IP6OPT = {
  PAD1: 0,
  PADN: 1,
  /** RFC 6275 §6.3: 0xC9, i.e. action bits 11 (discard, ICMP unless multicast), may-not-change. */
  HOME_ADDRESS: 201,
} as const;

/** Home Address option: 16 bytes of data, type byte at 8n+6 (RFC 6275 §6.3). */
export const HAO = { LENGTH: 16, ALIGN: 8, ALIGN_OFFSET: 6 } as const;

/** Type 2 routing header (RFC 6275 §6.4): Hdr Ext Len 2, one address. */
export const RH2 = { TYPE: 2, HDR_EXT_LEN: 2, LENGTH: 24 } as const;

export const IPV4_FLAGS = { RESERVED: 0x8000, DF: 0x4000, MF: 0x2000, OFFSET_MASK: 0x1fff } as const;

export const IPV6_HEADER_LENGTH = 40;
export const IPV4_MIN_HEADER_LENGTH = 20;
export const UDP_HEADER_LENGTH = 8;

/** DSMIPv6 signalling and UDP tunnels (RFC 5555 §4.1). */
export const DSMIP6_UDP_PORT = 4191;

/** Throws EncodeError unless v is an integer in [0, 2^bits). */
export function checkUint(field: string, v: number, bits: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new EncodeError(field, v, `not an unsigned ${bits}-bit integer`);
}
