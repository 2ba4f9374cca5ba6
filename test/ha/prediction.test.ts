/**
 * BU prediction (control/ha/prediction.ts) held to the general path: two
 * home agents take the same random walk of BUs, one always the general way,
 * the other its prediction first. Every answer must be the same: status,
 * BA bytes (and the IPv6 packet the daemon would send), route, data-plane
 * changes, event, the binding cache and every journalled change, and the
 * same again when the data plane refuses a change (143) or a probe finds
 * an address taken (134). The second walk adds expiry (Binding Refresh
 * Requests, deletions), revocations, profiles saved again, two nodes
 * competing for one link-local address, duplicate address detection, and
 * the journal file read back after every step.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { BindingJournal } from '../../control/ha/journal.js';
import { receivedBu } from '../../control/ha/daemon.js';
import { HomeAgent, type BindingCacheEntry, type Outcome } from '../../control/ha/home-agent.js';
import { BuTemplate, predictedLayout, Predictor } from '../../control/ha/prediction.js';
import { Btf } from '../../control/dataplane/btf.js';
import { packageRoot } from '../../control/dataplane/dataplane.js';
import { MN_HA_AUTHENTICATOR_LENGTH, writeMnHaAuthenticator } from '../../control/wire/auth/mipv6.js';
import { HmacSha1Key } from '../../control/wire/auth/sha1.js';
import { onesSum, pseudoHeader6 } from '../../control/wire/checksum.js';
import { IPPROTO } from '../../control/wire/ip/constants.js';
import { unwrapSignal } from '../../control/signalling/channel.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { fromNtp, ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { BaStatus, OptionType } from '../../control/wire/mh/constants.js';
import { encodeMobilityHeader, NO_BU_FLAGS, type MobilityOption } from '../../control/wire/mh/index.js';
import { optionLocations } from '../../control/wire/mh/messages.js';

const KEY = Buffer.alloc(20, 0x3c);
const HA = '2001:db8:f::1';
const ETH = Buffer.from('02000000000102000000000286dd', 'hex');
const START_MS = 1_800_000_000_000;

interface Node { nai: string; spi: number; home: string; options: () => MobilityOption[]; flags: { r?: boolean; l?: boolean } }
const nodes: Node[] = [
  { nai: 'static@example.net', spi: 1000, home: '2001:db8:1::10', options: () => [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.10' }], flags: {} },
  { nai: 'pooled@example.net', spi: 1001, home: '2001:db8:1::11', options: () => [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }], flags: {} },
  { nai: 'router@example.net', spi: 1002, home: '2001:db8:1::12', options: () => [{ type: 'mobileNetworkPrefix', prefixLength: 48, prefix: '2001:db8:300::' }], flags: { r: true } },
  { nai: 'linklocal@example.net', spi: 1003, home: '2001:db8:1::13', options: () => [], flags: { l: true } },
  { nai: 'plain@example.net', spi: 1004, home: '2001:db8:1::14', options: () => [], flags: {} },
  { nai: 'twin@example.net', spi: 1005, home: '2001:db8:2::13', options: () => [], flags: { l: true } }, // the same link-local address as linklocal@
];
const config = (policy: object) => parseHomeAgentConfig({
  homeLink: { interface: 'lo', prefixes: ['2001:db8:1::/64', '2001:db8:2::/64', '10.1.0.0/24'] }, homeAgent: { ipv6: HA },
  pools: { visitors: { from: '10.1.0.200', to: '10.1.0.210' } },
  policy: { maxLifetime: 1000, replayWindow: 60, ...policy },
  mobileNodes: [
    { nai: nodes[0]!.nai, key: KEY.toString('hex'), spi: 1000, homeAddress: nodes[0]!.home, ipv4HomeAddress: '10.1.0.10' },
    { nai: nodes[1]!.nai, key: KEY.toString('hex'), spi: 1001, homeAddress: nodes[1]!.home, ipv4HomeAddress: { pool: 'visitors' } },
    { nai: nodes[2]!.nai, key: KEY.toString('hex'), spi: 1002, homeAddress: nodes[2]!.home, mobileRouter: true, prefixes: ['2001:db8:300::/48'] },
    { nai: nodes[3]!.nai, key: KEY.toString('hex'), spi: 1003, homeAddress: nodes[3]!.home },
    { nai: nodes[4]!.nai, key: KEY.toString('hex'), spi: 1004, homeAddress: nodes[4]!.home },
    { nai: nodes[5]!.nai, key: KEY.toString('hex'), spi: 1005, homeAddress: nodes[5]!.home },
  ],
});
const QUIET = { duplicateAddressDetection: false };
const BUSY = { duplicateAddressDetection: true, bindingRefreshLead: 30, minDelayBeforeBceDelete: 10 };

/** A small deterministic generator (mulberry32): the walk is the same on every run. */
function random(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

interface Step {
  node: Node; careOf: string; sequence: number; timestampMs: number; lifetime: number; flags: { r?: boolean; l?: boolean }; damage?: 'authenticator' | 'checksum' | 'key'; nowMs: number;
  /** The IPv6 header's fields that nothing reads: a kernel labels each flow its own way, a path sets the hop limit. */
  header?: { flowLabel: number; trafficClass: number; hopLimit: number };
}

/** A step's BU as the data plane captures it. */
function frame(s: Step): Buffer {
  const n = s.node;
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence: s.sequence, lifetime: s.lifetime, flags: { ...NO_BU_FLAGS, a: true, h: true, ...s.flags },
    options: [...n.options(), { type: 'mobileNodeIdentifier', subtype: 1, identifier: n.nai }, { type: 'replayProtection', timestamp: ntpTimestamp(s.timestampMs) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: n.spi, authenticator: Buffer.alloc(12) }],
  }), { key: s.damage === 'key' ? Buffer.alloc(20, 1) : KEY, spi: n.spi, careOf: s.careOf, home: n.home });
  const packet = encodeSignalling6({ src: s.careOf, dst: HA, homeAddressOption: n.home, mh, ...s.header });
  if (s.damage === 'authenticator') packet[packet.length - 1] ^= 1;
  if (s.damage === 'checksum') packet[packet.length - mh.length + 4] ^= 0x40;
  return Buffer.concat([ETH, packet]);
}

