/**
 * DHCPv4: the six messages a MAG exchanges, byte for byte against scapy's
 * BOOTP/DHCP, decoded from scapy's bytes, dissected by tshark ("dhcp"),
 * errors naming the field, fast-check round trips and fuzzing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import {
  BOOTP_MIN_LENGTH, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpOptionCode, decodeDhcp4, dhcpAck, dhcpDiscover, dhcpMessageType,
  dhcpNak, dhcpOffer, dhcpOption, dhcpRelease, dhcpRequest, encodeDhcp4, type DhcpMessage, type DhcpOption,
} from '../../control/wire/dhcp4/index.js';
import { corrupt } from '../helpers/corrupt.js';
import { udp4Frame } from '../helpers/ipv4-frame.js';
import { scapy } from '../helpers/scapy.js';
import { field, tshark, type TsharkLayers } from '../helpers/tshark.js';

const MAC = '02:00:5e:10:00:01';
const MAC_HEX = MAC.replaceAll(':', '');
const CLIENT_ID = { idType: 1, id: Buffer.from(MAC_HEX, 'hex') };
const lease = {
  serverId: '10.1.0.1', leaseTime: 3600, renewalTime: 1800, rebindingTime: 3150,
  subnetMask: '255.255.255.0', routers: ['10.1.0.1'], dns: ['10.1.0.53', '10.1.0.54'],
};

const messages = {
  discover: dhcpDiscover({ xid: 0x3903f326, chaddr: MAC, broadcast: true, clientId: CLIENT_ID, hostname: 'host1', parameterRequestList: [1, 3, 6, 15, 51, 58, 59] }),
  offer: dhcpOffer({ xid: 0x3903f326, chaddr: MAC, broadcast: true, yiaddr: '10.1.0.5', ...lease }),
  request: dhcpRequest({ xid: 0x3903f326, chaddr: MAC, secs: 3, requestedIp: '10.1.0.5', serverId: '10.1.0.1', clientId: CLIENT_ID, hostname: 'host1', parameterRequestList: [1, 3, 6] }),
  ack: dhcpAck({ xid: 0x3903f326, chaddr: MAC, yiaddr: '10.1.0.5', giaddr: '10.1.0.254', ...lease }),
  nak: dhcpNak({ xid: 0x3903f326, chaddr: MAC, broadcast: true, serverId: '10.1.0.1', message: 'wrong link' }),
  release: dhcpRelease({ xid: 0x11223344, chaddr: MAC, ciaddr: '10.1.0.5', serverId: '10.1.0.1', clientId: CLIENT_ID }),
};
type Kind = keyof typeof messages;

const cid = `b'\\x01' + bytes.fromhex('${MAC_HEX}')`;
const leaseOpts = `('server_id', '10.1.0.1'), ('lease_time', 3600), ('renewal_time', 1800), ('rebinding_time', 3150), ('subnet_mask', '255.255.255.0'), ('router', '10.1.0.1'), ('name_server', '10.1.0.53', '10.1.0.54')`;
const chaddr = `chaddr=bytes.fromhex('${MAC_HEX}')`;
// the same messages written with scapy's BOOTP/DHCP layers
const fromScapy = scapy<Kind>({
  discover: `BOOTP(op=1, xid=0x3903f326, flags=0x8000, ${chaddr})/DHCP(options=[('message-type', 'discover'), ('client_id', ${cid}), ('hostname', b'host1'), ('param_req_list', [1, 3, 6, 15, 51, 58, 59]), 'end'])`,
  offer: `BOOTP(op=2, xid=0x3903f326, flags=0x8000, yiaddr='10.1.0.5', ${chaddr})/DHCP(options=[('message-type', 'offer'), ${leaseOpts}, 'end'])`,
  request: `BOOTP(op=1, xid=0x3903f326, secs=3, ${chaddr})/DHCP(options=[('message-type', 'request'), ('requested_addr', '10.1.0.5'), ('server_id', '10.1.0.1'), ('client_id', ${cid}), ('hostname', b'host1'), ('param_req_list', [1, 3, 6]), 'end'])`,
  ack: `BOOTP(op=2, xid=0x3903f326, yiaddr='10.1.0.5', giaddr='10.1.0.254', ${chaddr})/DHCP(options=[('message-type', 'ack'), ${leaseOpts}, 'end'])`,
  nak: `BOOTP(op=2, xid=0x3903f326, flags=0x8000, ${chaddr})/DHCP(options=[('message-type', 'nak'), ('server_id', '10.1.0.1'), ('error_message', b'wrong link'), 'end'])`,
  release: `BOOTP(op=1, xid=0x11223344, ciaddr='10.1.0.5', ${chaddr})/DHCP(options=[('message-type', 'release'), ('server_id', '10.1.0.1'), ('client_id', ${cid}), 'end'])`,
});

const KINDS = Object.keys(messages) as Kind[];

describe('DHCPv4: the six messages against scapy', () => {
  it.each(KINDS)('%s: our bytes are scapy\'s, padded with zeros to the 300-byte BOOTP minimum', (kind) => {
    const ours = encodeDhcp4(messages[kind]);
    const theirs = fromScapy[kind];
    expect(ours.length).toBe(Math.max(BOOTP_MIN_LENGTH, theirs.length));
    expect(ours.subarray(0, theirs.length).toString('hex')).toBe(theirs.toString('hex'));
    expect(ours.subarray(theirs.length).every((b) => b === 0)).toBe(true);
  });

  it.each(KINDS)('%s: scapy\'s bytes decode to the message our builder makes', (kind) => {
    expect(decodeDhcp4(fromScapy[kind])).toEqual(messages[kind]);
  });

  it('exposes typed options and the message type', () => {
    const offer = decodeDhcp4(fromScapy.offer);
    expect(dhcpMessageType(offer)).toBe('OFFER');
    expect(dhcpOption(offer, 'leaseTime')?.seconds).toBe(3600);
    expect(dhcpOption(offer, 'dns')?.addresses).toEqual(['10.1.0.53', '10.1.0.54']);
    expect(dhcpOption(offer, 'requestedIp')).toBeUndefined();
    const nak = decodeDhcp4(fromScapy.nak);
    expect(dhcpOption(nak, 'unknown')).toEqual({ type: 'unknown', code: 56, data: Buffer.from('wrong link') });
  });
});

describe('DHCPv4: tshark dissects our encodings', () => {
  const layers = Object.fromEntries(tshark(KINDS.map((k) => {
    const server = messages[k].op === 'reply';
    return udp4Frame(server ? '10.1.0.1' : '0.0.0.0', '255.255.255.255', server ? DHCP_SERVER_PORT : DHCP_CLIENT_PORT, server ? DHCP_CLIENT_PORT : DHCP_SERVER_PORT, encodeDhcp4(messages[k]));
  })).map((l, i) => [KINDS[i], l])) as Record<Kind, TsharkLayers>;
  const one = (k: Kind, f: string): string | undefined => field(layers[k], f)[0];
  // tshark lists the trailing zero padding as one more option "0"
  const codes = (k: Kind): string[] => field(layers[k], 'dhcp.option.type').filter((c) => c !== '0');

  it('sees the BOOTP header of each: op, hardware type and length, xid, flags, addresses, MAC, cookie', () => {
    expect(KINDS.map((k) => one(k, 'dhcp.type'))).toEqual(['1', '2', '1', '2', '2', '1']);
    expect(KINDS.map((k) => one(k, 'dhcp.option.dhcp'))).toEqual(['1', '2', '3', '5', '6', '7']);
    expect(KINDS.map((k) => one(k, 'dhcp.flags.bc'))).toEqual(['1', '1', '0', '0', '1', '0']);
    expect(KINDS.map((k) => one(k, 'dhcp.id'))).toEqual([...Array(5).fill('0x3903f326'), '0x11223344']);
    expect(KINDS.map((k) => one(k, 'dhcp.option.end'))).toEqual(Array(6).fill('255'));
    for (const k of KINDS) {
      expect([one(k, 'dhcp.hw.type'), one(k, 'dhcp.hw.len'), one(k, 'dhcp.hw.mac_addr'), one(k, 'dhcp.cookie')]).toEqual(['0x01', '6', MAC, '99.130.83.99']);
    }
    expect(one('request', 'dhcp.secs')).toBe('3');
    expect(['offer', 'ack', 'release'].map((k) => [one(k as Kind, 'dhcp.ip.your'), one(k as Kind, 'dhcp.ip.client'), one(k as Kind, 'dhcp.ip.relay')])).toEqual([
      ['10.1.0.5', '0.0.0.0', '0.0.0.0'], ['10.1.0.5', '0.0.0.0', '10.1.0.254'], ['0.0.0.0', '10.1.0.5', '0.0.0.0'],
    ]);
  });

  it('sees the options of each, in order, with their values', () => {
    expect(codes('discover')).toEqual(['53', '61', '12', '55']);
    expect(field(layers.discover, 'dhcp.option.request_list_item')).toEqual(['1', '3', '6', '15', '51', '58', '59']);
    expect(one('discover', 'dhcp.option.hostname')).toBe('host1');
    expect(codes('offer')).toEqual(['53', '54', '51', '58', '59', '1', '3', '6']);
    expect(codes('ack')).toEqual(codes('offer'));
    for (const k of ['offer', 'ack'] as Kind[]) {
      expect([
        one(k, 'dhcp.option.dhcp_server_id'), one(k, 'dhcp.option.ip_address_lease_time'), one(k, 'dhcp.option.renewal_time_value'),
        one(k, 'dhcp.option.rebinding_time_value'), one(k, 'dhcp.option.subnet_mask'), one(k, 'dhcp.option.router'),
      ]).toEqual(['10.1.0.1', '3600', '1800', '3150', '255.255.255.0', '10.1.0.1']);
      expect(field(layers[k], 'dhcp.option.domain_name_server')).toEqual(['10.1.0.53', '10.1.0.54']);
    }
    expect(codes('request')).toEqual(['53', '50', '54', '61', '12', '55']);
    expect(one('request', 'dhcp.option.requested_ip_address')).toBe('10.1.0.5');
    expect(codes('nak')).toEqual(['53', '54', '56']);
    expect(one('nak', 'dhcp.option.message')).toBe('wrong link');
    expect(codes('release')).toEqual(['53', '54', '61']);
  });
});

describe('DHCPv4: errors', () => {
  const ack = encodeDhcp4(messages.ack);
  const withOptions = (opts: string): Buffer => Buffer.concat([ack.subarray(0, 240), Buffer.from(`${opts}ff`, 'hex')]);
  const patched = (at: number, v: number): Buffer => { const b = Buffer.from(ack); b[at] = v; return b; };

  it.each([
    ['a truncated header', ack.subarray(0, 40), 'chaddr'],
    ['op 3', patched(0, 3), 'op'],
    ['hlen 17', patched(2, 17), 'hlen'],
    ['a BOOTP message without the magic cookie', patched(236, 0), 'magic cookie'],
    ['options without End', ack.subarray(0, 243), 'option code (no End option)'],
    ['a subnet mask of 3 bytes', withOptions('0103ffffff'), 'subnet mask option length'],
    ['a router list of 6 bytes', withOptions('0306' + '0a0100010a01'), 'router option length'],
    ['a message type of 2 bytes', withOptions('35020101'), 'message type option length'],
    ['a client identifier of 1 byte', withOptions('3d0101'), 'client identifier length'],
    ['an empty hostname', withOptions('0c00'), 'hostname option length'],
    ['an empty parameter request list', withOptions('3700'), 'parameter request list length'],
    ['option overload', withOptions('340103'), 'option overload'],
    ['an option running past the end', ack.subarray(0, 252), 'option 51 value'],
  ])('refuses %s with a DecodeError naming the field', (_name, buf, fieldName) => {
    expect(() => decodeDhcp4(buf)).toThrow(DecodeError);
    try {
      decodeDhcp4(buf);
    } catch (e) {
      expect((e as DecodeError).field).toBe(fieldName);
    }
  });

  it('skips Pad options and ignores what follows End', () => {
    const b = Buffer.concat([ack.subarray(0, 240), Buffer.from('0000350105' + '00ff' + '0c05686f7374', 'hex')]);
    expect(decodeDhcp4(b).options).toEqual([{ type: 'messageType', messageType: 'ACK' }]);
  });

  it('reports unknown options and message types by number', () => {
    const b = withOptions('35010d' + 'fa03010203');
    expect(decodeDhcp4(b).options).toEqual([{ type: 'messageType', messageType: 13 }, { type: 'unknown', code: 250, data: Buffer.from([1, 2, 3]) }]);
  });

  const m = messages.offer;
  it.each([
    ['a malformed chaddr', { ...m, chaddr: '02:00:5e' + ':00'.repeat(14) }, 'chaddr'],
    ['an sname of 65 bytes', { ...m, sname: 'x'.repeat(65) }, 'sname'],
    ['a file name with a NUL', { ...m, file: 'a\0b' }, 'file'],
    ['an xid over 32 bits', { ...m, xid: 2 ** 32 }, 'xid'],
    ['64 DNS servers (256 bytes)', { ...m, options: [{ type: 'dns', addresses: Array(64).fill('10.0.0.1') }] }, 'options[0]'],
    ['an empty router list', { ...m, options: [{ type: 'router', addresses: [] }] }, 'options[0].addresses'],
    ['a hostname outside latin1', { ...m, options: [{ type: 'hostname', hostname: 'hôst€' }] }, 'options[0].hostname'],
    ['an "unknown" lease time', { ...m, options: [{ type: 'unknown', code: 51, data: Buffer.alloc(4) }] }, 'options[0].code'],
    ['option overload', { ...m, options: [{ type: 'unknown', code: 52, data: Buffer.from([1]) }] }, 'options[0].code'],
    ['an unknown message type name', { ...m, options: [{ type: 'messageType', messageType: 'HELLO' as 'ACK' }] }, 'options[0].messageType'],
  ] as [string, DhcpMessage, string][])('refuses to encode %s with an EncodeError naming the field', (_name, msg, fieldName) => {
    expect(() => encodeDhcp4(msg)).toThrow(EncodeError);
    try {
      encodeDhcp4(msg);
    } catch (e) {
      expect((e as EncodeError).field).toBe(fieldName);
    }
  });
});

/* ---- properties ---- */

