/**
 * Fuzzing the signalling decoders and the state machines behind them with
 * mutated real messages: bit flips, byte overwrites, truncations,
 * extensions, splices of two messages, all from a seeded generator (a run
 * is reproducible). A decoder may only return or throw DecodeError; a
 * handler (the home agent's BU processing, the mobile node's BA handling,
 * `decode`'s packet inspection) may only return. Anything else is a
 * finding, kept with its input.
 *
 * Used by test/fuzz (a hundred thousand inputs per target) and by
 * `make bench` (a million per target, with the rate printed).
 */
import { parseHomeAgentConfig } from '../control/ha/config.js';
import { receivedBu } from '../control/ha/daemon.js';
import { HomeAgent, type Outcome } from '../control/ha/home-agent.js';
import { parseMobileNodeConfig } from '../control/mn/config.js';
import { MobileNode } from '../control/mn/mobile-node.js';
import { unwrapSignal } from '../control/signalling/channel.js';
import { signMnHa, verifyMnHa } from '../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../control/wire/auth/replay.js';
import { DecodeError } from '../control/wire/buffer.js';
import { dhcpDiscover, encodeDhcp4 } from '../control/wire/dhcp4/index.js';
import { inspectPacket } from '../control/wire/inspect.js';
import { decodeSignalling, decodeSignalling6, encodeSignalling4, encodeSignalling6 } from '../control/wire/ip/signalling.js';
import { decodeMobilityHeader, encodeMobilityHeader, NO_BU_FLAGS, type MobilityHeader, type MobilityOption } from '../control/wire/mh/index.js';
import { encodeMip4, makeRegistrationRequest } from '../control/wire/mipv4/index.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const HA6 = '2001:db8:1::1';
const HA4 = '10.1.0.1';
const HOME = '2001:db8:1::100';
const CARE_OF = '2001:db8:f::2';
const FLAGS = { ...NO_BU_FLAGS, a: true, h: true, r: true, f: true, t: true };

/** xorshift32: fast, seeded, good enough to pick mutations. */
export class Rng {
  constructor(private state: number) {
    if (this.state === 0) this.state = 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/** One mutation (or a few) of seed: what a broken sender, a bad link or an attacker makes. */
export function mutate(seed: Buffer, rng: Rng, other: Buffer): Buffer {
  let b = Buffer.from(seed);
  for (let rounds = 1 + rng.below(3); rounds > 0; rounds--) {
    switch (rng.below(7)) {
      case 0: if (b.length) b[rng.below(b.length)]! ^= 1 << rng.below(8); break; // bit flip
      case 1: if (b.length) b[rng.below(b.length)] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)]!; break; // interesting byte
      case 2: b = b.subarray(0, rng.below(b.length + 1)); break; // truncation
      case 3: b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rng.below(64) }, () => rng.below(256)))]); break; // extension
      case 4: { const at = rng.below(b.length + 1); b = Buffer.concat([b.subarray(0, at), other.subarray(rng.below(other.length + 1))]); break; } // splice
      case 5: if (b.length > 1) { const at = rng.below(b.length - 1); b.writeUInt16BE(rng.below(0x10000), at); } break; // a length or type field
      default: if (b.length) b.fill(rng.below(256), rng.below(b.length), rng.below(b.length + 1)); // a run of one byte
    }
  }
  return b;
}

function mh(m: MobilityHeader, careOf: string): Buffer {
  return signMnHa(encodeMobilityHeader(m), { key: KEY, spi: 4096, careOf, home: HOME });
}

const auth = (spi = 4096): MobilityOption[] => [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn@example.net' }, { type: 'replayProtection', timestamp: ntpTimestamp(1_000_000) },
  { type: 'mobilityMessageAuthentication', subtype: 1, spi, authenticator: Buffer.alloc(12) }];

