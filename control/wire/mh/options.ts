/**
 * Mobility options (RFC 6275 §6.2 and the RFCs that add options): a typed
 * value per option, the option's alignment, its fixed or bounded length, and
 * Pad1/PadN handling. Alignment "xn+y" is counted from the start of the
 * Mobility Header (RFC 6275 §6.2.1), so the encoder needs the MH-relative
 * offset at which the options begin.
 */
import { EncodeError, Reader, Writer } from '../buffer.js';
import { bool, bytes, range, shown, u64, uint } from '../check.js';
import { fourSecondUnits } from './lifetime.js';
import { LIFETIME_UNIT, MnIdSubtype, OptionType } from './constants.js';

export type MobilityOption =
  /** RFC 6275 §6.2.4; refreshInterval in seconds (a multiple of 4). */
  | { type: 'bindingRefreshAdvice'; refreshInterval: number }
  | { type: 'alternateCareOfAddress'; address: string }
  | { type: 'nonceIndices'; homeNonceIndex: number; careOfNonceIndex: number }
  | { type: 'bindingAuthorizationData'; authenticator: Buffer }
  | { type: 'mobileNetworkPrefix'; prefixLength: number; prefix: string }
  /** RFC 4283: subtype 1 is an NAI (UTF-8 text); other subtypes are opaque bytes. */
  | { type: 'mobileNodeIdentifier'; subtype: 1; identifier: string }
  | { type: 'mobileNodeIdentifier'; subtype: number; identifier: Buffer }
  | { type: 'mobilityMessageAuthentication'; subtype: number; spi: number; authenticator: Buffer }
  | { type: 'replayProtection'; timestamp: bigint }
  | { type: 'homeNetworkPrefix'; prefixLength: number; prefix: string }
  | { type: 'handoffIndicator'; indicator: number }
  | { type: 'accessTechnologyType'; att: number }
  | { type: 'mnLinkLayerIdentifier'; identifier: Buffer }
  | { type: 'linkLocalAddress'; address: string }
  /** RFC 5213 §8.8: 48 bits of seconds since 1970 and 16 bits of 1/65536 s. */
  | { type: 'timestamp'; timestamp: bigint }
  | { type: 'ipv4HomeAddress'; prefixLength: number; p: boolean; address: string }
  | { type: 'ipv4AddressAcknowledgement'; status: number; prefixLength: number; address: string }
  | { type: 'natDetection'; f: boolean; refreshTime: number }
  | { type: 'ipv4CareOfAddress'; address: string }
  /** RFC 5845 §6.1: without a key (length 2) the option only asks for GRE encapsulation. */
  | { type: 'greKey'; key: number | null }
  | { type: 'ipv4HomeAddressRequest'; prefixLength: number; address: string }
  | { type: 'ipv4HomeAddressReply'; status: number; prefixLength: number; address: string }
  | { type: 'ipv4DefaultRouterAddress'; address: string }
  | { type: 'ipv4DhcpSupportMode'; s: boolean }
  /** Any other option type: skipped by the codec but reported to the caller. */
  | { type: 'unknown'; code: number; data: Buffer };

export type KnownOptionType = Exclude<MobilityOption['type'], 'unknown'>;
export type OptionOf<K extends MobilityOption['type']> = Extract<MobilityOption, { type: K }>;

interface Spec<K extends KnownOptionType> {
  /** Alignment xn+y relative to the start of the MH; [1, 0] is none. */
  align: readonly [number, number];
  /** Option data length (excluding type and length): fixed, or [min, max]. */
  size: number | readonly [number, number];
  dataLength?(o: OptionOf<K>): number;
  write(o: OptionOf<K>, w: Writer, field: string): void;
  read(r: Reader, field: string): OptionOf<K>;
}

/** 6-bit IPv4 prefix length in the top of an octet or of a 16-bit word (RFC 5555, RFC 5844). */
const PREFIX4_MAX = 32;
function readPrefix4(raw: number, r: Reader, field: string, at: number): number {
  if (raw > PREFIX4_MAX) r.fail(field, raw, `IPv4 prefix length above ${PREFIX4_MAX}`, at);
  return raw;
}

const nai = new TextDecoder('utf-8', { fatal: true });

function addr4(o: { address: string }, w: Writer, field: string): void { w.addr4(o.address, `${field}.address`); }

