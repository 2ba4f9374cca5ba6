/**
 * The DSMIPv6 TLV header (draft-ietf-mip6-nemo-v4traversal-06 §4.1):
 * octets, the payload types shared with the data plane's C header, scapy's
 * rendering of the header, the Length rule (modulo 256), and errors.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError, Reader, decode, encode } from '../../control/wire/buffer.js';
import { TLV_HEADER_LENGTH, TlvType, tlvHeader, tlvHeaderFor, type TlvTypeName } from '../../control/wire/tlv.js';
import { scapy } from '../helpers/scapy.js';

describe('DSMIPv6 TLV header', () => {
  it.each([
    ['ipv4', 20, '01140000'],
    ['ipv6', 40, '02280000'],
    ['ipsec', 255, '03ff0000'],
    ['gre', 0, '04000000'],
  ] as const)('%s, length %d: %s', (type, length, hex) => {
    expect(encode(tlvHeader, { type, length }).toString('hex')).toBe(hex);
    expect(decode(tlvHeader, Buffer.from(hex, 'hex'))).toStrictEqual({ type, length });
  });

  it('uses the payload type numbers of the data plane (bpf/lib/common.h)', () => {
    const h = readFileSync(new URL('../../bpf/lib/common.h', import.meta.url), 'utf8');
    expect(Number(/#define TLV_TYPE_IPV4 (\d+)/.exec(h)?.[1])).toBe(TlvType.ipv4);
    expect(Number(/#define TLV_TYPE_IPV6 (\d+)/.exec(h)?.[1])).toBe(TlvType.ipv6);
    expect(TLV_HEADER_LENGTH).toBe(4);
  });

  it('decodes the header scapy builds, ignoring its reserved field', () => {
    const built = scapy({ v4: 'TLV(type=1, len=200, reserved=0x1234)', v6: 'TLV(type=2, len=60)/IPv6()' });
    expect(decode(tlvHeader, built.v4)).toStrictEqual({ type: 'ipv4', length: 200 });
    const r = new Reader(built.v6);
    expect(tlvHeader.read(r)).toStrictEqual({ type: 'ipv6', length: 60 });
    expect(built.v6[r.offset]! >> 4).toBe(6); // the inner packet follows
  });

  it('Length is the payload length modulo 256, as the data plane writes it', () => {
    expect(tlvHeaderFor('ipv6', 40)).toStrictEqual({ type: 'ipv6', length: 40 });
    expect(tlvHeaderFor('ipv6', 1280)).toStrictEqual({ type: 'ipv6', length: 0 });
    expect(tlvHeaderFor('ipv4', 1300)).toStrictEqual({ type: 'ipv4', length: 20 });
    expect(() => tlvHeaderFor('ipv4', -1)).toThrow(EncodeError);
  });

  it.each([
    ['type 0', '00000000', 'tlv.type', 0],
    ['type 5', '05140000', 'tlv.type', 0],
    ['a header cut after the type', '02', 'tlv.length', 1],
    ['a header cut in the reserved field', '022800', 'tlv.reserved', 2],
  ])('%s is a DecodeError naming %s', (_name, hex, field, offset) => {
    try {
      decode(tlvHeader, Buffer.from(hex, 'hex'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect([(e as DecodeError).field, (e as DecodeError).offset]).toEqual([field, offset]);
    }
  });

  it.each([
    ['an unknown type', { type: 'ppp' as TlvTypeName, length: 1 }, 'tlv.type'],
    ['a length of 256', { type: 'ipv6' as TlvTypeName, length: 256 }, 'tlv.length'],
  ])('%s is an EncodeError naming %s', (_name, h, field) => {
    expect(() => encode(tlvHeader, h)).toThrow(EncodeError);
    expect(() => encode(tlvHeader, h)).toThrow(new RegExp(`^${field}:`));
  });

  it('decode(encode(h)) is h, and any 0-6 octets decode or throw DecodeError', () => {
    const header = fc.record({ type: fc.constantFrom(...(Object.keys(TlvType) as TlvTypeName[])), length: fc.integer({ min: 0, max: 255 }) }).map((h) => ({ ...h }));
    fc.assert(fc.property(header, (h) => { expect(decode(tlvHeader, encode(tlvHeader, h))).toStrictEqual(h); }));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 6 }), (b) => {
      try {
        tlvHeader.read(new Reader(Buffer.from(b)));
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 20_000 });
  });
});
