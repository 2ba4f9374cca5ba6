/**
 * The home agent at its edges: signalling from the data plane's capture goes
 * into the HomeAgent state machine; its data-plane changes are applied, then
 * its BA is sent (raw IPv6 with a type 2 routing header, or IPv4/UDP 4191).
 * On the home link the data plane proxies ARP/ND for away nodes; the daemon
 * first probes for each IPv6 home address it is to defend (duplicate
 * address detection), then announces each newly proxied one. Around that:
 * the journal (restarts), per-source rate limiting (floods), the route
 * watch (learnt next hops), and what the REST API asks of it.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { sameBinding, type Binding, type DataPlane } from '../dataplane/dataplane.js';
import { addrBytes, addrFamily, formatAddr, inPrefix, noSource, sharedAddrBytes, type BindingCounters } from '../dataplane/layout.js';
import { RouteWatch } from '../dataplane/route-watch.js';
import { interfaceInfo } from '../sys/ip.js';
import { Icmp6Listener, PacketSocket } from '../sys/libc.js';
import { dadSolicitation, gratuitousArp, solicitedNode, unsolicitedNeighborAdvert } from '../wire/ip/neighbour.js';
import { SignallingCapture } from '../signalling/capture.js';
import { BindingJournal, copySizeFor } from './journal.js';
import { SourceRateLimiter } from './rate-limit.js';
import { frameSource, SignallingChannel, unwrapSignal, type SendRefusal, type SignalPacket } from '../signalling/channel.js';
import type { SignalFrame } from '../dataplane/signals.js';
import { discardReason, encodeSignalling6, encodeTunnelled6 } from '../wire/ip/signalling.js';
import { IcmpErrorLimit, parameterProblemFor } from '../wire/ip/icmp6.js';
import { configJson, type HomeAgentConfig, type MobileNodeProfile } from './config.js';
import type { PredictedBu } from './prediction.js';
import { DSMIP_PORT, HomeAgent, type BindingCacheEntry, type Outcome, type ReceivedBu } from './home-agent.js';

const EXPIRY_CHECK_MS = 1000;
/** Packets of a drain handled before their BAs leave together (what a BA waits for the others: ~16 × 25 µs). */
export const CHUNK = 16;
/** How long a duplicate address detection probe waits for an answer (RFC 4861 RetransTimer, one transmission: RFC 4862 §5.1). */
export const DAD_WAIT_MS = 1000;
const ND_NEIGHBOR_SOLICIT = 135;
const ND_NEIGHBOR_ADVERT = 136;
const UNSPECIFIED = Buffer.alloc(16);

/** A registration waiting for its duplicate address detection: what it heard, and the BUs for its home address that came meanwhile. */
interface Probe {
  outcome: Outcome & { dad: NonNullable<Outcome['dad']> };
  timer: NodeJS.Timeout;
  /** Targets of what was heard since it began (see hear()). */
  heard: Set<string>;
  /** Something may have gone unheard (a read failed, the kernel's queue overflowed): no answer is no proof. */
  unheard: boolean;
  /** The solicited-node groups it joined. */
  joined: string[];
  /** BUs for its home address that came meanwhile and passed authentication and replay protection (anything else is answered at once); beyond HELD_MAX the oldest is discarded, said and counted. */
  held: SignalPacket[];
  /** Its registration's journal writes, made once it stands (a daemon killed meanwhile restarts without it). */
  journal: JournalWrite[];
}

interface JournalWrite { nai: string; entry: BindingCacheEntry | undefined }
const HELD_MAX = 8;
/** While probes run, what the kernel queues for them is read this often (its queue holds thousands, not unbounded). */
const HEAR_EVERY_MS = 100;
const MAX_RATE_SOURCES = 65536;
/**
 * Refusals and discards logged a second, at most: forged BUs from spoofed
 * sources pass the per-source rate limit, and must not flood the log. The
 * rest are counted (dsmip_binding_updates_total by status) and summed up in
 * one line a second later.
 */
const REFUSALS_LOGGED_PER_SECOND = 20;

export interface DaemonOptions {
  now?: () => number;
  /** Every event, with how much it matters: 'warn' for refusals, discards and failures, 'info' for the rest. */
  log?: (event: string, level: LogLevel) => void;
  /** The least level log takes (default info); below it an event is not made at all (an accepted BU's: one with each BU). */
  logLevel?: LogLevel;
  /** Writes every signalling packet received and sent to this pcap file. */
  capture?: string;
  /** Keeps the binding cache in this file, and rebuilds it from there at start (see journal.ts). */
  journal?: string;
  /** The configuration file: profiles changed through setProfile()/deleteProfile() are saved back to it. */
  configPath?: string;
}

