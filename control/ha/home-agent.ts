/**
 * The home agent's binding cache and its Binding Update processing: a state
 * machine with no I/O. A BU (as the signalling channel delivers it) goes in;
 * out come the data-plane changes (to apply first) and the Binding
 * Acknowledgement with the way to send it (after them).
 *
 * Covered: RFC 4285 authentication and replay protection (144 with our
 * clock for a timestamp refused, 145 for none), home registration of an
 * IPv6 home address with an IPv6 care-of address (tunnel ip6) or an IPv4
 * one through UDP/IPv4 with NAT detection (RFC 5555 §4.2: udp4 / udp4-tlv /
 * ip4), IPv4 home addresses static, from a pool or the node's on-link one
 * (§3.1.1, extended home link §4.1), sequence numbers modulo 2^16,
 * lifetimes capped by policy and lease, deregistration, expiry, NEMO mobile
 * network prefixes (explicit and implicit, RFC 3963) and IPv4 home
 * prefixes, Binding Refresh Requests, deprecated entries after
 * deregistration or revocation, the extended home link's IPv4-wise and
 * IPv6-wise at home, the L flag, and which addresses a new registration
 * must have probed for first (duplicate address detection: the daemon
 * probes, the outcome stands or is refused with 134). Beside the BU path:
 * what an operator does (profiles, revocation) and what a restart needs
 * (restore from a journal). Not yet:
 * shadow entries (PMIPv6).
 */
import { MAX_BINDINGS, sameBinding, type Binding, type Tunnel } from '../dataplane/dataplane.js';
import { ById } from '../dataplane/by-id.js';
import { addrBytes, bytesInPrefix, canonicalAddr, formatAddr, inPrefix, prefixOf, sharedAddrBytes, type ParsedPrefix } from '../dataplane/layout.js';
import { DecodeError } from '../wire/buffer.js';
import { MN_HA_AUTHENTICATOR_LENGTH, signMnHa, verifyMnHa } from '../wire/auth/mipv6.js';
import { HmacSha1Key } from '../wire/auth/sha1.js';
import { checkReplay, ntpTimestamp } from '../wire/auth/replay.js';
import { DSMIP6_UDP_PORT } from '../wire/ip/constants.js';
import { encodeSignalling6 } from '../wire/ip/signalling.js';
import { decodeMobilityHeader, encodeMobilityHeader, NO_BA_FLAGS, type BaFlags, type BindingUpdate, type MobilityHeader, type MobilityOption, type OptionOf } from '../wire/mh/index.js';
import { BaStatus, BeStatus, Ipv4AckStatus } from '../wire/mh/constants.js';
import { prefixesOverlap, staticIpv4, type HomeAgentConfig, type MobileNodeProfile } from './config.js';
import { DueWheel } from './due.js';
import { AddressPool } from './pool.js';
import { BuTemplate, CARE_OF_AT, mhOf, Predictor, type PredictedBu } from './prediction.js';
import {
  careOfInPlace, careOfWord, copyEntry, inPlaceEntry, isCareOf, laterThanStamp, raiseStamp, readStamp, setCareOfBytes, setCareOfWords, setStampHalves, STAMP_HIGH, STAMP_LOW,
  writeStamp, type CareOfHolder, type Stamped,
} from './in-place.js';

export const DSMIP_PORT = DSMIP6_UDP_PORT;
/** Unspecified and loopback, multicast, link-local, IPv4-mapped: no care-of address. */
const NOT_GLOBAL_UNICAST6 = ['::/127', 'ff00::/8', 'fe80::/10', '::ffff:0:0/96'];
/** A NAT Detection option's refresh time when there is no NAT to keep open (all 1s, RFC 5555 §4.3). */
const NO_NAT_REFRESH = 0xffffffff;
/** The authenticator's room in a BA before it is signed (the encoder copies it). */
const UNSIGNED = Buffer.alloc(MN_HA_AUTHENTICATOR_LENGTH);

/** A BU as it reached the home agent (see control/signalling/channel.ts). */
export interface ReceivedBu {
  transport: 'ipv6' | 'udp4';
  outer: { src: string; dst: string; srcPort?: number; dstPort?: number };
  /** The IPv6 source of the packet carrying the MH, and its Home Address option if any. */
  ipv6Src: string;
  homeAddressOption?: string;
  mh: Buffer;
  nowMs: number;
  /** The IPv6 packet carrying the MH (which ends it), if the receiver has it: an accepted BU's is the template of its node's next (prediction.ts). */
  packet?: Buffer;
}

export type ReplyRoute =
  | { transport: 'ipv6'; src: string; dst: string; routingHeader2?: string }
  | { transport: 'udp4'; src: string; dst: string; srcPort: number; dstPort: number; ipv6Src: string; ipv6Dst: string };
/** A reply to the home address through the node's IPv6 tunnel: src and dst the tunnel's ends, innerSrc and innerDst the packet's. */
export type TunnelRoute = { transport: 'ipv6-in-ipv6'; src: string; dst: string; innerSrc: string; innerDst: string };

export interface Outcome {
  /** Apply in order, before sending the reply: the binding is live before its BA leaves. */
  dataPlane: ({ install: Binding } | { remove: number })[];
  /** The reply's MH, and how to send it; packet: the whole IPv6 packet already, its MH the same bytes as mh (a predicted BA). */
  reply?: { mh: Buffer; route: ReplyRoute | TunnelRoute; packet?: Buffer };
  /** The BA's status, when the outcome is one (for the metrics). */
  status?: number;
  /** An ICMPv6 error to send (a whole IPv6 packet): a discarded BU's (daemon.ts). */
  icmp?: Buffer;
  event: string;
  /**
   * If applying dataPlane failed: undoes the registration in the binding
   * cache and gives the BA to send instead (status 143, forwarding setup
   * failed). The data plane undoes its own partial writes.
   */
  onDataPlaneFailure?: () => Outcome;
  /** Its one change installs the binding the data plane holds, changed in place: only its tunnel's remote address (a predicted move). The data plane takes it so (DataPlane.move()). */
  moved?: true;
  /**
   * Addresses to probe on the home link (duplicate address detection) before
   * anything else: only if no one answers for them does the outcome stand;
   * if one is in use, refuse() undoes the registration and gives the BA to
   * send instead (status 134).
   */
  dad?: {
    addresses: string[];
    refuse: (address: string) => Outcome;
    /** The registration still stands as this outcome made it (not revoked, replaced or deleted meanwhile). */
    current: () => boolean;
  };
}

export interface BindingCacheEntry {
  nai: string;
  bindingId: number;
  homeAddress: string;
  ipv4HomeAddress?: string;
  careOf: string;
  natDetected: boolean;
  tunnel: Tunnel;
  sequence: number;
  lifetime: number;
  expiresMs: number;
  lastTimestamp: bigint;
  /** Where this node's BAs go, and so its Binding Refresh Request. */
  route: ReplyRoute;
  /** What the data plane holds for it (until deregistered). */
  binding: Binding;
  refreshRequested: boolean;
  /** Registered with L (RFC 6275 §10.3.1): the link-local address defended and tunnelled with the home address. */
  linkLocal?: string;
  /** Registered with R (RFC 3963): a mobile router's registration, which a plain one does not replace (139). */
  router?: true;
  /** Set once deregistered: kept, tunnel-less, until then. */
  deprecatedUntilMs?: number;
}


/** What a BA carries beyond its status, and the event to log. */
interface AckExtra {
  lifetime?: number; options?: MobilityOption[]; flags?: BaFlags; sequence?: number; event?: string;
  /** The Replay Protection option's timestamp, if not the BU's echoed (a refused timestamp: the home agent's clock). */
  timestamp?: bigint;
}
type Acknowledge = (status: number, extra?: AckExtra) => Outcome;
/**
 * Where a Binding Refresh Request goes: to the home address, through the
 * node's tunnel when that is IPv6 (RFC 6275 §6.1: a type 2 routing header
 * only on a BA); in UDP as the node's BAs go (the tunnel's own
 * encapsulation, inner packet to the home address); straight to a node at
 * home.
 */