/** Real messages to start from: what the home agent and the mobile node send each other, and the other protocols `decode` reads. */
export function seeds(): { bu: Buffer[]; ba: Buffer[]; packets: Buffer[] } {
  const bu = mh({ type: 'bindingUpdate', sequence: 7, lifetime: 600, flags: FLAGS, options: [
    { type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }, { type: 'mobileNetworkPrefix', prefixLength: 48, prefix: '2001:db8:100::' },
    { type: 'alternateCareOfAddress', address: CARE_OF }, ...auth()] }, CARE_OF);
  const bu4 = mh({ type: 'bindingUpdate', sequence: 8, lifetime: 600, flags: FLAGS, options: [{ type: 'ipv4CareOfAddress', address: '10.0.0.2' }, ...auth()] }, '10.0.0.2');
  const ba = mh({ type: 'bindingAcknowledgement', status: 0, sequence: 7, lifetime: 600, flags: { k: false, r: true, p: false, t: true }, options: [
    { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.100' }, { type: 'natDetection', f: false, refreshTime: 110 }, ...auth()] }, CARE_OF);
  const brr = encodeMobilityHeader({ type: 'bindingRefreshRequest', options: [] });
  const be = encodeMobilityHeader({ type: 'bindingError', status: 2, homeAddress: HOME, options: [] });
  const v6 = (m: Buffer, extra: object = {}) => encodeSignalling6({ src: CARE_OF, dst: HA6, mh: m, ...extra });
  const udp = (ipv6: Buffer, tlv = false) => encodeSignalling4({ src: '203.0.113.2', dst: HA4, srcPort: 40000, dstPort: 4191, ipv6, ...(tlv && { tlv }) });
  const rrq = encodeMip4(makeRegistrationRequest({ lifetime: 600, homeAddress: '10.1.0.100', homeAgent: HA4, careOfAddress: '198.51.100.2', identification: 1n }));
  const dhcp = encodeDhcp4(dhcpDiscover({ xid: 0x1234, chaddr: '02:00:00:00:00:01', hostname: 'mn' }));
  return {
    bu: [bu, bu4],
    ba: [ba, brr, be],
    packets: [v6(bu, { homeAddressOption: HOME }), v6(ba, { routingHeader2: HOME }), v6(brr), v6(be), udp(v6(bu4)), udp(v6(bu4), true),
      ipv4Udp(434, rrq), ipv4Udp(67, dhcp)],
  };
}

/** An IPv4 + UDP packet around payload (checksums left zero: decoders must cope with any value anyway). */
function ipv4Udp(port: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(28);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([198, 51, 100, 2]).copy(ip, 12);
  Buffer.from([10, 1, 0, 1]).copy(ip, 16);
  ip.writeUInt16BE(port === 67 ? 68 : port, 20);
  ip.writeUInt16BE(port, 22);
  ip.writeUInt16BE(8 + payload.length, 24);
  return Buffer.concat([ip, payload]);
}

export interface Target {
  name: string;
  inputs: Buffer[];
  /** Runs one input; returns 'rejected' when it was refused as it should be (a DecodeError, a discarded message). */
  run(input: Buffer): 'ok' | 'rejected';
}

const rejecting = (fn: () => unknown): 'ok' | 'rejected' => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof DecodeError) return 'rejected';
    throw err;
  }
};

/**
 * Two home agents whose node registered through the general path, and so
 * has its next BU predicted in one (control/ha/prediction.ts); the other,
 * its twin, answers the same bytes the general way. That next BU's IPv6
 * packet, from the same care-of address and from another.
 */
function predicting(): { ha: HomeAgent; twin: HomeAgent; packets: Buffer[] } {
  const bu = (sequence: number, careOf: string) => encodeSignalling6({ src: careOf, dst: HA6, homeAddressOption: HOME, mh: signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence, lifetime: 600, flags: { ...NO_BU_FLAGS, a: true, h: true }, options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.100' },
      { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn@example.net' }, { type: 'replayProtection', timestamp: ntpTimestamp(1_000_000 + sequence) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: 4096, authenticator: Buffer.alloc(12) }],
  }), { key: KEY, spi: 4096, careOf, home: HOME }) });
  const [ha, twin] = [0, 1].map(() => {
    const h = new HomeAgent(parseHomeAgentConfig({
      homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] }, homeAgent: { ipv6: HA6 }, policy: { duplicateAddressDetection: false, replayWindow: 3600 },
      mobileNodes: [{ nai: 'mn@example.net', key: KEY.toString('hex'), spi: 4096, homeAddress: HOME, ipv4HomeAddress: '10.1.0.100' }],
    }));
    if (h.handleBindingUpdate(received(bu(7, CARE_OF))).status !== 0) throw new Error('the fuzzed node did not register');
    return h;
  }) as [HomeAgent, HomeAgent];
  return { ha, twin, packets: [bu(8, CARE_OF), bu(8, '2001:db8:e::9')] };
}