export type LogLevel = 'info' | 'warn';

/** An IP packet's destination, from its header. */
const packetDestination = (packet: Buffer): string => (packet[0]! >> 4 === 6 ? formatAddr(packet, 6, 24) : formatAddr(packet, 4, 16));

/** Signalling dropped unanswered. */
const discarded = (event: string): Outcome => ({ dataPlane: [], event });
/** ICMPv6 errors a second at most (RFC 4443 §2.4(f)). */
const ICMP_ERRORS_PER_SECOND = 100;

/** The home address a BU is for: its Home Address option's, or the source of the IPv6 packet carrying it. */
const homeAddressOf = (p: SignalPacket): string => p.signalling.homeAddressOption ?? p.signalling.ipv6.src;

/** A BU that waited for its home address's probe, dropped unanswered. */
const waitingDiscarded = (p: SignalPacket, why: string): Outcome => discarded(`BU from ${p.signalling.ipv6.src} waiting for the probe of ${homeAddressOf(p)} discarded: ${why}`);

/** What the signalling channel hands over: a frame as captured, or (a test, the API) a packet already unwrapped. */
export type Arrival = SignalFrame | SignalPacket;

/** A captured signalling packet as the home agent's state machine takes it. */
export function receivedBu(p: SignalPacket, nowMs: number): ReceivedBu {
  return {
    transport: p.transport,
    outer: p.outer,
    ipv6Src: p.signalling.ipv6.src,
    ...(p.signalling.homeAddressOption !== undefined && { homeAddressOption: p.signalling.homeAddressOption }),
    mh: p.signalling.mh,
    nowMs,
    packet: p.ipv6,
  };
}

export class HomeAgentDaemon {
  readonly homeAgent: HomeAgent;
  private channel: SignallingChannel | null = null;
  private capture: SignallingCapture | null = null;
  private journal: BindingJournal | null = null;
  /** Forgets the data plane's learnt next hops when routes, links or neighbours' MACs change. */
  routeWatch: RouteWatch | null = null;
  /** Signalling per source, bounded (a flood from many addresses costs at most this many buckets). */
  readonly limiter: SourceRateLimiter;
  /** Tunnel counters of bindings since removed. */
  readonly retired: BindingCounters = { encapPackets: 0n, encapBytes: 0n, decapPackets: 0n, decapBytes: 0n };
  /** Failures counted (and logged at most once a second each): replies not sent, changes not journalled, and anything else that went wrong handling signalling or expiry. */
  readonly failures = { send: 0, journal: 0, internal: 0, capture: 0 };
  /** ICMPv6 Parameter Problems sent for discarded BUs (RFC 8200 §4.2), and those the rate limit held back (RFC 4443 §2.4(f)). */
  readonly icmpErrors = new IcmpErrorLimit(ICMP_ERRORS_PER_SECOND);
  private readonly lastFailureLogMs = { send: -Infinity, journal: -Infinity, internal: -Infinity, capture: -Infinity };
  /** This second's refusals and discards: logged, and left unlogged past REFUSALS_LOGGED_PER_SECOND. */
  private refusals = { sinceMs: -Infinity, logged: 0, unlogged: 0 };
  /** Started and listening (readiness). */
  serving = false;
  /** BAs answered, by status; BUs discarded unanswered (malformed) under -1. */
  readonly answered = new Map<number, number>();
  /** BUs answered by prediction (prediction.ts), counted in answered too: how much of the signalling took the fast path. */
  predictedCount = 0;
  private expiry: NodeJS.Timeout | null = null;
  private homeLink: { socket: PacketSocket; mac: string; ipv6: string; neighbours: Icmp6Listener | null } | null = null;
  /** While a BU is processed, its journal writes wait here: a registration that must probe first is journalled only once it stands. */
  private deferred: JournalWrite[] | null = null;
  /** Registrations probing the home link, by the home address of their BU. */
  private readonly probing = new Map<string, Probe>();
  /** Solicited-node groups joined for probes, and for how many of them (addresses can share one). */
  private readonly groups = new Map<string, number>();
  /** Reads what the kernel queues for the probes while any runs. */
  private hearing: NodeJS.Timeout | null = null;
  /** Home addresses the data plane answers for (proxy ARP/ND), by binding. */
  private readonly proxied = new Map<number, readonly string[]>();
  private readonly now: () => number;
  private readonly log: (event: string, level?: LogLevel) => void;
  private readonly logsInfo: boolean;

