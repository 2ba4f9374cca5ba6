/**
 * Extensions of Mobile IPv4 registration messages (RFC 5944 §1.9–§1.11):
 * authentication (MN-HA, MN-FA, FA-HA), NAI (RFC 2794), UDP Tunnel Request
 * and Reply (RFC 3519) and the Dual Stack extension of RFC 5454.
 *
 * Three layouts exist: the original Type, Length(8), Data (auth, NAI); the
 * short format Type, Length(8), Sub-Type, Data (skippable, RFC 5944 §1.11);
 * and the long format Type, Sub-Type, Length(16), Data (non-skippable,
 * §1.10). Every skippable type (128–255) has its 8-bit Length second, so an
 * unknown one is skipped and reported. An unknown non-skippable type (0–127)
 * voids the message (§1.9) and its layout cannot be known, so it is reported
 * with mustReject set and the rest of the message as its data.
 *
 * Decoding is length-faithful: re-encoding a decoded list gives the same
 * length and the same offsets (reserved bits are written as zero), which is
 * what authenticatedLength relies on.
 */
import { DecodeError, EncodeError, type Reader, type Writer } from '../buffer.js';
import { bool, bytes, range, uint } from '../check.js';
import {
  AUTH_SPI_LENGTH, DUAL_STACK_LENGTH, DualStackSubType, FIRST_SKIPPABLE_EXT, Mip4ExtType,
  UDP_TUNNEL_EXT_LENGTH, UdpTunnelReplyFlag, UdpTunnelRequestFlag,
} from './constants.js';

export type AuthExtensionType = 'mnHaAuth' | 'mnFaAuth' | 'faHaAuth';

/** MN-HA (32), MN-FA (33) or FA-HA (34) authentication: SPI and authenticator (RFC 5944 §3.5). */
export interface AuthExtension {
  type: AuthExtensionType;
  spi: number;
  authenticator: Buffer;
}

/** Mobile Node NAI (RFC 2794), e.g. "mn@example.net". */
export interface NaiExtension {
  type: 'nai';
  nai: string;
}

/** UDP Tunnel Request (RFC 3519 §3.1), sent by the mobile node or FA. */
export interface UdpTunnelRequestExtension {
  type: 'udpTunnelRequest';
  subType: number; // 0 is the only one defined
  /** F: use UDP tunnelling even if no NAT is detected. */
  force: boolean;
  /** R: the FA's advertisement had the R bit (registration through the FA required). */
  faRegistrationRequired: boolean;
  /** IP protocol of the tunnelled header: 4 IP-in-IP, 47 GRE, 55 minimal (UdpTunnelEncapsulation). */
  encapsulation: number;
}

/** UDP Tunnel Reply (RFC 3519 §3.2), sent by the home agent. */
export interface UdpTunnelReplyExtension {
  type: 'udpTunnelReply';
  subType: number;
  /** 0 will do tunnelling, 64 declined (UdpTunnelReplyCode). */
  code: number;
  /** F: tunnelling is forced (the request's F bit was honoured). */
  forced: boolean;
  /** Seconds between keepalives; 0 lets the mobile node choose. */
  keepaliveInterval: number;
}

/** RFC 5454 §2.1 (draft's IPv6 Home Address extension): the IPv6 home prefix asked for; "::" asks the HA to assign one. */
export interface Ipv6PrefixRequestExtension {
  type: 'ipv6PrefixRequest';
  prefixLength: number;
  prefix: string;
}

/** RFC 5454 §2.2 (draft's IPv6 Code extension): the outcome of the IPv6 part and the prefix granted. */
export interface Ipv6PrefixReplyExtension {
  type: 'ipv6PrefixReply';
  /** Ipv6PrefixReplyCode: below 128 accepted. */
  code: number;
  prefixLength: number;
  prefix: string;
}

/** RFC 5454 §2.3 (draft's IPv6 Compatibility extension): tunnel IPv6 to the care-of address ("explicit mode"). */
export interface Ipv6TunnelingModeExtension {
  type: 'ipv6TunnelingMode';
}

