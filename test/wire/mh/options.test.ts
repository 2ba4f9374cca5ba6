/**
 * Mobility options: the bytes of each option as its RFC draws it, the
 * alignment each defining document asks for, Pad1/PadN, unknown options
 * reported, and lengths checked on decode with errors naming option and field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError } from '../../../control/wire/buffer.js';
import {
  OptionType,
  decodeMobilityHeader,
  encodeMobilityHeader,
  optionAlignment,
  optionLocations,
  type MobilityOption,
} from '../../../control/wire/mh/index.js';
import { message, option, optionArbs } from './arbitraries.js';

/** A Binding Refresh Request (options from octet 8) carrying `options`. */
const brr = (...options: MobilityOption[]) => ({ type: 'bindingRefreshRequest' as const, checksum: 0, options });
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * Each option, the octets the RFC layout gives for it (type, length, data),
 * and the alignment xn+y its defining document states.
 */
const vectors: [string, MobilityOption, string, [number, number]][] = [
  ['Binding Refresh Advice (RFC 6275 6.2.4, 4 s units)', { type: 'bindingRefreshAdvice', refreshInterval: 400 }, '02 02 0064', [2, 0]],
  ['Alternate CoA (RFC 6275 6.2.5)', { type: 'alternateCareOfAddress', address: '2001:db8::1' }, '03 10 20010db8000000000000000000000001', [8, 6]],
  ['Nonce Indices (RFC 6275 6.2.6)', { type: 'nonceIndices', homeNonceIndex: 1, careOfNonceIndex: 0x0203 }, '04 04 0001 0203', [2, 0]],
  ['Binding Authorization Data (RFC 6275 6.2.7)', { type: 'bindingAuthorizationData', authenticator: Buffer.alloc(12, 0xaa) }, `05 0c ${'aa'.repeat(12)}`, [8, 2]],
  ['Mobile Network Prefix (RFC 3963 6.2)', { type: 'mobileNetworkPrefix', prefixLength: 48, prefix: '2001:db8:1::' }, '06 12 00 30 20010db8000100000000000000000000', [8, 4]],
  ['MN Identifier, NAI (RFC 4283)', { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn@x' }, '08 05 01 6d6e4078', [1, 0]],
  ['MN Identifier, other subtype (RFC 4283)', { type: 'mobileNodeIdentifier', subtype: 3, identifier: hex('0102') }, '08 03 03 0102', [1, 0]],
  ['Mobility Message Authentication (RFC 4285 5)', { type: 'mobilityMessageAuthentication', subtype: 1, spi: 0x100, authenticator: Buffer.alloc(12, 0xbb) }, `09 11 01 00000100 ${'bb'.repeat(12)}`, [4, 1]],
  ['Replay Protection (RFC 4285 6)', { type: 'replayProtection', timestamp: 0x0102030405060708n }, '0a 08 0102030405060708', [8, 2]],
  ['Home Network Prefix (RFC 5213 8.3)', { type: 'homeNetworkPrefix', prefixLength: 64, prefix: '2001:db8:5::' }, '16 12 00 40 20010db8000500000000000000000000', [8, 4]],
  ['Handoff Indicator (RFC 5213 8.4)', { type: 'handoffIndicator', indicator: 4 }, '17 02 00 04', [1, 0]],
  ['Access Technology Type (RFC 5213 8.5)', { type: 'accessTechnologyType', att: 3 }, '18 02 00 03', [1, 0]],
  ['MN Link-layer Identifier (RFC 5213 8.6)', { type: 'mnLinkLayerIdentifier', identifier: hex('001122334455') }, '19 08 0000 001122334455', [8, 4]],
  ['Link-local Address (RFC 5213 8.7)', { type: 'linkLocalAddress', address: 'fe80::1' }, '1a 10 fe800000000000000000000000000001', [8, 6]],
  ['Timestamp (RFC 5213 8.8)', { type: 'timestamp', timestamp: 0x0000659bfe000000n }, '1b 08 0000659bfe000000', [8, 2]],
  ['IPv4 Home Address (RFC 5555 3.1.1)', { type: 'ipv4HomeAddress', prefixLength: 24, p: true, address: '10.0.0.1' }, '1d 06 6200 0a000001', [4, 0]],
  ['IPv4 Address Acknowledgement (RFC 5555 3.2.1)', { type: 'ipv4AddressAcknowledgement', status: 130, prefixLength: 24, address: '10.1.2.3' }, '1e 06 82 60 0a010203', [4, 0]],
  ['NAT Detection (RFC 5555 3.2.2)', { type: 'natDetection', f: true, refreshTime: 110 }, '1f 06 8000 0000006e', [4, 0]],
  ['IPv4 Care-of Address (RFC 5555 3.1.2)', { type: 'ipv4CareOfAddress', address: '192.0.2.1' }, '20 06 0000 c0000201', [4, 0]],
  ['GRE Key (RFC 5845 6.1)', { type: 'greKey', key: 77 }, '21 06 0000 0000004d', [4, 2]],
  ['GRE Key without a key (RFC 5845 6.1)', { type: 'greKey', key: null }, '21 02 0000', [4, 2]],
  ['IPv4 Home Address Request (RFC 5844 3.3.1)', { type: 'ipv4HomeAddressRequest', prefixLength: 24, address: '10.1.2.4' }, '24 06 6000 0a010204', [4, 0]],
  ['IPv4 Home Address Reply (RFC 5844 3.3.2)', { type: 'ipv4HomeAddressReply', status: 129, prefixLength: 16, address: '10.1.2.5' }, '25 06 81 40 0a010205', [4, 0]],
  ['IPv4 Default-Router Address (RFC 5844 3.3.3)', { type: 'ipv4DefaultRouterAddress', address: '10.1.2.254' }, '26 06 0000 0a0102fe', [4, 0]],
  ['IPv4 DHCP Support Mode (RFC 5844 3.3.4)', { type: 'ipv4DhcpSupportMode', s: true }, '27 02 0001', [1, 0]],
  ['an unknown option', { type: 'unknown', code: 200, data: Buffer.from('abc') }, 'c8 03 616263', [1, 0]],
];

describe('mobility options', () => {
  it('the vectors cover every option type', () => {
    expect(new Set(vectors.map(([, o]) => o.type))).toEqual(new Set(Object.keys(optionArbs)));
  });

  it.each(vectors)('%s: octets, alignment and decode', (_name, o, bytes, [x, y]) => {
    expect(optionAlignment(o)).toEqual([x, y]);
    // at every starting offset the option lands on its alignment, with the same octets
    for (const before of [[], [{ type: 'handoffIndicator', indicator: 1 }], [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: 'ab' }]] as MobilityOption[][]) {
      const mh = encodeMobilityHeader(brr(...before, o));
      expect(mh.length % 8).toBe(0);
      const loc = optionLocations(mh).at(-1)!;
      expect(loc.code).toBe(hex(bytes)[0]);
      expect((loc.offset - y) % x).toBe(0);
      expect(mh.subarray(loc.offset, loc.offset + loc.length).toString('hex')).toBe(hex(bytes).toString('hex'));
      expect(decodeMobilityHeader(mh)).toEqual(brr(...before, o));
    }
  });

  it('Pad1 and PadN are consumed wherever they stand, whatever PadN holds', () => {
    // BRR, options at 8: Pad1, HI, PadN(3 octets of junk), ATT, PadN(0)
    const mh = hex('3b 02 00 00 0000 0000' + '00 17020004 0103ffeedd 18020003 0100');
    expect(decodeMobilityHeader(mh)).toEqual(brr({ type: 'handoffIndicator', indicator: 4 }, { type: 'accessTechnologyType', att: 3 }));
  });

  it('an unknown option is reported in place and the options after it still decode', () => {
    const mh = hex('3b 01 00 00 0000 0000' + 'fe 01 aa 17020005 00');
    expect(decodeMobilityHeader(mh)).toEqual(
      brr({ type: 'unknown', code: 0xfe, data: hex('aa') }, { type: 'handoffIndicator', indicator: 5 }),
    );
  });

  it('reserved bits are ignored on decode and zero on encode', () => {
    // IPv4 HoA with all 9 reserved bits set, CoA with reserved 0xffff, NAT detection with reserved 0x7fff
    const mh = hex('3b 03 00 00 0000 0000' + '1d06 63ff 0a000001' + '2006 ffff c0000201' + '1f06 ffff 00000000');
    const decoded = decodeMobilityHeader(mh);
    expect(decoded).toEqual(brr(
      { type: 'ipv4HomeAddress', prefixLength: 24, p: true, address: '10.0.0.1' },
      { type: 'ipv4CareOfAddress', address: '192.0.2.1' },
      { type: 'natDetection', f: true, refreshTime: 0 },
    ));
    expect(encodeMobilityHeader(decoded).toString('hex')).toBe(hex('3b 03 00 00 0000 0000' + '1d06 6200 0a000001' + '2006 0000 c0000201' + '1f06 8000 00000000').toString('hex'));
  });

  it('decode(encode(o)) is o for every option type, wherever it stands', () => {
    fc.assert(fc.property(fc.array(option, { minLength: 1, maxLength: 6 }), (options) => {
      const m = brr(...options);
      const mh = encodeMobilityHeader(m);
      expect(decodeMobilityHeader(mh)).toStrictEqual(m);
      // and each typed option sits on its alignment
      optionLocations(mh).forEach((loc, i) => {
        const [x, y] = optionAlignment(options[i]!);
        expect((loc.offset - y) % x).toBe(0);
      });
    }), { numRuns: 2000 });
  });

  it('every option of every message is aligned and the MH is padded to 8n', () => {
    fc.assert(fc.property(message, (m) => {
      const mh = encodeMobilityHeader(m);
      expect(mh.length % 8).toBe(0);
      expect(mh[1]).toBe(mh.length / 8 - 1);
      if (m.type === 'unsupported') return;
      optionLocations(mh).forEach((loc, i) => {
        const [x, y] = optionAlignment(m.options[i]!);
        expect((loc.offset - y) % x, `${m.options[i]!.type} at ${loc.offset}`).toBe(0);
      });
    }), { numRuns: 1000 });
  });
});

describe('option lengths are checked on decode', () => {
  const withOption = (opt: string) => {
    const body = hex(opt);
    const pad = (8 - ((8 + body.length) % 8)) % 8;
    const padding = pad === 0 ? '' : pad === 1 ? '00' : '01' + (pad - 2).toString(16).padStart(2, '0') + '00'.repeat(pad - 2);
    const total = 8 + body.length + pad;
    return Buffer.concat([hex('3b' + (total / 8 - 1).toString(16).padStart(2, '0') + '00 00 0000 0000'), body, hex(padding)]);
  };

  it.each([
    ['IPv4 HoA of length 5', '1d05 6200 0a0000', 'ipv4HomeAddress.length'],
    ['IPv4 HoA of length 8', '1d08 6200 0a000001 0000', 'ipv4HomeAddress.length'],
    ['NAT Detection of length 4', '1f04 8000 0000', 'natDetection.length'],
    ['Home Network Prefix of length 16', '1610' + '00'.repeat(16), 'homeNetworkPrefix.length'],
    ['Alternate CoA of length 4', '0304 00000000', 'alternateCareOfAddress.length'],
    ['Timestamp of length 7', '1b07' + '00'.repeat(7), 'timestamp.length'],
    ['Replay Protection of length 9', '0a09' + '00'.repeat(9), 'replayProtection.length'],
    ['Handoff Indicator of length 1', '1701 00', 'handoffIndicator.length'],
    ['DHCP Support Mode of length 4', '2704 00000001', 'ipv4DhcpSupportMode.length'],
    ['GRE Key of length 4', '2104 0000 0000', 'greKey.length'],
    ['MN Identifier of length 0', '0800', 'mobileNodeIdentifier.length'],
    ['Message Authentication shorter than its SPI', '0904 01 000001', 'mobilityMessageAuthentication.length'],
    ['MN Link-layer Identifier of length 1', '1901 00', 'mnLinkLayerIdentifier.length'],
    ['an IPv4 prefix length of 33', '1d06 8400 0a000001', 'ipv4HomeAddress.prefixLength'],
    ['an IPv4 Ack prefix length of 40', '1e06 00 a0 0a000001', 'ipv4AddressAcknowledgement.prefixLength'],
    ['an IPv6 prefix length of 129', '1612 00 81' + '00'.repeat(16), 'homeNetworkPrefix.prefixLength'],
    ['an NAI that is not UTF-8', '0804 01 c3 28 ff', 'mobileNodeIdentifier.identifier'],
    ['an option running past the header', '1d0c 6200 0a000001', 'ipv4HomeAddress.data'],
  ])('%s is a DecodeError naming %s', (_name, opt, field) => {
    const mh = withOption(opt);
    expect(() => decodeMobilityHeader(mh)).toThrow(DecodeError);
    try {
      decodeMobilityHeader(mh);
    } catch (e) {
      expect((e as DecodeError).field).toBe(field);
    }
  });

  it('an option type octet with its length missing is a DecodeError', () => {
    expect(() => decodeMobilityHeader(hex('3b01 0000 0000 0000' + '00000000 000000 1d'))).toThrow(/^ipv4HomeAddress\.length at offset 16/);
  });
});

describe('options are validated on encode', () => {
  it.each([
    ['a refresh interval not a multiple of 4', { type: 'bindingRefreshAdvice', refreshInterval: 6 }, 'options[0].bindingRefreshAdvice.refreshInterval'],
    ['an IPv4 prefix length of 33', { type: 'ipv4HomeAddress', prefixLength: 33, p: false, address: '10.0.0.1' }, 'options[0].ipv4HomeAddress.prefixLength'],
    ['an IPv6 address as IPv4 care-of address', { type: 'ipv4CareOfAddress', address: '2001:db8::1' }, 'options[0].ipv4CareOfAddress.address'],
    ['an IPv4 address as alternate care-of address', { type: 'alternateCareOfAddress', address: '10.0.0.1' }, 'options[0].alternateCareOfAddress.address'],
    ['an NAI given as bytes', { type: 'mobileNodeIdentifier', subtype: 1, identifier: Buffer.from('x') }, 'options[0].mobileNodeIdentifier.identifier'],
    ['an NAI of 255 octets', { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'x'.repeat(255) }, 'options[0].mobileNodeIdentifier.length'],
    ['a lone surrogate in an NAI', { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'a\ud800' }, 'options[0].mobileNodeIdentifier.identifier'],
    ['an SPI above 32 bits', { type: 'mobilityMessageAuthentication', subtype: 1, spi: 2 ** 32, authenticator: Buffer.alloc(12) }, 'options[0].mobilityMessageAuthentication.spi'],
    ['a negative timestamp', { type: 'timestamp', timestamp: -1n }, 'options[0].timestamp.timestamp'],
    ['a GRE key above 32 bits', { type: 'greKey', key: 2 ** 32 }, 'options[0].greKey.key'],
    ['a NAT refresh time that is not an integer', { type: 'natDetection', f: false, refreshTime: 1.5 }, 'options[0].natDetection.refreshTime'],
    ['an unknown option using a known type', { type: 'unknown', code: 29, data: Buffer.alloc(6) }, 'options[0].unknown.code'],
    ['an unknown option using PadN', { type: 'unknown', code: 1, data: Buffer.alloc(2) }, 'options[0].unknown.code'],
    ['unknown option data of 256 octets', { type: 'unknown', code: 200, data: Buffer.alloc(256) }, 'options[0].unknown.data'],
    ['an option type that does not exist', { type: 'frobnicate' }, 'options[0].type'],
  ])('%s is an EncodeError naming %s', (_name, o, field) => {
    try {
      encodeMobilityHeader(brr(o as MobilityOption));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EncodeError);
      expect((e as EncodeError).field).toBe(field);
    }
  });

  it('every option type number is the IANA one', () => {
    expect(OptionType).toEqual({
      pad1: 0, padN: 1, bindingRefreshAdvice: 2, alternateCareOfAddress: 3, nonceIndices: 4, bindingAuthorizationData: 5,
      mobileNetworkPrefix: 6, mobileNodeIdentifier: 8, mobilityMessageAuthentication: 9, replayProtection: 10,
      homeNetworkPrefix: 22, handoffIndicator: 23, accessTechnologyType: 24, mnLinkLayerIdentifier: 25, linkLocalAddress: 26,
      timestamp: 27, ipv4HomeAddress: 29, ipv4AddressAcknowledgement: 30, natDetection: 31, ipv4CareOfAddress: 32, greKey: 33,
      ipv4HomeAddressRequest: 36, ipv4HomeAddressReply: 37, ipv4DefaultRouterAddress: 38, ipv4DhcpSupportMode: 39,
    });
  });
});