  constructor(readonly config: HomeAgentConfig, private readonly dataPlane: DataPlane, private readonly options: DaemonOptions = {}) {
    this.homeAgent = new HomeAgent(config, (nai, entry) => (this.deferred ? this.deferred.push({ nai, entry }) : this.journalled(nai, entry)));
    this.now = options.now ?? Date.now;
    const log = options.log ?? (() => {});
    this.logsInfo = options.logLevel !== 'warn';
    this.log = (event, level = 'info') => (level === 'warn' || this.logsInfo) && log(event, level);
    this.limiter = new SourceRateLimiter({ rate: config.policy.signallingRate, burst: config.policy.signallingBurst, maxSources: MAX_RATE_SOURCES });
  }

  /**
   * Declares the HA's addresses as endpoints, makes the home link's data plane
   * proxy for away nodes, and starts listening; call inside the HA's network
   * namespace.
   */
  start(): void {
    if (this.options.journal) this.restore(this.options.journal);
    const link = this.config.homeLink.interface;
    const info = interfaceInfo(link);
    if (!info) throw new Error(`homeLink.interface: no interface ${JSON.stringify(link)} here`);
    const linkIpv6 = info.ipv6[0] ?? info.linkLocal6 ?? this.config.homeAgent.ipv6;
    this.dataPlane.setHomeLink(link, info.mac, linkIpv6);
    this.homeLink = {
      socket: new PacketSocket(link), mac: info.mac, ipv6: linkIpv6,
      // what answers a duplicate address detection probe: an advertisement, or another host's probe (see hear())
      neighbours: this.config.policy.duplicateAddressDetection ? new Icmp6Listener(link, [ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT]) : null,
    };
    const { ipv6, ipv4, publicIpv4 } = this.config.homeAgent;
    this.dataPlane.addEndpoint(ipv6, 0, ['decap', 'mh']);
    for (const v4 of [ipv4, publicIpv4].filter((a): a is string => a !== undefined)) {
      this.dataPlane.addEndpoint(v4, 0, ['decap']);
      this.dataPlane.addEndpoint(v4, DSMIP_PORT, ['decap', 'mh']);
    }
    this.capture = this.options.capture ? new SignallingCapture(this.options.capture, (err) => this.failed('capture', `writing to ${this.options.capture}`, err)) : null;
    for (const id of this.dataPlane.bindingIds()) this.proxied.set(id, this.dataPlane.binding(id)?.homeAddresses ?? []); // announced by whoever installed them
    const arrived: Arrival[] = [];
    this.channel = new SignallingChannel(this.dataPlane, {
      admit: (f) => this.limiter.allow(frameSource(f.frame) ?? 'unknown', this.now()),
      onFrame: (f) => arrived.push(f),
      onDrained: () => this.guarded('internal', 'handling signalling', () => this.handleBatch(arrived.splice(0))),
      ...(this.capture && { tap: this.capture.tap }),
    });
    this.expiry = setInterval(() => {
      this.guarded('internal', 'expiry', () => this.expire());
      this.repairJournal();
      this.summariseRefusals();
    }, EXPIRY_CHECK_MS);
    this.routeWatch = new RouteWatch(this.dataPlane);
    this.serving = true;
  }

  /**
   * The binding cache from the journal, the data plane made to match it
   * (the pinned maps kept forwarding meanwhile): then expiry, refresh
   * requests and the next BU of every node go on as if nothing happened.
   */
  private restore(path: string): void {
    const { journal, entries, problems } = BindingJournal.open(path, copySizeFor(this.config.mobileNodes));
    for (const p of problems) this.log(p, 'warn');
    const held = new Map(this.dataPlane.bindingIds().map((id) => [id, this.dataPlane.binding(id)!]));
    const { dataPlane, warnings, events } = this.homeAgent.restore(entries, held);
    for (const w of warnings) this.log(w, 'warn');
    for (const e of events) this.log(e);
    this.applyRestored(dataPlane);
    journal.rewrite([...this.homeAgent.entries()]);
    this.journal = journal;
  }

  stop(): void {
    this.abandonProbes(); // first: their undoing goes to the journal
    this.serving = false;
    if (this.expiry) clearInterval(this.expiry);
    this.expiry = null;
    this.channel?.close();
    this.channel = null;
    this.homeLink?.socket.close();
    this.homeLink?.neighbours?.close();
    this.homeLink = null;
    this.groups.clear();
    this.capture?.close();
    this.capture = null;
    this.repairJournal(); // a write that failed lately must not leave the file stale for the next start
    this.journal?.close();
    this.journal = null;
    this.routeWatch?.close();
    this.routeWatch = null;
  }

  /** A change to the binding cache into the journal; one it cannot take still holds: the node is served, and the journal repaired later (counted, logged). */
  private journalled(nai: string, entry: BindingCacheEntry | undefined): void {
    try { // (not guarded(): with every BU, its closure and message would be garbage for the scavenger)
      this.journal?.record(nai, entry, this.cacheEntries);
    } catch (err) {
      this.failed('journal', `journalling ${nai}`, err);
    }
  }

