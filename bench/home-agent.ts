/**
 * The home agent's transaction rate: authenticated Binding Updates through
 * the daemon's own path (the captured frame matched against its node's last
 * BU, control/ha/prediction.ts, or unwrapped and decoded; the RFC 4285
 * authenticator and the timestamp verified; the binding cache and its
 * journal updated; the tunnel written into the BPF maps; the BA patched or
 * encoded, signed and sent through the raw socket) on one CPU, with 100,000
 * bindings already present. Two kinds, 50,000 of each: moves (each BU takes
 * a different node to a new care-of address, so its tunnel entries are
 * rewritten) and then refreshes (the same care-of address: nothing for the
 * data plane to write, the common case of a running home agent). Each
 * node's registration took the general path; what share of the measured
 * BUs its prediction answered is reported, and the page faults a BU took
 * (the journal's pages, write-protected again once written back: the
 * kernel writes the whole file back 30 s after it was first dirtied, and
 * the moves come about that long after the registrations).
 *
 * The rate is measured under load: the daemon handed drains of CHUNK BUs,
 * as its ring buffer hands them over when BUs come faster than it answers
 * them, the event loop turning between drains (its timers, expiry among
 * them, run there on the same CPU and count). A drain's BAs leave together
 * (one sendmmsg), its moved tunnels are written together (one batched map
 * update per map); each is live before its BA leaves. The BAs end on the
 * peer's wire: an XDP program there counts and drops them, as a NIC would
 * take them (the peer's own stack would otherwise run on this CPU); the
 * count is checked against the BUs sent.
 *
 * Latency, from a BU's arrival (the frame as the ring buffer hands it over)
 * to its BA leaving, bounds "arrival to tunnel live" from above (data plane
 * first). It is measured with BUs one at a time, each arriving as the one
 * before it was answered (10,000 of each kind): a closed loop, where a
 * pause delays one BU only. So it is measured open loop too: 50,000 of
 * each kind arriving at 50,000/s whatever the daemon does, each latency
 * from its BU's arrival, pauses and queueing included. Under load a BU
 * also waits for the drain before its own: the table gives that bound too
 * (the start of the drain before to the end of its own), scavenges
 * included. Not counted: reading the ring buffer (the wait on another
 * thread, then each wake-up's records copied out natively,
 * native/signals.c: ~0.3-1.3 µs a frame).
 *
 * Node runs as dsmipd does (its bin, scripts/systemd/dsmipd.service): 32
 * MiB semi-spaces, collected on the main thread alone
 * (--single-threaded-gc). A predicted BU leaves nothing alive
 * (control/ha/in-place.ts) and little garbage (~1 KB, its drain's share
 * included), so a scavenge copies next to nothing: ~1 ms, nearly all of it
 * spent walking the old generation's pages (a cache miss each: its time
 * follows the heap's size), every ~16,000 BUs. The collector's threads,
 * parallel scavenging and concurrent marking (which V8's memory reducer
 * starts when the loop looks idle), took the CPU from the daemon for
 * 100-300 ms at a time on this 2-CPU VM.
 *
 * Baseline, same run: the cryptography alone (verify the BU's authenticator,
 * sign the BA), the floor of any authenticated transaction. Beside it, the
 * home agent's general path alone (decode, verify, cache, BA encoded and
 * signed, the next BU's prediction made) on another 50,000 moves, once the
 * daemon has stopped (no journal, no data plane, nothing sent).
 */
import { DataPlane, PIN_ROOT } from '../control/dataplane/dataplane.js';
import { canonicalAddr as canonical } from '../control/dataplane/layout.js';
import { parseHomeAgentConfig } from '../control/ha/config.js';
import { CHUNK, HomeAgentDaemon, receivedBu } from '../control/ha/daemon.js';
import { Lab } from '../control/lab/netns.js';
import { unwrapSignal } from '../control/signalling/channel.js';
import { closeFd, ifIndex, pinThread } from '../control/sys/libc.js';
import { BenchObject } from './programs.js';
import { signMnHa, verifyMnHa } from '../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../control/wire/auth/replay.js';
import { encodeSignalling6 } from '../control/wire/ip/signalling.js';
import { encodeMobilityHeader, NO_BU_FLAGS } from '../control/wire/mh/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { join } from 'node:path';
import type { ResultRow } from './report.js';

