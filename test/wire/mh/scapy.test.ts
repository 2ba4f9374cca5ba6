/**
 * Oracle: Mobility Headers built by scapy (scapy.layers.inet6 MIP6 classes;
 * the DSMIPv6 and PMIPv6 options scapy lacks as MIP6OptUnknown with raw
 * bytes) decode in our code to the values they were built from. scapy pads
 * the MH to 8n and fills in the checksum over the IPv6 pseudo-header; where
 * its padding agrees with the alignments we follow, our re-encoding is
 * byte-for-byte scapy's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mhChecksum } from '../../../control/wire/checksum.js';
import {
  MH_CHECKSUM_OFFSET,
  decodeMobilityHeader,
  encodeMobilityHeader,
  type BuFlags,
  type MobilityHeader,
} from '../../../control/wire/mh/index.js';
import { scapy } from '../../helpers/scapy.js';

const SRC = '2001:db8:1::10';
const DST = '2001:db8:2::1';
const noBu: BuFlags = { a: false, h: false, l: false, k: false, m: false, r: false, p: false, f: false, t: false };
const ah: BuFlags = { ...noBu, a: true, h: true };
const ap: BuFlags = { ...noBu, a: true, p: true };
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A scapy option of a type scapy does not know, from its data octets. */
const raw = (otype: number, data: string) => `MIP6OptUnknown(otype=${otype}, odata=bytes.fromhex('${data.replace(/\s+/g, '')}'))`;
const bu = (args: string, options: string[] = []) => `MIP6MH_BU(${args}, options=[${options.join(', ')}])`;

interface Case {
  /** scapy expression of the Mobility Header (it is put under IPv6(src=SRC, dst=DST)). */
  scapy: string;
  /** What we must decode (the checksum is scapy's, checked separately). */
  expected: MobilityHeader;
  /** Our encoding equals scapy's octets (false where scapy pads an unknown option differently). */
  sameOctets?: boolean;
}