/** An IPv6 signalling packet as the daemon's general path takes it. */
const received = (packet: Buffer) => receivedBu(unwrapSignal({ ifindex: 1, frame: Buffer.concat([Buffer.from('02000000000102000000000286dd', 'hex'), packet]) }), 1_000_000);

/** A BA as the daemon sends it: its IPv6 packet. */
function sent(o: Outcome): string | undefined {
  const r = o.reply;
  if (!r || r.route.transport !== 'ipv6') return undefined;
  return (r.packet ?? encodeSignalling6({ src: r.route.src, dst: r.route.dst, ...(r.route.routingHeader2 !== undefined && { routingHeader2: r.route.routingHeader2 }), mh: r.mh })).toString('hex');
}

/** Every target, each with fresh state (a home agent, a mobile node waiting for a BA). */
export function targets(): Target[] {
  const s = seeds();
  const ha = new HomeAgent(parseHomeAgentConfig({
    homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] }, homeAgent: { ipv6: HA6, ipv4: HA4 },
    pools: { p: { from: '10.1.0.200', to: '10.1.0.210' } },
    mobileNodes: [{ nai: 'mn@example.net', key: KEY.toString('hex'), spi: 4096, homeAddress: HOME, ipv4HomeAddress: { pool: 'p' }, mobileRouter: true, prefixes: ['2001:db8:100::/48'] }],
  }));
  const mn = new MobileNode(parseMobileNodeConfig({
    nai: 'mn@example.net', key: KEY.toString('hex'), spi: 4096, homeAddress: HOME, ipv4HomeAddress: 'dynamic', homeLink: { prefixes: ['2001:db8:1::/64'] },
    homeAgent: { ipv6: HA6, ipv4: HA4 }, interfaces: ['eth0'], mobileRouter: true, prefixes: ['2001:db8:100::/48'],
  }), 6);
  mn.attach({ ifname: 'eth0', ipv6: CARE_OF }, 1_000_000);
  let predicted = predicting();
  const frame = (ip: Buffer) => Buffer.concat([Buffer.from(`020000000001020000000002${ip[0]! >> 4 === 6 ? '86dd' : '0800'}`, 'hex'), ip]);
  return [
    { name: 'Mobility Header decoder', inputs: [...s.bu, ...s.ba], run: (b) => rejecting(() => decodeMobilityHeader(b)) },
    { name: 'signalling packet decoder (IPv6, UDP/IPv4, TLV)', inputs: s.packets.slice(0, 6), run: (b) => rejecting(() => decodeSignalling(b)) },
    { name: 'captured frame → signalling (the daemons\' entry)', inputs: s.packets.slice(0, 6).map(frame), run: (b) => rejecting(() => unwrapSignal({ ifindex: 1, frame: b })) },
    { name: '`decode` packet inspection (MIPv6, MIPv4, DHCPv4)', inputs: s.packets, run: (b) => (inspectPacket(b) ? 'ok' : 'rejected') },
    {
      name: 'home agent: Binding Update handling', inputs: s.bu,
      run: (b) => (ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: CARE_OF, dst: HA6 }, ipv6Src: CARE_OF, homeAddressOption: HOME, mh: b, nowMs: 1_000_000 }).status === 0 ? 'ok' : 'rejected'),
    },
    {
      // whatever the prediction accepts, the general path accepts alike (its twin, the same bytes): then both start again
      name: 'home agent: predicted Binding Updates', inputs: predicted.packets,
      run: (b) => {
        const checked = predicted.ha.predictBatch([frame(b)])[0];
        const fast = checked && predicted.ha.predictedUpdate(checked, 1_000_000);
        if (!fast) return 'rejected';
        const p = decodeSignalling6(b);
        const verdict = verifyMnHa(p.mh, { careOf: p.ipv6.src, home: p.homeAddressOption ?? '::', keyFor: () => KEY }).verdict;
        if (!p.mhChecksumOk || verdict !== 'ok') throw new Error(`predicted a BU the general path refuses: checksum ${p.mhChecksumOk ? 'right' : 'wrong'}, authentication ${verdict}`);
        const general = predicted.twin.handleBindingUpdate(received(b));
        if (general.status !== fast.status || sent(general) !== sent(fast) || JSON.stringify(general.dataPlane) !== JSON.stringify(fast.dataPlane)) {
          throw new Error(`predicted ${fast.event}, the general path: ${general.event}`);
        }
        predicted = predicting();
        return 'ok';
      },
    },
    {
      name: 'mobile node: BA handling', inputs: s.packets.slice(1, 4),
      run: (b) => {
        const r = rejecting(() => decodeSignalling(b));
        if (r === 'rejected') return r;
        const p = decodeSignalling(b);
        return p.transport === 'ipv6' && mn.handleSignal({ signalling: p }, 1_000_000).registration ? 'ok' : 'rejected';
      },
    },
  ];
}