const addr = fc.ipV4();
const addrs = fc.array(addr, { minLength: 1, maxLength: 63 });
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const latin1 = (min: number, max: number) => fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });
const known = new Set<number>([...Object.values(DhcpOptionCode), 52]);

const option: fc.Arbitrary<DhcpOption> = fc.oneof(
  fc.record({ type: fc.constant('messageType' as const), messageType: fc.oneof(fc.constantFrom('DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM' as const), fc.integer({ min: 9, max: 255 })) }),
  fc.record({ type: fc.constant('subnetMask' as const), mask: addr }),
  fc.record({ type: fc.constantFrom('router' as const, 'dns' as const), addresses: addrs }),
  fc.record({ type: fc.constant('hostname' as const), hostname: latin1(1, 255) }),
  fc.record({ type: fc.constantFrom('requestedIp' as const, 'serverId' as const), address: addr }),
  fc.record({ type: fc.constantFrom('leaseTime' as const, 'renewalTime' as const, 'rebindingTime' as const), seconds: u32 }),
  fc.record({ type: fc.constant('parameterRequestList' as const), codes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 255 }) }),
  fc.record({ type: fc.constant('clientId' as const), idType: fc.integer({ min: 0, max: 255 }), id: fc.uint8Array({ minLength: 1, maxLength: 254 }).map((b) => Buffer.from(b)) }),
  fc.record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 1, max: 254 }).filter((c) => !known.has(c)), data: fc.uint8Array({ maxLength: 255 }).map((b) => Buffer.from(b)) }),
);