/** Reserved (8), prefix length (8), IPv6 prefix (128): the Mobile Network Prefix and Home Network Prefix options. */
function ipv6PrefixOption<K extends 'mobileNetworkPrefix' | 'homeNetworkPrefix'>(type: K): Spec<K> {
  return {
    align: [8, 4], size: 18,
    write: (o: { prefixLength: number; prefix: string }, w, f) => { w.u8(0).u8(range(o.prefixLength, 0, 128, `${f}.prefixLength`)).addr6(o.prefix, `${f}.prefix`); },
    read: (r, f) => {
      r.skip(1, `${f}.reserved`);
      return { type, prefixLength: prefix6(r, f), prefix: r.addr6(`${f}.prefix`) } as OptionOf<K>;
    },
  };
}

/** Status (8), prefix length (6), reserved (2), IPv4 address: the IPv4 Address Acknowledgement and Home Address Reply. */
function ipv4StatusOption<K extends 'ipv4AddressAcknowledgement' | 'ipv4HomeAddressReply'>(type: K): Spec<K> {
  return {
    align: [4, 0], size: 6,
    write: (o: { status: number; prefixLength: number; address: string }, w, f) => {
      w.u8(uint(o.status, 8, `${f}.status`)).u8(range(o.prefixLength, 0, PREFIX4_MAX, `${f}.prefixLength`) << 2);
      addr4(o, w, f);
    },
    read: (r, f) => {
      const status = r.u8(`${f}.status`);
      const at = r.offset;
      const prefixLength = readPrefix4(r.u8(`${f}.prefixLength`) >> 2, r, `${f}.prefixLength`, at);
      return { type, status, prefixLength, address: r.addr4(`${f}.address`) } as OptionOf<K>;
    },
  };
}