export const BINDINGS = 100_000;
const MEASURED = 50_000;
/** BUs of each kind measured one at a time (their latency). */
const UNLOADED = 10_000;
/** The rate BUs arrive at in the open-loop measurement: the target's. */
const PACED_PER_SECOND = 50_000;
/**
 * BUs arriving at that rate before the measured ones, not counted: the
 * measurement starts in the steady state, not in what the full collection
 * before it (promote()) leaves behind, ~100-200 ms of slower BUs while its
 * sweeping runs (a daemon at this rate has promoted nothing to collect).
 */
const PACED_WARM_UP = 20_000;
const KEY = Buffer.alloc(20, 0x5a);
const HA = '2001:db8:f::1';
const PEER = '2001:db8:f::2';
const FLAGS = { ...NO_BU_FLAGS, a: true, h: true };
const ETH = Buffer.from('02000000000102000000000286dd', 'hex');

export interface Transactions {
  perSecond: number;
  p50Us: number;
  p99Us: number;
  /** The collector's pauses meanwhile: scavenges, and the longest pause of any kind. */
  scavenges: number;
  longestPauseMs: number;
  /** Of the BUs, answered by prediction (control/ha/prediction.ts). */
  predicted: number;
  /** The process's minor page faults per BU: mostly the journal's pages written back since their node's last BU, write-protected again. */
  faultsPerBu: number;
}

/** One kind of BU: its rate under load (the latency a bound, see transactions()), one at a time, and arriving at PACED_PER_SECOND. */
export interface Kind {
  loaded: Transactions;
  unloaded: Transactions;
  paced: Transactions;
}

export interface HomeAgentBench {
  bindings: number;
  measured: number;
  /** BUs that move a node: new care-of address, the tunnel rewritten. */
  moves: Kind;
  /** BUs that refresh a binding: nothing for the data plane to write. */
  refreshes: Kind;
  cryptoPerSecond: number;
  /** Moves through the home agent's general path alone (unwrap, decode, verify, cache, BA encoded and signed): no daemon, no kernel. */
  stateMachinePerSecond: number;
}

