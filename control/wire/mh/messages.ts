/**
 * The Mobility Header (RFC 6275 §6.1.1) and the messages the anchor speaks:
 *
 *   Payload Proto(8) | Header Len(8) | MH Type(8) | Reserved(8)
 *   Checksum(16)     | message data ... | options ... (padded to 8n octets)
 *
 * Header Len counts 8-octet units after the first 8. The checksum is carried
 * as a number: decode reports what is on the wire, encode writes what it is
 * given (default 0); filling it in needs the IPv6 pseudo-header (control/wire/ip.ts).
 * HoTI/CoTI/HoT/CoT and MH types we do not know decode as 'unsupported', so
 * the caller can answer with a Binding Error (status 2, RFC 6275 §9.2).
 */
import { Codec, EncodeError, Reader, Writer, decode } from '../buffer.js';
import { bool, bytes, shown, uint } from '../check.js';
import { fourSecondUnits } from './lifetime.js';
import { BaFlag, BrFlag, BrType, BuFlag, IPPROTO_NONE, LIFETIME_UNIT, MH_MAX_LENGTH, MhType, OptionType } from './constants.js';
import { MobilityOption, optionsLength, readOptions, writeOptions } from './options.js';

export type BuFlags = Record<keyof typeof BuFlag, boolean>;
export type BaFlags = Record<keyof typeof BaFlag, boolean>;
export type BrFlags = Record<keyof typeof BrFlag, boolean>;

/** No flag set; spread and override: { ...NO_BU_FLAGS, a: true, h: true }. */
export const NO_BU_FLAGS: Readonly<BuFlags> = Object.freeze(Object.fromEntries(Object.keys(BuFlag).map((k) => [k, false])) as BuFlags);
export const NO_BA_FLAGS: Readonly<BaFlags> = Object.freeze(Object.fromEntries(Object.keys(BaFlag).map((k) => [k, false])) as BaFlags);

interface Common {
  /** The MH checksum field as on the wire; encode writes 0 when absent. */
  checksum?: number;
}

export interface BindingRefreshRequest extends Common {
  type: 'bindingRefreshRequest';
  options: MobilityOption[];
}
/** Also the Proxy Binding Update (flags.p, RFC 5213 §8.1). Lifetime in seconds. */
export interface BindingUpdate extends Common {
  type: 'bindingUpdate';
  sequence: number;
  flags: BuFlags;
  lifetime: number;
  options: MobilityOption[];
}
/** Also the Proxy Binding Acknowledgement (flags.p). Lifetime in seconds. */
export interface BindingAcknowledgement extends Common {
  type: 'bindingAcknowledgement';
  status: number;
  flags: BaFlags;
  sequence: number;
  lifetime: number;
  options: MobilityOption[];
}
export interface BindingError extends Common {
  type: 'bindingError';
  status: number;
  homeAddress: string;
  options: MobilityOption[];
}
/** RFC 5846 §6.1 (B.R. Type 1). */
export interface BindingRevocationIndication extends Common {
  type: 'bindingRevocationIndication';
  trigger: number;
  sequence: number;
  flags: BrFlags;
  options: MobilityOption[];
}
/** RFC 5846 §6.2 (B.R. Type 2). */
export interface BindingRevocationAcknowledgement extends Common {
  type: 'bindingRevocationAcknowledgement';
  status: number;
  sequence: number;
  flags: BrFlags;
  options: MobilityOption[];
}
/** Any other MH type (HoTI 1, CoTI 2, HoT 3, CoT 4, or unknown): the octets after the checksum. */
export interface UnsupportedMessage extends Common {
  type: 'unsupported';
  mhType: number;
  data: Buffer;
}

export type MobilityHeader =
  | BindingRefreshRequest
  | BindingUpdate
  | BindingAcknowledgement
  | BindingError
  | BindingRevocationIndication
  | BindingRevocationAcknowledgement
  | UnsupportedMessage;

