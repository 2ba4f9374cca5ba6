/**
 * Every way the home agent refuses a Binding Update, end to end in the
 * roaming lab: a BU sent from the mobile node's namespace (over IPv6 with a
 * Home Address option, or in UDP through the NAT), captured by the anchor's
 * data plane, refused by the home agent daemon, answered with a BA that
 * reaches the node the way the BU came. For each: the BA's bytes are exactly
 * the expected message (signed where the node is known), tshark reads its
 * status, and the binding cache and the data plane are left as they were.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addrBytes } from '../../control/dataplane/layout.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { DAD_WAIT_MS, HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, NAT_PORT, roamingAddr as a, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { unwrapSignal, type SignalPacket } from '../../control/signalling/channel.js';
import { PacketSocket, RawIpSocket } from '../../control/sys/libc.js';
import { dadSolicitation, unsolicitedNeighborAdvert } from '../../control/wire/ip/neighbour.js';
import { signMnHa, verifyMnHa } from '../../control/wire/auth/mipv6.js';
import { fromNtp, ntpTimestamp, replayTimestampOf } from '../../control/wire/auth/replay.js';
import { encodeSignalling4, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { BaStatus, BeStatus, decodeMobilityHeader, encodeMobilityHeader, Ipv4AckStatus, type MobilityOption } from '../../control/wire/mh/index.js';
import { scapy } from '../helpers/scapy.js';
import { captureOne, field, LINKTYPE_RAW, tshark } from '../helpers/tshark.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const OTHER_KEY = Buffer.from('ff'.repeat(20), 'hex');
const CARE_OF6 = '2001:db8:f::2';
const CARE_OF4 = '10.0.0.2';
const NO_FLAGS = { a: false, h: false, l: false, k: false, m: false, r: false, p: false, f: false, t: false };
const NO_BA_FLAGS = { k: false, r: false, p: false, t: false };
const node = (nai: string, spi: number, home: string) => ({ nai, spi, home });
const MN = node('mn@example.net', 4096, a.mnHome.v6);
const HOST = node('host@example.net', 4097, '2001:db8:1::300'); // no IPv4, not a router
const ROUTER = node('mr@example.net', 4098, '2001:db8:1::400');
const TWIN = node('twin@example.net', 4099, '2001:db8:1::500'); // its home address also given to a host on the home link
const LATE = node('late@example.net', 4100, '2001:db8:1::600');
const GONE = node('gone@example.net', 4101, '2001:db8:1::700');
const FAR = node('far@example.net', 4102, '2001:db8:1::800'); // an advertisement for it comes from beyond a router
const RIVAL = node('rival@example.net', 4103, '2001:db8:1::900'); // a host on the home link probes for it at the same time
const WAITS = node('waits@example.net', 4104, '2001:db8:1::a00'); // BUs come while its probe runs
const IDLE = node('idle@example.net', 4105, '2001:db8:1::b00'); // never registers

let t: RoamingLab;
let ha: HomeAgentDaemon;
let journalDir: string;
const journalled = (nai: string) => readFileSync(join(journalDir, 'bindings.journal')).includes(nai);
const arrived: SignalPacket[] = [];
const said: string[] = [];

beforeAll(() => {
  t = buildRoamingLab('rej');
  const config = parseHomeAgentConfig({
    homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
    homeAgent: { ipv6: a.ha.v6, ipv4: a.ha.v4 },
    policy: { forceUdp: 'refuse' },
    mobileNodes: [
      { nai: MN.nai, key: KEY.toString('hex'), spi: MN.spi, homeAddress: MN.home, ipv4HomeAddress: a.mnHome.v4 },
      { nai: HOST.nai, key: KEY.toString('hex'), spi: HOST.spi, homeAddress: HOST.home },
      { nai: ROUTER.nai, key: KEY.toString('hex'), spi: ROUTER.spi, homeAddress: ROUTER.home, mobileRouter: true, prefixes: ['2001:db8:400::/48'] },
      ...[TWIN, LATE, GONE, FAR, RIVAL, WAITS, IDLE].map((n) => ({ nai: n.nai, key: KEY.toString('hex'), spi: n.spi, homeAddress: n.home })),
    ],
  });
  journalDir = mkdtempSync(join(tmpdir(), 'rejects-'));
  ha = new HomeAgentDaemon(config, t.anchor, { log: (e) => said.push(e), journal: join(journalDir, 'bindings.journal') });
  t.lab.within(t.ns.anchor, () => ha.start());
  // The node's side by hand: both the IPv6-only network and the NAT'd one up, BAs captured by its data plane.
  t.moveTo('v6');
  t.lab.exec(t.ns.mn, `ip link set nat up && ip addr add ${CARE_OF4}/24 dev nat && ip route add ${a.ha.v4}/32 via 10.0.0.1 dev nat && ip -6 route replace ${a.ha.v6}/128 via 2001:db8:f::1 dev v6`);
  t.lab.within(t.ns.mn, () => {
    t.mobile.attach('v6');
    t.mobile.attach('nat');
  });
  t.mobile.addEndpoint(CARE_OF6, 0, ['mh']);
  t.mobile.addEndpoint(CARE_OF4, 4191, ['mh']);
  t.mobile.onSignal((f) => arrived.push(unwrapSignal(f)));
});
afterAll(() => {
  ha?.stop();
  t?.destroy();
  rmSync(journalDir, { recursive: true, force: true });
});

interface BuSpec {
  who?: typeof MN;
  seq: number;
  flags?: Partial<typeof NO_FLAGS>;
  options?: MobilityOption[];
  key?: Buffer;
  timestampMs?: number;
  /** No Replay Protection option. */
  noTimestamp?: boolean;
  lifetime?: number;
  /** The home address the BU claims (Home Address option / inner source). */
  home?: string;
  /** The care-of address it is signed over (an Alternate Care-of Address option's); its source by default. */
  careOf?: string;
}

