/**
 * Whole signalling packets around a Mobility Header, which stays raw bytes
 * here (control/wire/mh/ decodes it):
 *
 *   IPv6 [Hop-by-Hop] [Destination Options] [type 2 routing] [Destination Options + HAO] MH
 *   IPv4 UDP [DSMIPv6 TLV header] <the IPv6 packet above>         (RFC 5555 §4.1, port 4191)
 *
 * The MH checksum (RFC 6275 §6.1.1) uses the IPv6 pseudo-header with next
 * header 135, and
 *  - as source the home address from the Home Address option when there is
 *    one ("If a mobility message has a Home Address destination option,
 *    then the checksum calculation uses the home address in this option as
 *    the value of the IPv6 Source Address field", §6.1.1; scapy's
 *    in6_chksum does the same), else the IPv6 source;
 *  - as destination the final destination (RFC 8200 §8.1): the home address
 *    in a type 2 routing header with one segment left, else the IPv6
 *    destination.
 */
import { EncodeError, Reader, Writer } from '../buffer.js';
import { checksum4Ok, checksum6Ok, mhChecksum, udp4Checksum } from '../checksum.js';
import { DSMIP6_UDP_PORT, IP6OPT, IPPROTO, IPV4_MIN_HEADER_LENGTH, IPV6_HEADER_LENGTH, RH2, UDP_HEADER_LENGTH, checkUint } from './constants.js';
import { MH_CHECKSUM_OFFSET } from '../mh/constants.js';
import { TLV_HEADER_LENGTH, type TlvHeader, tlvHeader, tlvHeaderFor } from '../tlv.js';
import { type DecodedIpv4Header, type UdpHeader, ipv4Header, udpHeader } from './ipv4.js';
import { type DestOptsHeader, type Ipv6Header, type OptionAction, type RoutingHeader2, destOptsHeader, ipv6Header, optionAction, routingHeader2 } from './ipv6.js';

export interface SignallingPacket6 {
  ipv6: Ipv6Header;
  /** Every Destination Options header, in order (unknown options are reported there). */
  destinationOptions: DestOptsHeader[];
  /** The Hop-by-Hop Options header, if any (its options read as a destination header's: the same format, RFC 8200 §4.3). */
  hopByHopOptions?: DestOptsHeader;
  /** The home address carried in a Home Address option, if any. */
  homeAddressOption?: string;
  routingHeader2?: RoutingHeader2;
  /** The Mobility Header, exactly its (Header Len + 1) * 8 bytes. */
  mh: Buffer;
  mhChecksumOk: boolean;
  /** The addresses the MH checksum was computed over (see the module comment). */
  pseudoSource: string;
  finalDestination: string;
  /** The first hop-by-hop or destination option this node does not know whose type says discard the packet (RFC 8200 §4.2), if any. */
  refusedOption?: RefusedOption;
}

export interface RefusedOption {
  header: 'hop-by-hop' | 'destination';
  optionType: number;
  action: Exclude<OptionAction, 'skip'>;
  /** Where its type byte is, from the IPv6 header's first byte on: an ICMP Parameter Problem's pointer (RFC 4443 §3.4). */
  at: number;
}

/** What a receiver knows of a signalling packet before reading it: its IPv6 packet, and the IPv4 and UDP headers it came in (udp4). */
export interface ReceivedSignalling {
  signalling: SignallingPacket6;
  ipv4ChecksumOk?: boolean;
  udpChecksumOk?: boolean | null;
  outer?: { src: string; srcPort?: number };
}

/**
 * Why a received signalling packet must be discarded unanswered before
 * anything reads it: a wrong IPv4 header, UDP (RFC 768) or MH (RFC 6275
 * §9.2) checksum, or a hop-by-hop or destination option this node does not
 * know whose type says to discard the packet (RFC 8200 §4.2); undefined if
 * none.
 */
