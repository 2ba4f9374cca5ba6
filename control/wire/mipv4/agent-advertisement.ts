/**
 * The Agent Advertisement (RFC 5944 §2.1): an ICMP Router Advertisement
 * (RFC 1256, type 9) followed by the Mobility Agent Advertisement extension
 * (type 16), optionally Prefix-Lengths (19) and one-byte Pads. The codec
 * covers the ICMP message (the IPv4 payload); the checksum is computed on
 * encode and checked on decode (checksumOk), never a reason to refuse.
 */
import { EncodeError, decode, encode, type Codec, type Reader, type Writer } from '../buffer.js';
import { internetChecksum } from '../checksum.js';
import { bool, bytes, range, uint } from '../check.js';
import {
  AgentAdvExtType, AgentAdvFlag, FIRST_SKIPPABLE_EXT, ICMP_ROUTER_ADVERTISEMENT, MOBILITY_AGENT_FIXED_LENGTH,
  ROUTER_ADVERTISEMENT_HEADER, ROUTER_ENTRY_WORDS,
} from './constants.js';
import { sizeOf } from './extensions.js';

export type AgentAdvFlags = Record<keyof typeof AgentAdvFlag, boolean>;

export interface RouterEntry {
  address: string;
  /** Signed; 0x80000000 (-2147483648) means "not a default router" (RFC 1256). */
  preference: number;
}

export interface MobilityAgentExtension {
  type: 'mobilityAgent';
  sequence: number;
  /** Longest registration lifetime the agent accepts, seconds; 0xffff infinite. */
  registrationLifetime: number;
  flags: AgentAdvFlags;
  /** A foreign agent's care-of addresses (at least one when F is set). */
  careOfAddresses: string[];
}

export interface PrefixLengthsExtension {
  type: 'prefixLengths';
  /** One per router address, in the same order. */
  prefixLengths: number[];
}

export interface PadExtension {
  type: 'pad';
}

export interface UnknownAgentAdvExtension {
  type: 'unknown';
  extType: number;
  /** 0–127: the advertisement must be ignored (RFC 5944 §1.9 applies to both numbering spaces). */
  mustReject: boolean;
  data: Buffer;
}

export type AgentAdvExtension = MobilityAgentExtension | PrefixLengthsExtension | PadExtension | UnknownAgentAdvExtension;

export interface AgentAdvertisement {
  type: 'agentAdvertisement';
  /** RouterAdvertisementCode: 0, or 16 for an agent that routes only mobility traffic. */
  code: number;
  /** Router advertisement lifetime, seconds. */
  lifetime: number;
  routers: RouterEntry[];
  extensions: AgentAdvExtension[];
  /** Decode: whether the ICMP checksum was right. Encode: ignored (always computed). */
  checksumOk: boolean;
}

const FLAG_NAMES = Object.keys(AgentAdvFlag) as (keyof typeof AgentAdvFlag)[];

function extLength(e: AgentAdvExtension): number {
  // tolerant of malformed input (writeExt then refuses it, naming the field)
  switch (e?.type) {
    case 'pad': return 1;
    case 'mobilityAgent': return 2 + MOBILITY_AGENT_FIXED_LENGTH + 4 * sizeOf(e.careOfAddresses);
    case 'prefixLengths': return 2 + sizeOf(e.prefixLengths);
    case 'unknown': return 2 + sizeOf(e.data);
    default: return 0;
  }
}