// Alignment requirements, each from the option's defining document:
const specs: { [K in KnownOptionType]: Spec<K> } = {
  bindingRefreshAdvice: { // RFC 6275 §6.2.4: 2n
    align: [2, 0], size: 2,
    write: (o, w, f) => { w.u16(fourSecondUnits(o.refreshInterval, `${f}.refreshInterval`)); },
    read: (r, f) => ({ type: 'bindingRefreshAdvice', refreshInterval: r.u16(`${f}.refreshInterval`) * LIFETIME_UNIT }),
  },
  alternateCareOfAddress: { // RFC 6275 §6.2.5: 8n+6
    align: [8, 6], size: 16,
    write: (o, w, f) => { w.addr6(o.address, `${f}.address`); },
    read: (r, f) => ({ type: 'alternateCareOfAddress', address: r.addr6(`${f}.address`) }),
  },
  nonceIndices: { // RFC 6275 §6.2.6: 2n
    align: [2, 0], size: 4,
    write: (o, w, f) => { w.u16(uint(o.homeNonceIndex, 16, `${f}.homeNonceIndex`)).u16(uint(o.careOfNonceIndex, 16, `${f}.careOfNonceIndex`)); },
    read: (r, f) => ({ type: 'nonceIndices', homeNonceIndex: r.u16(`${f}.homeNonceIndex`), careOfNonceIndex: r.u16(`${f}.careOfNonceIndex`) }),
  },
  bindingAuthorizationData: { // RFC 6275 §6.2.7: 8n+2; the authenticator fills the option
    align: [8, 2], size: [0, 255],
    dataLength: (o) => blen(o.authenticator),
    write: (o, w, f) => { w.bytes(bytes(o.authenticator, 255, `${f}.authenticator`)); },
    read: (r, f) => ({ type: 'bindingAuthorizationData', authenticator: r.bytes(r.remaining, `${f}.authenticator`) }),
  },
  mobileNetworkPrefix: ipv6PrefixOption('mobileNetworkPrefix'), // RFC 3963 §6.2: 8n+4
  mobileNodeIdentifier: { // RFC 4283 §3: no alignment requirement
    align: [1, 0], size: [1, 255],
    dataLength: (o) => 1 + blen(o.identifier),
    write: (o, w, f) => {
      const subtype = uint(o.subtype, 8, `${f}.subtype`);
      w.u8(subtype).bytes(bytes(identifierBytes(subtype, o.identifier, `${f}.identifier`), 254, `${f}.identifier`));
    },
    read: (r, f) => {
      const subtype = r.u8(`${f}.subtype`);
      const at = r.offset;
      const id = r.bytes(r.remaining, `${f}.identifier`);
      if (subtype !== MnIdSubtype.nai) return { type: 'mobileNodeIdentifier', subtype, identifier: id };
      let identifier: string;
      try { identifier = nai.decode(id); } catch { return r.fail(`${f}.identifier`, id.toString('hex'), 'NAI is not UTF-8', at); }
      return { type: 'mobileNodeIdentifier', subtype: MnIdSubtype.nai, identifier };
    },
  },
  mobilityMessageAuthentication: { // RFC 4285 §5: 4n+1, which puts the SPI on a 4-octet boundary
    align: [4, 1], size: [5, 255],
    dataLength: (o) => 5 + blen(o.authenticator),
    write: (o, w, f) => {
      w.u8(uint(o.subtype, 8, `${f}.subtype`)).u32(uint(o.spi, 32, `${f}.spi`)).bytes(bytes(o.authenticator, 250, `${f}.authenticator`));
    },
    read: (r, f) => ({
      type: 'mobilityMessageAuthentication', subtype: r.u8(`${f}.subtype`), spi: r.u32(`${f}.spi`), authenticator: r.bytes(r.remaining, `${f}.authenticator`),
    }),
  },
  replayProtection: { // RFC 4285 §6: type and length before a 4-octet row; 8n+2 keeps the 64-bit timestamp 8-aligned
    align: [8, 2], size: 8,
    write: (o, w, f) => { w.u64(u64(o.timestamp, `${f}.timestamp`)); },
    read: (r, f) => ({ type: 'replayProtection', timestamp: r.u64(`${f}.timestamp`) }),
  },
  homeNetworkPrefix: ipv6PrefixOption('homeNetworkPrefix'), // RFC 5213 §8.3: 8n+4, the same layout
  handoffIndicator: { // RFC 5213 §8.4: no alignment requirement
    align: [1, 0], size: 2,
    write: (o, w, f) => { w.u8(0).u8(uint(o.indicator, 8, `${f}.indicator`)); },
    read: (r, f) => { r.skip(1, `${f}.reserved`); return { type: 'handoffIndicator', indicator: r.u8(`${f}.indicator`) }; },
  },
  accessTechnologyType: { // RFC 5213 §8.5: no alignment requirement
    align: [1, 0], size: 2,
    write: (o, w, f) => { w.u8(0).u8(uint(o.att, 8, `${f}.att`)); },
    read: (r, f) => { r.skip(1, `${f}.reserved`); return { type: 'accessTechnologyType', att: r.u8(`${f}.att`) }; },
  },
  mnLinkLayerIdentifier: { // RFC 5213 §8.6 asks for alignment "appropriate to the identifier": 8n+4 puts it on 8 octets
    align: [8, 4], size: [2, 255],
    dataLength: (o) => 2 + blen(o.identifier),
    write: (o, w, f) => { w.u16(0).bytes(bytes(o.identifier, 253, `${f}.identifier`)); },
    read: (r, f) => { r.skip(2, `${f}.reserved`); return { type: 'mnLinkLayerIdentifier', identifier: r.bytes(r.remaining, `${f}.identifier`) }; },
  },
  linkLocalAddress: { // RFC 5213 §8.7: 8n+6
    align: [8, 6], size: 16,
    write: (o, w, f) => { w.addr6(o.address, `${f}.address`); },
    read: (r, f) => ({ type: 'linkLocalAddress', address: r.addr6(`${f}.address`) }),
  },
  timestamp: { // RFC 5213 §8.8: 8n+2
    align: [8, 2], size: 8,
    write: (o, w, f) => { w.u64(u64(o.timestamp, `${f}.timestamp`)); },
    read: (r, f) => ({ type: 'timestamp', timestamp: r.u64(`${f}.timestamp`) }),
  },
  ipv4HomeAddress: { // RFC 5555 §3.1.1: 4n; Prefix-len(6) P(1) Reserved(9)
    align: [4, 0], size: 6,
    write: (o, w, f) => {
      w.u16((range(o.prefixLength, 0, PREFIX4_MAX, `${f}.prefixLength`) << 10) | (bool(o.p, `${f}.p`) ? 0x0200 : 0));
      addr4(o, w, f);
    },
    read: (r, f) => {
      const at = r.offset;
      const word = r.u16(`${f}.prefixLength`);
      return { type: 'ipv4HomeAddress', prefixLength: readPrefix4(word >> 10, r, `${f}.prefixLength`, at), p: (word & 0x0200) !== 0, address: r.addr4(`${f}.address`) };
    },
  },
  ipv4AddressAcknowledgement: ipv4StatusOption('ipv4AddressAcknowledgement'), // RFC 5555 §3.2.1: 4n
  natDetection: { // RFC 5555 §3.2.2: 4n; F(1) Reserved(15) Refresh time(32)
    align: [4, 0], size: 6,
    write: (o, w, f) => { w.u16(bool(o.f, `${f}.f`) ? 0x8000 : 0).u32(uint(o.refreshTime, 32, `${f}.refreshTime`)); },
    read: (r, f) => ({ type: 'natDetection', f: (r.u16(`${f}.f`) & 0x8000) !== 0, refreshTime: r.u32(`${f}.refreshTime`) }),
  },
  ipv4CareOfAddress: { // RFC 5555 §3.1.2: 4n
    align: [4, 0], size: 6,
    write: (o, w, f) => { w.u16(0); addr4(o, w, f); },
    read: (r, f) => { r.skip(2, `${f}.reserved`); return { type: 'ipv4CareOfAddress', address: r.addr4(`${f}.address`) }; },
  },
  greKey: { // RFC 5845 §6.1: 4n+2 (from the RFC as recalled, text not at hand; receivers do not check alignment); length 6 with a key, 2 without
    align: [4, 2], size: [2, 6],
    dataLength: (o) => (o.key === null ? 2 : 6),
    write: (o, w, f) => { w.u16(0); if (o.key !== null) w.u32(uint(o.key, 32, `${f}.key`)); },
    read: (r, f) => {
      if (r.remaining !== 2 && r.remaining !== 6) r.fail(`${f}.length`, r.remaining, 'must be 2 or 6', r.offset - 1);
      r.skip(2, `${f}.reserved`);
      return { type: 'greKey', key: r.remaining === 0 ? null : r.u32(`${f}.key`) };
    },
  },
  ipv4HomeAddressRequest: { // RFC 5844 §3.3.1: 4n; Prefix-len(6) Reserved(10)
    align: [4, 0], size: 6,
    write: (o, w, f) => { w.u16(range(o.prefixLength, 0, PREFIX4_MAX, `${f}.prefixLength`) << 10); addr4(o, w, f); },
    read: (r, f) => {
      const at = r.offset;
      const prefixLength = readPrefix4(r.u16(`${f}.prefixLength`) >> 10, r, `${f}.prefixLength`, at);
      return { type: 'ipv4HomeAddressRequest', prefixLength, address: r.addr4(`${f}.address`) };
    },
  },
  ipv4HomeAddressReply: ipv4StatusOption('ipv4HomeAddressReply'), // RFC 5844 §3.3.2: 4n, the same layout
  ipv4DefaultRouterAddress: { // RFC 5844 §3.3.3: 4n
    align: [4, 0], size: 6,
    write: (o, w, f) => { w.u16(0); addr4(o, w, f); },
    read: (r, f) => { r.skip(2, `${f}.reserved`); return { type: 'ipv4DefaultRouterAddress', address: r.addr4(`${f}.address`) }; },
  },
  ipv4DhcpSupportMode: { // RFC 5844 §3.3.4: Reserved(15) S(1); no alignment requirement
    align: [1, 0], size: 2,
    write: (o, w, f) => { w.u16(bool(o.s, `${f}.s`) ? 1 : 0); },
    read: (r, f) => ({ type: 'ipv4DhcpSupportMode', s: (r.u16(`${f}.s`) & 1) !== 0 }),
  },
};

