/**
 * Mobile IPv4 Registration Request (type 1) and Reply (type 3), RFC 5944
 * §3.3–§3.4, each a fixed part followed by extensions. The codecs cover the
 * UDP payload on port 434; authenticatedLength gives the byte count the
 * MN-HA (or MN-FA, FA-HA) authenticator covers (RFC 5944 §3.5.1: the whole
 * message up to and including the extension's SPI), for control/wire/auth.ts.
 */
import { EncodeError, decode, encode, type Codec, type Reader, type Writer } from '../buffer.js';
import { bool, uint } from '../check.js';
import { Mip4MessageType, REPLY_FIXED_LENGTH, REQUEST_FIXED_LENGTH, RequestFlag, AUTH_SPI_LENGTH } from './constants.js';
import { extensionLength, isNonSkippable, readExtension, writeExtension, type AuthExtensionType, type Mip4Extension } from './extensions.js';

export type RequestFlags = Record<keyof typeof RequestFlag, boolean>;

export interface RegistrationRequest {
  type: 'registrationRequest';
  flags: RequestFlags;
  /** Seconds; 0 deregisters, 0xffff is infinite. */
  lifetime: number;
  homeAddress: string;
  homeAgent: string;
  careOfAddress: string;
  /** 64 bits, timestamp or nonce (RFC 5944 §5.7). */
  identification: bigint;
  extensions: Mip4Extension[];
}

export interface RegistrationReply {
  type: 'registrationReply';
  /** ReplyCode: 0–1 accepted, 64–127 denied by the FA, 128– denied by the HA. */
  code: number;
  lifetime: number;
  homeAddress: string;
  homeAgent: string;
  identification: bigint;
  extensions: Mip4Extension[];
}

export type Mip4Message = RegistrationRequest | RegistrationReply;

function identification(v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) {
    throw new EncodeError('identification', typeof v === 'bigint' ? v : typeof v, 'not an unsigned 64-bit bigint');
  }
  return v;
}

const FLAG_NAMES = Object.keys(RequestFlag) as (keyof typeof RequestFlag)[];

function extensionsLength(list: readonly Mip4Extension[]): number {
  return Array.isArray(list) ? list.reduce((n, e) => n + extensionLength(e), 0) : 0;
}

function writeExtensions(list: readonly Mip4Extension[], w: Writer): void {
  if (!Array.isArray(list)) throw new EncodeError('extensions', typeof list, 'not an array');
  list.forEach((e, i) => {
    // an unknown non-skippable extension has no length of its own: it runs to the end
    if (e?.type === 'unknown' && isNonSkippable(e.extType) && i !== list.length - 1) {
      throw new EncodeError(`extensions[${i}]`, e.extType, 'an unknown non-skippable extension must be the last');
    }
    writeExtension(e, w, `extensions[${i}]`);
  });
}

function readExtensions(r: Reader): Mip4Extension[] {
  const list: Mip4Extension[] = [];
  while (r.remaining > 0) list.push(readExtension(r));
  return list;
}

export const registrationRequest: Codec<RegistrationRequest> = {
  encodingLength: (m) => REQUEST_FIXED_LENGTH + extensionsLength(m.extensions),
  write(m, w) {
    let flags = 0;
    for (const name of FLAG_NAMES) if (bool(m.flags?.[name], `flags.${name}`)) flags |= RequestFlag[name];
    w.u8(Mip4MessageType.registrationRequest).u8(flags).u16(uint(m.lifetime, 16, 'lifetime'))
      .addr4(m.homeAddress, 'homeAddress').addr4(m.homeAgent, 'homeAgent').addr4(m.careOfAddress, 'careOfAddress')
      .u64(identification(m.identification));
    writeExtensions(m.extensions, w);
  },
  read(r) {
    const at = r.offset;
    const type = r.u8('message type');
    if (type !== Mip4MessageType.registrationRequest) r.fail('message type', type, 'not a Registration Request', at);
    const f = r.u8('flags');
    const flags = Object.fromEntries(FLAG_NAMES.map((n) => [n, (f & RequestFlag[n]) !== 0])) as RequestFlags;
    return {
      type: 'registrationRequest', flags,
      lifetime: r.u16('lifetime'),
      homeAddress: r.addr4('home address'),
      homeAgent: r.addr4('home agent'),
      careOfAddress: r.addr4('care-of address'),
      identification: r.u64('identification'),
      extensions: readExtensions(r),
    };
  },
};