type Supported = Exclude<MobilityHeader, UnsupportedMessage>;
type Name = Supported['type'];
type Of<K extends Name> = Extract<Supported, { type: K }>;
type Fields<K extends Name> = Omit<Of<K>, 'checksum' | 'options'>;

/** Octets of the fixed header (Payload Proto .. Checksum). */
const HEADER = 6;

interface Body<K extends Name> {
  mhType: number;
  /** Octets of message data between the checksum and the options. */
  size: number;
  write(m: Of<K>, w: Writer, f: string): void;
  read(r: Reader, f: string): Fields<K>;
}

/** Each flags table's names, listed once (the BU and BA are encoded and decoded on every transaction). */
const flagNames = new Map<Record<string, number>, string[]>([BuFlag, BaFlag, BrFlag].map((t) => [t, Object.keys(t)]));

function writeFlags<T extends Record<string, number>>(table: T, flags: unknown, f: string): number {
  if (!flags || typeof flags !== 'object') throw new EncodeError(`${f}.flags`, typeof flags, 'not an object of booleans');
  let v = 0;
  for (const k of flagNames.get(table)!) {
    const set = (flags as Record<string, unknown>)[k];
    if (set === true) v |= table[k]!;
    else if (set !== false) bool(set, `${f}.flags.${k}`); // throws, naming the flag
  }
  return v;
}

function readFlags<K extends string>(table: Record<K, number>, v: number): Record<K, boolean> {
  const out = {} as Record<K, boolean>;
  for (const k of flagNames.get(table)! as K[]) out[k] = (v & table[k]) !== 0;
  return out;
}

const bodies: { [K in Name]: Body<K> } = {
  bindingRefreshRequest: { // RFC 6275 §6.1.2
    mhType: MhType.bindingRefreshRequest, size: 2,
    write: (_m, w) => { w.u16(0); },
    read: (r, f) => { r.skip(2, `${f}.reserved`); return { type: 'bindingRefreshRequest' }; },
  },
  bindingUpdate: { // RFC 6275 §6.1.7
    mhType: MhType.bindingUpdate, size: 6,
    write: (m, w, f) => {
      w.u16(uint(m.sequence, 16, `${f}.sequence`)).u16(writeFlags(BuFlag, m.flags, f)).u16(fourSecondUnits(m.lifetime, `${f}.lifetime`));
    },
    read: (r, f) => ({
      type: 'bindingUpdate',
      sequence: r.u16(`${f}.sequence`),
      flags: readFlags(BuFlag, r.u16(`${f}.flags`)),
      lifetime: r.u16(`${f}.lifetime`) * LIFETIME_UNIT,
    }),
  },
  bindingAcknowledgement: { // RFC 6275 §6.1.8
    mhType: MhType.bindingAcknowledgement, size: 6,
    write: (m, w, f) => {
      w.u8(uint(m.status, 8, `${f}.status`)).u8(writeFlags(BaFlag, m.flags, f)).u16(uint(m.sequence, 16, `${f}.sequence`));
      w.u16(fourSecondUnits(m.lifetime, `${f}.lifetime`));
    },
    read: (r, f) => ({
      type: 'bindingAcknowledgement',
      status: r.u8(`${f}.status`),
      flags: readFlags(BaFlag, r.u8(`${f}.flags`)),
      sequence: r.u16(`${f}.sequence`),
      lifetime: r.u16(`${f}.lifetime`) * LIFETIME_UNIT,
    }),
  },
  bindingError: { // RFC 6275 §6.1.9
    mhType: MhType.bindingError, size: 18,
    write: (m, w, f) => { w.u8(uint(m.status, 8, `${f}.status`)).u8(0).addr6(m.homeAddress, `${f}.homeAddress`); },
    read: (r, f) => {
      const status = r.u8(`${f}.status`);
      r.skip(1, `${f}.reserved`);
      return { type: 'bindingError', status, homeAddress: r.addr6(`${f}.homeAddress`) };
    },
  },
  bindingRevocationIndication: { // RFC 5846 §6.1: B.R. Type | R. Trigger | Sequence # | P V G Reserved
    mhType: MhType.bindingRevocation, size: 6,
    write: (m, w, f) => {
      w.u8(BrType.indication).u8(uint(m.trigger, 8, `${f}.trigger`)).u16(uint(m.sequence, 16, `${f}.sequence`)).u16(writeFlags(BrFlag, m.flags, f));
    },
    read: (r, f) => {
      r.skip(1, `${f}.brType`);
      return { type: 'bindingRevocationIndication', trigger: r.u8(`${f}.trigger`), sequence: r.u16(`${f}.sequence`), flags: readFlags(BrFlag, r.u16(`${f}.flags`)) };
    },
  },
  bindingRevocationAcknowledgement: { // RFC 5846 §6.2: B.R. Type | Status | Sequence # | P V G Reserved
    mhType: MhType.bindingRevocation, size: 6,
    write: (m, w, f) => {
      w.u8(BrType.acknowledgement).u8(uint(m.status, 8, `${f}.status`)).u16(uint(m.sequence, 16, `${f}.sequence`)).u16(writeFlags(BrFlag, m.flags, f));
    },
    read: (r, f) => {
      r.skip(1, `${f}.brType`);
      return { type: 'bindingRevocationAcknowledgement', status: r.u8(`${f}.status`), sequence: r.u16(`${f}.sequence`), flags: readFlags(BrFlag, r.u16(`${f}.flags`)) };
    },
  },
};