/** Length of a byte or text field, 0 for anything else (write() then refuses it by name). */
function blen(x: unknown): number {
  if (Buffer.isBuffer(x)) return x.length;
  return typeof x === 'string' ? Buffer.byteLength(x, 'utf8') : 0;
}

function prefix6(r: Reader, f: string): number {
  const at = r.offset;
  const n = r.u8(`${f}.prefixLength`);
  if (n > 128) r.fail(`${f}.prefixLength`, n, 'IPv6 prefix length above 128', at);
  return n;
}

/** ES2024's String.prototype.isWellFormed (Node 20 has it; our TypeScript lib is ES2022). */
type WellFormed = string & { isWellFormed(): boolean };

function identifierBytes(subtype: number, id: unknown, field: string): Buffer {
  if (subtype === MnIdSubtype.nai) {
    if (typeof id !== 'string') throw new EncodeError(field, typeof id, 'an NAI (subtype 1) is a string');
    if (!(id as WellFormed).isWellFormed()) throw new EncodeError(field, id, 'not well-formed Unicode'); // a lone surrogate
    return Buffer.from(id, 'utf8');
  }
  if (!Buffer.isBuffer(id)) throw new EncodeError(field, typeof id, `subtype ${subtype} carries a Buffer`);
  return id;
}

const byCode = new Map<number, KnownOptionType>(
  (Object.keys(specs) as KnownOptionType[]).map((k) => [OptionType[k], k]),
);

function specOf(o: MobilityOption): Spec<KnownOptionType> | undefined {
  return o.type === 'unknown' ? undefined : (specs[o.type] as unknown as Spec<KnownOptionType>);
}