function bu(s: BuSpec, careOf: string): Buffer {
  const who = s.who ?? MN;
  return signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence: s.seq, lifetime: s.lifetime ?? 600, flags: { ...NO_FLAGS, a: true, h: true, ...s.flags },
    options: [...(s.options ?? []), { type: 'mobileNodeIdentifier', subtype: 1, identifier: who.nai },
      ...(s.noTimestamp ? [] : [{ type: 'replayProtection', timestamp: ntpTimestamp(s.timestampMs ?? Date.now()) } as const]),
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: who.spi, authenticator: Buffer.alloc(12) }],
  }), { key: s.key ?? KEY, spi: who.spi, careOf: s.careOf ?? careOf, home: s.home ?? who.home });
}

async function nextBa(): Promise<SignalPacket> {
  for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
    const p = arrived.shift();
    if (p) return p;
  }
  throw new Error(`no BA; the home agent said: ${said.join('; ')}`);
}

/** Sends a BU from the IPv6 care-of address; returns its MH. */
function sendOverIpv6(s: BuSpec): Buffer {
  const sent = bu(s, CARE_OF6);
  t.lab.within(t.ns.mn, () => {
    const sock = new RawIpSocket(6);
    sock.send(encodeSignalling6({ src: CARE_OF6, dst: a.ha.v6, homeAddressOption: s.home ?? (s.who ?? MN).home, mh: sent }), addrBytes(a.ha.v6));
    sock.close();
  });
  return sent;
}

async function overIpv6(s: BuSpec): Promise<{ sent: Buffer; ba: SignalPacket }> {
  const sent = sendOverIpv6(s);
  return { sent, ba: await nextBa() };
}

async function throughNat(s: BuSpec): Promise<{ sent: Buffer; ba: SignalPacket }> {
  const sent = bu({ ...s, options: [{ type: 'ipv4CareOfAddress', address: CARE_OF4 }, ...(s.options ?? [])] }, CARE_OF4);
  const ipv6 = encodeSignalling6({ src: s.home ?? (s.who ?? MN).home, dst: a.ha.v6, mh: sent });
  t.lab.within(t.ns.mn, () => {
    const sock = new RawIpSocket(4);
    sock.send(encodeSignalling4({ src: CARE_OF4, dst: a.ha.v4, srcPort: 4191, dstPort: 4191, ipv6 }), addrBytes(a.ha.v4));
    sock.close();
  });
  return { sent, ba: await nextBa() };
}

