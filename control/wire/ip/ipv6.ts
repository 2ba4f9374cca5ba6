/**
 * IPv6 headers: the fixed header (RFC 8200 §3), the Destination Options
 * header with Pad1, PadN and the Home Address option (RFC 8200 §4.2, §4.6;
 * RFC 6275 §6.3), and the type 2 routing header (RFC 6275 §6.4).
 */
import { type Codec, EncodeError, type Reader, type Writer } from '../buffer.js';
import { HAO, IP6OPT, IPV6_HEADER_LENGTH, RH2, checkUint } from './constants.js';

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export const ipv6Header: Codec<Ipv6Header> = {
  encodingLength: () => IPV6_HEADER_LENGTH,
  write(v, w) {
    checkUint('ipv6.tclass', v.trafficClass, 8);
    checkUint('ipv6.flow', v.flowLabel, 20);
    checkUint('ipv6.plen', v.payloadLength, 16);
    checkUint('ipv6.nxt', v.nextHeader, 8);
    checkUint('ipv6.hlim', v.hopLimit, 8);
    w.u32(((6 << 28) | (v.trafficClass << 20) | v.flowLabel) >>> 0);
    w.u16(v.payloadLength).u8(v.nextHeader).u8(v.hopLimit);
    w.addr6(v.src, 'ipv6.src').addr6(v.dst, 'ipv6.dst');
  },
  read(r) {
    const at = r.offset;
    const word = r.u32('ipv6.version');
    if (word >>> 28 !== 6) r.fail('ipv6.version', word >>> 28, 'not 6', at);
    return {
      trafficClass: (word >>> 20) & 0xff,
      flowLabel: word & 0xfffff,
      payloadLength: r.u16('ipv6.plen'),
      nextHeader: r.u8('ipv6.nxt'),
      hopLimit: r.u8('ipv6.hlim'),
      src: r.addr6('ipv6.src'),
      dst: r.addr6('ipv6.dst'),
    };
  },
};

/**
 * What a node must do with an option it does not recognise: the two
 * high-order bits of the option type (RFC 8200 §4.2).
 */
export type OptionAction = 'skip' | 'discard' | 'discard-icmp' | 'discard-icmp-unless-multicast';
const ACTIONS: readonly OptionAction[] = ['skip', 'discard', 'discard-icmp', 'discard-icmp-unless-multicast'];

export function optionAction(optionType: number): OptionAction {
  return ACTIONS[(optionType >> 6) & 3]!;
}

/** Third-highest bit: the option data may change en route (RFC 8200 §4.2). */
export function optionMayChange(optionType: number): boolean {
  return (optionType & 0x20) !== 0;
}

/**
 * A destination option. Pad1 and PadN are not listed: the decoder skips
 * them and the encoder inserts them where alignment needs them.
 */
export type DestOption =
  | { type: 'homeAddress'; address: string }
  | { type: 'unknown'; optionType: number; data: Buffer; action: OptionAction; mayChange: boolean };

export interface DestOptsHeader {
  nextHeader: number;
  options: DestOption[];
}

/** Alignment xn+y of an option's type byte, from the start of the header (RFC 8200 §4.2). */
function alignment(o: DestOption): { n: number; y: number } {
  return o.type === 'homeAddress' ? { n: HAO.ALIGN, y: HAO.ALIGN_OFFSET } : { n: 1, y: 0 };
}

function optionLength(o: DestOption): number {
  return 2 + (o.type === 'homeAddress' ? HAO.LENGTH : o.data.length);
}

/** Where each option goes and how much padding precedes it; the total is a multiple of 8. */
function layout(options: readonly DestOption[]): { pads: number[]; trailing: number; length: number } {
  let at = 2; // after Next Header and Hdr Ext Len
  const pads: number[] = [];
  for (const o of options) {
    const { n, y } = alignment(o);
    const pad = (((y - at) % n) + n) % n;
    pads.push(pad);
    at += pad + optionLength(o);
  }
  const trailing = (8 - (at % 8)) % 8;
  return { pads, trailing, length: at + trailing };
}

/** Pad1 for one byte, PadN for more (RFC 8200 §4.2). */
function writePadding(w: Writer, n: number): void {
  if (n === 1) w.u8(IP6OPT.PAD1);
  else if (n > 1) w.u8(IP6OPT.PADN).u8(n - 2).zeros(n - 2);
}