const cases: Record<string, Case> = {
  'Binding Refresh Request': { scapy: 'MIP6MH_BRR()', expected: { type: 'bindingRefreshRequest', options: [] }, sameOctets: true },
  'Binding Update with every flag (F and T in the reserved bits scapy leaves)': {
    scapy: bu("seq=0x1234, flags='AHLKMRP', reserved=0x180, mhtime=100"),
    expected: { type: 'bindingUpdate', sequence: 0x1234, flags: { a: true, h: true, l: true, k: true, m: true, r: true, p: true, f: true, t: true }, lifetime: 400, options: [] },
    sameOctets: true,
  },
  'Binding Update with options 2 to 6': {
    scapy: bu("seq=1, flags='AH', mhtime=0", [
      'MIP6OptBRAdvice(rinter=15)',
      'MIP6OptNonceIndices(olen=4, hni=7, coni=8)', // scapy's default olen of 16 is wrong (RFC 6275 6.2.6: 4)
      "MIP6OptAltCoA(acoa='2001:db8::99')",
      "MIP6OptMobNetPrefix(plen=48, prefix='2001:db8:ab::')",
      'MIP6OptBindingAuthData(olen=12, authenticator=0x0102030405060708090a0b0c)', // likewise 12, not 16
    ]),
    expected: {
      type: 'bindingUpdate', sequence: 1, flags: ah, lifetime: 0,
      options: [
        { type: 'bindingRefreshAdvice', refreshInterval: 60 },
        { type: 'nonceIndices', homeNonceIndex: 7, careOfNonceIndex: 8 },
        { type: 'alternateCareOfAddress', address: '2001:db8::99' },
        { type: 'mobileNetworkPrefix', prefixLength: 48, prefix: '2001:db8:ab::' },
        { type: 'bindingAuthorizationData', authenticator: hex('0102030405060708090a0b0c') },
      ],
    },
    sameOctets: true,
  },
  'Binding Update with MN-ID, replay protection and MN-HA authentication (RFC 4283, 4285)': {
    scapy: bu("seq=2, flags='AH', mhtime=250", [
      "MIP6OptMNID(subtype=1, id=b'mn1@example.net')",
      'MIP6OptReplayProtection(timestamp=0x1122334455667788)',
      "MIP6OptMsgAuth(subtype=1, mspi=256, authdata=b'\\xaa' * 12)",
    ]),
    expected: {
      type: 'bindingUpdate', sequence: 2, flags: ah, lifetime: 1000,
      options: [
        { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn1@example.net' },
        { type: 'replayProtection', timestamp: 0x1122334455667788n },
        { type: 'mobilityMessageAuthentication', subtype: 1, spi: 256, authenticator: Buffer.alloc(12, 0xaa) },
      ],
    },
    sameOctets: true,
  },
  'DSMIPv6 Binding Update: IPv4 home address and care-of address (RFC 5555)': {
    scapy: bu("seq=3, flags='AH', reserved=0x100, mhtime=900", [raw(29, '6200 c6336407'), raw(32, '0000 cb007109')]),
    expected: {
      type: 'bindingUpdate', sequence: 3, flags: { ...ah, f: true }, lifetime: 3600,
      options: [
        { type: 'ipv4HomeAddress', prefixLength: 24, p: true, address: '198.51.100.7' },
        { type: 'ipv4CareOfAddress', address: '203.0.113.9' },
      ],
    },
    sameOctets: true,
  },
  'Proxy Binding Update with the PMIPv6 options (RFC 5213, 5844, 5845)': {
    scapy: bu("seq=4, flags='AP', mhtime=150", [
      // placed so that scapy, which aligns none of these, lands on our alignments
      raw(22, '00 40 20010db8007700010000000000000000'), // Home Network Prefix at 12 = 8n+4
      raw(36, '8000 00000000'), // IPv4 Home Address Request, /32, 0.0.0.0, at 32 = 4n
      raw(23, '00 01'), // Handoff Indicator
      raw(24, '00 03'), // Access Technology Type
      "MIP6OptMNID(subtype=1, id=b'm1x')",
      raw(33, '0000 0000abcd'), // GRE Key at 54 = 4n+2
      raw(39, '0001'), // DHCP Support Mode, S
      raw(27, '0000659bfe008000'), // Timestamp at 66 = 8n+2
    ]),
    expected: {
      type: 'bindingUpdate', sequence: 4, flags: ap, lifetime: 600,
      options: [
        { type: 'homeNetworkPrefix', prefixLength: 64, prefix: '2001:db8:77:1::' },
        { type: 'ipv4HomeAddressRequest', prefixLength: 32, address: '0.0.0.0' },
        { type: 'handoffIndicator', indicator: 1 },
        { type: 'accessTechnologyType', att: 3 },
        { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'm1x' },
        { type: 'greKey', key: 0xabcd },
        { type: 'ipv4DhcpSupportMode', s: true },
        { type: 'timestamp', timestamp: 0x0000659bfe008000n },
      ],
    },
    sameOctets: true,
  },
  'Proxy Binding Update with link-layer identifier and link-local address': {
    scapy: bu("seq=5, flags='AP', mhtime=150", [raw(25, '0000 020000000042'), raw(26, 'fe80 0000 0000 0000 0000 0000 0000 0001')]),
    expected: {
      type: 'bindingUpdate', sequence: 5, flags: ap, lifetime: 600,
      options: [{ type: 'mnLinkLayerIdentifier', identifier: hex('020000000042') }, { type: 'linkLocalAddress', address: 'fe80::1' }],
    },
    // scapy puts the identifier at 12 and the link-local address straight after; we align them (8n+4, 8n+6)
    sameOctets: false,
  },
  'Binding Acknowledgement with IPv4 address acknowledgement and NAT detection (T in res2)': {
    scapy: `MIP6MH_BA(status=0, flags='KRP', res2=0x10, seq=9, mhtime=100, options=[${raw(30, '00 60 c6336407')}, ${raw(31, '8000 0000006e')}])`,
    expected: {
      type: 'bindingAcknowledgement', status: 0, flags: { k: true, r: true, p: true, t: true }, sequence: 9, lifetime: 400,
      options: [
        { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 24, address: '198.51.100.7' },
        { type: 'natDetection', f: true, refreshTime: 110 },
      ],
    },
    sameOctets: true,
  },
  'Proxy Binding Acknowledgement with IPv4 home address reply and default router': {
    scapy: `MIP6MH_BA(status=171, flags='P', res2=0, seq=4, mhtime=150, options=[${raw(37, '84 60 0a140005')}, ${raw(38, '0000 0a140001')}])`,
    expected: {
      type: 'bindingAcknowledgement', status: 171, flags: { k: false, r: false, p: true, t: false }, sequence: 4, lifetime: 600,
      options: [
        { type: 'ipv4HomeAddressReply', status: 132, prefixLength: 24, address: '10.20.0.5' },
        { type: 'ipv4DefaultRouterAddress', address: '10.20.0.1' },
      ],
    },
    sameOctets: true,
  },
  'Binding Error': {
    scapy: "MIP6MH_BE(status=2, ha='2001:db8::5')",
    expected: { type: 'bindingError', status: 2, homeAddress: '2001:db8::5', options: [] },
    sameOctets: true,
  },
  'options 7 and 11 to 16 (FMIPv6, CGA) are reported as unknown, in order': {
    scapy: bu("seq=6, flags='A', mhtime=1", [
      "MIP6OptLLAddr(olen=8, lla='02:00:00:00:00:07')", // scapy's default olen of 7 leaves out its own pad octet
      'MIP6OptCGAParamsReq()',
      "MIP6OptCGAParams(cgaparams=b'cga')",
      "MIP6OptSignature(sig=b'sig')",
      "MIP6OptHomeKeygenToken(hkt=b'12345678')",
      'MIP6OptCareOfTestInit()',
      "MIP6OptCareOfTest(cokt=b'87654321')",
    ]),
    expected: {
      type: 'bindingUpdate', sequence: 6, flags: { ...noBu, a: true }, lifetime: 4,
      options: [
        { type: 'unknown', code: 7, data: hex('02 00 020000000007') },
        { type: 'unknown', code: 11, data: Buffer.alloc(0) },
        { type: 'unknown', code: 12, data: Buffer.from('cga') },
        { type: 'unknown', code: 13, data: Buffer.from('sig') },
        { type: 'unknown', code: 14, data: Buffer.from('12345678') },
        { type: 'unknown', code: 15, data: Buffer.alloc(0) },
        { type: 'unknown', code: 16, data: Buffer.from('87654321') },
      ],
    },
    sameOctets: true,
  },
  'Home Test Init is reported as unsupported': {
    scapy: "MIP6MH_HoTI(cookie=b'ABCDEFGH')",
    expected: { type: 'unsupported', mhType: 1, data: Buffer.concat([Buffer.alloc(2), Buffer.from('ABCDEFGH')]) },
    sameOctets: true,
  },
  'Care-of Test Init is reported as unsupported': {
    scapy: "MIP6MH_CoTI(cookie=b'abcdefgh')",
    expected: { type: 'unsupported', mhType: 2, data: Buffer.concat([Buffer.alloc(2), Buffer.from('abcdefgh')]) },
    sameOctets: true,
  },
  'Home Test is reported as unsupported': {
    scapy: "MIP6MH_HoT(index=5, cookie=b'ABCDEFGH', token=b'tokentok')",
    expected: { type: 'unsupported', mhType: 3, data: Buffer.from('\x00\x05ABCDEFGHtokentok', 'latin1') },
    sameOctets: true,
  },
  'Care-of Test is reported as unsupported': {
    scapy: "MIP6MH_CoT(index=6, cookie=b'abcdefgh', token=b'TOKENTOK')",
    expected: { type: 'unsupported', mhType: 4, data: Buffer.from('\x00\x06abcdefghTOKENTOK', 'latin1') },
    sameOctets: true,
  },
};

describe('scapy-built Mobility Headers decode to what they were built from', () => {
  let built: Record<string, Buffer> = {};
  beforeAll(() => {
    const exprs = Object.fromEntries(Object.entries(cases).map(([name, c]) => [name, `bytes(IPv6(src='${SRC}', dst='${DST}')/${c.scapy})[40:]`]));
    built = scapy(exprs);
  });

  it('the cases cover every option type of scapy\'s 2 to 16 and every message scapy builds', () => {
    const codes = new Set<string>();
    for (const c of Object.values(cases)) if (c.expected.type !== 'unsupported') for (const o of c.expected.options) codes.add(o.type === 'unknown' ? `#${o.code}` : o.type);
    for (const t of ['bindingRefreshAdvice', 'alternateCareOfAddress', 'nonceIndices', 'bindingAuthorizationData', 'mobileNetworkPrefix', 'mobileNodeIdentifier', 'mobilityMessageAuthentication', 'replayProtection', '#7', '#11', '#16']) {
      expect(codes.has(t), t).toBe(true);
    }
  });

  it.each(Object.keys(cases))('%s', (name) => {
    const c = cases[name]!;
    const mh = built[name]!;
    expect(mh.length % 8).toBe(0);
    const decoded = decodeMobilityHeader(mh);
    // scapy computed the checksum over the pseudo-header; our checksum module agrees
    expect(decoded.checksum).toBe(mh.readUInt16BE(MH_CHECKSUM_OFFSET));
    expect(mhChecksum(SRC, DST, mh)).toBe(decoded.checksum);
    expect(decoded).toStrictEqual({ ...c.expected, checksum: decoded.checksum } as MobilityHeader);
    if (c.sameOctets) expect(encodeMobilityHeader(decoded).toString('hex')).toBe(mh.toString('hex'));
    else expect(decodeMobilityHeader(encodeMobilityHeader(decoded))).toStrictEqual(decoded);
  });
});