/** The BA the home agent must send: status, the BU's sequence (or the one given), and for a known node its NAI, the BU's timestamp and a signature. */
function expectedBa(status: number, sent: Buffer, careOf: string, o: { who?: typeof MN | null; sequence?: number; options?: MobilityOption[]; lifetime?: number; timestamp?: bigint } = {}): Buffer {
  const who = o.who === undefined ? MN : o.who;
  const sequence = o.sequence ?? sent.readUInt16BE(6);
  const options: MobilityOption[] = [...(o.options ?? [])];
  if (who) {
    const timestamp = o.timestamp ?? replayTimestampOf(sent); // (none to echo: none in the BA)
    options.push({ type: 'mobileNodeIdentifier', subtype: 1, identifier: who.nai }, ...(timestamp === undefined ? [] : [{ type: 'replayProtection', timestamp } as const]),
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: who.spi, authenticator: Buffer.alloc(12) });
  }
  const mh = encodeMobilityHeader({ type: 'bindingAcknowledgement', status, sequence, lifetime: o.lifetime ?? 0, flags: NO_BA_FLAGS, options });
  return who ? signMnHa(mh, { key: KEY, spi: who.spi, careOf, home: who.home }) : mh;
}

/** The MH as it arrived, its checksum (over the packet's addresses) checked and then zeroed to compare with the expected message. */
function mhBytes(ba: SignalPacket): string {
  expect(ba.signalling.mhChecksumOk).toBe(true);
  const mh = Buffer.from(ba.signalling.mh);
  mh.writeUInt16BE(0, 4);
  return mh.toString('hex');
}

/** What tshark reads in the BA as it arrived (its IPv6 packet). */
const dissected = (ba: SignalPacket) => tshark([ba.ipv6], { linktype: LINKTYPE_RAW })[0]!;

function sendFromMn(ipv6Packet: Buffer): void {
  t.lab.within(t.ns.mn, () => {
    const sock = new RawIpSocket(6);
    sock.send(ipv6Packet, ipv6Packet.subarray(24, 40));
    sock.close();
  });
}