/** An extension this codec does not know. */
export interface UnknownExtension {
  type: 'unknown';
  extType: number;
  /** Non-skippable (0–127): the whole message must be refused (RFC 5944 §1.9). */
  mustReject: boolean;
  /** Skippable: the bytes after Length. Non-skippable: everything after the Type byte to the end of the message. */
  data: Buffer;
}

export type Mip4Extension =
  | AuthExtension
  | NaiExtension
  | UdpTunnelRequestExtension
  | UdpTunnelReplyExtension
  | Ipv6PrefixRequestExtension
  | Ipv6PrefixReplyExtension
  | Ipv6TunnelingModeExtension
  | UnknownExtension;

const AUTH_TYPES: Record<number, AuthExtensionType> = {
  [Mip4ExtType.mnHaAuth]: 'mnHaAuth',
  [Mip4ExtType.mnFaAuth]: 'mnFaAuth',
  [Mip4ExtType.faHaAuth]: 'faHaAuth',
};

/** The encoded size of one extension, Type byte included. */
export function extensionLength(e: Mip4Extension): number {
  // tolerant of malformed input (writeExtension then refuses it, naming the field)
  switch (e?.type) {
    case 'mnHaAuth': case 'mnFaAuth': case 'faHaAuth': return 2 + AUTH_SPI_LENGTH + sizeOf(e.authenticator);
    case 'nai': return 2 + (typeof e.nai === 'string' ? Buffer.byteLength(e.nai, 'utf8') : 0);
    case 'udpTunnelRequest': case 'udpTunnelReply': return 2 + UDP_TUNNEL_EXT_LENGTH;
    case 'ipv6PrefixRequest': return 2 + DUAL_STACK_LENGTH.ipv6PrefixRequest;
    case 'ipv6PrefixReply': return 2 + DUAL_STACK_LENGTH.ipv6PrefixReply;
    case 'ipv6TunnelingMode': return 2 + DUAL_STACK_LENGTH.ipv6TunnelingMode;
    case 'unknown': return (isNonSkippable(e.extType) ? 1 : 2) + sizeOf(e.data);
    default: return 0;
  }
}

/** Extension types 0–127: an unknown one voids the message (RFC 5944 §1.9). */
export const isNonSkippable = (t: unknown): boolean => typeof t === 'number' && t < FIRST_SKIPPABLE_EXT;

/** The length of a Buffer or array, 0 for anything else. */
export const sizeOf = (v: unknown): number => (Buffer.isBuffer(v) || Array.isArray(v) ? v.length : 0);

