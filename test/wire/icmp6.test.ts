/**
 * The ICMPv6 Parameter Problem the home agent sends for a BU it discards
 * (control/wire/ip/icmp6.ts), as tshark reads it: type, code, pointer, a
 * checksum tshark finds good, and the invoking packet quoted, cut to keep
 * the message within 1280 bytes; which discarded packets get one, and the
 * rate limit.
 */
import { describe, expect, it } from 'vitest';
import { addrBytes } from '../../control/dataplane/layout.js';
import { encodeParameterProblem, ICMP6_ERROR_MAX, IcmpErrorLimit, parameterProblemFor, ParameterProblem } from '../../control/wire/ip/icmp6.js';
import { decodeSignalling6, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { encodeMobilityHeader, NO_BU_FLAGS } from '../../control/wire/mh/index.js';
import { field, LINKTYPE_RAW, tshark } from '../helpers/tshark.js';

const HA = '2001:db8:a::1';
const COA = '2001:db8:c0a::1';
const invoking = encodeSignalling6({ src: COA, dst: HA, homeAddressOption: '2001:db8:b::5', mh: encodeMobilityHeader({ type: 'bindingUpdate', sequence: 1, lifetime: 600, flags: NO_BU_FLAGS, options: [] }) });

describe('ICMPv6 Parameter Problem', () => {
  it('from the address the packet was for to its source: type 4, code 2, the pointer, the packet quoted; tshark agrees, checksum included', () => {
    const packet = encodeParameterProblem({ src: HA, dst: COA, code: ParameterProblem.unrecognizedOption, pointer: 42, invoking });
    expect(packet.length).toBe(40 + 8 + invoking.length);
    expect(packet.subarray(48)).toEqual(invoking);
    const [p] = tshark([packet], { linktype: LINKTYPE_RAW });
    expect({ src: field(p!, 'ipv6.src')[0], dst: field(p!, 'ipv6.dst')[0], type: field(p!, 'icmpv6.type'), code: field(p!, 'icmpv6.code'), pointer: field(p!, 'icmpv6.pointer'), checksum: field(p!, 'icmpv6.checksum.status') })
      .toEqual({ src: HA, dst: COA, type: ['4'], code: ['2'], pointer: ['42'], checksum: ['1'] }); // (tshark's checksum status: 1 good, 0 bad)
    const damaged = Buffer.from(packet);
    damaged[47]! ^= 1; // the pointer's last byte: the checksum no longer holds
    expect(field(tshark([damaged], { linktype: LINKTYPE_RAW })[0]!, 'icmpv6.checksum.status')).toEqual(['0']);
  });

  it('quotes no more of a long packet than fits in 1280 bytes', () => {
    const long = Buffer.concat([invoking, Buffer.alloc(2000)]);
    const packet = encodeParameterProblem({ src: HA, dst: COA, code: ParameterProblem.unrecognizedOption, pointer: 42, invoking: long });
    expect(packet.length).toBe(ICMP6_ERROR_MAX);
    expect(packet.subarray(48)).toEqual(long.subarray(0, ICMP6_ERROR_MAX - 48));
  });
});

describe('which discarded packet gets a Parameter Problem (RFC 8200 §4.2, RFC 4443 §2.4(e))', () => {
  /** The invoking packet with its Destination Options header's PadN (before the Home Address option) made option `type`. */
  const withOption = (type: number, src = COA, dst = HA) => {
    const packet = encodeSignalling6({ src, dst, homeAddressOption: '2001:db8:b::5', mh: encodeMobilityHeader({ type: 'bindingUpdate', sequence: 1, lifetime: 600, flags: NO_BU_FLAGS, options: [] }) });
    packet[42] = type;
    return { transport: 'ipv6' as const, signalling: decodeSignalling6(packet), ipv6: packet };
  };
  const pointer = (icmp: Buffer | undefined) => icmp?.readUInt32BE(44);

  it('one whose option type says so (10 and 11), from the address it went to; none for one sent to a multicast group (no unicast address of ours to answer from)', () => {
    expect(pointer(parameterProblemFor(withOption(0x8a)))).toBe(42);
    expect(parameterProblemFor(withOption(0x8a))!.subarray(8, 40)).toEqual(Buffer.concat([addrBytes(HA), addrBytes(COA)]));
    expect(pointer(parameterProblemFor(withOption(0xca)))).toBe(42);
    expect(parameterProblemFor(withOption(0x8a, COA, 'ff02::1'))).toBeUndefined();
    expect(parameterProblemFor(withOption(0xca, COA, 'ff02::1'))).toBeUndefined();
  });

  it('none for an option that says only discard or skip, none to a multicast or unspecified source, none inside UDP', () => {
    for (const p of [withOption(0x4a), withOption(0x0a), withOption(0x8a, 'ff02::2'), withOption(0x8a, '::'), { ...withOption(0x8a), transport: 'udp4' as const }]) {
      expect(parameterProblemFor(p)).toBeUndefined();
    }
  });

  it('at most so many a second, counting those held back', () => {
    const limit = new IcmpErrorLimit(3);
    expect([1000, 1100, 1200, 1300, 1999].map((t) => limit.take(t))).toEqual([true, true, true, false, false]);
    expect(limit.take(2000)).toBe(true);
    expect([limit.sent, limit.limited]).toEqual([4, 2]);
  });
});