  /** A chunk's frames and outcomes (handleChunk()): kept, not made with each drain. */
  private readonly chunkFrames: (Buffer | undefined)[] = [];
  private readonly outcomes: (Outcome | undefined)[] = [];
  private inChunk = false;

  /** What the journal rewrites itself from, when it must. */
  private readonly cacheEntries = (): Iterable<BindingCacheEntry> => this.homeAgent.entries();

  /** After a failed write, the journal rewritten whole (its own backoff spaces the attempts while writes keep failing). */
  private repairJournal(): void {
    this.guarded('journal', 'rewriting the journal', () => {
      if (this.journal?.repair(this.cacheEntries, this.now())) this.log('journal rewritten whole after a failed write');
    });
  }

  /** Removes the bindings whose lifetime ran out (also called by the timer). */
  expire(): void {
    const outcomes = this.homeAgent.expire(this.now());
    for (const o of outcomes) this.log(o.event);
    this.sendAll(this.dataPlane.batch(() => outcomes.map((o) => this.applyDataPlane(o))));
  }

  /** One captured signalling packet, through the state machine, the data plane and out as a BA. */
  handleSignal(p: SignalPacket): void {
    this.handleBatch([p]);
  }

  /**
   * Packets the data plane handed over together, CHUNK at a time: every
   * binding change of a chunk is written (each journalled as it is made),
   * the data plane's caches are invalidated once, and only then do the
   * chunk's BAs leave, together, each binding live and journalled before its
   * BA. (Chunks bound how long a BA waits for the others of its batch.)
   */
  handleBatch(packets: readonly Arrival[]): void {
    for (let i = 0; i < packets.length; i += CHUNK) this.handleChunk(packets, i, Math.min(packets.length, i + CHUNK));
  }

  /**
   * packets[start..end), a chunk. Its arrays are the daemon's own, reused:
   * at 50,000 BUs a second a drain is a BU or two, and what each drain made
   * (arrays, closures, views) was much of what a BU left for the scavenger.
   */
  private handleChunk(packets: readonly Arrival[], start: number, end: number): void {
    if (this.inChunk) throw new Error('handleBatch() re-entered: its arrays are in use'); // (nothing calls it so: probes answer from timers)
    this.inChunk = true;
    try {
      let predicted = this.predictGuarded(packets, start, end), from = start; // predicted[k - from]: packets[k]'s
      let templates = this.homeAgent.templateGeneration;
      const outcomes = this.outcomes;
      outcomes.length = 0;
      this.dataPlane.beginBatch();
      try {
        for (let k = start; k < end; k++) {
          if (this.homeAgent.templateGeneration !== templates) { // an earlier BU of the chunk made a template: the rest checked again, against the templates as they are now
            templates = this.homeAgent.templateGeneration;
            predicted = this.predictGuarded(packets, k, end);
            from = k;
          }
          outcomes.push(this.answerGuarded(packets[k]!, predicted[k - from]));
        }
      } finally {
        this.dataPlane.endBatch();
      }
      for (const o of outcomes) if (o) this.settled(o);
      this.sendAll(outcomes);
    } finally {
      this.inChunk = false;
    }
  }

  /** The frames of packets[start..end) its nodes' predictions answer (HomeAgent.predictBatch()); none if that fails (counted, logged: the general path answers them). */
  private predictGuarded(packets: readonly Arrival[], start: number, end: number): readonly (PredictedBu | undefined)[] {
    const frames = this.chunkFrames;
    frames.length = 0;
    for (let k = start; k < end; k++) {
      const a = packets[k]!;
      frames.push('frame' in a ? a.frame : undefined);
    }
    try {
      return this.homeAgent.predictBatch(frames);
    } catch (err) {
      this.failed('internal', 'predicting BUs', err);
      return [];
    }
  }

  /** answer(), a failure counted and logged (the rest of the drain is still answered). */
  private answerGuarded(p: Arrival, predicted: PredictedBu | undefined): Outcome | undefined {
    try {
      return this.answer(p, predicted);
    } catch (err) {
      this.failed('internal', 'handling signalling', err);
      return undefined;
    }
  }

  /**
   * One packet through the state machine and the data plane: the outcome to
   * settle and send, if any (a probing registration answers later). A BU its
   * node's last one predicts (predicted: found so with the rest of its chunk,
   * HomeAgent.predictBatch()) is answered without being unwrapped or
   * decoded. (A node probing for its addresses has no prediction: its BUs
   * wait for the probe.)
   */
  private answer(a: Arrival, predicted: PredictedBu | undefined): Outcome | undefined {
    if (!('frame' in a)) return this.answerPacket(a);
    const outcome = predicted && this.homeAgent.predictedUpdate(predicted, this.now());
    if (outcome) {
      this.predictedCount++;
      return this.applyDataPlane(outcome);
    }
    let p: SignalPacket;
    try {
      p = unwrapSignal(a);
    } catch (err) {
      return discarded(`undecodable signalling: ${(err as Error).message}`);
    }
    return this.answerPacket(p);
  }

