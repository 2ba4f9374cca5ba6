/**
 * DHCPv4 options (RFC 2132): the ones a MAG serving unmodified hosts reads
 * or writes get a typed form; any other is reported as { code, data }. Pad
 * (0) is skipped and End (255) closes the list, so neither appears in the
 * decoded list. Option Overload (52) is refused: options hidden in sname and
 * file are not supported. A repeated option is reported once per occurrence
 * (RFC 3396 concatenation is left to the caller).
 */
import { EncodeError, type Reader, type Writer } from '../buffer.js';
import { bytes, uint } from '../check.js';
import { DhcpMessageType, DhcpOptionCode, type DhcpMessageTypeName } from './constants.js';

export type DhcpOption =
  | { type: 'messageType'; messageType: DhcpMessageTypeName | number }
  | { type: 'subnetMask'; mask: string }
  | { type: 'router'; addresses: string[] }
  | { type: 'dns'; addresses: string[] }
  | { type: 'hostname'; hostname: string }
  | { type: 'requestedIp'; address: string }
  | { type: 'leaseTime'; seconds: number }
  | { type: 'serverId'; address: string }
  | { type: 'parameterRequestList'; codes: number[] }
  | { type: 'renewalTime'; seconds: number }
  | { type: 'rebindingTime'; seconds: number }
  /** idType 1 = Ethernet (id is the MAC), 0 = opaque, 255 = RFC 4361 IAID + DUID. */
  | { type: 'clientId'; idType: number; id: Buffer }
  | { type: 'unknown'; code: number; data: Buffer };

export type DhcpOptionType = DhcpOption['type'];

const TYPE_NAMES = Object.fromEntries(Object.entries(DhcpMessageType).map(([k, v]) => [v, k])) as Record<number, DhcpMessageTypeName>;

/** Bytes of the option's value (after code and length). */
function valueLength(o: DhcpOption): number {
  // tolerant of malformed input (writeOption then refuses it, naming the field)
  const size = (v: unknown): number => (Buffer.isBuffer(v) || Array.isArray(v) || typeof v === 'string' ? v.length : 0);
  switch (o?.type) {
    case 'messageType': return 1;
    case 'subnetMask': case 'requestedIp': case 'serverId': return 4;
    case 'router': case 'dns': return 4 * size(o.addresses);
    case 'hostname': return size(o.hostname); // latin1: one byte a character
    case 'leaseTime': case 'renewalTime': case 'rebindingTime': return 4;
    case 'parameterRequestList': return size(o.codes);
    case 'clientId': return 1 + size(o.id);
    case 'unknown': return size(o.data);
    default: return 0;
  }
}

export const optionLength = (o: DhcpOption): number => 2 + valueLength(o);

/** A string whose characters are each one byte (latin1), as hostnames and BOOTP strings are sent. */
export function latin1(v: unknown, max: number, field: string, min = 0): Buffer {
  if (typeof v !== 'string') throw new EncodeError(field, v, 'not a string');
  if (!/^[\x00-\xff]*$/.test(v)) throw new EncodeError(field, v, 'has characters outside latin1');
  if (v.length < min || v.length > max) throw new EncodeError(field, v.length, `length must be ${min}..${max}`);
  return Buffer.from(v, 'latin1');
}