export interface FuzzResult {
  name: string;
  inputs: number;
  rejected: number;
  perSecond: number;
  /** Anything but a clean return or a DecodeError: the first few, with their inputs. */
  findings: { error: string; input: string }[];
}

export function fuzz(target: Target, iterations: number, seed = 1): FuzzResult {
  const rng = new Rng(seed);
  const findings: FuzzResult['findings'] = [];
  let rejected = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const base = target.inputs[rng.below(target.inputs.length)]!;
    const input = rng.below(50) === 0 ? Buffer.from(Array.from({ length: rng.below(200) }, () => rng.below(256))) : mutate(base, rng, target.inputs[rng.below(target.inputs.length)]!);
    try {
      if (target.run(input) === 'rejected') rejected++;
    } catch (err) {
      if (findings.length < 5) findings.push({ error: (err as Error).stack ?? String(err), input: input.toString('hex') });
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name: target.name, inputs: iterations, rejected, perSecond: iterations / seconds, findings };
}

/** For `make bench`: a million inputs per target, beside the mutation alone (the harness's own cost, same run). */
export function fuzzBench(iterations = 1_000_000): { harness: number; results: FuzzResult[] } {
  const baseline = fuzz({ name: 'mutation alone', inputs: seeds().packets, run: () => 'ok' }, iterations);
  return { harness: baseline.perSecond, results: targets().map((t) => fuzz(t, iterations)) };
}

export function fuzzRows(f: ReturnType<typeof fuzzBench>): { name: string; value: number; unit: string; baseline?: string }[] {
  return [
    { name: 'fuzz/harness', value: Math.round(f.harness), unit: 'inputs/s' },
    ...f.results.flatMap((r) => [
      { name: `fuzz/${r.name}`, value: Math.round(r.perSecond), unit: 'inputs/s', baseline: 'fuzz/harness' },
      { name: `fuzz/${r.name}/findings`, value: r.findings.length, unit: 'inputs' },
    ]),
  ];
}

export function fuzzTable(f: ReturnType<typeof fuzzBench>): string {
  const lines = [`6. Fuzzing: ${f.results[0]?.inputs.toLocaleString('en')} mutated real messages per target (seeded), mutation alone ${Math.round(f.harness).toLocaleString('en')}/s`];
  for (const r of f.results) {
    lines.push(`   ${r.name.padEnd(52)} ${Math.round(r.perSecond).toLocaleString('en').padStart(9)}/s  refused ${(100 * r.rejected / r.inputs).toFixed(0).padStart(3)}%  findings ${r.findings.length}`);
    for (const x of r.findings) lines.push(`     ${x.error.split('\n')[0]} on ${x.input.slice(0, 64)}…`);
  }
  return lines.join('\n');
}
