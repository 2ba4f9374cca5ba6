/**
 * The IPv4 header (RFC 791) and the UDP header (RFC 768). The IPv4 header
 * checksum is computed on encode and checked on decode, where a wrong one
 * is reported (checksumOk: false) rather than thrown: a receiver decides.
 */
import { type Codec, EncodeError, type Reader } from '../buffer.js';
import { ipv4HeaderChecksum, ipv4HeaderChecksumOk } from '../checksum.js';
import { IPV4_FLAGS, IPV4_MIN_HEADER_LENGTH, UDP_HEADER_LENGTH, checkUint } from './constants.js';

export interface Ipv4Header {
  tos: number;
  totalLength: number;
  identification: number;
  /** The reserved flag bit (RFC 791; must be zero, reported if not). */
  reservedFlag: boolean;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In 8-byte units, as on the wire. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
  /** Raw options, padded to a multiple of 4 bytes (0–40). */
  options: Buffer;
}

export interface DecodedIpv4Header extends Ipv4Header {
  checksum: number;
  checksumOk: boolean;
}

/** Encodes with a computed checksum; decodes to a DecodedIpv4Header. */
export interface Ipv4HeaderCodec extends Codec<Ipv4Header> {
  read(r: Reader): DecodedIpv4Header;
}

export const ipv4Header: Ipv4HeaderCodec = {
  encodingLength: (v) => IPV4_MIN_HEADER_LENGTH + v.options.length,
  write(v, w) {
    if (v.options.length % 4 !== 0 || v.options.length > 40) throw new EncodeError('ip.options', v.options.length, 'options must be 0–40 bytes in multiples of 4');
    checkUint('ip.dsfield', v.tos, 8);
    checkUint('ip.len', v.totalLength, 16);
    checkUint('ip.id', v.identification, 16);
    checkUint('ip.frag_offset', v.fragmentOffset, 13);
    checkUint('ip.ttl', v.ttl, 8);
    checkUint('ip.proto', v.protocol, 8);
    const headerLength = IPV4_MIN_HEADER_LENGTH + v.options.length;
    if (v.totalLength < headerLength) throw new EncodeError('ip.len', v.totalLength, `shorter than the ${headerLength}-byte header`);
    const start = w.offset;
    const flags = (v.reservedFlag ? IPV4_FLAGS.RESERVED : 0) | (v.dontFragment ? IPV4_FLAGS.DF : 0) | (v.moreFragments ? IPV4_FLAGS.MF : 0);
    w.u8(0x40 | (headerLength / 4)).u8(v.tos).u16(v.totalLength);
    w.u16(v.identification).u16(flags | v.fragmentOffset);
    w.u8(v.ttl).u8(v.protocol).u16(0);
    w.addr4(v.src, 'ip.src').addr4(v.dst, 'ip.dst').bytes(v.options);
    const header = w.buf.subarray(start, w.offset);
    header.writeUInt16BE(ipv4HeaderChecksum(header), 10);
  },
  read(r) {
    const start = r.offset;
    const first = r.u8('ip.version');
    if (first >> 4 !== 4) r.fail('ip.version', first >> 4, 'not 4', start);
    const headerLength = (first & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LENGTH) r.fail('ip.hdr_len', headerLength, 'shorter than 20 bytes', start);
    const tos = r.u8('ip.dsfield');
    const lenAt = r.offset;
    const totalLength = r.u16('ip.len');
    if (totalLength < headerLength) r.fail('ip.len', totalLength, `shorter than the ${headerLength}-byte header`, lenAt);
    const identification = r.u16('ip.id');
    const flags = r.u16('ip.flags');
    const ttl = r.u8('ip.ttl');
    const protocol = r.u8('ip.proto');
    const checksum = r.u16('ip.checksum');
    const src = r.addr4('ip.src');
    const dst = r.addr4('ip.dst');
    const options = r.bytes(headerLength - IPV4_MIN_HEADER_LENGTH, 'ip.options');
    return {
      tos,
      totalLength,
      identification,
      reservedFlag: (flags & IPV4_FLAGS.RESERVED) !== 0,
      dontFragment: (flags & IPV4_FLAGS.DF) !== 0,
      moreFragments: (flags & IPV4_FLAGS.MF) !== 0,
      fragmentOffset: flags & IPV4_FLAGS.OFFSET_MASK,
      ttl,
      protocol,
      src,
      dst,
      options,
      checksum,
      checksumOk: ipv4HeaderChecksumOk(r.buf.subarray(start, r.offset)),
    };
  },
};

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** Header plus payload, in bytes. */
  length: number;
  /** As on the wire; 0 over IPv4 means "not computed". See checksum.ts for computing it. */
  checksum: number;
}

export const udpHeader: Codec<UdpHeader> = {
  encodingLength: () => UDP_HEADER_LENGTH,
  write(v, w) {
    checkUint('udp.srcport', v.srcPort, 16);
    checkUint('udp.dstport', v.dstPort, 16);
    checkUint('udp.length', v.length, 16);
    checkUint('udp.checksum', v.checksum, 16);
    if (v.length < UDP_HEADER_LENGTH) throw new EncodeError('udp.length', v.length, 'shorter than the 8-byte header');
    w.u16(v.srcPort).u16(v.dstPort).u16(v.length).u16(v.checksum);
  },
  read(r) {
    const srcPort = r.u16('udp.srcport');
    const dstPort = r.u16('udp.dstport');
    const lenAt = r.offset;
    const length = r.u16('udp.length');
    if (length < UDP_HEADER_LENGTH) r.fail('udp.length', length, 'shorter than the 8-byte header', lenAt);
    return { srcPort, dstPort, length, checksum: r.u16('udp.checksum') };
  },
};