const refreshRoute = (e: BindingCacheEntry): ReplyRoute | TunnelRoute => (e.route.transport === 'ipv6' && e.route.routingHeader2 !== undefined && e.tunnel.format === 'ip6'
  ? { transport: 'ipv6-in-ipv6', src: e.tunnel.local, dst: e.tunnel.remote, innerSrc: e.route.src, innerDst: e.homeAddress }
  : e.route);

/** RFC 5555 §4.2: a NAT between the node and us, by its IPv4 care-of address against the BU's outer source (and port: see README). */
const natBetween = (bu: ReceivedBu, careOf: string): boolean => bu.outer.src !== careOf || bu.outer.srcPort !== DSMIP_PORT;
/** A BU past authentication and replay protection, and what its answer needs. */
interface Screened { m: BindingUpdate; node: NodeState; profile: MobileNodeProfile; home: string; careOf: string; timestamp: bigint; ba: Acknowledge }

const splitPrefix = (p: string): [string, number] => {
  const [a = '', l = ''] = p.split('/');
  return [a, Number(l)];
};
/** "address/length" with the address in canonical form and host bits as given (profiles hold network addresses). */
const canonicalPrefix = (address: string, length: number): string => `${canonicalAddr(address)}/${length}`;

/** Could be a host's address: not 0/8, loopback, link-local, multicast, reserved or broadcast. */
const unicastIpv4 = (a: string): boolean => {
  const [first = 0, second = 0] = addrBytes(a);
  return first !== 0 && first !== 127 && first < 224 && !(first === 169 && second === 254);
};

/** A profile change that would give one node's address, SPI or pool to another: field and reason. */
export class ProfileConflict extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