export function discardReason(p: ReceivedSignalling): string | undefined {
  const from = p.outer ? ` from ${p.outer.src}${p.outer.srcPort === undefined ? '' : `:${p.outer.srcPort}`}` : '';
  if (p.ipv4ChecksumOk === false) return `IPv4 packet with a wrong header checksum${from} discarded`;
  if (p.udpChecksumOk === false) return `UDP datagram with a wrong checksum${from} discarded`;
  const refused = p.signalling.refusedOption; // the IPv6 layer's, before the MH is read
  if (refused) return `${refused.header} option type 0x${refused.optionType.toString(16)} unknown, and its type says discard (RFC 8200 §4.2): packet from ${p.signalling.ipv6.src} discarded`;
  if (!p.signalling.mhChecksumOk) return `MH with a wrong checksum from ${p.signalling.ipv6.src} discarded`;
  return undefined;
}

/**
 * The first option of the options header at buf[from..to] (already decoded:
 * its lengths hold) whose unknown type says discard, its offset counted from
 * the IPv6 header at `start`.
 */
function refusedIn(buf: Buffer, from: number, to: number, start: number, header: RefusedOption['header']): RefusedOption | undefined {
  for (let at = from + 2; at < to; at += buf[at] === IP6OPT.PAD1 ? 1 : 2 + buf[at + 1]!) {
    const optionType = buf[at]!;
    const action = optionAction(optionType);
    if (optionType === IP6OPT.PAD1 || optionType === IP6OPT.PADN || optionType === IP6OPT.HOME_ADDRESS || action === 'skip') continue;
    return { header, optionType, action, at: at - start };
  }
  return undefined;
}

export interface SignallingSpec6 {
  src: string;
  dst: string;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Adds a Destination Options header with this Home Address option (a BU from a mobile node). */
  homeAddressOption?: string;
  /** Adds a type 2 routing header with this home address, one segment left (a BA to a mobile node). */
  routingHeader2?: string;
  /** A whole encoded Mobility Header; its checksum field is overwritten. */
  mh: Uint8Array;
}

/** Reads an IPv6 packet down to its Mobility Header. Bytes beyond the payload length (link padding) are ignored. */
export function decodeSignalling6(buf: Buffer): SignallingPacket6 {
  return readSignalling6(new Reader(buf));
}

export function readSignalling6(r: Reader): SignallingPacket6 {
  const start = r.offset;
  const ipv6 = ipv6Header.read(r);
  if (ipv6.payloadLength > r.remaining) r.fail('ipv6.plen', ipv6.payloadLength, `only ${r.remaining} bytes follow the header`, start + 4);
  const body = r.sub(ipv6.payloadLength, 'ipv6.payload');
  const destinationOptions: DestOptsHeader[] = [];
  let homeAddressOption: string | undefined;
  let rh2: RoutingHeader2 | undefined;
  let hopByHopOptions: DestOptsHeader | undefined;
  let refusedOption: RefusedOption | undefined;
  let next = ipv6.nextHeader;
  let nextAt = start + 6; // where the byte naming `next` is, for errors
  for (let first = true; ; first = false) {
    const at = body.offset;
    if (next === IPPROTO.MH) break;
    if (next === IPPROTO.HOPOPTS) {
      if (!first) body.fail('ipv6.nxt', next, 'Hop-by-Hop Options header not directly after the IPv6 header', nextAt);
      hopByHopOptions = destOptsHeader.read(body);
      refusedOption ??= refusedIn(body.buf, at, body.offset, start, 'hop-by-hop');
      next = hopByHopOptions.nextHeader;
    } else if (next === IPPROTO.DSTOPTS) {
      const d = destOptsHeader.read(body);
      refusedOption ??= refusedIn(body.buf, at, body.offset, start, 'destination');
      for (const o of d.options) {
        if (o.type !== 'homeAddress') continue;
        if (homeAddressOption !== undefined) body.fail('ipv6.opt.mipv6.home_address', o.address, 'more than one Home Address option', at);
        homeAddressOption = o.address;
      }
      destinationOptions.push(d);
      next = d.nextHeader;
    } else if (next === IPPROTO.ROUTING) {
      const rh = readRoutingHeader(body);
      if (rh.type2 && rh2) body.fail('ipv6.routing', undefined, 'more than one type 2 routing header', at);
      rh2 = rh.type2 ?? rh2;
      next = rh.nextHeader;
    } else {
      body.fail('ipv6.nxt', next, 'not an extension header or the Mobility Header (fragments, AH and ESP are not supported)', nextAt);
    }
    nextAt = at;
  }
  const mh = readMh(body);
  const pseudoSource = homeAddressOption ?? ipv6.src;
  const finalDestination = rh2?.segmentsLeft === 1 ? rh2.homeAddress : ipv6.dst;
  return {
    ipv6,
    destinationOptions,
    ...(hopByHopOptions && { hopByHopOptions }),
    ...(homeAddressOption !== undefined && { homeAddressOption }),
    ...(rh2 && { routingHeader2: rh2 }),
    ...(refusedOption && { refusedOption }),
    mh,
    mhChecksumOk: checksum6Ok(pseudoSource, finalDestination, IPPROTO.MH, mh),
    pseudoSource,
    finalDestination,
  };
}