/** What send() delivers is dropped unanswered: counted under "discarded", said, nothing changed. */
async function discardedUnanswered(send: () => void, saying: RegExp): Promise<void> {
  const discarded = ha.answered.get(-1) ?? 0;
  const before = ha.homeAgent.binding(MN.nai);
  send();
  for (const end = Date.now() + 3000; (ha.answered.get(-1) ?? 0) === discarded && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  expect(ha.answered.get(-1)).toBe(discarded + 1);
  expect(said.some((l) => saying.test(l))).toBe(true);
  await new Promise((r) => setTimeout(r, 200));
  expect(arrived).toEqual([]);
  expect(ha.homeAgent.binding(MN.nai)).toEqual(before);
}

function unchanged(nai: string) {
  expect(ha.homeAgent.binding(nai)).toBeUndefined();
  expect(t.anchor.bindingIds()).toEqual([]);
}

describe('refused over IPv6: the BA comes back to the care-of address with a type 2 routing header', () => {
  it.each([
    { what: 'an unknown NAI (146, unsigned: no key to sign with)', spec: { seq: 1, who: node('stranger@example.net', 4096, MN.home) }, status: BaStatus.mipv6AuthFail, who: null },
    { what: 'a BU signed with the wrong key (146, unsigned: anyone could have sent it)', spec: { seq: 2, key: OTHER_KEY }, status: BaStatus.mipv6AuthFail, who: null },
    { what: 'no H flag: not a home registration (131)', spec: { seq: 4, flags: { h: false } }, status: BaStatus.homeRegistrationNotSupported },
    { what: 'an IPv4 care-of address option over IPv6 (174)', spec: { seq: 5, options: [{ type: 'ipv4CareOfAddress', address: CARE_OF4 }] as MobilityOption[] }, status: BaStatus.invalidCareOfAddress },
    { what: 'a link-local alternate care-of address (174)', spec: { seq: 5, careOf: 'fe80::1', options: [{ type: 'alternateCareOfAddress', address: 'fe80::1' }] as MobilityOption[] }, status: BaStatus.invalidCareOfAddress },
    { what: 'a deregistration with no binding to end (133, RFC 6275 §10.3.2)', spec: { seq: 1, who: IDLE, lifetime: 0 }, status: BaStatus.notHomeAgentForThisMobileNode, who: IDLE },
    { what: 'the R flag from a node that is no mobile router (140)', spec: { seq: 6, flags: { r: true } }, status: BaStatus.mobileRouterOperationNotPermitted },
    { what: 'a mobile network prefix the router does not hold (142)', spec: { seq: 7, who: ROUTER, flags: { r: true }, options: [{ type: 'mobileNetworkPrefix', prefixLength: 48, prefix: '2001:db8:999::' }] as MobilityOption[] }, status: BaStatus.notAuthorizedForPrefix, who: ROUTER },
    { what: 'a mobile network prefix of length 0 (141)', spec: { seq: 8, who: ROUTER, flags: { r: true }, options: [{ type: 'mobileNetworkPrefix', prefixLength: 0, prefix: '::' }] as MobilityOption[] }, status: BaStatus.invalidPrefix, who: ROUTER },
  ])('$what', async ({ spec, status, who }) => {
    const { sent, ba } = await overIpv6(spec as BuSpec);
    const signer = who === null ? null : (who ?? MN);
    expect(ba.transport).toBe('ipv6');
    expect(ba.signalling.routingHeader2?.homeAddress).toBe((spec as BuSpec).who?.home ?? MN.home);
    expect(mhBytes(ba)).toBe(expectedBa(status, sent, (spec as BuSpec).careOf ?? CARE_OF6, { who: signer }).toString('hex'));
    expect(field(dissected(ba), 'mip6.ba.status')).toEqual([String(status)]);
    unchanged(signer?.nai ?? MN.nai);
  });

  it('a stale timestamp (144, carrying the home agent\'s clock for the node to take)', async () => {
    const { sent, ba } = await overIpv6({ seq: 3, timestampMs: Date.now() - 60_000 });
    const theirs = replayTimestampOf(ba.signalling.mh)!;
    expect(Math.abs(fromNtp(theirs) - Date.now())).toBeLessThan(2000);
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.mipv6IdMismatch, sent, CARE_OF6, { timestamp: theirs }).toString('hex'));
    expect(field(dissected(ba), 'mip6.ba.status')).toEqual(['144']);
    unchanged(MN.nai);
  });

  it('a home address that is not the node\'s (133)', async () => {
    const { sent, ba } = await overIpv6({ seq: 9, home: '2001:db8:1::999' });
    // signed over the home address the BU claimed: that is what the node will check it with
    const expected = signMnHa(expectedBa(BaStatus.notHomeAgentForThisMobileNode, sent, CARE_OF6, { who: null, options: [
      { type: 'mobileNodeIdentifier', subtype: 1, identifier: MN.nai }, { type: 'replayProtection', timestamp: replayTimestampOf(sent)! },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: MN.spi, authenticator: Buffer.alloc(12) }] }), { key: KEY, spi: MN.spi, careOf: CARE_OF6, home: '2001:db8:1::999' });
    expect(mhBytes(ba)).toBe(expected.toString('hex'));
    unchanged(MN.nai);
  });

  it('an IPv4 home address that is not the node\'s: accepted for IPv6, IPv4 Address Acknowledgement 130, only IPv6 tunnelled', async () => {
    const { sent, ba } = await overIpv6({ seq: 10, options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.55' }] });
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.accepted, sent, CARE_OF6, {
      lifetime: 600, options: [{ type: 'ipv4AddressAcknowledgement', status: Ipv4AckStatus.incorrectIpv4HomeAddress, prefixLength: 0, address: '10.1.0.55' }],
    }).toString('hex'));
    expect(t.anchor.lookupEntry(MN.home)).toMatchObject({ format: 'ip6', remote: CARE_OF6 });
    expect(t.anchor.lookupEntry('10.1.0.55')).toBeNull();
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toBeNull();
  });

  it('a sequence number not newer than the binding\'s (135, carrying the binding\'s number); the binding stays', async () => {
    const { sent, ba } = await overIpv6({ seq: 9 });
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.sequenceNumberOutOfWindow, sent, CARE_OF6, { sequence: 10 }).toString('hex'));
    expect(ha.homeAgent.binding(MN.nai)).toMatchObject({ sequence: 10, careOf: CARE_OF6 });
  });

  it('no H flag from a node with a home registration: a registration type change (139); the binding stays', async () => {
    const { sent, ba } = await overIpv6({ seq: 11, flags: { h: false } });
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.registrationTypeChangeDisallowed, sent, CARE_OF6).toString('hex'));
    expect(field(dissected(ba), 'mip6.ba.status')).toEqual(['139']);
    expect(ha.homeAgent.binding(MN.nai)).toMatchObject({ sequence: 10, careOf: CARE_OF6 });
  });

  it('no timestamp (145, with none to echo: RFC 4285 §6); the binding stays', async () => {
    const { sent, ba } = await overIpv6({ seq: 11, noTimestamp: true });
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.mipv6MesgIdReqd, sent, CARE_OF6).toString('hex'));
    expect(field(dissected(ba), 'mip6.ba.status')).toEqual(['145']);
    expect(ha.homeAgent.binding(MN.nai)).toMatchObject({ sequence: 10, careOf: CARE_OF6 });
  });

  it('a home address off the home link (132), signed over the address the BU claimed', async () => {
    const { sent, ba } = await overIpv6({ seq: 11, home: '2001:db8:9::1' });
    expect(ba.signalling.routingHeader2?.homeAddress).toBe('2001:db8:9::1');
    const expected = signMnHa(expectedBa(BaStatus.notHomeSubnet, sent, CARE_OF6, { who: null, options: [
      { type: 'mobileNodeIdentifier', subtype: 1, identifier: MN.nai }, { type: 'replayProtection', timestamp: replayTimestampOf(sent)! },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: MN.spi, authenticator: Buffer.alloc(12) }] }), { key: KEY, spi: MN.spi, careOf: CARE_OF6, home: '2001:db8:9::1' });
    expect(mhBytes(ba)).toBe(expected.toString('hex'));
    expect(field(dissected(ba), 'mip6.ba.status')).toEqual(['132']);
    expect(ha.homeAgent.binding(MN.nai)).toMatchObject({ sequence: 10, careOf: CARE_OF6 });
  });

  it('a host with no IPv4 home address asking for one: IPv4 Address Acknowledgement 129', async () => {
    const { sent, ba } = await overIpv6({ seq: 1, who: HOST, options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }] });
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.accepted, sent, CARE_OF6, {
      who: HOST, lifetime: 600, options: [{ type: 'ipv4AddressAcknowledgement', status: Ipv4AckStatus.administrativelyProhibited, prefixLength: 0, address: '0.0.0.0' }],
    }).toString('hex'));
  });

  it('a BU with a destination option whose unknown type asks for it gets an ICMP Parameter Problem (RFC 8200 §4.2), as tshark reads it at the node', async () => {
    const packet = encodeSignalling6({ src: CARE_OF6, dst: a.ha.v6, homeAddressOption: MN.home, mh: bu({ seq: 12 }, CARE_OF6) });
    expect([packet[6], packet[42], packet[43]]).toEqual([60, 1, 2]); // Destination Options; in it the PadN before the Home Address option...
    packet[42] = 0x8a; // ...made an unknown option: discard, and send a Parameter Problem
    const sent = ha.icmpErrors.sent;
    const { fields, sends } = await captureOne(t.ns.mn, 'v6', 'icmp6 and ip6[40] == 4', ['ipv6.src', 'icmpv6.code', 'icmpv6.pointer', 'icmpv6.checksum.status'], () => sendFromMn(packet));
    expect(fields).toEqual([a.ha.v6, '2', '42', '1']); // from the address the BU was for; code 2; the option's type byte; checksum good
    expect(ha.icmpErrors.sent).toBe(sent + sends);
    expect(arrived).toEqual([]); // no BA
    expect(ha.homeAgent.binding(MN.nai)).toMatchObject({ sequence: 10 });
  });

  it('a BU with a wrong MH checksum is discarded unanswered (RFC 6275 §9.2), said and counted', async () => {
    const packet = encodeSignalling6({ src: CARE_OF6, dst: a.ha.v6, homeAddressOption: MN.home, mh: bu({ seq: 10 }, CARE_OF6) });
    const mhAt = 40 + (packet[41]! + 1) * 8; // behind the Destination Options header with the Home Address option
    packet[mhAt + 4]! ^= 0x01;
    await discardedUnanswered(() => sendFromMn(packet), /MH with a wrong checksum/);
  });

  it('an MH whose Header Len does not match its packet is discarded unanswered, said and counted', async () => {
    const packet = encodeSignalling6({ src: CARE_OF6, dst: a.ha.v6, homeAddressOption: MN.home, mh: bu({ seq: 10 }, CARE_OF6) });
    const mhAt = 40 + (packet[41]! + 1) * 8;
    packet[mhAt + 1]! += 1; // eight bytes longer than the packet carries
    await discardedUnanswered(() => sendFromMn(packet), /undecodable signalling: mip6\.hlen/);
  });

  it('an MH type the home agent does not support (a HoTI) gets a Binding Error, status 2', async () => {
    const hoti = encodeMobilityHeader({ type: 'unsupported', mhType: 1, data: Buffer.alloc(10) });
    t.lab.within(t.ns.mn, () => {
      const sock = new RawIpSocket(6);
      sock.send(encodeSignalling6({ src: CARE_OF6, dst: a.ha.v6, mh: hoti }), addrBytes(a.ha.v6));
      sock.close();
    });
    const be = await nextBa();
    expect(mhBytes(be)).toBe(encodeMobilityHeader({ type: 'bindingError', status: BeStatus.unrecognizedMhType, homeAddress: '::', options: [] }).toString('hex'));
    expect(field(dissected(be), 'mip6.be.status')).toEqual(['2']);
  });
});