/** fe80:: and the interface identifier (last 64 bits) of an IPv6 address: its link-local twin (RFC 4291 §2.5.6). */
function linkLocalOf(address: string): string {
  const b = Buffer.alloc(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  addrBytes(address).copy(b, 8, 8, 16);
  return formatAddr(b, 6);
}

/** The link-local address an entry's binding defends: a live one registered with L. */
/** The entry if it is live: not deprecated (deregistered, kept until MinDelayBeforeBCEDelete). */
const live = (e: BindingCacheEntry | undefined): BindingCacheEntry | undefined => (e?.deprecatedUntilMs === undefined ? e : undefined);
const defendedLinkLocal = (e: BindingCacheEntry | undefined): string | undefined => live(e)?.linkLocal;
/** The IPv4 home address a live entry holds. */
const liveIpv4 = (e: BindingCacheEntry | undefined): string | undefined => live(e)?.ipv4HomeAddress;

/** An index of what live entries hold, by whom: a node's key from before to after (each may be none). */
function reindex(index: Map<string, NodeState>, node: NodeState, before: string | undefined, after: string | undefined): void {
  if (before === after) return;
  if (before !== undefined && index.get(before) === node) index.delete(before);
  if (after !== undefined) index.set(after, node);
}

/** a is newer than b modulo 2^16 (RFC 6275 §9.5.1). */
export const sequenceNewer = (a: number, b: number): boolean => a !== b && ((a - b) & 0xffff) < 0x8000;

const option = <T extends MobilityOption['type']>(m: BindingUpdate, type: T): OptionOf<T> | undefined =>
  m.options.find((o): o is OptionOf<T> => o.type === type);

/**
 * Everything kept for one configured node, found by one lookup per BU: with
 * 100,000 nodes every lookup in a table that size is a cache miss or two,
 * which cost more here than the rest of a BU's bookkeeping. A class with
 * every field set by its constructor, so that all are in the object itself
 * (fields added later to an object literal go to an array of their own): a
 * predicted BU reads its node, and its prediction with it, in one or two
 * cache lines.
 */
class NodeState {
  /** Its binding cache entry: live, deprecated, or none. */
  entry: BindingCacheEntry | undefined = undefined;
  /** Where the due wheel holds it (due.ts). */
  dueSecond: number | undefined = undefined;
  /**
   * Its next BU, predicted from the BU that made its entry: valid while that
   * entry and profile are the node's (predictedUpdate()). Which of the
   * node's templates the predictor holds (Predictor.set(); undefined: none):
   * a BU checked against another is not this one's.
   */
  templateGeneration: number | undefined = undefined;
  /** The entry the template's BU made, and the profile it was made under. */
  templateEntry: BindingCacheEntry | undefined = undefined;
  templateProfile: MobileNodeProfile | undefined = undefined;
  /** Its newest timestamp's halves (NaN: none): see lastTimestamp. */
  [STAMP_HIGH] = NaN;
  [STAMP_LOW] = NaN;
  /** Where the template BU's and BA's MHs start in their IPv6 packets. */
  templateBuMhAt = 0;
  templateBaMhAt = 0;

  constructor(
    public profile: MobileNodeProfile,
    /** Its MN-HA key, prepared once (sha1.ts). */
    public key: HmacSha1Key,
    /** Its data-plane binding id, stable per home registration. */
    public bindingId: number,
    lastTimestamp?: bigint,
  ) {
    if (lastTimestamp !== undefined) this.lastTimestamp = lastTimestamp;
  }

  /** The newest timestamp its entries held: it outlives them (expired, deleted), so a replay within the window is still refused (144). Kept in place (in-place.ts). */
  get lastTimestamp(): bigint | undefined {
    return readStamp(this);
  }

  set lastTimestamp(t: bigint) {
    writeStamp(this, t);
  }
}

/**
 * A predicted BU's outcome (HomeAgent.predictedUpdate()), made before its
 * entry is changed in place: what the entry held is kept here, in small
 * integers (which an object holds with nothing allocated), to put it back
 * if the data plane refuses the change (onDataPlaneFailure()). What only a
 * reader needs is made when read: the event, logged at info (which a daemon
 * at tens of thousands of BUs a second does not log), and the BA's MH (the
 * BA leaves whole, as its packet). A predicted BU so leaves the scavenger
 * a few small objects where it left ~1 KB of strings, views and closures.
 */
class PredictedOutcome implements Outcome {
  readonly status = BaStatus.accepted;
  readonly dataPlane: Outcome['dataPlane'];
  readonly reply: PredictedReply;
  readonly moved: true | undefined;
  /** The entry before: its sequence number, lifetime's end, timestamp's halves (as int32), refresh flag; its care-of address's words (as int32, a move's). */
  private readonly sequence: number;
  private readonly expiresMs: number;
  private readonly stampHigh: number;
  private readonly stampLow: number;
  private readonly refreshRequested: boolean;
  private readonly careOf0: number;
  private readonly careOf1: number;
  private readonly careOf2: number;
  private readonly careOf3: number;

  constructor(
    private readonly refuse: (node: NodeState, entry: BindingCacheEntry, bu: PredictedBu, nowMs: number) => Outcome,
    private readonly node: NodeState, private readonly entry: BindingCacheEntry & Stamped & CareOfHolder, private readonly bu: PredictedBu, moved: boolean, private readonly nowMs: number,
  ) {
    this.dataPlane = [{ install: entry.binding }];
    this.reply = new PredictedReply(bu.ba, entry.route, node.templateBaMhAt);
    this.moved = moved || undefined;
    this.sequence = entry.sequence;
    this.expiresMs = entry.expiresMs;
    this.stampHigh = entry[STAMP_HIGH] | 0;
    this.stampLow = entry[STAMP_LOW] | 0;
    this.refreshRequested = entry.refreshRequested;
    this.careOf0 = careOfWord(entry, 0);
    this.careOf1 = careOfWord(entry, 1);
    this.careOf2 = careOfWord(entry, 2);
    this.careOf3 = careOfWord(entry, 3);
  }

  get event(): string {
    return `registered ${this.node.profile.nai} at ${formatAddr(this.bu.frame, 6, CARE_OF_AT)} (${this.entry.tunnel.format})`;
  }

  /** As register()'s: the entry as it was, and a BA of the general path's making (143). */
  onDataPlaneFailure(): Outcome {
    const e = this.entry;
    if (this.moved) setCareOfWords(e, this.careOf0, this.careOf1, this.careOf2, this.careOf3);
    Object.assign(e, { sequence: this.sequence, expiresMs: this.expiresMs, refreshRequested: this.refreshRequested });
    setStampHalves(e, this.stampHigh >>> 0, this.stampLow >>> 0);
    return this.refuse(this.node, e, this.bu, this.nowMs);
  }
}

/** A predicted BU's BA: its IPv6 packet, made; its MH a view of it when asked for. */
class PredictedReply {
  constructor(readonly packet: Buffer, readonly route: ReplyRoute, private readonly mhAt: number) {}

  get mh(): Buffer {
    return this.packet.subarray(this.mhAt);
  }
}

export class HomeAgent {
  /** By NAI, in the configuration's order (then profiles added). */
  private readonly nodes = new Map<string, NodeState>();
  private readonly pools = new Map<string, AddressPool>();
  private readonly statics: Set<string>;
  /** Each node with an entry, by when expire() must next look at it. */
  private readonly due = new DueWheel<NodeState>();
  /** Link-local addresses live bindings defend (L flag), and whose. */
  private readonly linkLocals = new Map<string, NodeState>();
  /** IPv4 home addresses live entries hold, and whose: an on-link one is no pool's, so only this keeps it one node's. */
  private readonly ipv4Holders = new Map<string, NodeState>();
  /** What no IPv6 care-of address is in: the ranges that are not global unicast, the home agent's own address, the home link's prefixes. */
  private readonly notCareOf6: ParsedPrefix[];
  /** Nodes with a prediction, by binding id (their template's slot in the predictor). */
  private readonly predicted = new ById<NodeState>(MAX_BINDINGS);
  private readonly predictor = new Predictor();
  /** The last template's generation (Prediction.generation). */
  private generation = 0;
  /** The newest timestamp of each deleted profile's node (NodeState.lastTimestamp), until a profile of its NAI is saved again. */
  private readonly deletedTimestamps = new Map<string, bigint>();

  /** onChange sees every change to the binding cache (the journal keeps them). */
  constructor(readonly config: HomeAgentConfig, private readonly onChange?: (nai: string, entry: BindingCacheEntry | undefined) => void) {
    this.statics = new Set(config.mobileNodes.map(staticIpv4).filter((a): a is string => a !== undefined));
    this.notCareOf6 = [...NOT_GLOBAL_UNICAST6, `${config.homeAgent.ipv6}/128`, ...config.homeLink.prefixes].map(prefixOf).filter((p) => p.net.length === 16);
    for (const [name, p] of Object.entries(config.pools)) this.pools.set(name, new AddressPool(name, p.from, p.to, this.statics));
    config.mobileNodes.forEach((m, i) => this.nodes.set(m.nai, new NodeState(m, new HmacSha1Key(m.key), i + 1)));
  }

  /** The configured mobile node profiles. */
  profileList(): MobileNodeProfile[] {
    return [...this.nodes.values()].map((n) => n.profile);
  }

  profile(nai: string): MobileNodeProfile | undefined {
    return this.nodes.get(nai)?.profile;
  }

  /**
   * Adds or replaces a profile (checked by the caller, as the configuration
   * is). A node whose home address or IPv4 source changes loses its binding:
   * it was granted under the old profile. Returns the data-plane changes.
   */
  setProfile(p: MobileNodeProfile): Outcome['dataPlane'] {
    const node = this.nodes.get(p.nai);
    const old = node?.profile;
    for (const { profile: other } of this.nodes.values()) {
      if (other.nai === p.nai) continue;
      if (other.homeAddress === p.homeAddress) throw new ProfileConflict('homeAddress', `${p.homeAddress} is already ${other.nai}'s`);
      if (other.spi === p.spi) throw new ProfileConflict('spi', `${p.spi} is already ${other.nai}'s`);
      if (staticIpv4(p) && staticIpv4(other) === staticIpv4(p)) throw new ProfileConflict('ipv4HomeAddress', `${staticIpv4(p)} is already ${other.nai}'s`);
      for (const mine of p.prefixes) { // a mobile network prefix routes to one router: not one another's holds or is held by
        const theirs = other.prefixes.find((x) => prefixesOverlap(mine, x));
        if (theirs) throw new ProfileConflict('prefixes', `${mine} overlaps ${theirs}, ${other.nai}'s`);
      }
    }
    if (p.ipv4HomeAddress && 'pool' in p.ipv4HomeAddress && !this.pools.has(p.ipv4HomeAddress.pool)) {
      throw new ProfileConflict('ipv4HomeAddress.pool', `no pool named ${JSON.stringify(p.ipv4HomeAddress.pool)}`);
    }
    const newStatic = staticIpv4(p);
    const inPool = newStatic && [...this.pools.values()].find((pool) => pool.contains(newStatic));
    if (inPool && newStatic !== staticIpv4(old)) throw new ProfileConflict('ipv4HomeAddress', `${newStatic} is in pool ${inPool.name}, which leases it dynamically`);
    const holder = newStatic === undefined ? undefined : this.ipv4Holders.get(newStatic);
    if (holder && holder !== node) throw new ProfileConflict('ipv4HomeAddress', `${newStatic} is ${holder.profile.nai}'s now (granted on the home link)`);
    if (node) {
      this.forget(node); // made under the old profile
      if (JSON.stringify(old?.ipv4HomeAddress) !== JSON.stringify(p.ipv4HomeAddress)) this.releaseLease(node); // to the pool it came from (the new profile's is another)
      node.profile = p;
      node.key = new HmacSha1Key(p.key);
    }
    else {
      const lastTimestamp = this.deletedTimestamps.get(p.nai);
      this.deletedTimestamps.delete(p.nai);
      this.nodes.set(p.nai, new NodeState(p, new HmacSha1Key(p.key), this.freeBindingId(), lastTimestamp));
    }
    const oldStatic = staticIpv4(old);
    if (oldStatic) this.statics.delete(oldStatic);
    if (newStatic) this.statics.add(newStatic);
    const regranted = old && (old.homeAddress !== p.homeAddress || JSON.stringify(old.ipv4HomeAddress) !== JSON.stringify(p.ipv4HomeAddress)
      || JSON.stringify(old.prefixes) !== JSON.stringify(p.prefixes) || old.mobileRouter !== p.mobileRouter);
    return regranted ? this.revoke(p.nai) : [];
  }

  /** Removes a profile and whatever its node had; returns the data-plane changes. */
  deleteProfile(nai: string): Outcome['dataPlane'] | undefined {
    const node = this.nodes.get(nai);
    if (!node) return undefined;
    const changes = this.revoke(nai);
    const address = staticIpv4(node.profile);
    if (address) this.statics.delete(address);
    if (node.entry) this.put(node, undefined); // a deprecated entry too
    this.forget(node);
    this.nodes.delete(nai);
    if (node.lastTimestamp !== undefined) this.deletedTimestamps.set(nai, node.lastTimestamp); // a profile saved again under this NAI still refuses a replay
    return changes;
  }

  /**
   * Ends a node's binding now (an operator's decision): the tunnel goes, the
   * lease is released, and the entry stays deprecated, as after a
   * deregistration, so that a replay of the node's last BU cannot undo it.
   */
  revoke(nai: string, nowMs = Date.now()): Outcome['dataPlane'] {
    const node = this.nodes.get(nai);
    const entry = node && this.binding(nai);
    if (!entry) return [];
    this.put(node, { ...entry, lifetime: 0, expiresMs: nowMs, deprecatedUntilMs: nowMs + this.config.policy.minDelayBeforeBceDelete * 1000 });
    this.releaseLease(node);
    return [{ remove: entry.bindingId }];
  }

  /**
   * Why a journaled entry no longer holds under the node's profile (edited
   * while the daemon was down), or undefined if it does; a pooled address is
   * taken back here, so a refusal means another holds it.
   */
  private staleAgainst(profile: MobileNodeProfile, e: BindingCacheEntry): string | undefined {
    if (e.homeAddress !== profile.homeAddress) return `had home address ${e.homeAddress}, now ${profile.homeAddress}`;
    if (!e.ipv4HomeAddress || e.deprecatedUntilMs !== undefined) return undefined;
    const source = profile.ipv4HomeAddress;
    if (!source) return 'has no IPv4 home address any more';
    if ('static' in source) return source.static === e.ipv4HomeAddress || e.careOf === e.ipv4HomeAddress ? undefined : `had ${e.ipv4HomeAddress}, now ${source.static}`;
    const pool = this.pools.get(source.pool);
    if (!pool?.contains(e.ipv4HomeAddress)) return this.onHomeLink(e.ipv4HomeAddress) ? undefined : `had ${e.ipv4HomeAddress}, not of pool ${source.pool}`;
    return pool.restore({ address: e.ipv4HomeAddress, nai: e.nai, expiresMs: e.expiresMs }) ? undefined : `lease of ${e.ipv4HomeAddress} is another node's`;
  }

  private freeBindingId(): number {
    const used = new Set([...this.nodes.values()].map((n) => n.bindingId));
    let id = 1;
    while (used.has(id)) id++;
    return id;
  }

  /** A node's entry changes: its journal sees it too (onChange). */
  private put(node: NodeState, entry: BindingCacheEntry | undefined): void {
    this.hold(node, entry);
    this.onChange?.(node.profile.nai, entry);
  }

  /** A node's entry as it now is, in every index that follows entries: the due wheel, the defended link-local addresses. */
  private hold(node: NodeState, entry: BindingCacheEntry | undefined): void {
    reindex(this.linkLocals, node, defendedLinkLocal(node.entry), defendedLinkLocal(entry));
    reindex(this.ipv4Holders, node, liveIpv4(node.entry), liveIpv4(entry));
    node.entry = entry;
    if (entry) raiseStamp(node, entry);
    this.due.set(node, entry && this.dueMs(entry));
  }

  /** When expire() must next look at an entry: its deletion, its Binding Refresh Request, or its expiry. */
  private dueMs(e: BindingCacheEntry): number {
    if (e.deprecatedUntilMs !== undefined) return e.deprecatedUntilMs;
    return this.refreshRequestDue(e) ? e.expiresMs - this.refreshLeadMs : e.expiresMs;
  }

  private get refreshLeadMs(): number {
    return this.config.policy.bindingRefreshLead * 1000;
  }

  /** A binding granted no more than twice the lead is refreshed by its node on its own (at 80%): no request. */
  private refreshRequestDue(e: BindingCacheEntry): boolean {
    const lead = this.refreshLeadMs;
    return lead > 0 && e.lifetime * 1000 > 2 * lead && !e.refreshRequested;
  }

  /** Every entry, deprecated ones too: what a journal must keep. */
  *entries(): IterableIterator<BindingCacheEntry> {
    for (const n of this.nodes.values()) if (n.entry) yield n.entry;
  }

  /**
   * Takes back entries a journal kept (a restart). Those of nodes no longer
   * configured are dropped; a binding keeps its data-plane id even if the
   * configuration moved its node. Returns what the data plane must change to
   * hold exactly the live entries: bindings it has that no entry explains go,
   * entries whose binding it lacks (or holds otherwise) are installed.
   * Expired entries are left for expire() to remove as usual. What was
   * dropped or removed is in warnings (an operator's edit, or a journal
   * that does not match the data plane); events sums up what was restored.
   */
  restore(entries: readonly BindingCacheEntry[], held: ReadonlyMap<number, Binding>): { dataPlane: Outcome['dataPlane']; warnings: string[]; events: string[] } {
    const warnings: string[] = [];
    const ids = new Map<number, string>();
    for (const e of entries) {
      const node = this.nodes.get(e.nai);
      const stale = !node ? 'is no longer configured' : ids.has(e.bindingId) ? `shares binding id ${e.bindingId}` : this.staleAgainst(node.profile, e);
      if (stale) {
        warnings.push(`journal: ${e.nai} ${stale}: dropped`);
        continue;
      }
      ids.set(e.bindingId, e.nai);
      this.hold(node!, e); // the journal has it already
    }
    // ids follow the journal: a configured node whose index-given id a restored one took gets a free one
    const taken = new Set(ids.keys());
    let next = 1;
    for (const node of this.nodes.values()) {
      if (node.entry) {
        node.bindingId = node.entry.bindingId;
        continue;
      }
      if (!taken.has(node.bindingId)) {
        taken.add(node.bindingId);
        continue;
      }
      while (taken.has(next)) next++;
      node.bindingId = next;
      taken.add(next);
    }
    const dataPlane: Outcome['dataPlane'] = [];
    const kept = [...this.entries()];
    const live = new Map(kept.filter((e) => e.deprecatedUntilMs === undefined).map((e) => [e.bindingId, e]));
    for (const id of held.keys()) {
      if (!live.has(id)) {
        dataPlane.push({ remove: id });
        warnings.push(`journal: data-plane binding ${id} belongs to no entry: removed`);
      }
    }
    for (const e of live.values()) {
      const now = held.get(e.bindingId);
      if (!now || !sameBinding(now, e.binding)) dataPlane.push({ install: e.binding });
    }
    return { dataPlane, warnings, events: [`journal: ${live.size} bindings and ${kept.length - live.size} deprecated entries restored`] };
  }

  /** Every live binding (deprecated entries left out). */
  bindings(): BindingCacheEntry[] {
    return [...this.entries()].filter((e) => e.deprecatedUntilMs === undefined);
  }

  /** The node's live binding (not a deprecated one). */
  binding(nai: string): BindingCacheEntry | undefined {
    return live(this.nodes.get(nai)?.entry);
  }

  /**
   * Bindings whose lifetime has run out leave the cache and the data plane
   * (their leases go back to the pool); those within the policy's lead time
   * of it get one Binding Refresh Request (RFC 6275 §10.3.1).
   */
  expire(nowMs: number): Outcome[] {
    const out: Outcome[] = [];
    for (const node of this.due.take(nowMs)) {
      const entry = node.entry;
      if (!entry) continue;
      const nai = entry.nai;
      const dueMs = this.dueMs(entry);
      if (dueMs > nowMs) {
        this.due.set(node, dueMs); // later: refreshed since it was filed (due.ts), or later in this second
        continue;
      }
      if (entry.deprecatedUntilMs !== undefined) {
        this.put(node, undefined); // its tunnel went at deregistration
        continue;
      }
      if (entry.expiresMs > nowMs) { // its refresh request is due (once: journalled, so a restart does not send it again)
        const requested = copyEntry(entry, { refreshRequested: true }); // (kept in place, as predicted BUs need)
        this.put(node, requested);
        if (node.templateEntry === entry) node.templateEntry = requested; // the refresh it asks for is predicted still (it sets the flag back)
        out.push({ dataPlane: [], reply: { mh: encodeMobilityHeader({ type: 'bindingRefreshRequest', options: [] }), route: refreshRoute(entry) }, event: `binding refresh requested from ${nai}` });
        continue;
      }
      this.put(node, undefined);
      this.releaseLease(node);
      out.push({ dataPlane: [{ remove: entry.bindingId }], event: `binding of ${nai} expired` });
    }
    return out;
  }

  /**
   * May an Alternate Care-of Address option name this address? A global
   * unicast one (RFC 6275 §9.5.1) that is not ours and not on the home link,
   * unless it is the home address itself (IPv6-wise at home, or going home).
   */
  private usableCareOf6(address: string, home: string): boolean {
    return address === home || this.usableCareOfAt(sharedAddrBytes(address), 0);
  }

  /** The IPv6 address at bytes[at..] may be a care-of address: global unicast, not ours, not on the home link. */
  private usableCareOfAt(bytes: Uint8Array, at: number): boolean {
    for (const p of this.notCareOf6) if (bytesInPrefix(bytes, at, p)) return false;
    return true;
  }

  private onHomeLink(address: string): boolean {
    return this.config.homeLink.prefixes.some((p) => inPrefix(address, p));
  }

  private releaseLease({ profile }: NodeState): void {
    this.poolOf(profile)?.release(profile.nai);
  }

  /** The pool a profile's dynamic IPv4 home address comes from, if it has one. */
  private poolOf(profile: MobileNodeProfile): AddressPool | undefined {
    const source = profile.ipv4HomeAddress;
    return source && 'pool' in source ? this.pools.get(source.pool) : undefined;
  }

  /**
   * After a registration that stands at once (nothing to probe), its last
   * prediction forgotten: the node's next BU predicted from this one, if this one can be a template
   * (prediction.ts) and the next one's outcome depends only on the fields
   * that change. Not a pooled IPv4 home address: its lifetime follows the
   * lease. Returns the reply, with its IPv6 packet if the template needed it
   * encoded.
   */
  private predict(node: NodeState, bu: ReceivedBu, m: BindingUpdate, entry: BindingCacheEntry, reply: NonNullable<Outcome['reply']>): Outcome['reply'] {
    const ba = reply.mh;
    const source = node.profile.ipv4HomeAddress;
    const pooled = source !== undefined && 'pool' in source && option(m, 'ipv4HomeAddress') !== undefined;
    const route = entry.route;
    if (bu.transport !== 'ipv6' || !bu.packet || bu.homeAddressOption === undefined || entry.careOf !== bu.ipv6Src || option(m, 'alternateCareOfAddress') || pooled
      || route.transport !== 'ipv6' || route.routingHeader2 !== entry.homeAddress || !careOfInPlace(entry)) return reply; // (a predicted move changes the care-of address where it is held: in-place.ts)
    const packet = encodeSignalling6({ src: route.src, dst: route.dst, routingHeader2: route.routingHeader2, mh: ba });
    const encoded = { mh: packet.subarray(packet.length - ba.length), packet };
    const template = BuTemplate.of({ packet: bu.packet, mh: bu.mh }, encoded, sharedAddrBytes(entry.homeAddress));
    const generation = (this.generation + 1) >>> 0;
    if (template && this.predictor.set(node.bindingId, generation, node.profile.spi, node.key, template)) {
      this.generation = generation;
      Object.assign(node, { templateGeneration: generation, templateEntry: entry, templateProfile: node.profile, templateBuMhAt: template.bu.mhAt, templateBaMhAt: template.ba.mhAt });
      this.predicted.set(node.bindingId, node);
    }
    return { ...reply, ...encoded }; // encoded once: sent as it is
  }

  private forget(node: NodeState): void {
    if (node.templateGeneration !== undefined && this.predicted.get(node.bindingId) === node) {
      this.predicted.delete(node.bindingId);
      this.predictor.clear(node.bindingId);
    }
    Object.assign(node, { templateGeneration: undefined, templateEntry: undefined, templateProfile: undefined });
  }

  /**
   * Of captured frames (Ethernet; undefined: none there), which are their
   * nodes' predicted BUs, authentic: each to predictedUpdate(), in order
   * (the byte work on all of them in one native call, Predictor.check()).
   * Good until the next call.
   */
  predictBatch(frames: readonly (Buffer | undefined)[]): readonly (PredictedBu | undefined)[] {
    return this.predicted.size ? this.predictor.check(frames) : frames.map(() => undefined);
  }

  /** Changes with every template made (Prediction.generation): what predictBatch() found before a change may miss a frame the new template predicts. */
  get templateGeneration(): number {
    return this.generation;
  }

  /**
   * A BU over IPv6 that its node's last accepted one predicts, its MH
   * checksum and authenticator checked and its BA made (predictBatch()),
   * answered as the general path would answer it: the same checks on the
   * rest of what changed (timestamp, sequence number, care-of address), the
   * node's entry with the new fields, the BA made. Undefined if its template
   * is no longer the node's or a check fails: the general path then
   * decides, and explains.
   */
  predictedUpdate(bu: PredictedBu, nowMs: number): Outcome | undefined {
    const node = this.predicted.get(bu.slot);
    const previous = node?.templateEntry;
    if (!node || !previous || node.templateGeneration !== bu.generation || previous !== node.entry || node.templateProfile !== node.profile || !careOfInPlace(previous)) return undefined;
    const linkLocalHolder = previous.linkLocal === undefined ? undefined : this.linkLocals.get(previous.linkLocal);
    if (linkLocalHolder && linkLocalHolder !== node) return undefined; // another node's now (register(): 134)
    // checkReplay()'s verdict, made with numbers: in the window, and later than the node's last (in-place.ts)
    if (Math.abs(bu.timestampMs - nowMs) > this.config.policy.replayWindow * 1000 || !laterThanStamp(bu.timestampHigh, bu.timestampLow, node)) return undefined;
    if (!sequenceNewer(bu.sequence, previous.sequence)) return undefined;

    const moved = !isCareOf(previous, bu.frame, CARE_OF_AT);
    if (moved && !this.usableCareOfAt(bu.frame, CARE_OF_AT)) return undefined; // (register(): 174)
    // The entry changed in place (its care-of address, and the tunnel's and the route's with it; the
    // tail), into fields that hold numbers (in-place.ts): a predicted BU leaves no new object that
    // lives on, for the scavenger to copy and the mark-compact to mark (a move made four, ~400 bytes,
    // and they cost more than making them; a new care-of address or timestamp, ~1 µs of a pause each).
    const entry = previous;
    const outcome = new PredictedOutcome(this.refusePredicted, node, entry, bu, moved, nowMs); // (what the entry was, first)
    if (moved) setCareOfBytes(entry, bu.frame, CARE_OF_AT, 6); // (one address behind the care-of, the tunnel's remote end and the route's destination: in-place.ts)
    entry.sequence = bu.sequence;
    entry.expiresMs = nowMs + entry.lifetime * 1000;
    setStampHalves(entry, bu.timestampHigh, bu.timestampLow);
    entry.refreshRequested = false;
    this.put(node, entry);
    return outcome;
  }

  /**
   * A predicted BU the data plane could not make live, its entry put back
   * as it was (PredictedOutcome.onDataPlaneFailure()): refused as register()
   * refuses one (143), with a BA of the general path's making; the node's
   * next BU takes the general path.
   */
  private readonly refusePredicted = (node: NodeState, entry: BindingCacheEntry, bu: PredictedBu, nowMs: number): Outcome => {
    this.forget(node);
    this.put(node, entry);
    const careOf = formatAddr(bu.frame, 6, CARE_OF_AT);
    const mh = mhOf(bu, node.templateBuMhAt);
    const received: ReceivedBu = { transport: 'ipv6', outer: { src: careOf, dst: entry.route.src }, ipv6Src: careOf, homeAddressOption: entry.homeAddress, mh, nowMs };
    const refused = this.acknowledge(received, decodeMobilityHeader(mh) as BindingUpdate, node, entry.homeAddress, careOf, BaStatus.forwardingSetupFailed);
    return { ...refused, event: `forwarding setup failed for ${node.profile.nai}` };
  };

  /**
   * Would this BU get past authentication and replay protection now? Only
   * such a BU may wait for its node's duplicate address detection
   * (daemon.ts): anything else is answered at once, as it would be after,
   * and a flood of forged or replayed BUs cannot push the node's own out.
   */
  passesSecurity(bu: ReceivedBu): boolean {
    return !('event' in this.screen(bu));
  }

  /**
   * A BU decoded and told whose it is, then authenticated and checked
   * against replay first (RFC 4285 §5, §6: nothing else is believed before
   * them); the outcome if that is as far as it gets.
   */
  private screen(bu: ReceivedBu): Outcome | Screened {
    let m: MobilityHeader;
    try {
      m = decodeMobilityHeader(bu.mh);
    } catch (err) {
      if (err instanceof DecodeError) return { dataPlane: [], event: `malformed MH discarded: ${err.message}` }; // RFC 6275 §9.2
      throw err;
    }
    if (m.type === 'unsupported') return this.bindingError(bu, m.mhType);
    if (m.type !== 'bindingUpdate') return { dataPlane: [], event: `${m.type} ignored` };
    const nai = option(m, 'mobileNodeIdentifier');
    const node = nai && typeof nai.identifier === 'string' ? this.nodes.get(nai.identifier) : undefined;
    const profile = node?.profile;
    const home = bu.homeAddressOption ?? bu.ipv6Src;
    // RFC 6275 §9.5.1: over IPv6 the care-of address is the Alternate Care-of Address option's, if there is one
    const careOf = bu.transport === 'ipv6' ? option(m, 'alternateCareOfAddress')?.address ?? bu.ipv6Src : option(m, 'ipv4CareOfAddress')?.address ?? bu.outer.src;
    const bindingUpdate = m;
    const ba: Acknowledge = (status, extra = {}) => this.acknowledge(bu, bindingUpdate, node, home, careOf, status, extra);

    // Authentication first (RFC 4285 §5): nothing else is believed before it.
    if (!node || !profile) return ba(BaStatus.mipv6AuthFail, { event: 'unknown or missing NAI' });
    const verdict = verifyMnHa(bu.mh, { careOf, home, keyFor: (spi) => (spi === profile.spi ? node.key : undefined) });
    // unsigned: a signed refusal of a BU anyone could have forged would let them end the node's registration
    if (verdict.verdict !== 'ok') return this.acknowledge(bu, m, undefined, home, careOf, BaStatus.mipv6AuthFail, { event: `authentication: ${verdict.verdict}` });
    const timestamp = option(m, 'replayProtection')?.timestamp;
    // RFC 4285 §6: no timestamp, 145; one out of the window or not newer than the last accepted (even if its entry is gone), 144 with the home agent's clock to resynchronise to
    if (timestamp === undefined) return ba(BaStatus.mipv6MesgIdReqd, { event: 'replay protection: no timestamp' });
    const replay = checkReplay(timestamp, bu.nowMs, this.config.policy.replayWindow * 1000, node.lastTimestamp).verdict;
    if (replay !== 'fresh') return ba(BaStatus.mipv6IdMismatch, { event: `replay protection: ${replay}`, timestamp: ntpTimestamp(bu.nowMs) });
    return { m, node, profile, home, careOf, timestamp, ba };
  }

  handleBindingUpdate(bu: ReceivedBu): Outcome {
    const screened = this.screen(bu);
    if ('event' in screened) return screened;
    const { m, node, profile, home, careOf, timestamp, ba } = screened;
    const previous = node.entry;

    // RFC 6275 §9.5.1: an H flag other than the entry's is a registration type change (139); no H and no home registration: not one we take (131)
    if (!m.flags.h) return ba(live(previous) ? BaStatus.registrationTypeChangeDisallowed : BaStatus.homeRegistrationNotSupported);
    if (!this.onHomeLink(home)) return ba(BaStatus.notHomeSubnet); // RFC 6275 §10.3.1
    if (home !== profile.homeAddress) return ba(BaStatus.notHomeAgentForThisMobileNode);
    if (previous && !sequenceNewer(m.sequence, previous.sequence)) return ba(BaStatus.sequenceNumberOutOfWindow, { sequence: previous.sequence });

    // RFC 5555 §3.1.3: the IPv4 Care-of Address option travels only in IPv4; a BU names one care-of address
    if (bu.transport === 'ipv6' && option(m, 'ipv4CareOfAddress')) return ba(BaStatus.invalidCareOfAddress);
    // the source as much as an Alternate Care-of Address option: a BU from a link-local, multicast, home link or our own address names no care-of address
    if (bu.transport === 'ipv6' && !this.usableCareOf6(careOf, home)) return ba(BaStatus.invalidCareOfAddress, { event: `care-of address ${careOf} refused` });
    // Extended home link §4.1/§5: no Home Address option, an alternate care-of address equal to the source and an IPv4 home
    // address: the node is IPv6-wise at home and registers only to have its IPv4 traffic tunnelled to that address.
    // Without the IPv4 home address it is the deregistration of its IPv6 home address (§5.1, RFC 6275 §9.5.1).
    const ipv6WiseAtHome = bu.transport === 'ipv6' && bu.homeAddressOption === undefined && option(m, 'alternateCareOfAddress')?.address === bu.ipv6Src
      && option(m, 'ipv4HomeAddress') !== undefined;
    if (m.lifetime === 0 || (careOf === home && !ipv6WiseAtHome)) return this.deregister(node, m, bu.nowMs, timestamp, ba);
    return this.register(bu, m, node, home, careOf, timestamp, ba);
  }

  private register(bu: ReceivedBu, m: BindingUpdate, node: NodeState, home: string, careOf: string, timestamp: bigint, ba: Acknowledge): Outcome {
    const profile = node.profile;
    const policy = this.config.policy;
    let lifetime = Math.min(m.lifetime, policy.maxLifetime);
    const options: MobilityOption[] = [];
    let ipv4Home: string | undefined;

    // before anything is leased for it
    if (bu.transport === 'udp4' && m.flags.f && policy.forceUdp === 'refuse') return ba(BaStatus.administrativelyProhibited); // no final code for "cannot force UDP": see README
    // RFC 6275 §10.3.1: with L, the link-local address of the home address's interface identifier is defended and tunnelled too
    const linkLocal = m.flags.l && careOf !== home ? linkLocalOf(home) : undefined;
    const holder = linkLocal === undefined ? undefined : this.linkLocals.get(linkLocal);
    if (holder && holder !== node) return ba(BaStatus.duplicateAddressDetectionFailed, { event: `link-local address ${linkLocal} is ${holder.profile.nai}'s` });
    const nemo = this.mobileNetworkPrefixes(m, profile);
    if (nemo.status !== undefined) return ba(nemo.status);
    const current = live(node.entry);
    // RFC 3963 §6.2: a mobile router's registration (R) and a plain one do not replace each other: a registration type
    // change, as an H flag other than the entry's (RFC 6275 §9.5.1)
    if (current && m.flags.r !== (current.router === true)) return ba(BaStatus.registrationTypeChangeDisallowed);
    const prefixes = [...nemo.prefixes];
    // RFC 5555 §3.1.1: "P ... must be ignored for binding refreshes": a refresh names a prefix granted to it by its length
    // (and the prefix, or an address the router formed in it)
    const refreshedPrefix = (o: OptionOf<'ipv4HomeAddress'>) => (o.p || o.prefixLength === 0 || o.prefixLength >= 32 ? undefined
      : current?.binding.prefixes.find((x) => !x.includes(':') && x.endsWith(`/${o.prefixLength}`) && inPrefix(o.address, x)));
    /** The prefix of the profile an option asking for one (P, or a refresh) gets: for a mobile router, one it holds; asked for as 0.0.0.0, one of the length asked for (§4.5). */
    const grantedPrefix = (o: OptionOf<'ipv4HomeAddress'>): string | undefined => {
      const refreshed = refreshedPrefix(o);
      if (!profile.mobileRouter || o.prefixLength === 0 || (!o.p && !refreshed)) return undefined;
      const wanted = refreshed ?? canonicalPrefix(o.address, o.prefixLength);
      const held = profile.prefixes.map(splitPrefix).find(([net, length]) => (o.address === '0.0.0.0' ? !net.includes(':') && length === o.prefixLength : canonicalPrefix(net, length) === wanted));
      return held && canonicalPrefix(...held);
    };
    // implicit mode with no IPv6 prefix configured and no IPv4 prefix granted: nothing to forward (143, as UMIP answers;
    // IANA: "Forwarding Setup failed (prefixes missing)"); decided before anything is leased
    if (nemo.noneConfigured && !m.options.some((o) => o.type === 'ipv4HomeAddress' && grantedPrefix(o))) return ba(BaStatus.forwardingSetupFailed);

    // RFC 5555 §4.5: an IPv4 care-of address other than the BU's outer source: a NAT between, so not on the home link whatever the address
    const natDetected = bu.transport === 'udp4' && natBetween(bu, careOf);
    const onLink4 = bu.transport === 'udp4' && !natDetected ? careOf : undefined;
    // RFC 5555 §3.1.1: an address (static or dynamic) and a prefix may be asked for in options of their own; each is acknowledged
    let addressAsked = false;
    for (const requested of m.options) {
      if (requested.type !== 'ipv4HomeAddress') continue;
      const ack = (status: number, prefixLength = 0, address = requested.address) =>
        options.push({ type: 'ipv4AddressAcknowledgement', status, prefixLength: status < 128 ? prefixLength : 0, address });
      const refreshed = refreshedPrefix(requested);
      if (requested.prefixLength === 0 || (!requested.p && !refreshed && addressAsked)) { // "A value of zero is invalid and MUST be considered an error"; one IPv4 home address a binding
        ack(Ipv4AckStatus.reasonUnspecified);
      } else if (requested.p || refreshed) { // an IPv4 mobile network prefix
        const granted = grantedPrefix(requested);
        ack(granted ? Ipv4AckStatus.success : Ipv4AckStatus.prefixAllocationUnauthorized, requested.prefixLength, granted ? splitPrefix(granted)[0] : requested.address);
        if (granted && !prefixes.includes(granted)) prefixes.push(granted);
      } else {
        addressAsked = true;
        const granted = this.ipv4HomeAddress(node, requested.address, bu.nowMs, lifetime, onLink4);
        ack(granted.status, 32, granted.address ?? requested.address);
        if (granted.address) {
          ipv4Home = granted.address;
          lifetime = Math.min(lifetime, granted.lifetime);
        }
      }
    }

    let tunnel: Tunnel;
    let t = false;
    if (bu.transport === 'ipv6') {
      tunnel = { format: 'ip6', local: bu.outer.dst, remote: careOf }; // never UDP on an IPv6 link (§4.5)
    } else {
      if (natDetected || m.flags.f) {
        t = m.flags.t && policy.tlv;
        tunnel = { format: t ? 'udp4-tlv' : 'udp4', local: bu.outer.dst, remote: bu.outer.src, localPort: bu.outer.dstPort ?? DSMIP_PORT, remotePort: bu.outer.srcPort ?? DSMIP_PORT };
        // the option tells the node to use UDP (RFC 5555 §4.2): with F when it asked for UDP, no refresh without a NAT (§4.3)
        options.push({ type: 'natDetection', f: m.flags.f, refreshTime: natDetected ? policy.natRefreshTime : NO_NAT_REFRESH });
      } else {
        tunnel = { format: 'ip4', local: bu.outer.dst, remote: careOf };
      }
    }

    // Extended home link §4.1/§4.3: at home in one family, only the other family's home address is tunnelled,
    // to the home address of the first (IPv4-wise at home: IPv4 care-of address = IPv4 home address, no NAT between).
    const ipv4WiseAtHome = ipv4Home !== undefined && ipv4Home === onLink4;
    const homeAddresses = [...(careOf === home ? [] : [home]), ...(linkLocal ? [linkLocal] : []), ...(ipv4Home && !ipv4WiseAtHome ? [ipv4Home] : [])];
    // IPv6-wise at home, its IPv4 home address refused: its IPv6 entry goes all the same (§5.2), the refusal acknowledged
    if (homeAddresses.length + prefixes.length === 0) return this.deregister(node, m, bu.nowMs, timestamp, ba, options);
    const bindingId = node.bindingId;
    const binding: Binding = { id: bindingId, tunnel, homeAddresses, prefixes };
    const previous = node.entry;
    const entry = inPlaceEntry({
      nai: profile.nai, bindingId, homeAddress: home, ...(ipv4Home && { ipv4HomeAddress: ipv4Home }), careOf, natDetected, tunnel,
      sequence: m.sequence, lifetime, expiresMs: bu.nowMs + lifetime * 1000,
      route: this.routeTo(bu, home), binding, refreshRequested: false, ...(linkLocal && { linkLocal }), ...(m.flags.r && { router: true as const }),
    }, timestamp);
    this.put(node, entry);
    const outcome = ba(BaStatus.accepted, { lifetime, options, flags: { ...NO_BA_FLAGS, t, r: m.flags.r } });
    const undo = (status: number, event: string): Outcome => {
      if (ipv4Home && previous?.ipv4HomeAddress !== ipv4Home) {
        this.releaseLease(node); // leased for this BU only
        if (previous?.ipv4HomeAddress && previous.deprecatedUntilMs === undefined) { // its lease before, which leasing this one ended
          this.poolOf(profile)?.restore({ address: previous.ipv4HomeAddress, nai: profile.nai, expiresMs: previous.expiresMs });
        }
      }
      this.put(node, previous);
      return { ...ba(status), event };
    };
    // RFC 6275 §10.3.1: an IPv6 address this binding starts defending on the home link is probed for first
    const defended = live(previous)?.binding.homeAddresses ?? [];
    const probe = policy.duplicateAddressDetection ? homeAddresses.filter((a) => a.includes(':') && !defended.includes(a)) : [];
    this.forget(node); // made from the BU before; a registration that probes is predicted once it stands, from its next BU
    const reply = probe.length === 0 ? this.predict(node, bu, m, entry, outcome.reply!) : outcome.reply;
    return {
      ...outcome, reply, dataPlane: [{ install: binding }], event: `registered ${profile.nai} at ${careOf} (${tunnel.format})`,
      onDataPlaneFailure: () => undo(BaStatus.forwardingSetupFailed, `forwarding setup failed for ${profile.nai}`),
      ...(probe.length > 0 && { dad: {
        addresses: probe,
        refuse: (address) => undo(BaStatus.duplicateAddressDetectionFailed, `duplicate address detection: ${address} is in use on the home link: ${profile.nai} refused`),
        current: () => node.entry === entry,
      } }),
    };
  }

  /**
   * The tunnel goes at once; the entry stays, deprecated, for
   * MinDelayBeforeBCEDelete (RFC 6275 §10.3.2, extended home link draft §5.2)
   * so that a late or replayed BU still meets its sequence number and
   * timestamp.
   */
  private deregister(node: NodeState, m: BindingUpdate, nowMs: number, timestamp: bigint, ba: Acknowledge, options: MobilityOption[] = []): Outcome {
    const { profile } = node;
    const entry = live(node.entry);
    if (!entry) {
      // at home in IPv6 with its IPv4 home address refused (register()): nothing to end, the refusal in its acknowledgement
      if (options.length) return ba(BaStatus.accepted, { lifetime: 0, options, event: `${profile.nai} at home with no IPv4 home address granted` });
      // RFC 6275 §10.3.2: no home registration to end (none, or only a deprecated one): rejected, 133
      return ba(BaStatus.notHomeAgentForThisMobileNode, { event: `deregistration of ${profile.nai}, which has no binding: refused` });
    }
    this.put(node, {
      ...entry, sequence: m.sequence, lastTimestamp: timestamp, lifetime: 0, expiresMs: nowMs,
      deprecatedUntilMs: nowMs + this.config.policy.minDelayBeforeBceDelete * 1000,
    });
    this.releaseLease(node);
    // RFC 3963 §4.2: R in the BA to a mobile router's BU with R, its deregistration's too
    const flags = { ...NO_BA_FLAGS, r: m.flags.r && profile.mobileRouter };
    return { ...ba(BaStatus.accepted, { lifetime: 0, options, flags }), dataPlane: [{ remove: entry.bindingId }], event: `deregistered ${profile.nai}` };
  }

  /**
   * RFC 3963 §6.6: a mobile router (R flag) registers its mobile network
   * prefixes explicitly (Mobile Network Prefix options, each one it holds) or
   * implicitly (none: the configured ones).
   */
  private mobileNetworkPrefixes(m: BindingUpdate, profile: MobileNodeProfile): { status?: number; prefixes: string[]; noneConfigured?: true } {
    if (!m.flags.r) return { prefixes: [] };
    if (!profile.mobileRouter) return { status: BaStatus.mobileRouterOperationNotPermitted, prefixes: [] };
    const held = new Set(profile.prefixes.map((x) => canonicalPrefix(...splitPrefix(x))));
    const asked = m.options.filter((o): o is OptionOf<'mobileNetworkPrefix'> => o.type === 'mobileNetworkPrefix');
    if (asked.length === 0) { // implicit mode (with none configured, the caller sees whether an IPv4 prefix is asked for: register())
      const configured = [...held].filter((x) => x.includes(':'));
      return configured.length ? { prefixes: configured } : { prefixes: [], noneConfigured: true };
    }
    const prefixes = new Set<string>(); // an option repeated registers its prefix once: an entry holds at most the profile's
    for (const o of asked) {
      if (o.prefixLength === 0 || o.prefixLength > 128) return { status: BaStatus.invalidPrefix, prefixes: [] };
      const p = canonicalPrefix(o.prefix, o.prefixLength);
      if (!held.has(p)) return { status: BaStatus.notAuthorizedForPrefix, prefixes: [] };
      prefixes.add(p);
    }
    return { prefixes: [...prefixes] };
  }

  /** RFC 6275 §9.2: an MH type we do not know (HoTI/CoTI/HoT/CoT included) gets a Binding Error, status 2, back to its source. */
  private bindingError(bu: ReceivedBu, mhType: number): Outcome {
    const mh = encodeMobilityHeader({ type: 'bindingError', status: BeStatus.unrecognizedMhType, homeAddress: bu.homeAddressOption ?? '::', options: [] });
    const haAddress = bu.transport === 'ipv6' ? bu.outer.dst : this.config.homeAgent.ipv6;
    const route: ReplyRoute = bu.transport === 'ipv6'
      ? { transport: 'ipv6', src: haAddress, dst: bu.outer.src }
      : { transport: 'udp4', src: bu.outer.dst, dst: bu.outer.src, srcPort: bu.outer.dstPort ?? DSMIP_PORT, dstPort: bu.outer.srcPort ?? DSMIP_PORT, ipv6Src: haAddress, ipv6Dst: bu.ipv6Src };
    return { dataPlane: [], reply: { mh, route }, event: `Binding Error: MH type ${mhType} not supported` };
  }

  /**
   * RFC 5555 §3.2.1 / §4.5: a static address must be the node's; 0.0.0.0
   * asks the pool, or (extended home link §4.1) is answered with the node's
   * own IPv4 care-of address when that lies on the home link: its on-link
   * address becomes its home address.
   */
  private ipv4HomeAddress(node: NodeState, requested: string, nowMs: number, lifetime: number, careOf4?: string): { status: number; address?: string; lifetime: number } {
    const profile = node.profile;
    const source = profile.ipv4HomeAddress;
    if (!source) return { status: Ipv4AckStatus.administrativelyProhibited, lifetime };
    if (requested !== '0.0.0.0' && !unicastIpv4(requested)) return { status: Ipv4AckStatus.invalidIpv4Address, lifetime };
    if ('static' in source) {
      if (requested !== '0.0.0.0' && requested !== source.static) return { status: Ipv4AckStatus.incorrectIpv4HomeAddress, lifetime };
      return { status: Ipv4AckStatus.success, address: source.static, lifetime };
    }
    const pool = this.pools.get(source.pool);
    const onLink = (a: string) => this.onHomeLink(a) && !this.statics.has(a) && !pool?.contains(a) && (this.ipv4Holders.get(a) ?? node) === node; // and no other node's now
    if (requested === '0.0.0.0' && careOf4 && onLink(careOf4)) return { status: Ipv4AckStatus.success, address: careOf4, lifetime };
    // an on-link address granted so stays the node's while its binding lives (RFC 5555 §4.5: "MUST store that address"), wherever it goes
    if (requested !== '0.0.0.0' && requested === liveIpv4(node.entry) && onLink(requested)) return { status: Ipv4AckStatus.success, address: requested, lifetime };
    if (requested !== '0.0.0.0') { // the node's own lease, or its last one if no other node took the address since (pool.ts)
      const held = pool?.leaseOf(requested, profile.nai, nowMs) ?? pool?.leaseAddress(requested, profile.nai, nowMs, lifetime);
      if (!held) return { status: Ipv4AckStatus.incorrectIpv4HomeAddress, lifetime };
    }
    const lease = pool?.lease(profile.nai, nowMs, lifetime);
    if (!lease) return { status: Ipv4AckStatus.dynamicIpv4HomeAddressAssignmentNotAvailable, lifetime };
    return { status: Ipv4AckStatus.success, address: lease.address, lifetime: Math.floor((lease.expiresMs - nowMs) / 1000) };
  }

  /** The BA, signed (RFC 4285 both ways), and how to send it: in UDP if the BU came in UDP (RFC 5555 §4.5). */
  private acknowledge(bu: ReceivedBu, m: BindingUpdate, node: NodeState | undefined, home: string, careOf: string, status: number,
    extra: AckExtra = {}): Outcome {
    const options: MobilityOption[] = [...(extra.options ?? [])];
    const profile = node?.profile;
    // RFC 5555 §3.2.2: "If a NAT is detected, this option MUST be sent" (a refusal or deregistration in UDP too, once the BU is authentic)
    if (profile && bu.transport === 'udp4' && natBetween(bu, careOf) && !options.some((o) => o.type === 'natDetection')) {
      options.push({ type: 'natDetection', f: m.flags.f, refreshTime: this.config.policy.natRefreshTime });
    }
    if (profile) {
      options.push({ type: 'mobileNodeIdentifier', subtype: 1, identifier: profile.nai });
      const ts = extra.timestamp ?? option(m, 'replayProtection')?.timestamp;
      if (ts !== undefined) options.push({ type: 'replayProtection', timestamp: ts });
      options.push({ type: 'mobilityMessageAuthentication', subtype: 1, spi: profile.spi, authenticator: UNSIGNED });
    }
    const message: MobilityHeader = {
      type: 'bindingAcknowledgement', status, sequence: extra.sequence ?? m.sequence, lifetime: status < 128 ? (extra.lifetime ?? 0) : 0,
      flags: extra.flags ?? NO_BA_FLAGS, options,
    };
    let mh = encodeMobilityHeader(message);
    if (node && profile) mh = signMnHa(mh, { key: node.key, spi: profile.spi, careOf, home });
    return { dataPlane: [], reply: { mh, route: this.routeTo(bu, home) }, status, event: extra.event ?? `BA status ${status}` };
  }

  /** Back to the mobile node the way its BU came: in UDP if it came in UDP (RFC 5555 §4.5), else with a type 2 routing header. */
  private routeTo(bu: ReceivedBu, home: string): ReplyRoute {
    const haAddress = bu.transport === 'ipv6' ? bu.outer.dst : this.config.homeAgent.ipv6;
    return bu.transport === 'ipv6'
      ? { transport: 'ipv6', src: haAddress, dst: bu.outer.src, ...(bu.outer.src !== home && { routingHeader2: home }) } // where the BU came from; no RH2 to a node at home
      : { transport: 'udp4', src: bu.outer.dst, dst: bu.outer.src, srcPort: bu.outer.dstPort ?? DSMIP_PORT, dstPort: bu.outer.srcPort ?? DSMIP_PORT, ipv6Src: haAddress, ipv6Dst: home };
  }
}