/**
 * An IPv6 signalling packet tunnelled in IPv6 (RFC 2473): how a home agent
 * sends a mobile node a Binding Refresh Request, to its home address
 * through its tunnel (RFC 6275 §6.1 allows the type 2 routing header on
 * BAs only). The outer header carries no extension headers.
 */
export interface TunnelledSignalling6 {
  outer: Ipv6Header;
  inner: SignallingPacket6;
}

export function decodeTunnelledSignalling6(buf: Buffer): TunnelledSignalling6 {
  const r = new Reader(buf);
  const outer = ipv6Header.read(r);
  if (outer.nextHeader !== IPPROTO.IPV6) r.fail('ipv6.nxt', outer.nextHeader, 'not IPv6 in IPv6', 6);
  if (outer.payloadLength > r.remaining) r.fail('ipv6.plen', outer.payloadLength, `only ${r.remaining} bytes follow the header`, 4);
  return { outer, inner: readSignalling6(r.sub(outer.payloadLength, 'ipv6.payload')) };
}

/** An encoded IPv6 signalling packet (encodeSignalling6) inside an outer IPv6 header. */
export function encodeTunnelled6(spec: { src: string; dst: string; hopLimit?: number; inner: Uint8Array }): Buffer {
  const w = Writer.sized(IPV6_HEADER_LENGTH + spec.inner.length);
  ipv6Header.write({ trafficClass: 0, flowLabel: 0, payloadLength: spec.inner.length, nextHeader: IPPROTO.IPV6, hopLimit: spec.hopLimit ?? 64, src: spec.src, dst: spec.dst }, w);
  w.bytes(spec.inner);
  return w.filled(spec);
}

/** A type 2 routing header is decoded; any other type is skipped if it has no segments left (RFC 8200 §4.4). */
function readRoutingHeader(r: Reader): { nextHeader: number; type2?: RoutingHeader2 } {
  const at = r.offset;
  const nextHeader = r.u8('ipv6.routing.nxt');
  const len = r.u8('ipv6.routing.len');
  const type = r.u8('ipv6.routing.type');
  const segmentsLeft = r.u8('ipv6.routing.segleft');
  if (type === RH2.TYPE) {
    r.offset = at;
    return { nextHeader, type2: routingHeader2.read(r) };
  }
  if (segmentsLeft !== 0) r.fail('ipv6.routing.type', type, 'routing header type not supported with segments left', at + 2);
  r.skip((len + 1) * 8 - 4, 'ipv6.routing');
  return { nextHeader };
}

/** The MH is the rest of the payload and must be exactly as long as its Header Len says. */
function readMh(r: Reader): Buffer {
  const at = r.offset;
  if (r.remaining < 8) r.fail('mip6', r.remaining, 'Mobility Header shorter than 8 bytes', at);
  const hlen = r.buf[at + 1]!;
  const declared = (hlen + 1) * 8;
  if (declared !== r.remaining) r.fail('mip6.hlen', hlen, `declares ${declared} bytes, ${r.remaining} follow`, at + 1);
  return r.bytes(declared, 'mip6');
}

