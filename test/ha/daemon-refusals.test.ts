/**
 * The daemon's 143s at its edges: a first registration (the general path)
 * that the data plane refuses, or whose duplicate address detection cannot
 * probe or cannot hear everything, is answered 143 and leaves nothing
 * behind: no binding in the cache or the data plane, no pool lease, no
 * announcement on the home link, nothing in the journal read back. And a BU
 * discarded for an option whose unknown type asks for an ICMP error: the
 * error goes back (RFC 8200 §4.2), within its rate limit.
 *
 * A real data plane (not started: nothing attached); the daemon's edges
 * that start() would open on a real interface are fakes put where it puts
 * them (its signalling channel: the BAs it sends, decoded; its home link:
 * the frames it sends there, the neighbour discovery its probes hear), its
 * journal opened as start() opens it and read back after a stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataPlane, PIN_ROOT } from '../../control/dataplane/dataplane.js';
import { libbpf } from '../../control/dataplane/libbpf.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { DAD_WAIT_MS, HomeAgentDaemon, type Arrival } from '../../control/ha/daemon.js';
import { BindingJournal } from '../../control/ha/journal.js';
import type { BindingCacheEntry } from '../../control/ha/home-agent.js';
import { closeFd } from '../../control/sys/libc.js';
import { signMnHa, verifyMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { dadSolicitation, gratuitousArp, unsolicitedNeighborAdvert } from '../../control/wire/ip/neighbour.js';
import { decodeSignalling6, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { ipv6Header } from '../../control/wire/ip/ipv6.js';
import { decode } from '../../control/wire/buffer.js';
import { decodeMobilityHeader, encodeMobilityHeader, NO_BU_FLAGS, type MobilityOption } from '../../control/wire/mh/index.js';

const KEY = Buffer.alloc(20, 0x6b);
const HA = '2001:db8:f::1';
const ETH = Buffer.from('02000000000102000000000286dd', 'hex');
const MAC = '02:00:00:00:00:01';
const LINK6 = 'fe80::1';
const HOME4_SLOTS = 262144; // MAX_HOME_ENTRIES (bpf/lib/maps.h)
const NOW = Date.now();
const node = (nai: string, spi: number, home: string) => ({ nai, spi, home });
const pooled = node('pooled@example.net', 400, '2001:db8:1::40');
const staticV4 = node('static@example.net', 401, '2001:db8:1::41');
const next = node('next@example.net', 402, '2001:db8:1::42');
type Node = typeof pooled;
const DYNAMIC: MobilityOption[] = [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }];

const config = (duplicateAddressDetection: boolean) => parseHomeAgentConfig({
  homeLink: { interface: 'lo', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] }, homeAgent: { ipv6: HA },
  pools: { visitors: { from: '10.1.0.200', to: '10.1.0.200' } }, // one address: the next node gets it only if the refused one's lease went back
  policy: { duplicateAddressDetection },
  mobileNodes: [
    { nai: pooled.nai, key: KEY.toString('hex'), spi: pooled.spi, homeAddress: pooled.home, ipv4HomeAddress: { pool: 'visitors' } },
    { nai: staticV4.nai, key: KEY.toString('hex'), spi: staticV4.spi, homeAddress: staticV4.home, ipv4HomeAddress: '10.1.0.41' },
    { nai: next.nai, key: KEY.toString('hex'), spi: next.spi, homeAddress: next.home, ipv4HomeAddress: { pool: 'visitors' } },
  ],
});

/** n's BU from careOf, as the data plane captures it (its timestamp a millisecond a sequence number). */
function bu(n: Node, sequence: number, careOf: string, options: MobilityOption[]): Arrival {
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence, lifetime: 600, flags: { ...NO_BU_FLAGS, a: true, h: true },
    options: [...options, { type: 'mobileNodeIdentifier', subtype: 1, identifier: n.nai }, { type: 'replayProtection', timestamp: ntpTimestamp(NOW + sequence) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: n.spi, authenticator: Buffer.alloc(12) }],
  }), { key: KEY, spi: n.spi, careOf, home: n.home });
  return { ifindex: 1, frame: Buffer.concat([ETH, encodeSignalling6({ src: careOf, dst: HA, homeAddressOption: n.home, mh })]) };
}

