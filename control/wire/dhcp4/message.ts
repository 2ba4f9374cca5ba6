/**
 * DHCPv4 messages (RFC 2131 §2): the BOOTP header, the magic cookie and the
 * options, as carried in UDP ports 67/68. The encoder closes the options
 * with End and pads the message to the 300 bytes BOOTP relays expect; the
 * decoder skips Pad, stops at End and ignores what follows it.
 *
 * Builders for the six messages a MAG exchanges (RFC 2131 table 3 for the
 * server's, table 5 for the client's) put the options each requires in
 * place: dhcpDiscover, dhcpOffer, dhcpRequest, dhcpAck, dhcpNak, dhcpRelease.
 */
import { EncodeError, type Codec, type Reader, type Writer, decode, encode } from '../buffer.js';
import { bool, uint } from '../check.js';
import {
  BOOTP_FIXED_LENGTH, BOOTP_MIN_LENGTH, BROADCAST_FLAG, BootpOp, CHADDR_LENGTH, DhcpOptionCode, FILE_LENGTH,
  HTYPE_ETHERNET, MAGIC_COOKIE, SNAME_LENGTH, type DhcpMessageTypeName,
} from './constants.js';
import { latin1, optionLength, readOption, writeOption, type DhcpOption } from './options.js';

export interface DhcpMessage {
  op: 'request' | 'reply';
  /** Hardware type, 1 for Ethernet. */
  htype: number;
  hops: number;
  xid: number;
  secs: number;
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The client's hardware address, hlen bytes as "aa:bb:cc:dd:ee:ff" ("" when hlen is 0). */
  chaddr: string;
  /** Server host name and boot file name, up to their first NUL. */
  sname: string;
  file: string;
  options: DhcpOption[];
}

const OP_NAMES: Record<number, DhcpMessage['op']> = { [BootpOp.request]: 'request', [BootpOp.reply]: 'reply' };

function macBytes(mac: unknown, field: string): Buffer {
  if (typeof mac !== 'string' || !/^([0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){0,15})?$/.test(mac)) {
    throw new EncodeError(field, mac, 'not 0–16 hex bytes separated by ":"');
  }
  return Buffer.from(mac.replaceAll(':', ''), 'hex');
}

const formatMac = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** A NUL-terminated string field of `size` bytes. */
function writeString(s: string, size: number, w: Writer, field: string): void {
  const b = latin1(s, size, field);
  if (b.includes(0)) throw new EncodeError(field, s, 'contains NUL');
  w.bytes(b).zeros(size - b.length);
}

function readString(r: Reader, size: number, field: string): string {
  const b = r.bytes(size, field);
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? size : nul).toString('latin1');
}

function contentLength(m: DhcpMessage): number {
  const options = Array.isArray(m.options) ? m.options.reduce((n, o) => n + optionLength(o), 0) : 0;
  return BOOTP_FIXED_LENGTH + 4 + options + 1; // + cookie, End
}

const totalLength = (m: DhcpMessage): number => Math.max(BOOTP_MIN_LENGTH, contentLength(m));