describe('refused in UDP through the NAT: the BA goes back in UDP to the NAT\'s address and port', () => {
  it('forced UDP against the policy (129)', async () => {
    const { sent, ba } = await throughNat({ seq: 20, flags: { f: true } });
    expect(ba.transport).toBe('udp4');
    expect(ba.outer).toMatchObject({ src: a.ha.v4, dst: CARE_OF4, srcPort: 4191, dstPort: 4191 }); // NAT reversed: the node sees its own port
    // a NAT was on the way: its NAT Detection option (RFC 5555 §3.2.2: "MUST be sent"), F as asked
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.administrativelyProhibited, sent, CARE_OF4, { options: [{ type: 'natDetection', f: true, refreshTime: 110 }] }).toString('hex'));
    expect(field(tshark([ba.ipv6], { linktype: LINKTYPE_RAW })[0]!, 'mip6.ba.status')).toEqual(['129']);
    expect(ha.homeAgent.binding(MN.nai)).toMatchObject({ careOf: CARE_OF6 }); // the IPv6 binding from before stands
  });

  it('a BU signed with the wrong key (146, unsigned); the NAT\'s mapping is where the reply went', async () => {
    const { sent, ba } = await throughNat({ seq: 21, key: OTHER_KEY });
    expect(mhBytes(ba)).toBe(expectedBa(BaStatus.mipv6AuthFail, sent, CARE_OF4, { who: null }).toString('hex'));
    expect(said.some((l) => /authentication/.test(l))).toBe(true);
    expect(verifyMnHa(ba.signalling.mh, { careOf: CARE_OF4, home: MN.home, keyFor: () => KEY }).verdict).not.toBe('ok'); // nothing for the node to believe
  });

  it('a BU in a UDP datagram with a wrong checksum is discarded unanswered (RFC 768), said and counted', async () => {
    const ipv6 = encodeSignalling6({ src: MN.home, dst: a.ha.v6, mh: bu({ seq: 22, options: [{ type: 'ipv4CareOfAddress', address: CARE_OF4 }] }, CARE_OF4) });
    const datagram = encodeSignalling4({ src: CARE_OF4, dst: a.ha.v4, srcPort: 4191, dstPort: 4191, ipv6 });
    datagram[20 + 6]! ^= 0x01; // the UDP checksum (the NAT's rewrite keeps it wrong)
    await discardedUnanswered(() => t.lab.within(t.ns.mn, () => {
      const sock = new RawIpSocket(4);
      sock.send(datagram, addrBytes(a.ha.v4));
      sock.close();
    }), /UDP datagram with a wrong checksum from .* discarded/);
  });

  it('accepted at last: the tunnel goes to the NAT\'s address and port', async () => {
    const { ba } = await throughNat({ seq: 22 });
    expect(field(dissected(ba), 'mip6.ba.status')).toEqual(['0']);
    expect(t.anchor.lookupEntry(MN.home)).toMatchObject({ format: 'udp4', remote: a.natOutside, remotePort: NAT_PORT });
  });
});