  private answerPacket(p: SignalPacket): Outcome | undefined {
    const probe = this.probing.get(homeAddressOf(p));
    if (probe && this.mayWait(p)) { // answered once its node's probe is over
      if (probe.held.push(p) > HELD_MAX) this.settled(waitingDiscarded(probe.held.shift()!, `more than ${HELD_MAX} came`));
      return undefined;
    }
    this.deferred = [];
    let outcome: Outcome;
    let writes: JournalWrite[];
    try {
      outcome = this.process(p);
    } finally {
      writes = this.deferred;
      this.deferred = null;
    }
    if (outcome.dad && this.homeLink?.neighbours) return this.probe(homeAddressOf(p), { ...outcome, dad: outcome.dad }, writes); // unprobed, undone: its writes never happened
    for (const w of writes) this.journalled(w.nai, w.entry);
    return this.applyDataPlane(outcome);
  }

  /**
   * RFC 6275 §10.3.1, RFC 4862 §5.4: a Neighbor Solicitation from the
   * unspecified address for each address the registration would defend;
   * after DAD_WAIT_MS the registration stands if no one advertised one, nor
   * probed for one at the same time (its solicitation from the unspecified
   * address, heard in the address's solicited-node group, joined meanwhile).
   * Returns the refusal to send now if the probe could not go out.
   */
  private probe(home: string, outcome: Probe['outcome'], journal: JournalWrite[]): Outcome | undefined {
    const link = this.homeLink!;
    const joined: string[] = [];
    try {
      this.hear(); // what came before is for the probes already under way
      for (const address of outcome.dad.addresses) joined.push(this.listenFor(address));
      for (const address of outcome.dad.addresses) link.socket.send(dadSolicitation(link.mac, address));
    } catch (err) {
      this.failed('internal', `duplicate address detection for ${outcome.dad.addresses.join(', ')}`, err);
      this.stopListening(joined);
      return outcome.onDataPlaneFailure!(); // 143: nothing defended unprobed
    }
    this.log(`duplicate address detection for ${outcome.dad.addresses.join(', ')} before: ${outcome.event}`);
    const timer = setTimeout(() => this.guarded('internal', 'duplicate address detection', () => this.probed(home)), DAD_WAIT_MS);
    this.probing.set(home, { outcome, timer, heard: new Set(), unheard: false, joined, held: [], journal });
    this.hearing ??= setInterval(() => this.guarded('internal', 'duplicate address detection', () => this.hear()), HEAR_EVERY_MS);
    return undefined;
  }

  /**
   * The targets of what came (advertisements, and other probes'
   * solicitations) to every probe under way: probes overlap, and each must
   * see what came during it. A failed read, or the kernel saying its queue
   * overflowed, leaves every probe under way unheard.
   */
  private hear(): void {
    const neighbours = this.homeLink?.neighbours;
    if (!neighbours) return;
    const dropped = neighbours.dropped;
    const { messages, error } = neighbours.read();
    // RFC 4861 §7.1.2: what a router forwarded (hop limit below 255) is no neighbour's; a solicitation
    // from an address is someone resolving the target, not claiming it (RFC 4862 §5.4.3)
    const targets = messages
      .filter(({ message: m, source, hopLimit }) => hopLimit === 255 && m.length >= 24 && m[1] === 0 && (m[0] === ND_NEIGHBOR_ADVERT || source.equals(UNSPECIFIED)))
      .map(({ message: m }) => formatAddr(m, 6, 8));
    const lost = error !== undefined || neighbours.dropped !== dropped;
    for (const p of this.probing.values()) {
      for (const t of targets) p.heard.add(t);
      p.unheard ||= lost;
    }
    if (error) this.failed('internal', 'reading neighbour discovery on the home link', error);
  }

  /** Joins address's solicited-node group (counted: addresses can share one); returns the group. */
  private listenFor(address: string): string {
    const group = solicitedNode(address);
    const n = this.groups.get(group) ?? 0;
    if (n === 0) this.homeLink?.neighbours?.join(addrBytes(group));
    this.groups.set(group, n + 1);
    return group;
  }