export const dhcpMessage: Codec<DhcpMessage> = {
  encodingLength: totalLength,
  write(m, w) {
    const start = w.offset;
    const op = m.op === 'request' ? BootpOp.request : m.op === 'reply' ? BootpOp.reply : undefined;
    if (op === undefined) throw new EncodeError('op', m.op, 'must be "request" or "reply"');
    const chaddr = macBytes(m.chaddr, 'chaddr');
    w.u8(op).u8(uint(m.htype, 8, 'htype')).u8(chaddr.length).u8(uint(m.hops, 8, 'hops'))
      .u32(uint(m.xid, 32, 'xid')).u16(uint(m.secs, 16, 'secs')).u16(bool(m.broadcast, 'broadcast') ? BROADCAST_FLAG : 0)
      .addr4(m.ciaddr, 'ciaddr').addr4(m.yiaddr, 'yiaddr').addr4(m.siaddr, 'siaddr').addr4(m.giaddr, 'giaddr')
      .bytes(chaddr).zeros(CHADDR_LENGTH - chaddr.length);
    writeString(m.sname, SNAME_LENGTH, w, 'sname');
    writeString(m.file, FILE_LENGTH, w, 'file');
    w.u32(MAGIC_COOKIE);
    if (!Array.isArray(m.options)) throw new EncodeError('options', typeof m.options, 'not an array');
    m.options.forEach((o, i) => writeOption(o, w, `options[${i}]`));
    w.u8(DhcpOptionCode.end);
    w.zeros(start + totalLength(m) - w.offset); // Pad up to the BOOTP minimum
  },
  read(r) {
    const opAt = r.offset;
    const opCode = r.u8('op');
    const op = OP_NAMES[opCode] ?? r.fail('op', opCode, 'not BOOTREQUEST (1) or BOOTREPLY (2)', opAt);
    const htype = r.u8('htype');
    const hlen = r.u8('hlen');
    if (hlen > CHADDR_LENGTH) r.fail('hlen', hlen, `more than ${CHADDR_LENGTH}`, r.offset - 1);
    const hops = r.u8('hops');
    const xid = r.u32('xid');
    const secs = r.u16('secs');
    const broadcast = (r.u16('flags') & BROADCAST_FLAG) !== 0; // the other bits MUST be ignored (RFC 2131 §2)
    const ciaddr = r.addr4('ciaddr');
    const yiaddr = r.addr4('yiaddr');
    const siaddr = r.addr4('siaddr');
    const giaddr = r.addr4('giaddr');
    const chaddrField = r.bytes(CHADDR_LENGTH, 'chaddr');
    const sname = readString(r, SNAME_LENGTH, 'sname');
    const file = readString(r, FILE_LENGTH, 'file');
    const cookie = r.u32('magic cookie');
    if (cookie !== MAGIC_COOKIE) r.fail('magic cookie', cookie.toString(16), 'not 63825363: BOOTP without DHCP', r.offset - 4);
    const options: DhcpOption[] = [];
    for (;;) {
      const code = r.u8('option code (no End option)');
      if (code === DhcpOptionCode.end) break;
      if (code === DhcpOptionCode.pad) continue;
      options.push(readOption(code, r));
    }
    r.skip(r.remaining, 'padding after End');
    return {
      op, htype, hops, xid, secs, broadcast, ciaddr, yiaddr, siaddr, giaddr,
      chaddr: formatMac(chaddrField.subarray(0, hlen)), sname, file, options,
    };
  },
};

export const encodeDhcp4 = (m: DhcpMessage): Buffer => encode(dhcpMessage, m);
/** Decodes a UDP port 67/68 payload; throws DecodeError naming the field, offset and value. */
export const decodeDhcp4 = (buf: Buffer): DhcpMessage => decode(dhcpMessage, buf, 'DHCP message');

/** The first option of a kind, typed: dhcpOption(m, 'leaseTime')?.seconds. */
export function dhcpOption<K extends DhcpOption['type']>(m: DhcpMessage, kind: K): Extract<DhcpOption, { type: K }> | undefined {
  return m.options.find((o): o is Extract<DhcpOption, { type: K }> => o.type === kind);
}

/** The message type (option 53), or undefined for plain BOOTP. */
export const dhcpMessageType = (m: DhcpMessage): DhcpMessageTypeName | number | undefined => dhcpOption(m, 'messageType')?.messageType;

/* ---- builders ---- */

const ZERO = '0.0.0.0';

interface Common {
  xid: number;
  /** The client's MAC address. */
  chaddr: string;
  secs?: number;
  broadcast?: boolean;
  giaddr?: string;
}

/** Options a server hands out with an address (OFFER, ACK). */
export interface LeaseParameters {
  serverId: string;
  leaseTime: number;
  subnetMask?: string;
  routers?: string[];
  dns?: string[];
  renewalTime?: number;
  rebindingTime?: number;
}

function base(op: DhcpMessage['op'], c: Common, type: DhcpMessageTypeName, options: (DhcpOption | false | undefined)[]): DhcpMessage {
  return {
    op, htype: HTYPE_ETHERNET, hops: 0, xid: c.xid, secs: c.secs ?? 0, broadcast: c.broadcast ?? false,
    ciaddr: ZERO, yiaddr: ZERO, siaddr: ZERO, giaddr: c.giaddr ?? ZERO, chaddr: c.chaddr, sname: '', file: '',
    options: [{ type: 'messageType', messageType: type }, ...options.filter((o): o is DhcpOption => !!o)],
  };
}