/** What a probe hears on the home link: nothing, unless told to fail its reads or to report the kernel's queue overflowed. */
class Neighbours {
  dropped = 0;
  lose: 'nothing' | 'read' | 'overflow' = 'nothing';
  readonly joined: string[] = [];
  readonly left: string[] = [];
  read() {
    if (this.lose === 'overflow') this.dropped++;
    return this.lose === 'read' ? { messages: [], error: new Error('recvmsg: ENOBUFS') } : { messages: [] };
  }
  join(group: Buffer) { this.joined.push(group.toString('hex')); }
  leave(group: Buffer) { this.left.push(group.toString('hex')); }
  close() {}
}

/** The daemon's private edges, as start() sets them. */
interface Edges {
  restore(path: string): void;
  channel: { hold(): void; release(): []; sendIpv6(packet: Buffer): void; sendUdp4(): void; close(): void };
  homeLink: { socket: { send(frame: Buffer): void; close(): void }; mac: string; ipv6: string; neighbours: Neighbours | null };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A daemon over dp with its edges faked: the BAs it sends, decoded; the frames it sends on the home link; its journal, read back after a stop. */
function harness(dp: DataPlane, { dad = false, neighbours = null as Neighbours | null, linkFails = false, atSend = (_packet: Buffer) => {}, journal = [] as BindingCacheEntry[] } = {}) {
  const events: string[] = [];
  const daemon = new HomeAgentDaemon(config(dad), dp, { log: (e, level) => events.push(`${level}: ${e}`), now: () => NOW + 1000 });
  const dir = mkdtempSync(join(tmpdir(), 'daemon-refusals-'));
  dirs.push(dir);
  const path = join(dir, 'bindings.journal');
  if (journal.length) { // what a daemon before this one left
    const before = BindingJournal.open(path).journal;
    for (const e of journal) before.record(e.nai, e, () => journal);
    before.close();
  }
  const edges = daemon as unknown as Edges;
  edges.restore(path); // start()'s first step
  const sent: Buffer[] = [];
  const onLink: Buffer[] = [];
  edges.channel = { hold: () => {}, release: () => [], sendIpv6: (p) => { atSend(p); sent.push(p); }, sendUdp4: () => { throw new Error('no UDP here'); }, close: () => {} };
  edges.homeLink = {
    socket: { send: (f) => { if (linkFails) throw new Error('sendto lo: ENETDOWN'); onLink.push(f); }, close: () => {} },
    mac: MAC, ipv6: LINK6, neighbours,
  };
  /** The BAs sent so far, decoded: where to, through which home address, whether signed with the node's key, status, sequence, the IPv4 home address acknowledged. */
  const bas = () => sent.splice(0).map((p) => {
    const s = decodeSignalling6(p);
    const ba = decodeMobilityHeader(s.mh);
    const verdict = verifyMnHa(s.mh, { careOf: s.ipv6.dst, home: s.routingHeader2!.homeAddress, keyFor: () => KEY }).verdict;
    if (ba.type !== 'bindingAcknowledgement') throw new Error(`${ba.type} sent`);
    const ipv4 = ba.options.find((o) => o.type === 'ipv4AddressAcknowledgement');
    return { to: s.ipv6.dst, home: s.routingHeader2?.homeAddress, verdict, status: ba.status, sequence: ba.sequence, ipv4 };
  });
  /** The journal as a restart reads it: the daemon stopped, the file opened again. */
  const journalled = () => {
    daemon.stop();
    const { journal, entries } = BindingJournal.open(path);
    journal.close();
    return entries.map((e) => ({ nai: e.nai, careOf: e.careOf, sequence: e.sequence, ipv4HomeAddress: e.ipv4HomeAddress }));
  };
  /** What was sent so far, as IPv6 packets. */
  const packets = () => sent.splice(0);
  return { daemon, events, onLink, bas, packets, journalled };
}

/** Opens a data plane of its own for the tests that follow (a killed run's pins removed first). */
function dataPlane(instance: string): () => DataPlane {
  let dp: DataPlane;
  beforeAll(() => {
    rmSync(join(PIN_ROOT, instance), { recursive: true, force: true });
    dp = DataPlane.open({ instance, role: 'anchor' });
  });
  afterAll(() => dp?.destroy());
  return () => dp;
}

describe('a first registration whose data-plane write fails', () => {
  const dp = dataPlane('test-daemon-refusals');
  /** 11.x.x.x, no one's: home4 filled with them leaves a new binding's IPv4 entry no slot (its IPv6 entry, written first, then undone). */
  const filler = (k: number) => Buffer.from([11, k >> 16, (k >> 8) & 0xff, k & 0xff]);
  const home4 = <T>(fn: (fd: number) => T): T => {
    const fd = libbpf.getPinned(join(dp().pinDir, 'home4'));
    try {
      return fn(fd);
    } finally {
      closeFd(fd);
    }
  };
  beforeAll(() => home4((fd) => {
    const keys = Buffer.concat(Array.from({ length: HOME4_SLOTS }, (_, k) => filler(k)));
    libbpf.updateBatch(fd, keys, Buffer.alloc(4 * HOME4_SLOTS), HOME4_SLOTS);
  }));

  it('answers 143 to a node with a static IPv4 home address and leaves nothing behind: no binding, no entry, nothing announced, nothing journalled', () => {
    const h = harness(dp());
    h.daemon.handleBatch([bu(staticV4, 1, '2001:db8:e::a', [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.41' }])]);
    expect(h.bas()).toEqual([{ to: '2001:db8:e::a', home: staticV4.home, verdict: 'ok', status: 143, sequence: 1, ipv4: undefined }]);
    expect([h.daemon.answered.get(143), h.daemon.answered.get(0), h.daemon.predictedCount]).toEqual([1, undefined, 0]);
    expect(h.daemon.homeAgent.binding(staticV4.nai)).toBeUndefined();
    expect(dp().bindingIds()).toEqual([]);
    expect([dp().lookupEntry(staticV4.home), dp().lookupEntry('10.1.0.41')]).toEqual([null, null]); // its IPv6 entry, written before the IPv4 one failed, undone
    expect(h.onLink).toEqual([]);
    expect(h.events).toEqual(expect.arrayContaining([expect.stringMatching(/^warn: data plane write failed: .*bpf_map_update_elem/), `warn: forwarding setup failed for ${staticV4.nai}`]));
    expect(h.journalled()).toEqual([]);
  });

  it('answers 143 to a node with a pooled IPv4 home address and gives its lease back: the next node gets the address, installed and announced, the only one journalled', () => {
    const h = harness(dp());
    h.daemon.handleBatch([bu(pooled, 1, '2001:db8:e::b', DYNAMIC)]);
    expect(h.bas()).toEqual([{ to: '2001:db8:e::b', home: pooled.home, verdict: 'ok', status: 143, sequence: 1, ipv4: undefined }]);
    expect(h.daemon.homeAgent.binding(pooled.nai)).toBeUndefined();
    expect(dp().bindingIds()).toEqual([]);
    expect([dp().lookupEntry(pooled.home), dp().lookupEntry('10.1.0.200')]).toEqual([null, null]);
    expect(h.onLink).toEqual([]);

    home4((fd) => libbpf.delete(fd, filler(0))); // a slot for the next node
    h.daemon.handleBatch([bu(next, 1, '2001:db8:e::c', DYNAMIC)]);
    expect(h.bas()).toEqual([{
      to: '2001:db8:e::c', home: next.home, verdict: 'ok', status: 0, sequence: 1, ipv4: { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' },
    }]);
    expect(h.daemon.homeAgent.binding(next.nai)).toMatchObject({ ipv4HomeAddress: '10.1.0.200', careOf: '2001:db8:e::c', sequence: 1 });
    expect([dp().lookupEntry(next.home)?.remote, dp().lookupEntry('10.1.0.200')?.remote]).toEqual(['2001:db8:e::c', '2001:db8:e::c']);
    expect(h.onLink).toEqual([unsolicitedNeighborAdvert(MAC, LINK6, next.home), gratuitousArp(MAC, '10.1.0.200')]); // what the refused node would have had
    expect([h.daemon.answered.get(143), h.daemon.answered.get(0)]).toEqual([1, 1]);
    expect(h.journalled()).toEqual([{ nai: next.nai, careOf: '2001:db8:e::c', sequence: 1, ipv4HomeAddress: '10.1.0.200' }]);
  });
});

describe('a journal entry the data plane refuses (damaged, yet it parses)', () => {
  const dp = dataPlane('test-daemon-restore');
  const entry = (n: Node, bindingId: number, local: string): BindingCacheEntry => {
    const careOf = '2001:db8:e::1';
    const tunnel = { format: 'ip6' as const, local, remote: careOf };
    return { nai: n.nai, bindingId, homeAddress: n.home, careOf, natDetected: false, tunnel, sequence: 1, lifetime: 600, expiresMs: NOW + 600_000,
      lastTimestamp: ntpTimestamp(NOW), route: { transport: 'ipv6', src: HA, dst: careOf, routingHeader2: n.home }, binding: { id: bindingId, tunnel, homeAddresses: [n.home], prefixes: [] },
      refreshRequested: false };
  };

  it('costs that entry, not the start: revoked and said at warn; the others installed', () => {
    const h = harness(dp(), { journal: [entry(staticV4, 2, HA), entry(next, 3, '192.0.2.1')] }); // an ip6 tunnel with an IPv4 end
    expect(h.events.filter((e) => e.startsWith('warn'))).toEqual([expect.stringMatching(/^warn: journal: the binding of next@example\.net is refused by the data plane \(.*\): revoked$/)]);
    expect(dp().binding(2)?.tunnel.remote).toBe('2001:db8:e::1');
    expect(dp().binding(3)).toBeUndefined();
    expect(h.daemon.homeAgent.bindings().map((e) => e.nai)).toEqual([staticV4.nai]);
    expect(h.daemon.homeAgent.binding(next.nai)).toBeUndefined();
    expect(h.journalled().map((e) => e.nai)).toEqual([staticV4.nai, next.nai]); // (next's kept deprecated, as a revocation leaves it: nothing to install)
  });
});

describe('a first registration whose duplicate address detection fails', () => {
  const dp = dataPlane('test-daemon-probes');
  beforeAll(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] }));
  afterAll(() => vi.useRealTimers());
  afterEach(() => {
    for (const id of dp().bindingIds()) dp().remove(id);
  });

  it('answers 143 at once when its probe cannot be sent, leaving nothing behind: no binding, no entry, no group joined, nothing journalled', () => {
    const neighbours = new Neighbours();
    const h = harness(dp(), { dad: true, neighbours, linkFails: true });
    h.daemon.handleBatch([bu(pooled, 1, '2001:db8:e::d', DYNAMIC)]);
    expect(h.bas()).toEqual([{ to: '2001:db8:e::d', home: pooled.home, verdict: 'ok', status: 143, sequence: 1, ipv4: undefined }]);
    expect(h.daemon.homeAgent.binding(pooled.nai)).toBeUndefined();
    expect(dp().bindingIds()).toEqual([]);
    expect([dp().lookupEntry(pooled.home), dp().lookupEntry('10.1.0.200')]).toEqual([null, null]);
    expect(neighbours.left).toEqual(neighbours.joined);
    expect(h.daemon.failures.internal).toBe(1);
    expect(h.events).toContainEqual(expect.stringMatching(/^warn: duplicate address detection for 2001:db8:1::40 failed: sendto lo: ENETDOWN/));
    vi.advanceTimersByTime(DAD_WAIT_MS); // no probe left to answer later
    expect(h.bas()).toEqual([]);
    expect([h.daemon.answered.get(143), h.daemon.answered.get(0)]).toEqual([1, undefined]);
    expect(h.journalled()).toEqual([]);
  });

  it.each([['a read failed', 'read'], ["the kernel's queue overflowed", 'overflow']] as const)('answers 143 when what came during its probe went unheard (%s), installing and announcing nothing; heard whole, its next BU stands', (_why, lose) => {
    const neighbours = new Neighbours();
    const h = harness(dp(), { dad: true, neighbours });
    h.daemon.handleBatch([bu(staticV4, 1, '2001:db8:e::e', [])]);
    expect(h.bas()).toEqual([]); // probing
    neighbours.lose = lose;
    vi.advanceTimersByTime(DAD_WAIT_MS);
    expect(h.bas()).toEqual([{ to: '2001:db8:e::e', home: staticV4.home, verdict: 'ok', status: 143, sequence: 1, ipv4: undefined }]);
    expect(h.daemon.homeAgent.binding(staticV4.nai)).toBeUndefined();
    expect([dp().bindingIds(), dp().lookupEntry(staticV4.home)]).toEqual([[], null]);
    expect(h.onLink).toEqual([dadSolicitation(MAC, staticV4.home)]); // the probe, and no announcement
    expect(neighbours.left).toEqual(neighbours.joined);
    expect(h.events).toContain(`warn: duplicate address detection for ${staticV4.home}: some of what came went unheard: refused (143)`);

    neighbours.lose = 'nothing';
    h.daemon.handleBatch([bu(staticV4, 2, '2001:db8:e::e', [])]);
    vi.advanceTimersByTime(DAD_WAIT_MS);
    expect(h.bas()).toMatchObject([{ status: 0, sequence: 2 }]);
    expect(dp().lookupEntry(staticV4.home)?.remote).toBe('2001:db8:e::e');
    expect(h.onLink.slice(1)).toEqual([dadSolicitation(MAC, staticV4.home), unsolicitedNeighborAdvert(MAC, LINK6, staticV4.home)]);
    expect([h.daemon.answered.get(143), h.daemon.answered.get(0)]).toEqual([1, 1]);
    expect(h.journalled()).toEqual([{ nai: staticV4.nai, careOf: '2001:db8:e::e', sequence: 2, ipv4HomeAddress: undefined }]);
  });
});

describe('a BU with a destination option whose unknown type asks for an ICMP error (RFC 8200 §4.2)', () => {
  const dp = dataPlane('test-daemon-icmp');
  /** staticV4's BU with its Destination Options header's PadN (before the Home Address option) turned into option type 0x8a: discard, send an ICMP Parameter Problem. */
  const withUnknownOption = (sequence: number): Arrival => {
    const a = bu(staticV4, sequence, '2001:db8:e::f', []) as { ifindex: number; frame: Buffer };
    expect([a.frame[14 + 6], a.frame[14 + 42], a.frame[14 + 43]]).toEqual([60, 1, 2]); // Destination Options next; in it, at 42, the PadN before the HAO
    a.frame[14 + 42] = 0x8a;
    return a;
  };

  it('is discarded unanswered but for a Parameter Problem, code 2, pointing at the option, the BU quoted; past 100 a second, none', () => {
    const h = harness(dp());
    h.daemon.handleBatch([withUnknownOption(1)]);
    const [icmp, ...more] = h.packets();
    expect(more).toEqual([]);
    const { src, dst } = decode(ipv6Header, icmp!.subarray(0, 40));
    expect({ src, dst, next: icmp![6], type: icmp![40], code: icmp![41], pointer: icmp!.readUInt32BE(44), quoted: icmp!.subarray(48) })
      .toEqual({ src: HA, dst: '2001:db8:e::f', next: 58, type: 4, code: 2, pointer: 42, quoted: (withUnknownOption(1) as { frame: Buffer }).frame.subarray(14) });
    expect(h.daemon.answered.get(-1)).toBe(1);
    expect(h.daemon.homeAgent.binding(staticV4.nai)).toBeUndefined();
    expect(h.events).toContain(`warn: destination option type 0x8a unknown, and its type says discard (RFC 8200 §4.2): packet from 2001:db8:e::f discarded; ICMP Parameter Problem sent`);

    h.daemon.handleBatch(Array.from({ length: 150 }, (_, k) => withUnknownOption(2 + k))); // the same second (the daemon's clock stands still here)
    expect(h.packets()).toHaveLength(99);
    expect([h.daemon.icmpErrors.sent, h.daemon.icmpErrors.limited]).toEqual([100, 51]);
    expect(h.daemon.answered.get(-1)).toBe(151);
  });

  it('sends none for type 11 in a link-layer broadcast frame (type 10 still), nor to one of the home link\'s anycast addresses (RFC 4443 §2.4(e))', () => {
    const h = harness(dp());
    const broadcast = (type: number) => {
      const a = withUnknownOption(1) as { ifindex: number; frame: Buffer };
      a.frame[14 + 42] = type;
      a.frame.fill(0xff, 0, 6);
      return a;
    };
    h.daemon.handleBatch([broadcast(0xca)]);
    expect(h.packets()).toEqual([]);
    h.daemon.handleBatch([broadcast(0x8a)]);
    expect(h.packets().map((p) => [p[40], p[41], p.readUInt32BE(44)])).toEqual([[4, 2, 42]]);
    for (const anycast of ['2001:db8:1::', '2001:db8:1:0:fdff:ffff:ffff:fffe']) {
      const a = bu(staticV4, 1, anycast, []) as { frame: Buffer };
      a.frame[14 + 42] = 0x8a;
      h.daemon.handleBatch([a as Arrival]);
    }
    expect(h.packets()).toEqual([]);
    expect(h.daemon.answered.get(-1)).toBe(4); // each discarded all the same
  });

  it('sends none for a BU with a type 2 routing header: the Destination Options header after it is the named home address\'s to process, not ours', () => {
    const h = harness(dp());
    const plain = decodeSignalling6((bu(staticV4, 1, '2001:db8:e::f', []) as { frame: Buffer }).frame.subarray(14));
    const packet = encodeSignalling6({ src: '2001:db8:e::f', dst: HA, routingHeader2: '2001:db8:99::1', homeAddressOption: staticV4.home, mh: plain.mh });
    expect([packet[6], packet[40], packet[40 + 24 + 2], packet[40 + 24 + 3]]).toEqual([43, 60, 1, 2]); // the routing header; after it Destination Options, its PadN
    packet[40 + 24 + 2] = 0x8a;
    h.daemon.handleBatch([{ ifindex: 1, frame: Buffer.concat([ETH, packet]) }]);
    expect(h.packets()).toEqual([]);
    expect(h.daemon.answered.get(-1)).toBe(1);
  });
});

describe('a registration\'s BA', () => {
  const dp = dataPlane('test-daemon-ba-order');
  it('leaves once its tunnel is live: the data plane holds the new care-of address as the BA is handed to the socket (the general path, then a predicted move)', () => {
    const remoteAtSend: (string | undefined)[] = [];
    const h = harness(dp(), { atSend: () => remoteAtSend.push(dp().lookupEntry(staticV4.home)?.remote) });
    h.daemon.handleBatch([bu(staticV4, 1, '2001:db8:e::1', [])]);
    h.daemon.handleBatch([bu(staticV4, 2, '2001:db8:e::2', [])]);
    expect(h.daemon.predictedCount).toBe(1);
    expect(h.bas().map((b) => [b.status, b.to])).toEqual([[0, '2001:db8:e::1'], [0, '2001:db8:e::2']]);
    expect(remoteAtSend).toEqual(['2001:db8:e::1', '2001:db8:e::2']);
  });
});