function bodyOf(m: MobilityHeader): Body<Name> | undefined {
  const type = m && typeof m === 'object' ? (m as { type?: unknown }).type : undefined;
  if (type === 'unsupported') return undefined;
  if (typeof type !== 'string' || !Object.hasOwn(bodies, type)) throw new EncodeError('type', type === undefined ? shown(m) : shown(type), 'not a Mobility Header message');
  return bodies[type as Name] as unknown as Body<Name>;
}

const byMhType = new Map<number, Name>((Object.keys(bodies) as Name[]).filter((k) => k !== 'bindingRevocationAcknowledgement').map((k) => [bodies[k].mhType, k]));

/** The message a received MH type is, or undefined when it is not one we speak. */
function nameFor(mhType: number, r: Reader): Name | undefined {
  if (mhType !== MhType.bindingRevocation) return byMhType.get(mhType);
  // one MH type, two messages told apart by the B.R. Type octet (RFC 5846 §6)
  const at = r.offset;
  const brType = r.remaining > 0 ? r.buf[at]! : undefined;
  if (brType === BrType.indication) return 'bindingRevocationIndication';
  if (brType === BrType.acknowledgement) return 'bindingRevocationAcknowledgement';
  return r.fail('bindingRevocation.brType', brType, 'not 1 (indication) or 2 (acknowledgement)', at);
}

/** The fixed part of message `name`, after checking Header Len leaves room for it (RFC 6275 §9.2). */
function fixedPart(name: Name, h: Header): Reader {
  const size = bodies[name].size;
  if (h.rest.remaining < size) h.rest.fail('mh.headerLength', h.rest.buf[h.start + 1], `too short for ${name}`, h.start + 1);
  return h.rest.sub(size, name);
}

function encodingLength(m: MobilityHeader): number {
  const body = bodyOf(m);
  if (!body) return HEADER + (Buffer.isBuffer((m as UnsupportedMessage).data) ? (m as UnsupportedMessage).data.length : 0);
  const s = m as Supported;
  return HEADER + body.size + optionsLength(s.options, HEADER + body.size);
}

function write(m: MobilityHeader, w: Writer): void {
  writeSized(m, w, encodingLength(m));
}