const noNul = (max: number) => latin1(0, max).filter((s) => !s.includes('\0'));
const message: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom('request' as const, 'reply' as const),
  htype: fc.integer({ min: 0, max: 255 }),
  hops: fc.integer({ min: 0, max: 255 }),
  xid: u32,
  secs: fc.integer({ min: 0, max: 0xffff }),
  broadcast: fc.boolean(),
  ciaddr: addr, yiaddr: addr, siaddr: addr, giaddr: addr,
  chaddr: fc.uint8Array({ maxLength: 16 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')),
  sname: noNul(64),
  file: noNul(128),
  options: fc.array(option, { maxLength: 8 }),
});

describe('DHCPv4: properties', () => {
  it('decode(encode(m)) equals m for every option kind', () => {
    fc.assert(fc.property(message, (m) => {
      expect(decodeDhcp4(encodeDhcp4(m))).toEqual(m);
    }), { numRuns: 1000 });
  });

  const onlyDecodeErrors = (b: Buffer): void => {
    try {
      decodeDhcp4(b);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  };

  it('random and mutated bytes only ever throw DecodeError, quickly', () => {
    const t0 = performance.now();
    const header = encodeDhcp4(messages.discover).subarray(0, 240);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlyDecodeErrors(Buffer.from(b))), { numRuns: 3000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => onlyDecodeErrors(Buffer.concat([header, b]))), { numRuns: 5000 });
    fc.assert(fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (m, flips, cut) => {
      const b = Buffer.from(encodeDhcp4(m));
      for (const [i, v] of flips) b[236 + (i % (b.length - 236))] = v; // the cookie and options, where the structure is
      onlyDecodeErrors(b.subarray(0, b.length - (cut % 8)));
    }), { numRuns: 3000 });
    expect(performance.now() - t0).toBeLessThan(8000);
  });
});

describe('DHCPv4: encoder input', () => {
  it('any field replaced by junk gives an EncodeError (or a valid encoding), never another error', () => {
    fc.assert(fc.property(message, fc.anything({ withBigInt: true, withNullPrototype: true }), fc.nat(), (m, junk, pick) => {
      try {
        decodeDhcp4(encodeDhcp4(corrupt(m, junk, pick)));
      } catch (e) {
        if (!(e instanceof EncodeError)) throw e;
      }
    }), { numRuns: 3000 });
  });
});