  /** Leaves groups a probe that is over had joined (a failure to leave is logged: the group only lets more in). */
  private stopListening(groups: readonly string[]): void {
    for (const group of groups) {
      const n = (this.groups.get(group) ?? 1) - 1;
      if (n > 0) {
        this.groups.set(group, n);
        continue;
      }
      this.groups.delete(group);
      this.guarded('internal', `leaving ${group}`, () => this.homeLink?.neighbours?.leave(addrBytes(group)));
    }
    if (this.probing.size === 0 && this.hearing) {
      clearInterval(this.hearing);
      this.hearing = null;
    }
  }

  private probed(home: string): void {
    const probe = this.probing.get(home);
    if (!probe) return;
    const { outcome } = probe;
    try {
      this.hear();
      this.probing.delete(home);
      this.stopListening(probe.joined);
      if (!outcome.dad.current()) { // unanswered: counted as discarded
        this.settled(discarded(`duplicate address detection for ${outcome.dad.addresses.join(', ')} over, the registration revoked or replaced meanwhile: nothing to answer`));
      } else if (probe.unheard) { // no answer is no proof here: refused (143), not defended unprobed
        this.sendAll([this.settled({ ...outcome.onDataPlaneFailure!(), event: `duplicate address detection for ${outcome.dad.addresses.join(', ')}: some of what came went unheard: refused (143)` })]);
      } else {
        const taken = outcome.dad.addresses.find((a) => probe.heard.has(a));
        if (taken !== undefined) {
          this.sendAll([this.settled(outcome.dad.refuse(taken))]);
        } else { // it stands: now it is journalled, installed and answered
          for (const w of probe.journal) this.journalled(w.nai, w.entry);
          const applied = this.dataPlane.batch(() => this.applyDataPlane(outcome));
          this.sendAll([applied && this.settled(applied)]);
        }
      }
    } finally {
      this.probing.delete(home);
      if (probe.held.length) this.handleBatch(probe.held);
    }
  }

  /** Probes cut short (the daemon stops): their registrations undone, unanswered (their nodes send again). */
  private abandonProbes(): void {
    const probes = [...this.probing.values()];
    this.probing.clear();
    for (const { outcome, timer, joined, held } of probes) {
      clearTimeout(timer);
      this.stopListening(joined);
      for (const p of held) this.settled(waitingDiscarded(p, 'the home agent stopped'));
      if (!outcome.dad.current()) continue;
      outcome.dad.refuse(outcome.dad.addresses[0]!); // the entry as it was before, journalled
      this.settled(discarded(`duplicate address detection for ${outcome.dad.addresses.join(', ')} cut short by a stop: undone (${outcome.event})`)); // unanswered: counted as discarded
    }
  }

  /**
   * discardReason(), and what no BU can be: one with a type 2 routing header
   * (only a BA carries one, RFC 6275 §6.1: here it names someone else), or
   * from a source no reply can go to (multicast, unspecified, broadcast).
   */
  private discardReason(p: SignalPacket): string | undefined {
    return discardReason(p)
      ?? (p.signalling.routingHeader2 ? `MH with a type 2 routing header from ${p.signalling.ipv6.src} discarded (only a BA carries one, RFC 6275 §6.1)` : undefined)
      ?? (noSource(p.outer.src) ? `signalling from ${p.outer.src}, a source no reply can go to, discarded` : undefined);
  }

  /** May this BU wait for its home address's probe? Only if its checksums are right and it is authentic and fresh now (HomeAgent.passesSecurity()). */
  private mayWait(p: SignalPacket): boolean {
    return this.discardReason(p) === undefined && this.homeAgent.passesSecurity(receivedBu(p, this.now()));
  }

  private process(p: SignalPacket): Outcome {
    const problem = this.discardReason(p);
    if (problem) return this.withParameterProblem(p, discarded(problem));
    return this.homeAgent.handleBindingUpdate(receivedBu(p, this.now()));
  }

  /**
   * A discarded BU whose unknown option's type asks for it gets an ICMP
   * Parameter Problem (parameterProblemFor()): we took the packet before the
   * kernel's IPv6 layer could. At most ICMP_ERRORS_PER_SECOND; one the
   * socket then refuses is counted in failures.send too.
   */
  private withParameterProblem(p: SignalPacket, outcome: Outcome): Outcome {
    // not for a BU with a type 2 routing header (a header after it is its named home address's to process, not ours),
    // nor to one of the home link's anycast addresses (RFC 4443 §2.4(e.6))
    const icmp = p.signalling.routingHeader2 || this.homeLinkAnycast(p.signalling.ipv6.src) ? undefined : parameterProblemFor(p);
    return icmp && this.icmpErrors.take(this.now()) ? { ...outcome, icmp, event: `${outcome.event}; ICMP Parameter Problem sent` } : outcome;
  }