/** write() with the length already computed (encodeMobilityHeader sizes its buffer with it). */
function writeSized(m: MobilityHeader, w: Writer, len: number): void {
  const start = w.offset;
  const body = bodyOf(m);
  const f = m.type;
  if (len > MH_MAX_LENGTH) throw new EncodeError(`${f}.length`, len, `a Mobility Header is at most ${MH_MAX_LENGTH} octets`);
  const checksum = m.checksum === undefined ? 0 : uint(m.checksum, 16, `${f}.checksum`);
  if (!body) {
    const u = m as UnsupportedMessage;
    const mhType = uint(u.mhType, 8, 'unsupported.mhType');
    if (byMhType.has(mhType) || mhType === MhType.bindingRevocation) throw new EncodeError('unsupported.mhType', mhType, 'a supported MH type: use its typed form');
    bytes(u.data, MH_MAX_LENGTH - HEADER, 'unsupported.data', 2);
    if (len % 8 !== 0) throw new EncodeError('unsupported.data', u.data.length, 'the MH must be a multiple of 8 octets (data length 8n+2)');
    w.u8(IPPROTO_NONE).u8(len / 8 - 1).u8(mhType).u8(0).u16(checksum).bytes(u.data);
    return;
  }
  w.u8(IPPROTO_NONE).u8(len / 8 - 1).u8(body.mhType).u8(0).u16(checksum);
  body.write(m as Supported, w, f);
  writeOptions((m as Supported).options, w, start);
}

interface Header {
  mhType: number;
  checksum: number;
  /** The rest of the MH (message data and options), bounded by Header Len. */
  rest: Reader;
  start: number;
}

function readHeader(r: Reader): Header {
  const start = r.offset;
  r.skip(1, 'mh.payloadProto'); // SHOULD be 59 (RFC 6275 §6.1.1); receivers need not check it
  const hlen = r.u8('mh.headerLength');
  const rest = r.sub((hlen + 1) * 8 - 2, 'mh.length');
  const mhType = rest.u8('mh.type');
  rest.skip(1, 'mh.reserved');
  return { mhType, checksum: rest.u16('mh.checksum'), rest, start };
}

function read(r: Reader): MobilityHeader {
  const h = readHeader(r);
  const name = nameFor(h.mhType, h.rest);
  if (!name) return { type: 'unsupported', mhType: h.mhType, checksum: h.checksum, data: h.rest.bytes(h.rest.remaining, 'unsupported.data') };
  const m = (bodies[name] as unknown as Body<Name>).read(fixedPart(name, h), name) as MobilityHeader & { options: MobilityOption[] };
  m.checksum = h.checksum; // (added to the fields read, not spread into a copy: several times faster)
  m.options = readOptions(h.rest);
  return m;
}

/** The Mobility Header codec: encodingLength, write, read. */
export const mobilityHeader: Codec<MobilityHeader> = { encodingLength, write, read };

export function encodeMobilityHeader(m: MobilityHeader): Buffer {
  const len = encodingLength(m);
  const w = Writer.sized(len);
  writeSized(m, w, len);
  return w.filled(m);
}
/** Decodes exactly one MH filling `buf` (trailing octets are an error). */
export const decodeMobilityHeader = (buf: Buffer): MobilityHeader => decode(mobilityHeader, buf, 'mh');

export interface OptionLocation {
  /** Option type code. */
  code: number;
  /** Offset of the option's type octet from the start of the MH. */
  offset: number;
  /** Octets of the option including its type and length octets. */
  length: number;
}

/**
 * Where each option (padding excluded) sits in an encoded MH, for code that
 * signs or checks a byte range: RFC 4285 authenticates the MH up to and
 * including the SPI of the Mobility Message Authentication option.
 */
export function optionLocations(buf: Buffer): OptionLocation[] {
  const h = readHeader(new Reader(buf));
  const name = nameFor(h.mhType, h.rest);
  if (!name) return [];
  fixedPart(name, h);
  const r = h.rest;
  const out: OptionLocation[] = [];
  while (r.remaining > 0) {
    const at = r.offset;
    const code = r.u8('option type');
    if (code === OptionType.pad1) continue;
    const len = r.u8('option length');
    r.skip(len, 'option data');
    if (code !== OptionType.padN) out.push({ code, offset: at - h.start, length: len + 2 });
  }
  return out;
}
