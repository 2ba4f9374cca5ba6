/**
 * The Internet checksum and its pseudo-header variants, against RFC 1071's
 * worked example and against the checksums scapy computes for the same
 * packets (IPv4 header, UDP over IPv4 and IPv6, ICMPv6, Mobility Header
 * with a Home Address option and with a type 2 routing header).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checksum4Ok, checksum6Ok, icmp6Checksum, internetChecksum, ipv4HeaderChecksum, ipv4HeaderChecksumOk,
  mhChecksum, onesSum, udp4Checksum, udp6Checksum,
} from '../../control/wire/checksum.js';
import { scapy } from '../helpers/scapy.js';

const INET = "__import__('scapy.layers.inet', fromlist=['*'])";
const UTILS = "__import__('scapy.utils', fromlist=['*'])";

const COA = '2001:db8:c0a::1';
const HA = '2001:db8:a::1';
const HOA = '2001:db8:b::5';

describe('RFC 1071', () => {
  it('matches the worked example of §3 (sum ddf2, checksum 220d)', () => {
    const bytes = Buffer.from('0001f203f4f5f6f7', 'hex');
    expect(onesSum([bytes])).toBe(0xddf2);
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  it('sums parts of any length as their concatenation', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 5 }), (data, cuts) => {
      const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
      const parts: Uint8Array[] = [];
      let from = 0;
      for (const p of points) { parts.push(data.subarray(from, p)); from = p; }
      parts.push(data.subarray(from));
      expect(onesSum(parts)).toBe(onesSum([data]));
    }));
  });

  it('agrees with scapy.utils.checksum on random byte strings, odd lengths included', () => {
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 600 }), { numRuns: 40, seed: 4191 });
    const exprs = Object.fromEntries(samples.map((s, i) => [`s${i}`, `${UTILS}.checksum(bytes.fromhex('${Buffer.from(s).toString('hex')}')).to_bytes(2, 'big')`]));
    const out = scapy(exprs);
    samples.forEach((s, i) => expect(internetChecksum(s), `sample ${i}`).toBe(out[`s${i}`]!.readUInt16BE(0)));
  });
});

describe('pseudo-header checksums against scapy', () => {
  let p: Record<string, Buffer>;
  beforeAll(() => {
    p = scapy({
      ip4opts: `IP(src='192.0.2.1', dst='198.51.100.7', ttl=17, id=0x1234, flags='DF', tos=0xb8, options=[${INET}.IPOption_RR(routers=['10.0.0.1', '10.0.0.2'])])/UDP(sport=4191, dport=4191)/Raw(b'odd!!')`,
      udp4: "IP(src='192.0.2.1', dst='198.51.100.7')/UDP(sport=434, dport=434)/Raw(bytes(range(37)))",
      udp6: `IPv6(src='${COA}', dst='${HA}')/UDP(sport=4191, dport=4191)/Raw(bytes(range(51)))`,
      icmp6: `IPv6(src='${COA}', dst='${HA}')/ICMPv6EchoRequest(id=7, seq=9, data=b'ping')`,
      bu: `IPv6(src='${COA}', dst='${HA}')/MIP6MH_BU(seq=42, flags='AH', mhtime=1000)`,
      buHao: `IPv6(src='${COA}', dst='${HA}')/IPv6ExtHdrDestOpt(options=[HAO(hoa='${HOA}')])/MIP6MH_BU(seq=42, flags='AH', mhtime=1000)`,
      baRh2: `IPv6(src='${HA}', dst='${COA}')/IPv6ExtHdrRouting(type=2, segleft=1, addresses=['${HOA}'])/MIP6MH_BA(status=0, seq=42, mhtime=1000)`,
    });
  });

  it('IPv4 header checksum, with options and DF', () => {
    const ip = p.ip4opts!;
    const header = ip.subarray(0, (ip[0]! & 0x0f) * 4);
    expect(header.length).toBe(32);
    expect(ipv4HeaderChecksum(header)).toBe(header.readUInt16BE(10));
    expect(ipv4HeaderChecksumOk(header)).toBe(true);
    header[8] = 16; // another TTL
    expect(ipv4HeaderChecksumOk(header)).toBe(false);
  });

  it('UDP over IPv4 (odd payload) and over IPv6', () => {
    const u4 = p.udp4!.subarray(20);
    expect(udp4Checksum('192.0.2.1', '198.51.100.7', u4)).toBe(u4.readUInt16BE(6));
    expect(checksum4Ok('192.0.2.1', '198.51.100.7', 17, u4)).toBe(true);
    const u6 = p.udp6!.subarray(40);
    expect(udp6Checksum(COA, HA, u6)).toBe(u6.readUInt16BE(6));
    expect(checksum6Ok(COA, HA, 17, u6)).toBe(true);
    expect(checksum6Ok(HOA, HA, 17, u6)).toBe(false); // (swapping source and destination would not show: the sum commutes)
  });

  it('ICMPv6', () => {
    const m = p.icmp6!.subarray(40);
    expect(icmp6Checksum(COA, HA, m)).toBe(m.readUInt16BE(2));
  });

  it('Mobility Header without extension headers: source and destination fields', () => {
    const mh = p.bu!.subarray(40);
    expect(mhChecksum(COA, HA, mh)).toBe(mh.readUInt16BE(4));
  });

  it('Mobility Header after a Home Address option: the home address is the pseudo-header source (RFC 6275 §6.1.1)', () => {
    const mh = p.buHao!.subarray(40 + 24);
    expect(mhChecksum(HOA, HA, mh)).toBe(mh.readUInt16BE(4));
    expect(mhChecksum(COA, HA, mh)).not.toBe(mh.readUInt16BE(4));
  });

  it('Mobility Header after a type 2 routing header: the home address is the final destination', () => {
    const mh = p.baRh2!.subarray(40 + 24);
    expect(mhChecksum(HA, HOA, mh)).toBe(mh.readUInt16BE(4));
    expect(mhChecksum(HA, COA, mh)).not.toBe(mh.readUInt16BE(4));
  });

  it('sends a computed UDP checksum of 0 as 0xffff, as scapy does', () => {
    // choose the last two payload bytes so that the sum over everything is 0xffff
    const payload = Buffer.from('0102030400000000', 'hex');
    const udp = Buffer.concat([Buffer.from([0x10, 0x5f, 0x10, 0x5f, 0, 16, 0, 0]), payload]);
    const missing = (0xffff - onesSum([udp, Buffer.from([192, 0, 2, 1, 198, 51, 100, 7, 0, 17, 0, 16])])) & 0xffff;
    udp.writeUInt16BE(missing, 14);
    payload.writeUInt16BE(missing, 6);
    const s = scapy({ u: `IP(src='192.0.2.1', dst='198.51.100.7')/UDP(sport=4191, dport=4191)/Raw(bytes.fromhex('${payload.toString('hex')}'))` });
    expect(s.u!.readUInt16BE(26)).toBe(0xffff);
    expect(udp4Checksum('192.0.2.1', '198.51.100.7', udp)).toBe(0xffff);
  });
});