function writeExt(e: AgentAdvExtension, w: Writer, field: string): void {
  switch (e?.type) {
    case 'pad':
      w.u8(AgentAdvExtType.pad);
      return;
    case 'mobilityAgent': {
      const coas = e.careOfAddresses;
      if (!Array.isArray(coas) || MOBILITY_AGENT_FIXED_LENGTH + 4 * coas.length > 255) {
        throw new EncodeError(`${field}.careOfAddresses`, coas?.length, 'at most 62 addresses');
      }
      let flags = 0;
      for (const n of FLAG_NAMES) if (bool(e.flags?.[n], `${field}.flags.${n}`)) flags |= AgentAdvFlag[n];
      w.u8(AgentAdvExtType.mobilityAgent).u8(MOBILITY_AGENT_FIXED_LENGTH + 4 * coas.length)
        .u16(uint(e.sequence, 16, `${field}.sequence`))
        .u16(uint(e.registrationLifetime, 16, `${field}.registrationLifetime`)).u16(flags);
      coas.forEach((a, i) => w.addr4(a, `${field}.careOfAddresses[${i}]`));
      return;
    }
    case 'prefixLengths': {
      const list = e.prefixLengths;
      if (!Array.isArray(list) || list.length > 255) throw new EncodeError(`${field}.prefixLengths`, list?.length, 'at most 255 entries');
      w.u8(AgentAdvExtType.prefixLengths).u8(list.length);
      list.forEach((n, i) => w.u8(range(n, 0, 32, `${field}.prefixLengths[${i}]`)));
      return;
    }
    case 'unknown': {
      const t = uint(e.extType, 8, `${field}.extType`);
      if ((Object.values(AgentAdvExtType) as number[]).includes(t)) throw new EncodeError(`${field}.extType`, t, 'a known extension type: use its own form');
      if (e.mustReject !== t < FIRST_SKIPPABLE_EXT) throw new EncodeError(`${field}.mustReject`, e.mustReject, `must be ${t < FIRST_SKIPPABLE_EXT} for type ${t}`);
      const data = bytes(e.data, 255, `${field}.data`);
      w.u8(t).u8(data.length).bytes(data);
      return;
    }
    default:
      throw new EncodeError(`${field}.type`, (e as { type?: unknown } | null)?.type, 'unknown extension kind');
  }
}

function readExt(r: Reader): AgentAdvExtension {
  const at = r.offset;
  const t = r.u8('extension type');
  if (t === AgentAdvExtType.pad) return { type: 'pad' };
  const len = r.u8('extension length');
  const body = r.sub(len, `extension ${t} data`);
  switch (t) {
    case AgentAdvExtType.mobilityAgent: {
      if (len < MOBILITY_AGENT_FIXED_LENGTH || (len - MOBILITY_AGENT_FIXED_LENGTH) % 4 !== 0) {
        body.fail('mobility agent extension length', len, 'must be 6 + 4 × care-of addresses', at + 1);
      }
      const sequence = body.u16('sequence number');
      const registrationLifetime = body.u16('registration lifetime');
      const f = body.u16('agent flags');
      const flags = Object.fromEntries(FLAG_NAMES.map((n) => [n, (f & AgentAdvFlag[n]) !== 0])) as AgentAdvFlags;
      const careOfAddresses: string[] = [];
      while (body.remaining > 0) careOfAddresses.push(body.addr4(`care-of address ${careOfAddresses.length}`));
      return { type: 'mobilityAgent', sequence, registrationLifetime, flags, careOfAddresses };
    }
    case AgentAdvExtType.prefixLengths: {
      const prefixLengths: number[] = [];
      while (body.remaining > 0) {
        const n = body.u8(`prefix length ${prefixLengths.length}`);
        if (n > 32) body.fail(`prefix length ${prefixLengths.length}`, n, 'more than 32', body.offset - 1);
        prefixLengths.push(n);
      }
      return { type: 'prefixLengths', prefixLengths };
    }
    default:
      return { type: 'unknown', extType: t, mustReject: t < FIRST_SKIPPABLE_EXT, data: body.bytes(len, `extension ${t} data`) };
  }
}