const home = (i: number) => canonical(`2001:db8:1::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
const home4 = (i: number) => `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
const careOf = (i: number, round: number) => canonical(`2001:db8:e:${round.toString(16)}::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
const nai = (i: number) => `mn${i}@example.net`;
/** The node the k-th measured BU moves: a stride through all of them. */
const nodeOf = (k: number) => (k * 7919) % BINDINGS;

/** A captured BU frame (Ethernet + IPv6 + Home Address option + MH), as the data plane delivers it. */
function buFrame(i: number, round: number, sequence: number): Buffer {
  const coa = careOf(i, round);
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence, lifetime: 3600, flags: FLAGS,
    options: [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: home4(i) },
      { type: 'mobileNodeIdentifier', subtype: 1, identifier: nai(i) }, { type: 'replayProtection', timestamp: ntpTimestamp(Date.now()) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: 256 + i, authenticator: Buffer.alloc(12) }],
  }), { key: KEY, spi: 256 + i, careOf: coa, home: home(i) });
  return Buffer.concat([ETH, encodeSignalling6({ src: coa, dst: HA, homeAddressOption: home(i), mh })]);
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const idle = new Int32Array(new SharedArrayBuffer(4));
/** Blocks for ms, as the daemon's thread blocks in epoll_wait between BUs: a loop turning meanwhile made the scavenges' garbage, not the daemon's. */
const sleep = (ms: number) => Atomics.wait(idle, 0, 0, ms);

/**
 * The frames just built, out of the young generation before the clock
 * starts (two scavenges: V8 promotes what survives a second), and then a
 * full collection. Built all at once, they would otherwise be copied and
 * promoted by the daemon's first scavenges and counted against it (~20 ms
 * each here); and building them (a dozen megabytes promoted, its garbage
 * with it) starts a mark-compact whose incremental marking then ran on the
 * measured BUs (~100-150 ms of steps in a phase of ~1 s). A ring buffer's
 * frames die young: neither is the daemon's. Needs --expose-gc (make
 * bench); without it, nothing.
 */
function promote(): void {
  const gc = (globalThis as { gc?: (o?: { type: 'minor' }) => void }).gc;
  gc?.({ type: 'minor' });
  gc?.({ type: 'minor' });
  gc?.(); // (a full one; {type: 'major'} is a scavenge in this V8)
}

/**
 * The frames through the daemon a drain at a time, the event loop turning
 * between drains; the rate, and each BU's latency. Loaded, a drain is CHUNK
 * BUs (the daemon answers a loaded ring buffer's drain CHUNK at a time) and
 * the latency a bound: a BU arrived while the drain before its own was
 * handled (no earlier than that one's start), and its BA left when its own
 * drain was done. Unloaded, BUs come one at a time, each arriving as the one
 * before it was answered: the latency is its own, but the loop is closed (a
 * pause delays one BU, not those that would have arrived meanwhile).
 * Paced, the loop is open: BU k arrives at k / PACED_PER_SECOND s, whether or not the daemon keeps up; a drain takes
 * the BUs that have arrived (up to CHUNK), and each latency runs from its
 * BU's arrival; the first PACED_WARM_UP BUs are not counted. Between
 * drains the thread sleeps until the next BU is due.
 */
async function transactions(d: HomeAgentDaemon, frames: readonly Buffer[], mode: 'loaded' | 'unloaded' | 'paced'): Promise<Transactions> {
  const latency = new Float64Array(frames.length);
  const counted = mode === 'paced' ? PACED_WARM_UP : 0; // latency[counted..] and the pauses after it are the measurement's
  promote();
  const pauses: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => { pauses.push(...list.getEntries()); });
  observer.observe({ entryTypes: ['gc'] });
  let countedFrom = counted === 0 ? performance.now() : Infinity;
  const predictedBefore = d.predictedCount;
  const faultsBefore = process.resourceUsage().minorPageFault;
  const start = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - start) / 1000; // µs
  const arrivalUs = 1e6 / PACED_PER_SECOND;
  let previous = 0;
  for (let k = 0; k < frames.length;) {
    const drain = since();
    const arrived = mode === 'paced' ? Math.min(frames.length, Math.floor(drain / arrivalUs) + 1) - k : mode === 'loaded' ? CHUNK : 1;
    if (arrived <= 0) {
      sleep((k * arrivalUs - drain) / 1000);
      continue;
    }
    if (k >= counted && countedFrom === Infinity) countedFrom = performance.now();
    const n = Math.min(CHUNK, arrived, frames.length - k);
    d.handleBatch(frames.slice(k, k + n).map((frame) => ({ ifindex: 1, frame })));
    const done = since();
    for (let j = k; j < k + n; j++) latency[j] = done - (mode === 'paced' ? j * arrivalUs : mode === 'loaded' ? previous : drain);
    previous = drain;
    k += n;
    await turn();
  }
  const seconds = since() / 1e6;
  const faultsPerBu = (process.resourceUsage().minorPageFault - faultsBefore) / frames.length;
  pauses.push(...observer.takeRecords()); // (those not yet handed to the callback)
  observer.disconnect();
  const measured = latency.subarray(counted).sort();
  const during = pauses.filter((e) => e.startTime >= countedFrom);
  const scavenges = during.filter((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR).length;
  return {
    perSecond: frames.length / seconds, p50Us: percentile(measured, 0.5), p99Us: percentile(measured, 0.99), predicted: (d.predictedCount - predictedBefore) / frames.length, faultsPerBu,
    scavenges, longestPauseMs: Math.max(0, ...during.map((e) => e.duration)),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function measureHomeAgent(log: (s: string) => void): Promise<HomeAgentBench> {
  const lab = new Lab('mabench-ha');
  const instance = 'bench-ha';
  rmSync(join(PIN_ROOT, instance), { recursive: true, force: true });
  let dp: DataPlane | undefined;
  let bench: BenchObject | undefined;
  let sinkLink: number | undefined;
  let daemon: HomeAgentDaemon | undefined;
  const journalDir = mkdtempSync(join(tmpdir(), 'bench-ha-'));
  try {
    const ns = lab.ns('ha');
    const peer = lab.ns('peer');
    lab.link(ns, 'home0', peer, 'p0', ['02:00:00:00:00:01', '02:00:00:00:00:02']);
    lab.exec(ns, [`ip addr add ${HA}/64 dev home0 nodad`, `ip -6 route add 2001:db8:e::/48 via ${PEER} dev home0`,
      `ip neigh replace ${PEER} lladdr 02:00:00:00:00:02 dev home0 nud permanent`].join(' && '));
    dp = DataPlane.open({ instance, role: 'anchor', icmpSource6: HA });
    // the BAs end on the peer's wire: counted and dropped in XDP there, as a NIC would take them (not the peer's stack on this CPU)
    bench = new BenchObject(dp);
    const b = bench;
    sinkLink = lab.within(peer, () => b.attachXdp('bench_sink', ifIndex('p0')));
    const config = parseHomeAgentConfig({
      homeLink: { interface: 'home0', prefixes: ['2001:db8:1::/64', '10.0.0.0/8'] },
      homeAgent: { ipv6: HA },
      policy: { replayWindow: 3600, maxLifetime: 3600, duplicateAddressDetection: false }, // the 100,000 first registrations would each wait 1 s; moves and refreshes probe nothing
      mobileNodes: Array.from({ length: BINDINGS }, (_, i) => ({ nai: nai(i), key: KEY.toString('hex'), spi: 256 + i, homeAddress: home(i), ipv4HomeAddress: home4(i) })),
    });
    const problems: string[] = [];
    // logged as dsmipd logs at tens of thousands of BUs a second (--log-level warn): an accepted BU's info line is not even read
    const onEvent = (e: string, level: string) => { if (level !== 'info' && problems.length < 5) problems.push(e); };
    daemon = new HomeAgentDaemon(config, dp, { journal: join(journalDir, 'bindings.journal'), log: onEvent, logLevel: 'warn' });
    const d = daemon;
    lab.within(ns, () => d.start());
    pinThread([0]);

    log(`  registering ${BINDINGS.toLocaleString('en')} mobile nodes ...`);
    for (let i = 0; i < BINDINGS; i += 256) {
      d.handleBatch(Array.from({ length: Math.min(256, BINDINGS - i) }, (_, j) => ({ ifindex: 1, frame: buFrame(i + j, 0, 1) })));
      await turn();
    }
    if (dp.bindingIds().length !== BINDINGS) throw new Error(`only ${dp.bindingIds().length} of ${BINDINGS} bindings registered: ${problems.join('; ')}`);

    log(`  ${MEASURED.toLocaleString('en')} of them move, then refresh, under load; then ${UNLOADED.toLocaleString('en')} of each one at a time; then ${MEASURED.toLocaleString('en')} of each arriving at ${PACED_PER_SECOND.toLocaleString('en')}/s ...`);
    const sent = b.sinkCounters().packets;
    const round = async (r: number, sequence: number, count: number, mode: 'loaded' | 'unloaded' | 'paced') => transactions(d, Array.from({ length: count }, (_, k) => buFrame(nodeOf(k), r, sequence)), mode);
    const loadedMoves = await round(1, 2, MEASURED, 'loaded');
    for (const k of [0, 1, MEASURED - 1]) { // each measured BU moved its node: binding cache and data plane
      const i = nodeOf(k);
      if (d.homeAgent.binding(nai(i))?.careOf !== careOf(i, 1) || dp.lookupEntry(home(i))?.remote !== careOf(i, 1)) throw new Error(`BU ${k} did not move node ${i}`);
    }
    const loadedRefreshes = await round(1, 3, MEASURED, 'loaded');
    if (d.homeAgent.binding(nai(nodeOf(0)))?.sequence !== 3) throw new Error('a refresh was not accepted');
    const unloadedMoves = await round(2, 4, UNLOADED, 'unloaded');
    const unloadedRefreshes = await round(2, 5, UNLOADED, 'unloaded');
    if (d.homeAgent.binding(nai(nodeOf(UNLOADED - 1)))?.sequence !== 5) throw new Error('a refresh one at a time was not accepted');
    const moves = { loaded: loadedMoves, unloaded: unloadedMoves, paced: await round(3, 6, PACED_WARM_UP + MEASURED, 'paced') };
    const refreshes = { loaded: loadedRefreshes, unloaded: unloadedRefreshes, paced: await round(3, 7, PACED_WARM_UP + MEASURED, 'paced') };
    if (d.homeAgent.binding(nai(nodeOf(MEASURED - 1)))?.sequence !== 7) throw new Error('a paced refresh was not accepted');
    const acknowledged = b.sinkCounters().packets - sent;
    const expected = 2 * (MEASURED + UNLOADED + PACED_WARM_UP + MEASURED);
    // (beside them, now and then, the kernel's own: router solicitations, MLD reports)
    if (acknowledged < expected || acknowledged > expected + 10) throw new Error(`${acknowledged} packets reached the peer for ${expected} BAs`);
    d.stop(); // the journal and the channel closed: what follows writes and sends nothing
    const moving = Array.from({ length: MEASURED }, (_, k) => buFrame(nodeOf(k), 4, 8));
    const cryptoPerSecond = cryptoRate(moving.slice(0, 20_000));
    return { bindings: BINDINGS, measured: MEASURED, moves, refreshes, cryptoPerSecond, stateMachinePerSecond: stateMachineRate(d, moving) };
  } finally {
    pinThread(cpus().map((_, i) => i)); // the sections after this one run where the kernel puts them, as before it
    daemon?.stop();
    if (sinkLink !== undefined) closeFd(sinkLink);
    bench?.close();
    dp?.destroy();
    lab.destroy();
    rmSync(journalDir, { recursive: true, force: true });
  }
}

/** Moves (care-of addresses of another round) through the daemon's HomeAgent alone: per second. */
function stateMachineRate(d: HomeAgentDaemon, frames: readonly Buffer[]): number {
  const start = process.hrtime.bigint();
  for (const frame of frames) {
    const p = unwrapSignal({ ifindex: 1, frame });
    const o = d.homeAgent.handleBindingUpdate(receivedBu(p, Date.now()));
    if (o.status !== 0) throw new Error(`state machine alone: ${o.event}`);
  }
  return frames.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** Verify a BU's authenticator and sign a BA of the same size: per second. */
function cryptoRate(frames: readonly Buffer[]): number {
  const packets = frames.map((f, k) => ({ p: unwrapSignal({ ifindex: 1, frame: f }), spi: 256 + nodeOf(k) }));
  const start = process.hrtime.bigint();
  for (const { p, spi } of packets) {
    const security = { careOf: p.signalling.ipv6.src, home: p.signalling.homeAddressOption! };
    verifyMnHa(p.signalling.mh, { ...security, keyFor: () => KEY });
    signMnHa(p.signalling.mh, { ...security, key: KEY, spi });
  }
  return packets.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

export const TARGET_HA = { perSecond: 50_000, p99Us: 1000 } as const;

export function homeAgentRows(r: HomeAgentBench): ResultRow[] {
  const rows = (name: string, { loaded, unloaded, paced }: Kind): ResultRow[] => [
    { name, value: Math.round(loaded.perSecond), unit: 'transactions/s', baseline: 'ha/crypto-floor' },
    { name: `${name}/p50`, value: Number(unloaded.p50Us.toFixed(1)), unit: 'µs' },
    { name: `${name}/p99`, value: Number(unloaded.p99Us.toFixed(1)), unit: 'µs' },
    { name: `${name}/loaded-p99-bound`, value: Number(loaded.p99Us.toFixed(1)), unit: 'µs' },
    { name: `${name}/paced-p50`, value: Number(paced.p50Us.toFixed(1)), unit: 'µs' },
    { name: `${name}/paced-p99`, value: Number(paced.p99Us.toFixed(1)), unit: 'µs' },
    { name: `${name}/paced-scavenges`, value: paced.scavenges, unit: 'count' },
    { name: `${name}/paced-longest-pause`, value: Number(paced.longestPauseMs.toFixed(2)), unit: 'ms' },
    { name: `${name}/predicted`, value: Number(loaded.predicted.toFixed(3)), unit: 'fraction of BUs' },
    { name: `${name}/page-faults`, value: Number(loaded.faultsPerBu.toFixed(2)), unit: 'per BU' },
  ];
  return [{ name: 'ha/crypto-floor', value: Math.round(r.cryptoPerSecond), unit: 'transactions/s' }, ...rows('ha/bu-ba', r.moves), ...rows('ha/bu-ba-refresh', r.refreshes),
    { name: 'ha/state-machine', value: Math.round(r.stateMachinePerSecond), unit: 'transactions/s', baseline: 'ha/crypto-floor' }];
}

export function homeAgentTable(r: HomeAgentBench): string {
  const ok = (met: boolean) => (met ? '✔' : '✘');
  const rate = (t: Transactions) => `${Math.round(t.perSecond).toLocaleString('en').padStart(7)}/s`;
  const line = (what: string, { loaded, unloaded, paced }: Kind) => [
    `   ${what.padEnd(10)} ${rate(loaded)}  ${(loaded.perSecond / r.cryptoPerSecond).toFixed(2)}× the crypto alone  ${ok(loaded.perSecond >= TARGET_HA.perSecond)} ≥ ${TARGET_HA.perSecond.toLocaleString('en')}/s` +
      `   (latency bound under load: p50 ${loaded.p50Us.toFixed(0)} µs, p99 ${loaded.p99Us.toFixed(0)} µs; ${(100 * loaded.predicted).toFixed(0)}% predicted; ${loaded.faultsPerBu.toFixed(2)} page faults a BU)`,
    `   ${''.padEnd(10)} one at a time (closed loop): arrival → BA sent p50 ${unloaded.p50Us.toFixed(1)} µs, p99 ${unloaded.p99Us.toFixed(1)} µs  ${ok(unloaded.p99Us < TARGET_HA.p99Us)} p99 < 1 ms`,
    `   ${''.padEnd(10)} arriving at ${PACED_PER_SECOND.toLocaleString('en')}/s (open loop): arrival → BA sent p50 ${paced.p50Us.toFixed(1)} µs, p99 ${paced.p99Us.toFixed(1)} µs  ${ok(paced.p99Us < TARGET_HA.p99Us)} p99 < 1 ms` +
      `   (${paced.scavenges} scavenges, longest pause ${paced.longestPauseMs.toFixed(1)} ms)`,
  ].join('\n');
  return [
    `4. The home agent: authenticated BU → BA on one CPU, ${r.bindings.toLocaleString('en')} bindings present, ${r.measured.toLocaleString('en')} BUs of each kind under load (drains of ${CHUNK})`,
    `   (each BU matched against its node's last (prediction) or unwrapped and decoded, verified, binding cache and its journal, the tunnel into the BPF maps when it`,
    `   changed, BA patched or encoded, signed and sent; the crypto alone, verify + sign: ${Math.round(r.cryptoPerSecond).toLocaleString('en')}/s; the general path alone (unwrap, decode,`,
    `   verify, cache, BA encoded and signed; no daemon, no kernel): ${Math.round(r.stateMachinePerSecond).toLocaleString('en')}/s; the tunnel is live before its BA leaves)`,
    line('moves', r.moves),
    line('refreshes', r.refreshes),
  ].join('\n');
}