function leaseOptions(p: LeaseParameters): (DhcpOption | undefined)[] {
  return [
    { type: 'serverId', address: p.serverId },
    { type: 'leaseTime', seconds: p.leaseTime },
    p.renewalTime === undefined ? undefined : { type: 'renewalTime', seconds: p.renewalTime },
    p.rebindingTime === undefined ? undefined : { type: 'rebindingTime', seconds: p.rebindingTime },
    p.subnetMask === undefined ? undefined : { type: 'subnetMask', mask: p.subnetMask },
    p.routers?.length ? { type: 'router', addresses: p.routers } : undefined,
    p.dns?.length ? { type: 'dns', addresses: p.dns } : undefined,
  ];
}

interface ClientOptions {
  hostname?: string;
  clientId?: { idType: number; id: Buffer };
  parameterRequestList?: number[];
}

function clientOptions(o: ClientOptions): (DhcpOption | undefined)[] {
  return [
    o.clientId && { type: 'clientId', ...o.clientId },
    o.hostname === undefined ? undefined : { type: 'hostname', hostname: o.hostname },
    o.parameterRequestList?.length ? { type: 'parameterRequestList', codes: o.parameterRequestList } : undefined,
  ];
}

/** Client → server broadcast looking for servers (RFC 2131 §4.4.1). */
export function dhcpDiscover(c: Common & ClientOptions & { requestedIp?: string }): DhcpMessage {
  return base('request', c, 'DISCOVER', [
    c.requestedIp !== undefined && { type: 'requestedIp', address: c.requestedIp }, ...clientOptions(c),
  ]);
}

/** Server → client: an address on offer (RFC 2131 §4.3.1; table 3). */
export function dhcpOffer(c: Common & LeaseParameters & { yiaddr: string; siaddr?: string }): DhcpMessage {
  return { ...base('reply', c, 'OFFER', leaseOptions(c)), yiaddr: c.yiaddr, siaddr: c.siaddr ?? ZERO };
}

/**
 * Client → server: SELECTING names the server and the address offered;
 * INIT-REBOOT names only the address; RENEWING/REBINDING fill ciaddr and
 * name neither (RFC 2131 §4.3.2).
 */
export function dhcpRequest(c: Common & ClientOptions & { requestedIp?: string; serverId?: string; ciaddr?: string }): DhcpMessage {
  return {
    ...base('request', c, 'REQUEST', [
      c.requestedIp !== undefined && { type: 'requestedIp', address: c.requestedIp },
      c.serverId !== undefined && { type: 'serverId', address: c.serverId },
      ...clientOptions(c),
    ]),
    ciaddr: c.ciaddr ?? ZERO,
  };
}

/** Server → client: the lease is granted (RFC 2131 §4.3.1; ciaddr echoed for RENEWING/INFORM). */
export function dhcpAck(c: Common & LeaseParameters & { yiaddr: string; ciaddr?: string; siaddr?: string }): DhcpMessage {
  return { ...base('reply', c, 'ACK', leaseOptions(c)), yiaddr: c.yiaddr, ciaddr: c.ciaddr ?? ZERO, siaddr: c.siaddr ?? ZERO };
}

/** Server → client: the requested address is wrong for this link or lease (RFC 2131 §4.3.2). */
export function dhcpNak(c: Common & { serverId: string; message?: string }): DhcpMessage {
  return base('reply', c, 'NAK', [
    { type: 'serverId', address: c.serverId },
    // option 56 "Message" (RFC 2132 §9.9), human-readable; not one of the typed options
    c.message !== undefined && { type: 'unknown', code: 56, data: latin1(c.message, 255, 'message', 1) },
  ]);
}

/** Client → server: give the address back (RFC 2131 §4.4.6; ciaddr set, server named). */
export function dhcpRelease(c: Common & ClientOptions & { ciaddr: string; serverId: string }): DhcpMessage {
  return {
    ...base('request', c, 'RELEASE', [{ type: 'serverId', address: c.serverId }, c.clientId && { type: 'clientId', ...c.clientId }]),
    ciaddr: c.ciaddr,
  };
}