export function writeOption(o: DhcpOption, w: Writer, field: string): void {
  if (!o || !(o.type === 'unknown' || (typeof o.type === 'string' && Object.hasOwn(DhcpOptionCode, o.type)))) throw new EncodeError(`${field}.type`, (o as { type?: unknown } | null)?.type, 'unknown option kind');
  const code = o.type === 'unknown' ? uint(o.code, 8, `${field}.code`) : DhcpOptionCode[o.type];
  if (o.type === 'unknown' && (KNOWN_CODES.has(code) || code === DhcpOptionCode.overload)) {
    throw new EncodeError(`${field}.code`, code, 'a known or unsupported option code: use its own form');
  }
  const len = valueLength(o);
  if (len > 255) throw new EncodeError(field, len, 'value longer than 255 bytes');
  w.u8(code).u8(len);
  switch (o.type) {
    case 'messageType': {
      const v = typeof o.messageType === 'string' ? DhcpMessageType[o.messageType] : o.messageType;
      if (v === undefined) throw new EncodeError(`${field}.messageType`, o.messageType, 'unknown message type');
      w.u8(uint(v, 8, `${field}.messageType`));
      return;
    }
    case 'subnetMask': w.addr4(o.mask, `${field}.mask`); return;
    case 'requestedIp': case 'serverId': w.addr4(o.address, `${field}.address`); return;
    case 'router': case 'dns':
      if (!Array.isArray(o.addresses) || o.addresses.length === 0) throw new EncodeError(`${field}.addresses`, o.addresses, 'at least one address');
      o.addresses.forEach((a, i) => w.addr4(a, `${field}.addresses[${i}]`));
      return;
    case 'hostname': w.bytes(latin1(o.hostname, 255, `${field}.hostname`, 1)); return;
    case 'leaseTime': case 'renewalTime': case 'rebindingTime': w.u32(uint(o.seconds, 32, `${field}.seconds`)); return;
    case 'parameterRequestList':
      if (!Array.isArray(o.codes) || o.codes.length === 0) throw new EncodeError(`${field}.codes`, o.codes, 'at least one code');
      o.codes.forEach((c, i) => w.u8(uint(c, 8, `${field}.codes[${i}]`)));
      return;
    case 'clientId':
      w.u8(uint(o.idType, 8, `${field}.idType`)).bytes(bytes(o.id, 254, `${field}.id`, 1));
      return;
    case 'unknown': w.bytes(bytes(o.data, 255, `${field}.data`)); return;
    default: throw new EncodeError(`${field}.type`, (o as { type?: unknown } | null)?.type, 'unknown option kind');
  }
}

const KNOWN_CODES = new Set<number>(Object.values(DhcpOptionCode));

/** Reads one option (after Pad and End were handled by the caller); `code` is already read. */
export function readOption(code: number, r: Reader): DhcpOption {
  const at = r.offset - 1;
  const len = r.u8(`option ${code} length`);
  const v = r.sub(len, `option ${code} value`);
  const exactly = (n: number, name: string): void => {
    if (len !== n) v.fail(`${name} option length`, len, `must be ${n}`, at + 1);
  };
  const addresses = (name: string): string[] => {
    if (len === 0 || len % 4 !== 0) v.fail(`${name} option length`, len, 'must be a non-zero multiple of 4', at + 1);
    const list: string[] = [];
    while (v.remaining > 0) list.push(v.addr4(`${name} ${list.length}`));
    return list;
  };
  switch (code) {
    case DhcpOptionCode.messageType: {
      exactly(1, 'message type');
      const n = v.u8('message type');
      return { type: 'messageType', messageType: TYPE_NAMES[n] ?? n };
    }
    case DhcpOptionCode.subnetMask: exactly(4, 'subnet mask'); return { type: 'subnetMask', mask: v.addr4('subnet mask') };
    case DhcpOptionCode.requestedIp: exactly(4, 'requested IP'); return { type: 'requestedIp', address: v.addr4('requested IP') };
    case DhcpOptionCode.serverId: exactly(4, 'server identifier'); return { type: 'serverId', address: v.addr4('server identifier') };
    case DhcpOptionCode.router: return { type: 'router', addresses: addresses('router') };
    case DhcpOptionCode.dns: return { type: 'dns', addresses: addresses('DNS server') };
    case DhcpOptionCode.hostname:
      if (len === 0) v.fail('hostname option length', len, 'must be at least 1', at + 1);
      return { type: 'hostname', hostname: v.bytes(len, 'hostname').toString('latin1') };
    case DhcpOptionCode.leaseTime: exactly(4, 'lease time'); return { type: 'leaseTime', seconds: v.u32('lease time') };
    case DhcpOptionCode.renewalTime: exactly(4, 'renewal time'); return { type: 'renewalTime', seconds: v.u32('renewal time') };
    case DhcpOptionCode.rebindingTime: exactly(4, 'rebinding time'); return { type: 'rebindingTime', seconds: v.u32('rebinding time') };
    case DhcpOptionCode.parameterRequestList: {
      if (len === 0) v.fail('parameter request list length', len, 'must be at least 1', at + 1);
      return { type: 'parameterRequestList', codes: [...v.bytes(len, 'parameter request list')] };
    }
    case DhcpOptionCode.clientId: {
      if (len < 2) v.fail('client identifier length', len, 'must be at least 2', at + 1);
      return { type: 'clientId', idType: v.u8('client identifier type'), id: v.bytes(len - 1, 'client identifier') };
    }
    case DhcpOptionCode.overload:
      return v.fail('option overload', v.remaining > 0 ? v.buf[v.offset] : undefined, 'options in sname/file are not supported', at);
    default:
      return { type: 'unknown', code, data: v.bytes(len, `option ${code} value`) };
  }
}
