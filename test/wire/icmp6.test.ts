/**
 * The ICMPv6 Parameter Problem the home agent sends for a BU it discards
 * (control/wire/ip/icmp6.ts), as tshark reads it: type, code, pointer, a
 * checksum tshark finds good, and the invoking packet quoted, cut to keep
 * the message within 1280 bytes.
 */
import { describe, expect, it } from 'vitest';
import { encodeParameterProblem, ICMP6_ERROR_MAX, ParameterProblem } from '../../control/wire/ip/icmp6.js';
import { encodeSignalling6 } from '../../control/wire/ip/signalling.js';
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