  /** One of the home link's anycast addresses: a prefix's Subnet-Router anycast (RFC 4291 §2.6.1), or a /64's reserved ones (RFC 2526). */
  private homeLinkAnycast(address: string): boolean {
    const b = sharedAddrBytes(address);
    return this.config.homeLink.prefixes.some((prefix) => {
      if (!prefix.includes(':') || !inPrefix(address, prefix)) return false;
      const bits = Number(prefix.split('/')[1]);
      const hostBitsZero = b.every((x, i) => (x & (0xff >> Math.min(8, Math.max(0, bits - 8 * i)))) === 0);
      return hostBitsZero || (bits === 64 && b[8] === 0xfd && b.subarray(9, 15).every((x) => x === 0xff) && b[15]! >= 0x80);
    });
  }

  /** An outcome as it will stand: logged, and counted by its BA's status (-1: discarded unanswered). */
  private settled(outcome: Outcome): Outcome {
    const status = outcome.status ?? -1;
    if (status < 0 || status >= 128) this.logRefusal(outcome.event);
    else if (this.logsInfo) this.log(outcome.event, 'info'); // (a predicted BU's event is made when read: PredictedOutcome)
    this.answered.set(status, (this.answered.get(status) ?? 0) + 1);
    return outcome;
  }

  private logRefusal(event: string): void {
    this.summariseRefusals();
    const r = this.refusals;
    if (r.logged < REFUSALS_LOGGED_PER_SECOND) {
      r.logged++;
      this.log(event, 'warn');
    } else {
      r.unlogged++;
    }
  }

  /** Once this second is over: how many refusals went unlogged in it, and a new second begun (called on each refusal, and every second). */
  private summariseRefusals(): void {
    const nowMs = this.now();
    const r = this.refusals;
    if (nowMs - r.sinceMs < 1000) return;
    if (r.unlogged > 0) this.log(`${r.unlogged} more BUs refused or discarded in the second after ${new Date(r.sinceMs).toISOString()}, not logged (dsmip_binding_updates_total counts them by status)`, 'warn');
    this.refusals = { sinceMs: nowMs, logged: 0, unlogged: 0 };
  }

  /* ---- what an operator may do (the REST API) ---- */

  /** Ends a node's binding now; false if it had none. */
  revoke(nai: string): boolean {
    const changes = this.homeAgent.revoke(nai, this.now());
    this.applyChanges(changes);
    if (changes.length) this.log(`binding of ${nai} revoked`);
    return changes.length > 0;
  }

  /** Adds or replaces a profile (a changed one loses its binding), saved to the configuration file. */
  setProfile(p: MobileNodeProfile): void {
    this.applyChanges(this.homeAgent.setProfile(p));
    this.saveConfig();
    this.log(`profile ${p.nai} saved`);
  }

  deleteProfile(nai: string): boolean {
    const changes = this.homeAgent.deleteProfile(nai);
    if (!changes) return false;
    this.applyChanges(changes);
    this.saveConfig();
    this.log(`profile ${nai} deleted`);
    return true;
  }

  /**
   * The restored cache made live, each change on its own: an entry the data
   * plane refuses (a journal damaged in a way that still parses: an ip6
   * tunnel with an IPv4 end, say) is revoked and said, and costs that entry,
   * not the start.
   */
  private applyRestored(changes: Outcome['dataPlane']): void {
    this.dataPlane.batch(() => {
      for (const change of changes) {
        try {
          this.applyChange(change);
        } catch (err) {
          if (!('install' in change)) throw err;
          const nai = [...this.homeAgent.entries()].find((e) => e.bindingId === change.install.id)?.nai;
          this.log(`journal: the binding of ${nai ?? `id ${change.install.id}`} is refused by the data plane (${(err as Error).message}): revoked`, 'warn');
          if (nai) this.applyChanges(this.homeAgent.revoke(nai, this.now()));
        }
      }
    });
  }

  private applyChanges(changes: Outcome['dataPlane']): void {
    this.dataPlane.batch(() => {
      for (const change of changes) this.applyChange(change);
    });
  }

  /** One change; false if an install found the data plane holding the binding already (a refresh: caches and next hop stay). */
  private applyChange(change: Outcome['dataPlane'][number], held = 'install' in change ? this.dataPlane.binding(change.install.id) : undefined): boolean {
    if ('remove' in change) {
      this.removeBinding(change.remove);
      return true;
    }
    if (held && (held === change.install || sameBinding(held, change.install))) return false; // (a predicted refresh: the same object)
    this.dataPlane.install(change.install);
    return true;
  }

  /** A binding leaves the data plane; its counters go on counting in the totals (Prometheus counters never go back). */
  private removeBinding(id: number): void {
    const c = this.dataPlane.bindingCounters(id);
    for (const k of Object.keys(this.retired) as (keyof BindingCounters)[]) this.retired[k] += c[k];
    this.dataPlane.remove(id);
    this.proxied.delete(id);
  }