/** Encodes IPv6 [+ RH2] [+ Destination Options with HAO] + MH, and fills in the MH checksum. */
export function encodeSignalling6(spec: SignallingSpec6): Buffer {
  const { mh } = spec;
  if (mh.length < 8 || mh.length % 8 !== 0 || (mh[1]! + 1) * 8 !== mh.length) {
    throw new EncodeError('mip6.hlen', mh.length, 'the MH must be (Header Len + 1) * 8 bytes, at least 8');
  }
  const dest = spec.homeAddressOption !== undefined ? { nextHeader: IPPROTO.MH, options: [{ type: 'homeAddress' as const, address: spec.homeAddressOption }] } : undefined;
  const destLength = dest ? destOptsHeader.encodingLength(dest) : 0;
  const rhLength = spec.routingHeader2 !== undefined ? RH2.LENGTH : 0;
  const payloadLength = rhLength + destLength + mh.length;
  checkUint('ipv6.plen', payloadLength, 16);
  // RFC 8200 §4.1 order; the HAO goes after the routing header (RFC 6275 §6.3)
  const afterRouting = dest ? IPPROTO.DSTOPTS : IPPROTO.MH;
  const w = Writer.sized(IPV6_HEADER_LENGTH + payloadLength);
  ipv6Header.write({
    trafficClass: spec.trafficClass ?? 0,
    flowLabel: spec.flowLabel ?? 0,
    payloadLength,
    nextHeader: spec.routingHeader2 !== undefined ? IPPROTO.ROUTING : afterRouting,
    hopLimit: spec.hopLimit ?? 64,
    src: spec.src,
    dst: spec.dst,
  }, w);
  if (spec.routingHeader2 !== undefined) routingHeader2.write({ nextHeader: afterRouting, segmentsLeft: 1, homeAddress: spec.routingHeader2 }, w);
  if (dest) destOptsHeader.write(dest, w);
  const mhAt = w.offset;
  w.bytes(mh);
  const out = w.buf.subarray(mhAt);
  // the pseudo-header's addresses as just written (parsing them again cost more than the checksum)
  const header = w.buf;
  const finalDestination = spec.routingHeader2 !== undefined
    ? header.subarray(IPV6_HEADER_LENGTH + 8, IPV6_HEADER_LENGTH + 24) // the type 2 routing header's home address
    : header.subarray(24, 40);
  out.writeUInt16BE(mhChecksum(spec.homeAddressOption ?? header.subarray(8, 24), finalDestination, out), MH_CHECKSUM_OFFSET);
  return w.filled(spec);
}

/** The DSMIPv6 TLV header (control/wire/tlv.ts); only type IPv6 carries signalling. */
function readTlvIpv6(r: Reader): TlvHeader {
  const at = r.offset;
  const tlv = tlvHeader.read(r);
  if (tlv.type !== 'ipv6') r.fail('tlv.type', tlv.type, 'not IPv6', at);
  return tlv; // its 8-bit length is reported, not enforced (see tlv.ts)
}

export interface SignallingPacket4 {
  ipv4: DecodedIpv4Header;
  udp: UdpHeader;
  /** null when the sender left the UDP checksum out (0, allowed over IPv4). */
  udpChecksumOk: boolean | null;
  /** Present when a TLV header sat between UDP and the IPv6 packet. */
  tlv?: TlvHeader;
  inner: SignallingPacket6;
}

export interface SignallingSpec4 {
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  ttl?: number;
  tos?: number;
  identification?: number;
  dontFragment?: boolean;
  /** Puts a TLV header (type IPv6) before the IPv6 packet. */
  tlv?: boolean;
  /** The encoded IPv6 signalling packet (encodeSignalling6). */
  ipv6: Uint8Array;
}