function checkOption(o: DestOption, i: number): void {
  if (o.type !== 'unknown') return;
  const field = `ipv6.dstopts.option[${i}]`;
  checkUint(`${field}.type`, o.optionType, 8);
  if (o.optionType === IP6OPT.PAD1 || o.optionType === IP6OPT.PADN || o.optionType === IP6OPT.HOME_ADDRESS) {
    throw new EncodeError(`${field}.type`, o.optionType, 'use the typed option (padding is inserted by the encoder)');
  }
  if (o.data.length > 255) throw new EncodeError(`${field}.length`, o.data.length, 'option data longer than 255 bytes');
}

export const destOptsHeader: Codec<DestOptsHeader> = {
  encodingLength: (v) => layout(v.options).length,
  write(v, w) {
    checkUint('ipv6.dstopts.nxt', v.nextHeader, 8);
    v.options.forEach(checkOption);
    const { pads, trailing, length } = layout(v.options);
    if (length / 8 - 1 > 255) throw new EncodeError('ipv6.dstopts.len', length, 'header longer than 2048 bytes');
    w.u8(v.nextHeader).u8(length / 8 - 1);
    v.options.forEach((o, i) => {
      writePadding(w, pads[i]!);
      if (o.type === 'homeAddress') w.u8(IP6OPT.HOME_ADDRESS).u8(HAO.LENGTH).addr6(o.address, 'ipv6.opt.mipv6.home_address');
      else w.u8(o.optionType).u8(o.data.length).bytes(o.data);
    });
    writePadding(w, trailing);
  },
  read(r) {
    const nextHeader = r.u8('ipv6.dstopts.nxt');
    const len = r.u8('ipv6.dstopts.len');
    const body = r.sub((len + 1) * 8 - 2, 'ipv6.dstopts');
    return { nextHeader, options: readOptions(body) };
  },
};

function readOptions(r: Reader): DestOption[] {
  const options: DestOption[] = [];
  while (r.remaining > 0) {
    const optionType = r.u8('ipv6.opt.type');
    if (optionType === IP6OPT.PAD1) continue;
    const lengthAt = r.offset;
    const length = r.u8('ipv6.opt.length');
    const data = r.sub(length, 'ipv6.opt.data');
    if (optionType === IP6OPT.PADN) continue;
    if (optionType === IP6OPT.HOME_ADDRESS) {
      if (length !== HAO.LENGTH) r.fail('ipv6.opt.length', length, `Home Address option must have length ${HAO.LENGTH}`, lengthAt);
      options.push({ type: 'homeAddress', address: data.addr6('ipv6.opt.mipv6.home_address') });
    } else {
      options.push({ type: 'unknown', optionType, data: data.bytes(length, 'ipv6.opt.data'), action: optionAction(optionType), mayChange: optionMayChange(optionType) });
    }
  }
  return options;
}

/** Type 2 routing header: the mobile node's home address, as the one hop left (RFC 6275 §6.4). */
export interface RoutingHeader2 {
  nextHeader: number;
  /** 1 on the wire towards the mobile node, 0 once it has been processed. */
  segmentsLeft: 0 | 1;
  homeAddress: string;
}

export const routingHeader2: Codec<RoutingHeader2> = {
  encodingLength: () => RH2.LENGTH,
  write(v, w) {
    checkUint('ipv6.routing.nxt', v.nextHeader, 8);
    if (v.segmentsLeft !== 0 && v.segmentsLeft !== 1) throw new EncodeError('ipv6.routing.segleft', v.segmentsLeft, 'must be 0 or 1');
    w.u8(v.nextHeader).u8(RH2.HDR_EXT_LEN).u8(RH2.TYPE).u8(v.segmentsLeft).u32(0);
    w.addr6(v.homeAddress, 'ipv6.routing.mipv6.home_address');
  },
  read(r) {
    const nextHeader = r.u8('ipv6.routing.nxt');
    const lenAt = r.offset;
    const len = r.u8('ipv6.routing.len');
    if (len !== RH2.HDR_EXT_LEN) r.fail('ipv6.routing.len', len, `type 2 routing header must have Hdr Ext Len ${RH2.HDR_EXT_LEN}`, lenAt);
    const typeAt = r.offset;
    const type = r.u8('ipv6.routing.type');
    if (type !== RH2.TYPE) r.fail('ipv6.routing.type', type, 'not a type 2 routing header', typeAt);
    const segAt = r.offset;
    const segmentsLeft = r.u8('ipv6.routing.segleft');
    if (segmentsLeft !== 0 && segmentsLeft !== 1) r.fail('ipv6.routing.segleft', segmentsLeft, 'must be 0 or 1', segAt);
    r.skip(4, 'ipv6.routing.mipv6.reserved'); // ignored by the receiver (RFC 6275 §6.4)
    return { nextHeader, segmentsLeft: segmentsLeft as 0 | 1, homeAddress: r.addr6('ipv6.routing.mipv6.home_address') };
  },
};