/** Refuses anything that is not a MobilityOption before lengths are computed from it. */
function checkShape(o: unknown, i: number): asserts o is MobilityOption {
  const type = o && typeof o === 'object' ? (o as { type?: unknown }).type : undefined;
  if (type !== 'unknown' && !(typeof type === 'string' && Object.hasOwn(specs, type))) {
    throw new EncodeError(`options[${i}].type`, type === undefined ? shown(o) : shown(type), 'not a mobility option');
  }
}

/** Octets of option data (after type and length). */
function dataLength(o: MobilityOption): number {
  if (o.type === 'unknown') return blen(o.data);
  const spec = specOf(o)!;
  return typeof spec.size === 'number' ? spec.size : spec.dataLength!(o as never);
}

function alignPad(offset: number, [x, y]: readonly [number, number]): number {
  return (((y - offset) % x) + x) % x;
}

/** Pad1 for one octet, PadN for more (RFC 6275 §6.2.2, §6.2.3). */
function writePad(w: Writer, n: number): void {
  if (n === 1) w.u8(OptionType.pad1);
  else if (n > 1) w.u8(OptionType.padN).u8(n - 2).zeros(n - 2);
}

/**
 * Octets taken by the options when they start at MH offset `start`,
 * including the padding before each option and up to the next multiple of 8.
 */
export function optionsLength(options: readonly MobilityOption[], start: number): number {
  if (!Array.isArray(options)) throw new EncodeError('options', typeof options, 'not an array');
  let off = start;
  options.forEach(checkShape);
  for (const o of options) {
    const spec = specOf(o);
    if (spec) off += alignPad(off, spec.align);
    off += 2 + dataLength(o);
  }
  return off - start + alignPad(off, [8, 0]);
}

/** Writes the options; `mhStart` is the writer offset where the Mobility Header begins. */
export function writeOptions(options: readonly MobilityOption[], w: Writer, mhStart: number): void {
  if (!Array.isArray(options)) throw new EncodeError('options', typeof options, 'not an array');
  options.forEach((o, i) => {
    checkShape(o, i);
    const field = `options[${i}].${o.type}`;
    if (o.type === 'unknown') {
      const code = uint(o.code, 8, `${field}.code`);
      if (code === OptionType.pad1 || code === OptionType.padN || byCode.has(code)) {
        throw new EncodeError(`${field}.code`, code, 'a padding or known option type: use its typed form');
      }
      w.u8(code).u8(bytes(o.data, 255, `${field}.data`).length).bytes(o.data);
      return;
    }
    const spec = specOf(o)!;
    writePad(w, alignPad(w.offset - mhStart, spec.align));
    const len = dataLength(o);
    if (len > 255) throw new EncodeError(`${field}.length`, len, 'option data above 255 octets');
    w.u8(OptionType[o.type]).u8(len);
    const end = w.offset + len;
    spec.write(o as never, w, field);
    if (w.offset !== end) throw new EncodeError(`${field}.length`, w.offset - end + len, `wrote a different length than ${len}`);
  });
  writePad(w, alignPad(w.offset - mhStart, [8, 0]));
}

/**
 * Reads options until the reader's end. Pad1/PadN are consumed; options of an
 * unknown type are returned as { type: 'unknown' } so the caller sees them.
 */
export function readOptions(r: Reader): MobilityOption[] {
  const out: MobilityOption[] = [];
  while (r.remaining > 0) {
    const at = r.offset;
    const code = r.u8('option type');
    if (code === OptionType.pad1) continue;
    const name = byCode.get(code);
    const label = name ?? (code === OptionType.padN ? 'padN' : `option ${code}`);
    const len = r.u8(`${label}.length`);
    const body = r.sub(len, `${label}.data`);
    if (code === OptionType.padN) continue;
    if (name === undefined) {
      out.push({ type: 'unknown', code, data: body.bytes(len, `${label}.data`) });
      continue;
    }
    const spec = specs[name] as unknown as Spec<KnownOptionType>;
    const [min, max] = typeof spec.size === 'number' ? [spec.size, spec.size] : spec.size;
    if (len < min || len > max) r.fail(`${name}.length`, len, min === max ? `must be ${min}` : `must be ${min}..${max}`, at + 1);
    out.push(spec.read(body, name));
    body.expectEnd(`${name}.data`);
  }
  return out;
}

/** The alignment xn+y an option needs ([1, 0]: none); unknown options have none. */
export function optionAlignment(o: MobilityOption): readonly [number, number] {
  return specOf(o)?.align ?? [1, 0];
}