export const registrationReply: Codec<RegistrationReply> = {
  encodingLength: (m) => REPLY_FIXED_LENGTH + extensionsLength(m.extensions),
  write(m, w) {
    w.u8(Mip4MessageType.registrationReply).u8(uint(m.code, 8, 'code')).u16(uint(m.lifetime, 16, 'lifetime'))
      .addr4(m.homeAddress, 'homeAddress').addr4(m.homeAgent, 'homeAgent')
      .u64(identification(m.identification));
    writeExtensions(m.extensions, w);
  },
  read(r) {
    const at = r.offset;
    const type = r.u8('message type');
    if (type !== Mip4MessageType.registrationReply) r.fail('message type', type, 'not a Registration Reply', at);
    return {
      type: 'registrationReply',
      code: r.u8('code'),
      lifetime: r.u16('lifetime'),
      homeAddress: r.addr4('home address'),
      homeAgent: r.addr4('home agent'),
      identification: r.u64('identification'),
      extensions: readExtensions(r),
    };
  },
};

/** Either message, told apart by its Type byte. */
export const mip4Message: Codec<Mip4Message> = {
  encodingLength: (m) => (m?.type === 'registrationRequest' ? registrationRequest.encodingLength(m) : registrationReply.encodingLength(m)),
  write(m, w) {
    if (m.type === 'registrationRequest') registrationRequest.write(m, w);
    else if (m.type === 'registrationReply') registrationReply.write(m, w);
    else throw new EncodeError('type', (m as { type?: unknown } | null)?.type, 'not a Mobile IPv4 registration message');
  },
  read(r) {
    const type = r.remaining > 0 ? r.buf[r.offset] : undefined;
    if (type === Mip4MessageType.registrationRequest) return registrationRequest.read(r);
    if (type === Mip4MessageType.registrationReply) return registrationReply.read(r);
    return r.fail('message type', type, type === undefined ? 'empty message' : 'not a Registration Request (1) or Reply (3)');
  },
};

export const encodeMip4 = (m: Mip4Message): Buffer => encode(mip4Message, m);
/** Decodes a UDP port 434 payload; throws DecodeError naming the field, offset and value. */
export const decodeMip4 = (buf: Buffer): Mip4Message => decode(mip4Message, buf, 'Mobile IPv4 message');

/**
 * The number of leading bytes of the encoded message that the first
 * extension of `kind` authenticates: everything before it plus its Type,
 * Length and SPI (RFC 5944 §3.5.1). The authenticator starts at that offset.
 * Undefined when the message has no such extension. Decoding is
 * length-faithful, so for a decoded message this is also the offset in the
 * bytes received.
 */
export function authenticatedLength(m: Mip4Message, kind: AuthExtensionType = 'mnHaAuth'): number | undefined {
  let at = m.type === 'registrationRequest' ? REQUEST_FIXED_LENGTH : REPLY_FIXED_LENGTH;
  for (const e of m.extensions) {
    if (e.type === kind) return at + 2 + AUTH_SPI_LENGTH;
    at += extensionLength(e);
  }
  return undefined;
}

/** The first extension of a kind, typed (e.g. findExtension(m, 'nai')?.nai). */
export function findExtension<K extends Mip4Extension['type']>(m: Mip4Message, kind: K): Extract<Mip4Extension, { type: K }> | undefined {
  return m.extensions.find((e): e is Extract<Mip4Extension, { type: K }> => e.type === kind);
}

/** The first unknown non-skippable extension, if any: the message must be refused (RFC 5944 §1.9). */
export function mustRejectExtension(m: Mip4Message): number | undefined {
  for (const e of m.extensions) if (e.type === 'unknown' && e.mustReject) return e.extType;
  return undefined;
}

/** No flag set; spread and override: { ...NO_REQUEST_FLAGS, reverseTunneling: true }. */
export const NO_REQUEST_FLAGS: Readonly<RequestFlags> = Object.freeze(
  Object.fromEntries(FLAG_NAMES.map((n) => [n, false])) as RequestFlags,
);

/** A Registration Request with defaults: no flags, no extensions. */
export function makeRegistrationRequest(
  init: Omit<RegistrationRequest, 'type' | 'flags' | 'extensions'> & { flags?: Partial<RequestFlags>; extensions?: Mip4Extension[] },
): RegistrationRequest {
  return { type: 'registrationRequest', ...init, flags: { ...NO_REQUEST_FLAGS, ...init.flags }, extensions: init.extensions ?? [] };
}

/** A Registration Reply with defaults: no extensions. */
export function makeRegistrationReply(init: Omit<RegistrationReply, 'type' | 'extensions'> & { extensions?: Mip4Extension[] }): RegistrationReply {
  return { type: 'registrationReply', ...init, extensions: init.extensions ?? [] };
}