/** Reads IPv4 + UDP [+ TLV] + an IPv6 signalling packet. Bytes beyond the IPv4 total length are ignored. */
export function decodeSignalling4(buf: Buffer): SignallingPacket4 {
  const r = new Reader(buf);
  const start = r.offset;
  const ipv4 = ipv4Header.read(r);
  if (ipv4.protocol !== IPPROTO.UDP) r.fail('ip.proto', ipv4.protocol, 'not UDP', start + 9);
  if (ipv4.moreFragments || ipv4.fragmentOffset !== 0) r.fail('ip.frag_offset', ipv4.fragmentOffset, 'fragments are not reassembled here', start + 6);
  const headerLength = r.offset - start;
  if (ipv4.totalLength > buf.length - start) r.fail('ip.len', ipv4.totalLength, `only ${buf.length - start} bytes present`, start + 2);
  const body = r.sub(ipv4.totalLength - headerLength, 'ip.payload');
  const udpAt = body.offset;
  const udp = udpHeader.read(body);
  if (udp.length - UDP_HEADER_LENGTH > body.remaining) body.fail('udp.length', udp.length, `only ${body.remaining + UDP_HEADER_LENGTH} bytes of UDP present`, udpAt + 4);
  const payload = body.sub(udp.length - UDP_HEADER_LENGTH, 'udp.payload');
  const segment = buf.subarray(udpAt, udpAt + udp.length);
  const udpChecksumOk = udp.checksum === 0 ? null : checksum4Ok(buf.subarray(start + 12, start + 16), buf.subarray(start + 16, start + 20), IPPROTO.UDP, segment);
  if (payload.remaining === 0) payload.fail('udp.payload', 0, 'empty', payload.offset);
  // an IPv6 packet starts with version 6; the TLV header with its type
  const tlv = payload.buf[payload.offset]! >> 4 === 6 ? undefined : readTlvIpv6(payload);
  const inner = readSignalling6(payload);
  return { ipv4, udp, udpChecksumOk, ...(tlv && { tlv }), inner };
}

/** Encodes IPv4 + UDP (checksum computed) [+ TLV] around an encoded IPv6 signalling packet. */
export function encodeSignalling4(spec: SignallingSpec4): Buffer {
  const tlvLength = spec.tlv ? TLV_HEADER_LENGTH : 0;
  const udpLength = UDP_HEADER_LENGTH + tlvLength + spec.ipv6.length;
  const totalLength = IPV4_MIN_HEADER_LENGTH + udpLength;
  checkUint('ip.len', totalLength, 16);
  const w = Writer.sized(totalLength);
  ipv4Header.write({
    tos: spec.tos ?? 0,
    totalLength,
    identification: spec.identification ?? 0,
    reservedFlag: false,
    dontFragment: spec.dontFragment ?? true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: spec.ttl ?? 64,
    protocol: IPPROTO.UDP,
    src: spec.src,
    dst: spec.dst,
    options: Buffer.alloc(0),
  }, w);
  const udpAt = w.offset;
  udpHeader.write({ srcPort: spec.srcPort ?? DSMIP6_UDP_PORT, dstPort: spec.dstPort ?? DSMIP6_UDP_PORT, length: udpLength, checksum: 0 }, w);
  if (spec.tlv) tlvHeader.write(tlvHeaderFor('ipv6', spec.ipv6.length), w);
  w.bytes(spec.ipv6);
  const udp = w.buf.subarray(udpAt);
  udp.writeUInt16BE(udp4Checksum(spec.src, spec.dst, udp), 6);
  return w.filled(spec);
}

export type SignallingPacket = ({ transport: 'ipv6' } & SignallingPacket6) | ({ transport: 'udp4' } & SignallingPacket4);

/** Either kind, told apart by the IP version nibble. */
export function decodeSignalling(buf: Buffer): SignallingPacket {
  const version = buf.length > 0 ? buf[0]! >> 4 : undefined;
  if (version === 6) return { transport: 'ipv6', ...decodeSignalling6(buf) };
  if (version === 4) return { transport: 'udp4', ...decodeSignalling4(buf) };
  return new Reader(buf).fail('ip.version', version, 'neither IPv4 nor IPv6', 0);
}