export function writeExtension(e: Mip4Extension, w: Writer, field = 'extension'): void {
  switch (e?.type) {
    case 'mnHaAuth': case 'mnFaAuth': case 'faHaAuth': {
      const auth = bytes(e.authenticator, 255 - AUTH_SPI_LENGTH, `${field}.authenticator`);
      w.u8(Mip4ExtType[e.type]).u8(AUTH_SPI_LENGTH + auth.length).u32(uint(e.spi, 32, `${field}.spi`)).bytes(auth);
      return;
    }
    case 'nai': {
      // a lone surrogate would be sent as U+FFFD and come back different
      if (typeof e.nai !== 'string' || /[\uD800-\uDFFF]/u.test(e.nai)) throw new EncodeError(`${field}.nai`, e.nai, 'not a well-formed string');
      const nai = Buffer.from(e.nai, 'utf8');
      if (nai.length > 255) throw new EncodeError(`${field}.nai`, nai.length, 'longer than 255 bytes');
      w.u8(Mip4ExtType.nai).u8(nai.length).bytes(nai);
      return;
    }
    case 'udpTunnelRequest': {
      const flags = (bool(e.force, `${field}.force`) ? UdpTunnelRequestFlag.force : 0)
        | (bool(e.faRegistrationRequired, `${field}.faRegistrationRequired`) ? UdpTunnelRequestFlag.faRegistrationRequired : 0);
      w.u8(Mip4ExtType.udpTunnelRequest).u8(UDP_TUNNEL_EXT_LENGTH).u8(uint(e.subType, 8, `${field}.subType`))
        .u8(0).u8(flags).u8(uint(e.encapsulation, 8, `${field}.encapsulation`)).u16(0);
      return;
    }
    case 'udpTunnelReply':
      w.u8(Mip4ExtType.udpTunnelReply).u8(UDP_TUNNEL_EXT_LENGTH).u8(uint(e.subType, 8, `${field}.subType`))
        .u8(uint(e.code, 8, `${field}.code`)).u16(bool(e.forced, `${field}.forced`) ? UdpTunnelReplyFlag.forced : 0)
        .u16(uint(e.keepaliveInterval, 16, `${field}.keepaliveInterval`));
      return;
    case 'ipv6PrefixRequest':
      w.u8(Mip4ExtType.dualStack).u8(DUAL_STACK_LENGTH.ipv6PrefixRequest).u8(DualStackSubType.ipv6PrefixRequest)
        .u8(range(e.prefixLength, 0, 128, `${field}.prefixLength`)).addr6(e.prefix, `${field}.prefix`);
      return;
    case 'ipv6PrefixReply':
      w.u8(Mip4ExtType.dualStack).u8(DUAL_STACK_LENGTH.ipv6PrefixReply).u8(DualStackSubType.ipv6PrefixReply)
        .u8(uint(e.code, 8, `${field}.code`)).u8(range(e.prefixLength, 0, 128, `${field}.prefixLength`))
        .addr6(e.prefix, `${field}.prefix`);
      return;
    case 'ipv6TunnelingMode':
      w.u8(Mip4ExtType.dualStack).u8(DUAL_STACK_LENGTH.ipv6TunnelingMode).u8(DualStackSubType.ipv6TunnelingMode).u8(0);
      return;
    case 'unknown': {
      const t = uint(e.extType, 8, `${field}.extType`);
      const nonSkippable = isNonSkippable(t);
      const data = bytes(e.data, nonSkippable ? 0xffff : 255, `${field}.data`);
      // type 152 with a sub-type we do not know is the only "unknown" form of a known type
      const unknownDualStack = t === Mip4ExtType.dualStack && data.length > 0 && !DUAL_STACK_SUBTYPES.has(data[0]!);
      if (KNOWN_TYPES.has(t) && !unknownDualStack) throw new EncodeError(`${field}.extType`, t, 'a known extension type: use its own form');
      if (e.mustReject !== nonSkippable) throw new EncodeError(`${field}.mustReject`, e.mustReject, `must be ${nonSkippable} for type ${t}`);
      if (nonSkippable) w.u8(t).bytes(data); // no Length: it runs to the end of the message
      else w.u8(t).u8(data.length).bytes(data);
      return;
    }
    default:
      throw new EncodeError(`${field}.type`, (e as { type?: unknown } | null)?.type, 'unknown extension kind');
  }
}

const KNOWN_TYPES = new Set<number>([
  Mip4ExtType.mnHaAuth, Mip4ExtType.mnFaAuth, Mip4ExtType.faHaAuth, Mip4ExtType.udpTunnelReply,
  Mip4ExtType.nai, Mip4ExtType.udpTunnelRequest, Mip4ExtType.dualStack,
]);

const DUAL_STACK_SUBTYPES = new Set<number>(Object.values(DualStackSubType));

// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a leading BOM stays (decoding keeps every byte)
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads one extension; r ends where the message ends. */
export function readExtension(r: Reader): Mip4Extension {
  const at = r.offset;
  const t = r.u8('extension type');
  if (!KNOWN_TYPES.has(t) && t < FIRST_SKIPPABLE_EXT) {
    return { type: 'unknown', extType: t, mustReject: true, data: r.bytes(r.remaining, 'non-skippable extension data') };
  }
  const len = r.u8('extension length');
  const body = r.sub(len, `extension ${t} data`);
  const wrongLength = (want: number): never => body.fail(`extension ${t} length`, len, `must be ${want}`, at + 1);
  const auth = AUTH_TYPES[t];
  if (auth) {
    if (len < AUTH_SPI_LENGTH) wrongLength(AUTH_SPI_LENGTH);
    return { type: auth, spi: body.u32(`${auth} SPI`), authenticator: body.bytes(body.remaining, `${auth} authenticator`) };
  }
  switch (t) {
    case Mip4ExtType.nai: {
      const raw = body.bytes(len, 'NAI');
      let nai: string;
      try { nai = utf8.decode(raw); } catch { throw new DecodeError('NAI', at + 2, raw.toString('hex'), 'not UTF-8'); }
      return { type: 'nai', nai };
    }
    case Mip4ExtType.udpTunnelRequest: {
      if (len !== UDP_TUNNEL_EXT_LENGTH) wrongLength(UDP_TUNNEL_EXT_LENGTH);
      const subType = body.u8('UDP tunnel request sub-type');
      body.skip(1, 'UDP tunnel request reserved 1');
      const flags = body.u8('UDP tunnel request flags');
      const encapsulation = body.u8('UDP tunnel request encapsulation');
      body.skip(2, 'UDP tunnel request reserved 3');
      return {
        type: 'udpTunnelRequest', subType, encapsulation,
        force: (flags & UdpTunnelRequestFlag.force) !== 0,
        faRegistrationRequired: (flags & UdpTunnelRequestFlag.faRegistrationRequired) !== 0,
      };
    }
    case Mip4ExtType.udpTunnelReply: {
      if (len !== UDP_TUNNEL_EXT_LENGTH) wrongLength(UDP_TUNNEL_EXT_LENGTH);
      const subType = body.u8('UDP tunnel reply sub-type');
      const code = body.u8('UDP tunnel reply code');
      const flags = body.u16('UDP tunnel reply flags');
      const keepaliveInterval = body.u16('UDP tunnel reply keepalive interval');
      return { type: 'udpTunnelReply', subType, code, forced: (flags & UdpTunnelReplyFlag.forced) !== 0, keepaliveInterval };
    }
    case Mip4ExtType.dualStack:
      return readDualStack(body, len, at);
    default: // an unknown skippable extension: skipped, reported
      return { type: 'unknown', extType: t, mustReject: false, data: body.bytes(len, `extension ${t} data`) };
  }
}

function readDualStack(body: Reader, len: number, at: number): Mip4Extension {
  const subType = body.u8('dual stack sub-type');
  const expect = (want: number): void => {
    if (len !== want) body.fail('dual stack extension length', len, `must be ${want} for sub-type ${subType}`, at + 1);
  };
  const prefixLength = (): number => {
    const n = body.u8('IPv6 prefix length');
    if (n > 128) body.fail('IPv6 prefix length', n, 'more than 128', body.offset - 1);
    return n;
  };
  switch (subType) {
    case DualStackSubType.ipv6PrefixRequest: {
      expect(DUAL_STACK_LENGTH.ipv6PrefixRequest);
      const n = prefixLength();
      return { type: 'ipv6PrefixRequest', prefixLength: n, prefix: body.addr6('IPv6 home network prefix') };
    }
    case DualStackSubType.ipv6PrefixReply: {
      expect(DUAL_STACK_LENGTH.ipv6PrefixReply);
      const code = body.u8('IPv6 prefix reply code');
      const n = prefixLength();
      return { type: 'ipv6PrefixReply', code, prefixLength: n, prefix: body.addr6('IPv6 home network prefix') };
    }
    case DualStackSubType.ipv6TunnelingMode:
      expect(DUAL_STACK_LENGTH.ipv6TunnelingMode);
      body.skip(1, 'IPv6 tunneling mode reserved');
      return { type: 'ipv6TunnelingMode' };
    default: // an unknown sub-type of a skippable extension: skipped, reported whole
      body.offset = at + 2;
      return { type: 'unknown', extType: Mip4ExtType.dualStack, mustReject: false, data: body.bytes(len, 'dual stack extension data') };
  }
}