  private saveConfig(): void {
    const path = this.options.configPath;
    if (!path) return;
    // it holds every MN-HA key: readable by its owner only, whatever the old file's mode was
    writeFileSync(`${path}.tmp`, `${JSON.stringify(configJson({ ...this.config, mobileNodes: this.homeAgent.profileList() }), null, 2)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  /** Applies an outcome's data-plane changes; returns what to answer: the outcome, or its refusal if a write failed. */
  private applyDataPlane(outcome: Outcome): Outcome | undefined {
    try {
      const [change] = outcome.dataPlane;
      if (outcome.moved && change && 'install' in change && this.dataPlane.move(change.install)) return outcome; // (its addresses the same: nothing to announce)
      for (const change of outcome.dataPlane) {
        const held = 'install' in change ? this.dataPlane.binding(change.install.id) : undefined;
        // a move keeps its addresses (the same list): nothing new to announce
        if (this.applyChange(change, held) && 'install' in change && held?.homeAddresses !== change.install.homeAddresses) this.announce(change.install);
      }
    } catch (err) {
      this.log(`data plane write failed: ${(err as Error).message}`, 'warn');
      return outcome.onDataPlaneFailure?.();
    }
    return outcome;
  }

  /**
   * The data plane now answers for these home addresses on the home link:
   * tell its hosts at once (RFC 6275 §10.4.1) with a gratuitous ARP or an
   * unsolicited NA for each address newly proxied.
   */
  private announce(b: Binding): void {
    const before = this.proxied.get(b.id) ?? [];
    this.proxied.set(b.id, b.homeAddresses);
    const link = this.homeLink;
    if (!link || before === b.homeAddresses) return; // (a move: its addresses the same list)
    for (const address of b.homeAddresses.filter((x) => !before.includes(x))) {
      try {
        link.socket.send(addrFamily(address) === 4 ? gratuitousArp(link.mac, address) : unsolicitedNeighborAdvert(link.mac, link.ipv6, address));
      } catch (err) {
        this.log(`announcing ${address} on the home link failed: ${(err as Error).message}`, 'warn');
      }
    }
  }

  /** Replies out together; one that cannot leave (no route back to a spoofed source, say) is counted, and logged at most once a second. */
  private sendAll(outcomes: readonly (Outcome | undefined)[]): void {
    const channel = this.channel;
    if (!channel) return;
    channel.hold(); // (sendTogether() in two calls: no closure with each drain)
    let refused: readonly SendRefusal[];
    try {
      for (const o of outcomes) {
        if (o?.icmp) channel.sendIpv6(o.icmp);
        if (!o?.reply) continue;
        try {
          this.send(channel, o.reply);
        } catch (err) { // not even encoded
          this.failed('send', `reply to ${o.reply.route.dst} not sent`, err);
        }
      }
    } finally {
      refused = channel.release();
    }
    for (const { packet, error } of refused) this.failed('send', `reply to ${packetDestination(packet)} not sent`, error);
  }

  private send(channel: SignallingChannel, reply: NonNullable<Outcome['reply']>): void {
    const r = reply.route;
    if (reply.packet) {
      channel.sendIpv6(reply.packet);
    } else if (r.transport === 'ipv6') {
      channel.sendIpv6(encodeSignalling6({ src: r.src, dst: r.dst, ...(r.routingHeader2 !== undefined && { routingHeader2: r.routingHeader2 }), mh: reply.mh }));
    } else if (r.transport === 'ipv6-in-ipv6') {
      channel.sendIpv6(encodeTunnelled6({ src: r.src, dst: r.dst, inner: encodeSignalling6({ src: r.innerSrc, dst: r.innerDst, mh: reply.mh }) }));
    } else {
      channel.sendUdp4(encodeSignalling6({ src: r.ipv6Src, dst: r.ipv6Dst, mh: reply.mh }), { src: r.src, dst: r.dst, srcPort: r.srcPort, dstPort: r.dstPort });
    }
  }

  /** fn, its failure counted and logged instead of thrown (nothing that goes wrong here may stop the daemon). */
  private guarded(kind: keyof HomeAgentDaemon['failures'], what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failed(kind, what, err);
    }
  }

  private failed(kind: keyof HomeAgentDaemon['failures'], what: string, err: unknown): void {
    const n = ++this.failures[kind];
    const nowMs = this.now();
    if (nowMs - this.lastFailureLogMs[kind] < 1000) return;
    this.lastFailureLogMs[kind] = nowMs;
    this.log(`${what} failed: ${(err as Error).message} (${n} ${kind} failures so far)`, 'warn');
  }
}