const dir = mkdtempSync(join(tmpdir(), 'prediction-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let journals = 0;

/** A home agent, every change it journalled, and its journal file, read back (a copy, as a restart would read it) by readBack(). */
function homeAgent(policy: object = QUIET) {
  const journal: { nai: string; entry: BindingCacheEntry | undefined }[] = [];
  const path = join(dir, `journal-${journals++}`);
  const file = BindingJournal.open(path).journal;
  const ha: HomeAgent = new HomeAgent(config(policy), (nai, entry) => {
    journal.push({ nai, entry: entry && structuredClone(entry) });
    file.record(nai, entry, () => ha.entries());
  });
  const readBack = () => {
    copyFileSync(path, `${path}.copy`);
    const copy = BindingJournal.open(`${path}.copy`);
    copy.journal.close();
    return { entries: copy.entries.sort((a, b) => a.nai.localeCompare(b.nai)), problems: copy.problems };
  };
  return { ha, journal, readBack, close: () => file.close() };
}

/** What must be alike in two outcomes; the BA's IPv6 packet as the daemon sends it. */
function seen(o: Outcome | undefined) {
  if (!o) return undefined;
  const r = o.reply;
  const route = r?.route;
  const packet = r && route?.transport === 'ipv6' ? r.packet ?? encodeSignalling6({ src: route.src, dst: route.dst, ...(route.routingHeader2 !== undefined && { routingHeader2: route.routingHeader2 }), mh: r.mh }) : undefined;
  if (r?.packet) expect(r.packet.subarray(r.packet.length - r.mh.length)).toEqual(r.mh);
  return { status: o.status, event: o.event, dataPlane: o.dataPlane, mh: packet ? undefined : r?.mh.toString('hex'), route, packet: packet?.toString('hex'), undo: o.onDataPlaneFailure !== undefined, dad: o.dad?.addresses };
}

/** The prediction's answer to a frame, as the daemon asks for it (a drain of one); undefined if not predicted. */
const predicted = (ha: HomeAgent, f: Buffer, nowMs: number) => {
  const bu = ha.predictBatch([f])[0];
  return bu && ha.predictedUpdate(bu, nowMs);
};

/** The general path, as the daemon takes a frame its prediction did not answer. */
const general = (ha: HomeAgent, f: Buffer, nowMs: number) => {
  const p = unwrapSignal({ ifindex: 1, frame: f });
  return p.signalling.mhChecksumOk ? ha.handleBindingUpdate(receivedBu(p, nowMs)) : undefined; // (the daemon discards it)
};

/** What a step does (good BUs more often than bad ones). */
/** What a step does: good BUs more often than bad ones; the busy walk also lets time pass, revokes, and saves profiles again. */
const KINDS = ['refresh', 'refresh', 'refresh', 'move', 'move', 'move', 'replay', 'old-sequence', 'authenticator', 'checksum', 'key',
  'deregister', 'home', 'flags', 'lifetime', 'late', 'unusable'];
/** Sources that name no care-of address (register(): 174): link-local, multicast, on the home link, ours. */
const UNUSABLE = ['fe80::5', 'ff02::1', '2001:db8:1::77', '2001:db8:2::9', HA];
const BUSY_KINDS = [...KINDS, 'expire', 'expire', 'revoke', 'resave'];

/** Where a move goes: half of the time to words with their high bit set (in-place.ts keeps them as int32, negative). */
const moveTo = (next: (n: number) => number) => `2001:db8:e:${next(4)}:${next(2) ? 'ffff:ffff:fff0' : '0:0:0'}:${next(0xffff).toString(16)}`;

/** Two home agents through the same random walk, one the general way only: the same answers at every step. Returns what it did. */
function walk(seed: number, steps: number, policy: object, kinds: readonly string[]) {
  const plain = homeAgent(policy), predicting = homeAgent(policy);
  const next = random(seed);
  const last = new Map(nodes.map((n) => [n, { careOf: `2001:db8:e::${n.spi.toString(16)}`, sequence: 0, timestampMs: START_MS, flags: n.flags }]));
  let nowMs = START_MS, journalled = 0;
  const done = { predicted: 0, failures: 0, refused: 0, kinds: new Set<string>() };
  for (let i = 0; i < steps; i++) {
    nowMs += 1 + next(400);
    const node = nodes[next(nodes.length)]!;
    const was = last.get(node)!;
    const kind = kinds[next(kinds.length)]!;
    done.kinds.add(kind);
    if (kind === 'expire') { // minutes pass: refresh requests, expiries, deprecated entries deleted
      nowMs += next(300_000);
      expect(predicting.ha.expire(nowMs).map(seen), `step ${i}: expiry`).toEqual(plain.ha.expire(nowMs).map(seen));
    } else if (kind === 'revoke') {
      expect(predicting.ha.revoke(node.nai, nowMs)).toEqual(plain.ha.revoke(node.nai, nowMs));
    } else if (kind === 'resave') { // the same profile saved again through the API: a new profile object
      expect(predicting.ha.setProfile({ ...predicting.ha.profile(node.nai)! })).toEqual(plain.ha.setProfile({ ...plain.ha.profile(node.nai)! }));
    } else {
      const step: Step = {
        node, nowMs, careOf: kind === 'move' ? moveTo(next) : kind === 'home' ? node.home : kind === 'unusable' ? UNUSABLE[next(UNUSABLE.length)]! : was.careOf,
        sequence: kind === 'old-sequence' ? was.sequence : (was.sequence + 1 + next(3)) & 0xffff,
        timestampMs: kind === 'replay' ? was.timestampMs : kind === 'late' ? nowMs - 70_000 : nowMs - next(50),
        lifetime: kind === 'deregister' ? 0 : kind === 'lifetime' ? 4 * (25 + next(500)) : 600,
        flags: kind === 'flags' ? { ...node.flags, l: !was.flags.l } : was.flags,
        header: { flowLabel: next(0x100000), trafficClass: next(256), hopLimit: 1 + next(255) },
        ...(kind === 'authenticator' || kind === 'checksum' || kind === 'key' ? { damage: kind } : {}),
      };
      const f = frame(step);
      const expected = general(plain.ha, f, nowMs);
      const fast = predicted(predicting.ha, f, nowMs);
      const outcome = fast ?? general(predicting.ha, f, nowMs);
      if (fast) done.predicted++;
      expect(seen(outcome), `step ${i}: ${kind} of ${node.nai}${fast ? ' (predicted)' : ''}`).toEqual(seen(expected));
      if (expected?.status === 0) last.set(node, { careOf: step.careOf, sequence: step.sequence, timestampMs: step.timestampMs, flags: step.flags });
      const spent = { ...was, sequence: step.sequence, timestampMs: step.timestampMs }; // an undone BU's timestamp and sequence number stay spent: the node sends newer ones
      if (expected?.dad && next(3) === 0) { // the probe hears the address in use: both refuse it alike
        done.refused++;
        expect(seen(outcome!.dad!.refuse(expected.dad.addresses[0]!))).toEqual(seen(expected.dad.refuse(expected.dad.addresses[0]!)));
        last.set(node, spent);
      } else if (expected?.onDataPlaneFailure && next(10) === 0) { // the data plane refuses it: both undo it alike
        done.failures++;
        expect(seen(outcome!.onDataPlaneFailure!())).toEqual(seen(expected.onDataPlaneFailure()));
        last.set(node, spent);
      }
    }
    expect(predicting.ha.binding(node.nai)).toEqual(plain.ha.binding(node.nai));
    expect(predicting.journal.slice(journalled)).toEqual(plain.journal.slice(journalled));
    expect(predicting.journal.length).toBe(plain.journal.length);
    journalled = plain.journal.length;
    if (i % 100 === 99 || i === steps - 1) { // what a restart would find: every entry as it is
      const file = predicting.readBack();
      expect(file.problems).toEqual([]);
      expect(file.entries, `journal file at step ${i}`).toEqual([...predicting.ha.entries()].sort((a, b) => a.nai.localeCompare(b.nai)));
    }
  }
  expect([...predicting.ha.entries()]).toEqual([...plain.ha.entries()]);
  plain.close();
  predicting.close();
  return done;
}

describe('BU prediction', () => {
  it('answers a random walk of refreshes, moves and bad BUs exactly as the general path does', () => {
    const done = walk(20261127, 3000, QUIET, KINDS);
    // the walk went everywhere, and most of its good BUs were predicted, whatever their flow labels and hop limits
    expect(done.kinds.size).toBe(new Set(KINDS).size);
    expect(done.predicted).toBeGreaterThan(400);
    expect(done.failures).toBeGreaterThan(20);
  });

  it.each([1, 2, 3])('answers as the general path does with probes, expiry, revocations and profiles saved again (walk %i)', (seed) => {
    const done = walk(seed, 3000, BUSY, BUSY_KINDS);
    expect(done.kinds.size).toBe(new Set(BUSY_KINDS).size);
    expect(done.predicted).toBeGreaterThan(50);
    expect(done.refused).toBeGreaterThan(10);
  });

  it('predicts neither a pooled IPv4 home address (its lease bounds the lifetime) nor a BU with an Alternate Care-of Address option', () => {
    const { ha, close } = homeAgent();
    const pooled = nodes[1]!, plain = nodes[4]!;
    const alternate = { ...plain, options: (): MobilityOption[] => [{ type: 'alternateCareOfAddress', address: '2001:db8:e::77' }] };
    for (const node of [pooled, alternate]) {
      const bu = (sequence: number) => frame({ node, careOf: '2001:db8:e::77', sequence, timestampMs: START_MS + sequence, lifetime: 600, flags: {}, nowMs: START_MS + 10 });
      expect(general(ha, bu(1), START_MS + 10)?.status).toBe(0);
      expect(predicted(ha, bu(2), START_MS + 10)).toBeUndefined();
      expect(general(ha, bu(2), START_MS + 10)?.status).toBe(0);
    }
    close();
  });

  it('stops predicting a node whose profile changed, and starts again from its next accepted BU', () => {
    const { ha, close } = homeAgent();
    const node = nodes[4]!;
    const bu = (sequence: number) => frame({ node, careOf: '2001:db8:e::5', sequence, timestampMs: START_MS + sequence, lifetime: 600, flags: {}, nowMs: START_MS + 10 });
    expect(general(ha, bu(1), START_MS + 10)?.status).toBe(0);
    expect(predicted(ha, bu(2), START_MS + 10)?.status).toBe(0);
    ha.setProfile({ ...ha.profile(node.nai)!, spi: 5000 }); // the BU's SPI is no longer the node's: the general path refuses it
    expect(predicted(ha, bu(3), START_MS + 10)).toBeUndefined();
    expect(general(ha, bu(3), START_MS + 10)?.status).toBe(146);
    close();
  });

  /** A node's template in a predictor of its own, from its first BU (accepted by the general path), and its next BU's IPv6 packet. */
  function template() {
    const node = nodes[0]!;
    const bu = (sequence: number) => frame({ node, careOf: '2001:db8:e::5', sequence, timestampMs: START_MS + sequence, lifetime: 600, flags: {}, nowMs: START_MS }).subarray(ETH.length);
    const { ha, close } = homeAgent();
    const accepted = general(ha, Buffer.concat([ETH, bu(1)]), START_MS)!;
    close();
    const ba = accepted.reply!.packet!;
    const predictor = new Predictor();
    const t = BuTemplate.of({ packet: bu(1), mh: bu(1).subarray(MH_AT) }, { packet: ba, mh: ba.subarray(ba.length - accepted.reply!.mh.length) }, HOME_BYTES)!;
    expect(predictor.set(SLOT, 7, node.spi, new HmacSha1Key(KEY), t)).toBe(true);
    return { predictor, next: bu(2) };
  }
  /** After the IPv6 header and the Home Address option's Destination Options header. */
  const MH_AT = 64;
  const SLOT = 3;
  const HOME_BYTES = Buffer.from('20010db8000100000000000000000010', 'hex'); // nodes[0]'s

  /** A BU's packet made authentic again after a change: its authenticator over its own care-of address, its MH checksum. */
  function resigned(packet: Buffer): Buffer {
    const out = Buffer.from(packet);
    const authAt = out.length - MN_HA_AUTHENTICATOR_LENGTH;
    writeMnHaAuthenticator(new HmacSha1Key(KEY), out.subarray(8, 24), HOME_BYTES, out, MH_AT, authAt, out, authAt);
    const mh = out.subarray(MH_AT);
    mh.writeUInt16BE(0, 4);
    mh.writeUInt16BE(~onesSum([mh], onesSum([pseudoHeader6(HOME_BYTES, out.subarray(24, 40), mh.length, IPPROTO.MH)])) & 0xffff, 4);
    return out;
  }

  it('predicts a BU only where its fields may change: each byte of the packet changed in turn, the BU made authentic again', () => {
    const { predictor, next } = template();
    expect(predictor.check([Buffer.concat([ETH, next])])[0]).toMatchObject({ slot: SLOT, generation: 7, sequence: 2 });
    const timestampAt = MH_AT + 2 + optionLocations(next.subarray(MH_AT)).find((o) => o.code === OptionType.replayProtection)!.offset;
    const holes = (i: number) => (i >= 1 && i <= 3) || i === 7 || (i >= 8 && i < 24) || (i >= MH_AT + 4 && i < MH_AT + 8) || (i >= timestampAt && i < timestampAt + 8) || i >= next.length - 12;
    const changed = Array.from(next, (_, i) => {
      const c = Buffer.from(next);
      c[i] ^= i === 0 ? 0x10 : 0x01; // byte 0: the version (its low nibble is the traffic class's)
      return Buffer.concat([ETH, resigned(c)]);
    });
    const found = predictor.check(changed);
    expect(found.map((f, i) => (f ? i : -1)).filter((i) => i >= 0)).toEqual(Array.from(next, (_, i) => i).filter(holes));
    const trafficClass = Buffer.from(next);
    trafficClass[0] ^= 0x01;
    expect(predictor.check([Buffer.concat([ETH, trafficClass])])[0]).toBeDefined();
  });

  it('predicts no BU whose authenticator or checksum is wrong, that comes from the home address, names SPI 0 or is cut short', () => {
    const { predictor, next } = template();
    const damaged = (at: number) => {
      const c = Buffer.from(next);
      c[at] ^= 1;
      return Buffer.concat([ETH, c]);
    };
    const fromHome = Buffer.from(next);
    HOME_BYTES.copy(fromHome, 8);
    const spiZero = Buffer.from(next);
    spiZero.writeUInt32BE(0, next.length - MN_HA_AUTHENTICATOR_LENGTH - 4); // (reserved: it once found an empty place in the SPI table)
    const frame = Buffer.concat([ETH, next]);
    const cut = Array.from({ length: frame.length }, (_, n) => frame.subarray(0, n));
    const longer = Buffer.from(frame);
    longer.writeUInt16BE(next.length - 40 + 8, ETH.length + 4); // a payload length past the frame's end
    expect(predictor.check([damaged(next.length - 1), damaged(MH_AT + 4), Buffer.concat([ETH, resigned(fromHome)]), Buffer.concat([ETH, resigned(spiZero)]), ...cut, longer, undefined, frame])
      .map((f) => f !== undefined)).toEqual([false, false, false, false, ...cut.map(() => false), false, false, true]);
    expect(predictor.check([Buffer.concat([frame, Buffer.alloc(20)])])[0]).toBeDefined(); // Ethernet padding after the packet
  });

  it('reads a BU\'s timestamp, and as Unix time the ms fromNtp() gives, in either NTP era', () => {
    const { predictor, next } = template();
    const at = MH_AT + 2 + optionLocations(next.subarray(MH_AT)).find((o) => o.code === OptionType.replayProtection)!.offset;
    const stamps = [0n, 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, ntpTimestamp(START_MS), ntpTimestamp(Date.UTC(2036, 1, 7, 6, 28, 16)), ntpTimestamp(Date.UTC(2090, 0, 1)),
      0x7fffffff_80000000n, 0xe000_0000_7fff_ffffn, 0xe000_0000_8000_0000n];
    const found = predictor.check(stamps.map((t) => {
      const c = Buffer.from(next);
      c.writeBigUInt64BE(t, at);
      return Buffer.concat([ETH, resigned(c)]);
    }));
    expect(found.map((f) => [f?.timestamp, f?.timestampMs])).toEqual(stamps.map((t) => [t, fromNtp(t)]));
  });

  it('makes the BAs the general path makes, for a drain of BUs from other care-of addresses', () => {
    const { predictor } = template();
    const node = nodes[0]!;
    const moves = Array.from({ length: 20 }, (_, i) => frame({ node, careOf: `2001:db8:e::${(0x1000 + i).toString(16)}`, sequence: 2 + i, timestampMs: START_MS + 2 + i, lifetime: 600, flags: {}, nowMs: START_MS }));
    const found = predictor.check(moves);
    const { ha, close } = homeAgent();
    expect(general(ha, frame({ node, careOf: '2001:db8:e::5', sequence: 1, timestampMs: START_MS + 1, lifetime: 600, flags: {}, nowMs: START_MS }), START_MS)?.status).toBe(0);
    moves.forEach((f, i) => expect(found[i]?.ba.toString('hex'), `BU ${i}`).toBe(general(ha, f, START_MS)!.reply!.packet!.toString('hex')));
    close();
  });

  it('lays out struct predicted as native/predictor.h does (its BTF)', () => {
    const inBtf = new Btf(join(packageRoot, 'build/native/predictor-btf.o')).struct('predicted');
    expect(predictedLayout.size).toBe(inBtf.size);
    expect(predictedLayout.fields).toEqual(Object.fromEntries(inBtf.fields.map((f) => [f.name, { offset: f.offset, size: f.size }])));
  });

  it('predicts the refresh a Binding Refresh Request asks for, as the general path answers it', () => {
    const node = nodes[4]!;
    const bu = (sequence: number, atMs: number) => frame({ node, careOf: '2001:db8:e::5', sequence, timestampMs: atMs, lifetime: 600, flags: {}, nowMs: atMs });
    const policy = { ...QUIET, bindingRefreshLead: 30 };
    const plain = homeAgent(policy), predicting = homeAgent(policy);
    for (const { ha } of [plain, predicting]) expect(general(ha, bu(1, START_MS), START_MS)?.status).toBe(0);
    const due = START_MS + 575_000; // within 30 s of its expiry
    for (const { ha } of [plain, predicting]) expect(ha.expire(due).map((o) => o.event)).toEqual([`binding refresh requested from ${node.nai}`]);
    expect(predicting.ha.binding(node.nai)?.refreshRequested).toBe(true);
    const fast = predicted(predicting.ha, bu(2, due), due);
    expect(fast).toBeDefined();
    expect(seen(fast)).toEqual(seen(general(plain.ha, bu(2, due), due)));
    expect(predicting.ha.binding(node.nai)).toEqual(plain.ha.binding(node.nai));
    expect(predicting.ha.binding(node.nai)?.refreshRequested).toBe(false);
    plain.close();
    predicting.close();
  });

  it('keeps a predicted BU\'s timestamp in the entry it updates in place: read back exact, a copy made before keeps its own, a replay of it refused', () => {
    const node = nodes[0]!; // (resigned() signs as its)
    const stamp = (k: number) => ((ntpTimestamp(START_MS) >> 32n) << 32n) | BigInt(0xffff_fff0 + k); // low half above 2^31: no small integer
    const bu = (sequence: number) => frame({ node, careOf: '2001:db8:e::5', sequence, timestampMs: START_MS, lifetime: 600, flags: {}, nowMs: START_MS });
    const exact = (f: Buffer, t: bigint) => { // the frame with timestamp t, signed again
      const c = Buffer.from(f.subarray(ETH.length));
      c.writeBigUInt64BE(t, MH_AT + 2 + optionLocations(c.subarray(MH_AT)).find((o) => o.code === OptionType.replayProtection)!.offset);
      return Buffer.concat([ETH, resigned(c)]);
    };
    const { ha, close } = homeAgent();
    expect(general(ha, exact(bu(1), stamp(1)), START_MS)?.status).toBe(0);
    const before = { ...ha.binding(node.nai)! };
    expect(predicted(ha, exact(bu(2), stamp(2)), START_MS)?.status).toBe(0);
    expect(ha.binding(node.nai)?.lastTimestamp).toBe(stamp(2));
    expect(before.lastTimestamp).toBe(stamp(1));
    expect(Object.keys(ha.binding(node.nai)!)).toContain('lastTimestamp'); // (enumerable: journalled, compared and copied as before)
    expect(predicted(ha, exact(bu(3), stamp(2)), START_MS)).toBeUndefined(); // the same timestamp: a replay, for the general path to refuse
    expect(general(ha, exact(bu(3), stamp(2)), START_MS)?.status).toBe(BaStatus.mipv6IdMismatch); // (RFC 4285 §6: 144, the home agent's clock in it)
    close();
  });

  it('leaves to the general path (134) a node whose link-local address another node has taken back meanwhile', () => {
    const [a, b] = [nodes[3]!, nodes[5]!]; // the same interface identifier: fe80::13
    const bu = (node: Node, sequence: number, l: boolean) => frame({ node, careOf: '2001:db8:e::5', sequence, timestampMs: START_MS + sequence, lifetime: 600, flags: { l }, nowMs: START_MS + 100 });
    const { ha, close } = homeAgent();
    const now = START_MS + 100;
    expect(general(ha, bu(b, 1, true), now)?.status).toBe(0); // b defends fe80::13
    const dropped = general(ha, bu(b, 2, false), now)!; // b lets it go...
    expect(general(ha, bu(a, 1, true), now)?.status).toBe(0); // ...a takes it
    dropped.onDataPlaneFailure!(); // b's change refused late (a held move): b defends it again
    expect(predicted(ha, bu(a, 2, true), now)).toBeUndefined();
    expect(general(ha, bu(a, 2, true), now)?.status).toBe(134);
    close();
  });
});