describe('duplicate address detection on the home link (RFC 6275 §10.3.1)', () => {
  it('a home address a host on the home link uses gets 134 once the probe is answered, nothing installed; freed, it is accepted', async () => {
    t.lab.exec(t.ns.home, `ip addr add ${TWIN.home}/64 dev br0 nodad`);
    const start = Date.now();
    const refused = await overIpv6({ seq: 1, who: TWIN });
    expect(Date.now() - start).toBeGreaterThanOrEqual(DAD_WAIT_MS - 20);
    expect(mhBytes(refused.ba)).toBe(expectedBa(BaStatus.duplicateAddressDetectionFailed, refused.sent, CARE_OF6, { who: TWIN }).toString('hex'));
    expect(field(dissected(refused.ba), 'mip6.ba.status')).toEqual(['134']);
    expect(said).toContain(`duplicate address detection: ${TWIN.home} is in use on the home link: ${TWIN.nai} refused`);
    expect(ha.homeAgent.binding(TWIN.nai)).toBeUndefined();
    expect(t.anchor.lookupEntry(TWIN.home)).toBeNull();

    t.lab.exec(t.ns.home, `ip addr del ${TWIN.home}/64 dev br0`);
    sendOverIpv6({ seq: 2, who: TWIN });
    sendOverIpv6({ seq: 3, who: TWIN, timestampMs: Date.now() + 5 }); // during the probe: held, then answered as a refresh
    const [first, second] = [await nextBa(), await nextBa()];
    expect(decodeMobilityHeader(first.signalling.mh)).toMatchObject({ status: 0, sequence: 2 });
    expect(decodeMobilityHeader(second.signalling.mh)).toMatchObject({ status: 0, sequence: 3 });
    expect(said.filter((l) => l.startsWith(`duplicate address detection for ${TWIN.home} before`))).toHaveLength(2); // the refused BU's, the first accepted one's
    expect(t.anchor.lookupEntry(TWIN.home)).toMatchObject({ format: 'ip6', remote: CARE_OF6 });
  });

  it('probes that overlap each hear what came during them: a conflict of the first is not lost when the second begins', async () => {
    t.lab.exec(t.ns.home, `ip addr add ${GONE.home}/64 dev br0 nodad`);
    try {
      sendOverIpv6({ seq: 1, who: GONE });
      await new Promise((r) => setTimeout(r, 300)); // GONE's probe answered by now
      sendOverIpv6({ seq: 1, who: LATE });
      const [first, second] = [await nextBa(), await nextBa()];
      expect(decodeMobilityHeader(first.signalling.mh)).toMatchObject({ status: 134 });
      expect(decodeMobilityHeader(second.signalling.mh)).toMatchObject({ status: 0 });
      expect(t.anchor.lookupEntry(GONE.home)).toBeNull();
      expect(t.anchor.lookupEntry(LATE.home)).toMatchObject({ remote: CARE_OF6 });
    } finally {
      t.lab.exec(t.ns.home, `ip addr del ${GONE.home}/64 dev br0`);
    }
  });

  it('a registration revoked during its probe is neither installed nor answered (counted as discarded)', async () => {
    const discarded = ha.answered.get(-1) ?? 0;
    sendOverIpv6({ seq: 2, who: GONE, timestampMs: Date.now() + 10 });
    await new Promise((r) => setTimeout(r, 200));
    expect(ha.revoke(GONE.nai)).toBe(true);
    await new Promise((r) => setTimeout(r, DAD_WAIT_MS + 300));
    expect(arrived).toEqual([]);
    expect(t.anchor.lookupEntry(GONE.home)).toBeNull();
    expect(ha.homeAgent.binding(GONE.nai)).toBeUndefined();
    expect(said).toContain(`duplicate address detection for ${GONE.home} over, the registration revoked or replaced meanwhile: nothing to answer`);
    expect(ha.answered.get(-1)).toBe(discarded + 1);
  });

  it('an advertisement a router forwarded (hop limit below 255), or a solicitation from someone resolving the address, is no answer to a probe', async () => {
    const before = said.filter((l) => l.startsWith(`duplicate address detection for ${FAR.home} before`)).length;
    sendOverIpv6({ seq: 1, who: FAR });
    const probing = () => said.filter((l) => l.startsWith(`duplicate address detection for ${FAR.home} before`)).length;
    for (const end = Date.now() + 2000; probing() === before && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(probing()).toBe(before + 1); // what follows comes during the probe
    expect(journalled(FAR.nai)).toBe(false); // journalled once it stands, not while it probes
    const na = unsolicitedNeighborAdvert('02:00:00:00:0f:ff', '2001:db8:1::ff', FAR.home);
    na[14 + 7] = 64; // the IPv6 hop limit (outside the ICMPv6 checksum): RFC 4861 §7.1.2
    const { resolving } = scapy({ // from an address: resolving it, not claiming it (RFC 4862 §5.4.3)
      resolving: `Ether(src='02:00:00:00:0f:fd', dst='33:33:ff:00:08:00')/IPv6(src='2001:db8:1::fd', dst='ff02::1:ff00:800', hlim=255)/ICMPv6ND_NS(tgt='${FAR.home}')/ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:0f:fd')`,
    });
    t.lab.within(t.ns.home, () => {
      const sock = new PacketSocket('br0');
      sock.send(na);
      sock.send(resolving!);
      sock.close();
    });
    expect(decodeMobilityHeader((await nextBa()).signalling.mh)).toMatchObject({ status: 0, sequence: 1 });
    expect(t.anchor.lookupEntry(FAR.home)).toMatchObject({ remote: CARE_OF6 });
    expect(journalled(FAR.nai)).toBe(true);
  });

  it('another host probing for the address at the same time (its solicitation from ::) makes it 134 (RFC 4862 §5.4.3)', async () => {
    const probing = () => said.filter((l) => l.startsWith(`duplicate address detection for ${RIVAL.home} before`)).length;
    const before = probing();
    sendOverIpv6({ seq: 1, who: RIVAL });
    for (const end = Date.now() + 2000; probing() === before && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(probing()).toBe(before + 1);
    t.lab.within(t.ns.home, () => {
      const sock = new PacketSocket('br0');
      sock.send(dadSolicitation('02:00:00:00:0f:fe', RIVAL.home));
      sock.close();
    });
    expect(decodeMobilityHeader((await nextBa()).signalling.mh)).toMatchObject({ status: 134, sequence: 1 });
    expect(t.anchor.lookupEntry(RIVAL.home)).toBeNull();
  });

  it('while a probe runs, a forged or replayed BU is answered at once; the node\'s own wait, 8 at most (the oldest discarded, said)', async () => {
    const probing = () => said.filter((l) => l.startsWith(`duplicate address detection for ${WAITS.home} before`)).length;
    const start = Date.now();
    sendOverIpv6({ seq: 1, who: WAITS, timestampMs: start });
    for (const end = Date.now() + 2000; probing() === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(probing()).toBe(1);
    const forged = await overIpv6({ seq: 2, who: WAITS, key: OTHER_KEY, timestampMs: start + 1 });
    expect(mhBytes(forged.ba)).toBe(expectedBa(BaStatus.mipv6AuthFail, forged.sent, CARE_OF6, { who: null }).toString('hex'));
    const replayed = await overIpv6({ seq: 2, who: WAITS, timestampMs: start }); // the probing BU's timestamp again
    expect(decodeMobilityHeader(replayed.ba.signalling.mh)).toMatchObject({ status: BaStatus.mipv6IdMismatch, sequence: 2 });
    expect(Date.now() - start).toBeLessThan(DAD_WAIT_MS); // both before the probe is over
    for (let seq = 3; seq <= 11; seq++) sendOverIpv6({ seq, who: WAITS, timestampMs: start + seq });
    const bas = [];
    for (let k = 0; k < 9; k++) bas.push(decodeMobilityHeader((await nextBa()).signalling.mh));
    expect(bas.map((m) => [m.type === 'bindingAcknowledgement' && m.status, m.type === 'bindingAcknowledgement' && m.sequence])).toEqual([[0, 1], ...[4, 5, 6, 7, 8, 9, 10, 11].map((q) => [0, q])]);
    expect(said).toContain(`BU from ${CARE_OF6} waiting for the probe of ${WAITS.home} discarded: more than 8 came`);
    expect(ha.homeAgent.binding(WAITS.nai)).toMatchObject({ sequence: 11 });
  });

  it('a stop during a probe undoes its registration (the last test here: the home agent stays stopped)', async () => {
    const probing = () => said.filter((l) => l.startsWith(`duplicate address detection for ${GONE.home} before: registered`)).length;
    const before = probing();
    sendOverIpv6({ seq: 3, who: GONE, timestampMs: Date.now() + 20 });
    for (const end = Date.now() + 2000; probing() === before && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(ha.homeAgent.binding(GONE.nai)).toMatchObject({ sequence: 3 }); // tentative while it probes
    sendOverIpv6({ seq: 4, who: GONE, timestampMs: Date.now() + 30 }); // waits for the probe
    await new Promise((r) => setTimeout(r, 100)); // (it reaches the home agent, and is held)
    const discarded = ha.answered.get(-1) ?? 0;
    ha.stop();
    expect(ha.answered.get(-1)).toBe(discarded + 2); // the probing BU and the one waiting: unanswered, counted
    expect(said).toContain(`BU from ${CARE_OF6} waiting for the probe of ${GONE.home} discarded: the home agent stopped`);
    expect(ha.homeAgent.binding(GONE.nai)).toBeUndefined();
    expect(said).toContain(`duplicate address detection for ${GONE.home} cut short by a stop: undone (registered ${GONE.nai} at ${CARE_OF6} (ip6))`);
    await new Promise((r) => setTimeout(r, DAD_WAIT_MS + 300));
    expect(arrived).toEqual([]);
    expect(t.anchor.lookupEntry(GONE.home)).toBeNull();
  });
});