export const agentAdvertisement: Codec<AgentAdvertisement> = {
  encodingLength: (m) => ROUTER_ADVERTISEMENT_HEADER + 4 * ROUTER_ENTRY_WORDS * sizeOf(m.routers)
    + (Array.isArray(m.extensions) ? m.extensions.reduce((n, e) => n + extLength(e), 0) : 0),
  write(m, w) {
    const start = w.offset;
    if (!Array.isArray(m.routers) || m.routers.length > 255) throw new EncodeError('routers', m.routers?.length, 'at most 255 entries');
    w.u8(ICMP_ROUTER_ADVERTISEMENT).u8(uint(m.code, 8, 'code')).u16(0)
      .u8(m.routers.length).u8(ROUTER_ENTRY_WORDS).u16(uint(m.lifetime, 16, 'lifetime'));
    m.routers.forEach((e, i) => {
      w.addr4(e?.address, `routers[${i}].address`).u32(range(e?.preference, -(2 ** 31), 2 ** 31 - 1, `routers[${i}].preference`) >>> 0);
    });
    if (!Array.isArray(m.extensions)) throw new EncodeError('extensions', typeof m.extensions, 'not an array');
    m.extensions.forEach((e, i) => writeExt(e, w, `extensions[${i}]`));
    const msg = w.buf.subarray(start, w.offset);
    msg.writeUInt16BE(internetChecksum(msg), 2);
  },
  read(r) {
    const start = r.offset;
    const type = r.u8('ICMP type');
    if (type !== ICMP_ROUTER_ADVERTISEMENT) r.fail('ICMP type', type, 'not a Router Advertisement (9)', start);
    const code = r.u8('ICMP code');
    r.skip(2, 'ICMP checksum');
    const count = r.u8('number of addresses');
    const size = r.u8('address entry size');
    if (size !== ROUTER_ENTRY_WORDS) r.fail('address entry size', size, `must be ${ROUTER_ENTRY_WORDS}`, r.offset - 1);
    const lifetime = r.u16('lifetime');
    const routers: RouterEntry[] = [];
    for (let i = 0; i < count; i++) {
      routers.push({ address: r.addr4(`router address ${i}`), preference: r.u32(`preference level ${i}`) | 0 });
    }
    const extensions: AgentAdvExtension[] = [];
    while (r.remaining > 0) extensions.push(readExt(r));
    // the one's-complement sum over a message with a right checksum is 0xffff, so the checksum of it is 0
    const checksumOk = internetChecksum(r.buf.subarray(start, r.offset)) === 0;
    return { type: 'agentAdvertisement', code, lifetime, routers, extensions, checksumOk };
  },
};

export const encodeAgentAdvertisement = (m: AgentAdvertisement): Buffer => encode(agentAdvertisement, m);
/** Decodes an ICMP message (the IPv4 payload). */
export const decodeAgentAdvertisement = (buf: Buffer): AgentAdvertisement => decode(agentAdvertisement, buf, 'agent advertisement');

/** The Mobility Agent Advertisement extension, if present. */
export function mobilityAgentExtension(m: AgentAdvertisement): MobilityAgentExtension | undefined {
  return m.extensions.find((e): e is MobilityAgentExtension => e.type === 'mobilityAgent');
}

/** No flag set; spread and override: { ...NO_AGENT_FLAGS, homeAgent: true }. */
export const NO_AGENT_FLAGS: Readonly<AgentAdvFlags> = Object.freeze(
  Object.fromEntries(FLAG_NAMES.map((n) => [n, false])) as AgentAdvFlags,
);

/** An agent advertisement with a mobility agent extension (and a prefix-lengths one when given). */
export function makeAgentAdvertisement(init: {
  code?: number;
  lifetime: number;
  routers?: RouterEntry[];
  sequence: number;
  registrationLifetime: number;
  flags: Partial<AgentAdvFlags>;
  careOfAddresses?: string[];
  prefixLengths?: number[];
}): AgentAdvertisement {
  const extensions: AgentAdvExtension[] = [{
    type: 'mobilityAgent', sequence: init.sequence, registrationLifetime: init.registrationLifetime,
    flags: { ...NO_AGENT_FLAGS, ...init.flags }, careOfAddresses: init.careOfAddresses ?? [],
  }];
  if (init.prefixLengths) extensions.push({ type: 'prefixLengths', prefixLengths: init.prefixLengths });
  return { type: 'agentAdvertisement', code: init.code ?? 0, lifetime: init.lifetime, routers: init.routers ?? [], extensions, checksumOk: true };
}
