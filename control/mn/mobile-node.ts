/**
 * The mobile node's side of home registration (RFC 6275 §11, RFC 3963,
 * RFC 5555 §4.4, extended home link §4): a state machine with no I/O, like
 * the home agent's. Where the node is attached goes in (attach), and what
 * comes back from the home agent (handleSignal), and the clock (tick); out
 * come the Binding Updates to send and the registration to make live.
 *
 * Where it registers from, by the addresses its link gave it:
 *   IPv6 care-of address          → BU over IPv6 with a Home Address option (tunnel ip6)
 *   IPv4 care-of address only     → BU in UDP/IPv4 to port 4191 with an IPv4 Care-of
 *                                   Address option; the BA says NAT or not (udp4[-tlv] / ip4)
 *   on the home link in IPv6 only → BU from the home address, alternate care-of address =
 *                                   home address: IPv4 tunnelled in IPv6 to it
 *   on the home link in IPv4 only → BU in UDP from the IPv4 home address, as care-of
 *                                   address: IPv6 tunnelled in IPv4 to it
 *   at home in both               → deregistration (lifetime 0)
 *
 * A BU unanswered is sent again, with a new sequence number and timestamp,
 * after 1.5 s (first registration) or 1 s, doubling up to 32 s (RFC 6275
 * §11.8, §13). A registration is refreshed at 80% of its granted lifetime,
 * or sooner at the NAT refresh time the home agent gave (RFC 5555 §4.3).
 * A timestamp the home agent refuses (144) comes back with its clock: the
 * node's timestamps follow that clock from then on, and the BU goes again
 * at once, once (RFC 4285 §6).
 */
import type { Tunnel } from '../dataplane/dataplane.js';
import { inPrefix } from '../dataplane/layout.js';
import { signMnHa, verifyMnHa } from '../wire/auth/mipv6.js';
import { DEFAULT_REPLAY_WINDOW_MS, fromNtp, ntpTimestamp, ntpUnwrap } from '../wire/auth/replay.js';
import { discardReason, encodeSignalling6, type ReceivedSignalling } from '../wire/ip/signalling.js';
import { DSMIP6_UDP_PORT } from '../wire/ip/constants.js';
import { BaStatus, decodeMobilityHeader, encodeMobilityHeader, NO_BU_FLAGS, type BindingAcknowledgement, type MobilityOption, type OptionOf } from '../wire/mh/index.js';
import type { MobileNodeConfig } from './config.js';

export const DSMIP_PORT = DSMIP6_UDP_PORT;
const INITIAL_BINDACK_TIMEOUT_FIRST_REG_MS = 1500;
const INITIAL_BINDACK_TIMEOUT_MS = 1000;
const MAX_BINDACK_TIMEOUT_MS = 32_000;
const REFRESH_AT = 0.8;
/** Refresh time meaning "no NAT, no keepalives needed" (RFC 5555 §3.2.2). */
const NO_KEEPALIVE = 0xffffffff;
/** Refusals after which the home agent still holds the binding it had (insufficient resources, forwarding setup failed, a timestamp). */
const PASSING_REFUSALS: ReadonlySet<number> = new Set([BaStatus.insufficientResources, BaStatus.forwardingSetupFailed, BaStatus.mipv6IdMismatch, BaStatus.mipv6MesgIdReqd]);
/** The NAT keepalive period when the home agent names none (a refresh time of 0: RFC 5555 §3.2.2, §4.3). */
const NATKATIMEOUT_S = 110;

/** The global addresses the node's current link gave it. */
export interface Attachment {
  ifname: string;
  ipv6?: string;
  ipv4?: string;
}

export type Placement =
  | { kind: 'away6'; careOf: string }
  | { kind: 'away4'; careOf: string }
  | { kind: 'home6' }
  | { kind: 'home4'; address: string }
  | { kind: 'home' }
  | { kind: 'detached' };

/** A Binding Update ready for the wire: a whole IPv6 packet, or one to carry in UDP/IPv4. */
export type OutgoingBu =
  | { transport: 'ipv6'; packet: Buffer }
  | { transport: 'udp4'; ipv6: Buffer; src: string; dst: string; srcPort: number; dstPort: number };

/** An accepted registration, as the node's own data plane must carry it. */
export interface Registration {
  placement: Placement;
  /** The node's end of the tunnel. */
  tunnel: Tunnel;
  /** Home addresses (and prefixes) whose traffic goes through the tunnel. */
  homeAddresses: string[];
  prefixes: string[];
  ipv4HomeAddress?: string;
  natDetected: boolean;
  lifetime: number;
  expiresMs: number;
  refreshAtMs: number;
}

export interface Output {
  send?: OutgoingBu;
  /** Set when the registration changed: the new one, or null for none (at home, expired, refused). */
  registration?: Registration | null;
  events: string[];
}

interface Pending {
  sequence: number;
  /** Its Replay Protection timestamp: the home agent's BA echoes it (RFC 4285 §6). */
  timestamp: bigint;
  placement: Placement;
  careOf: string;
  forceUdp: boolean;
  sentMs: number;
  timeoutMs: number;
  /** Sent with timestamps set to the home agent's clock after a 144: another 144 is a refusal. */
  resynchronised?: boolean;
  /** Sent at once with the home agent's sequence number after a 135: another 135 waits for the timer (no BU/BA loop with a home agent that keeps saying it). */
  resequenced?: boolean;
  /** Asked for its dynamic IPv4 home address by address (the one leased before): refused, it asks anew at once. */
  askedForLease: boolean;
}

const option = <T extends MobilityOption['type']>(m: { options: MobilityOption[] }, type: T): OptionOf<T> | undefined =>
  m.options.find((o): o is OptionOf<T> => o.type === type);


export class MobileNode {
  private sequence: number;
  private placement: Placement = { kind: 'detached' };
  private pending: Pending | null = null;
  private current: Registration | null = null;
  /** Cleared after the home agent refuses forced UDP (RFC 5555 §4.4: resend without F). */
  private forceUdp: boolean;
  /** A dynamic IPv4 home address once granted, asked for again by address. */
  private leasedIpv4?: string;
  /** The home agent's clock minus ours, as its last 144 said (RFC 4285 §6); and its clock then, and our monotonic clock then. */
  private clock: { offsetMs: number; theirsMs: number; learntAtMonoMs: number } | null = null;
  /** The timestamp of the last BU the home agent accepted: every later one must be newer. */
  private lastAccepted?: bigint;

  /** monotonicMs: a clock no one sets (our wall clock may be stepped, by NTP say, under a learnt offset). */
  constructor(readonly config: MobileNodeConfig, initialSequence = Math.floor(Math.random() * 0x10000), private readonly monotonicMs: () => number = () => performance.now()) {
    this.sequence = initialSequence & 0xffff;
    this.forceUdp = config.forceUdp;
  }

  get registration(): Registration | null {
    return this.current;
  }

  /** A BU is outstanding (sent, not yet answered). */
  get awaitingAck(): boolean {
    return this.pending !== null;
  }

  get where(): Placement {
    return this.placement;
  }

  /** Where the addresses of a link put the node, relative to its home link. */
  placementFor(a: Attachment): Placement {
    const home = this.config.homeLink.prefixes;
    const at6 = a.ipv6 !== undefined && home.some((p) => inPrefix(a.ipv6!, p));
    const at4 = a.ipv4 !== undefined && home.some((p) => inPrefix(a.ipv4!, p));
    if (at6 && (at4 || !this.config.ipv4HomeAddress)) return { kind: 'home' };
    if (at6) return { kind: 'home6' };
    if (a.ipv6) return { kind: 'away6', careOf: a.ipv6 }; // never UDP on an IPv6 link (RFC 5555 §4.5)
    if (at4 && this.config.homeAgent.ipv4) return { kind: 'home4', address: a.ipv4! };
    if (a.ipv4 && this.config.homeAgent.ipv4) return { kind: 'away4', careOf: a.ipv4 };
    return { kind: 'detached' }; // (IPv4 only, and no IPv4 address of the home agent to reach)
  }

  /** The node moved (or first came up): register from where it is now. */
  attach(a: Attachment, nowMs: number): Output {
    this.placement = this.placementFor(a);
    this.pending = null;
    if (this.placement.kind === 'detached') return { events: [`detached: ${a.ifname} has no usable address`] };
    return this.sendBu(nowMs, true, [`attached to ${a.ifname}: ${describe(this.placement)}`]);
  }

  /** Retransmissions, refreshes and expiry due by nowMs. */
  tick(nowMs: number): Output {
    const expired = this.current !== null && nowMs >= this.current.expiresMs;
    if (expired) this.current = null;
    const out: Output = expired ? { registration: null, events: ['registration expired'] } : { events: [] };
    if (this.pending && nowMs >= this.pending.sentMs + this.pending.timeoutMs) {
      const timeoutMs = Math.min(this.pending.timeoutMs * 2, MAX_BINDACK_TIMEOUT_MS);
      return { ...out, ...this.sendBu(nowMs, false, [...out.events, `no BA for sequence ${this.pending.sequence}: sending again (next wait ${timeoutMs} ms)`], timeoutMs) };
    }
    if (!this.pending && this.current && this.placement.kind !== 'detached' && nowMs >= this.current.refreshAtMs) return { ...out, ...this.sendBu(nowMs, false, ['refreshing the registration']) };
    // the refresh time passed unseen (a suspended host, a clock stepped forward): still away, so register again
    if (expired && !this.pending && this.placement.kind !== 'detached' && this.placement.kind !== 'home') return { ...out, ...this.sendBu(nowMs, true, [...out.events, 'registering again']) };
    return out;
  }

  /** When tick() next has something to do. */
  nextWakeMs(): number | undefined {
    const refreshAtMs = this.placement.kind === 'detached' ? undefined : this.current?.refreshAtMs; // nothing to send it from
    const times = [this.pending ? this.pending.sentMs + this.pending.timeoutMs : refreshAtMs, this.current?.expiresMs]
      .filter((t): t is number => typeof t === 'number');
    return times.length ? Math.min(...times) : undefined;
  }

  /** A Mobility Header packet that reached the node (the data plane's capture). */
  handleSignal(p: ReceivedSignalling, nowMs: number): Output {
    const problem = discardReason(p);
    if (problem) return { events: [problem] };
    let m;
    try {
      m = decodeMobilityHeader(p.signalling.mh);
    } catch (err) {
      return { events: [`malformed MH discarded: ${(err as Error).message}`] };
    }
    if (m.type === 'bindingRefreshRequest') { // RFC 6275 §11.7.4: from whom the node has a binding with, its home agent, only
      if (p.signalling.ipv6.src !== this.config.homeAgent.ipv6) return { events: [`binding refresh request from ${p.signalling.ipv6.src}, not the home agent: ignored`] };
      return this.current && !this.pending ? this.sendBu(nowMs, false, ['binding refresh requested']) : { events: ['binding refresh request ignored: nothing registered or a BU outstanding'] };
    }
    if (m.type === 'bindingError') return { events: [`Binding Error from ${p.signalling.ipv6.src}: status ${m.status}`] };
    if (m.type !== 'bindingAcknowledgement') return { events: [`${m.type} ignored`] };
    return this.handleAck(m, p.signalling.mh, nowMs);
  }

  private handleAck(m: BindingAcknowledgement, mh: Buffer, nowMs: number): Output {
    const pending = this.pending;
    if (!pending) return { events: [`unexpected BA (sequence ${m.sequence}) ignored`] };
    const verdict = verifyMnHa(mh, { careOf: pending.careOf, home: this.config.homeAddress, keyFor: (spi) => (spi === this.config.spi ? this.config.key : undefined) });
    if (verdict.verdict !== 'ok') return { events: [`BA failed authentication (${verdict.verdict}): ignored`] };
    // an answer to this BU echoes its timestamp (an old BA, a replayed 135 say, is not one), but for a 144, which carries the home agent's clock
    const clockRefused = m.status === BaStatus.mipv6IdMismatch && m.sequence === pending.sequence;
    if (clockRefused && !pending.resynchronised) return this.resynchronise(m, nowMs);
    if (!clockRefused && option(m, 'replayProtection')?.timestamp !== pending.timestamp) return { events: [`BA (sequence ${m.sequence}) not for the BU outstanding: ignored`] };
    if (m.status === BaStatus.sequenceNumberOutOfWindow) { // RFC 6275 §11.7.3: take the HA's number and go again
      this.sequence = m.sequence;
      if (pending.resequenced) return { events: [`sequence ${pending.sequence} out of window again, the home agent has ${m.sequence}: sending on the timer`] };
      const out = this.sendBu(nowMs, false, [`sequence ${pending.sequence} out of window, the home agent has ${m.sequence}: sending again`], pending.timeoutMs);
      if (this.pending) this.pending.resequenced = true;
      return out;
    }
    if (m.sequence !== pending.sequence) return { events: [`BA for sequence ${m.sequence}, waiting for ${pending.sequence}: ignored`] };
    this.pending = null;
    if (m.status < 128) this.lastAccepted = pending.timestamp;
    if (m.status === BaStatus.administrativelyProhibited && pending.forceUdp) {
      this.forceUdp = false;
      return this.sendBu(nowMs, false, ['the home agent refuses forced UDP: sending again without F']);
    }
    if (pending.placement.kind === 'home' && (m.status < 128 || m.status === BaStatus.notHomeAgentForThisMobileNode)) {
      this.current = null; // deregistered, or the home agent had no binding to end (RFC 6275 §10.3.2)
      this.leasedIpv4 = undefined;
      return { registration: null, events: [m.status < 128 ? 'deregistered: at home' : 'at home, and the home agent had no binding'] };
    }
    if (m.status >= 128 || m.lifetime === 0) { // tried again after the longest wait: the cause may be passing (143, 130) or fixed by an operator
      // a refresh refused for a passing cause leaves the home agent's binding as it was: it stands until it expires
      const stands = PASSING_REFUSALS.has(m.status) && this.current !== null && this.current.tunnel.local === pending.careOf && nowMs < this.current.expiresMs;
      const hadOne = this.current !== null && !stands;
      if (!stands) this.current = null;
      this.pending = { ...pending, sentMs: nowMs, timeoutMs: MAX_BINDACK_TIMEOUT_MS };
      const why = m.status >= 128 ? `status ${m.status} (${statusName(m.status)})` : 'lifetime 0 granted';
      return { events: [`registration refused: ${why}; trying again in ${MAX_BINDACK_TIMEOUT_MS / 1000} s`], ...(hadOne && { registration: null }) };
    }
    this.current = this.registrationFrom(m, pending);
    const registered = `registered: ${describe(pending.placement)}, ${this.current.tunnel.format} tunnel, lifetime ${m.lifetime} s${this.current.natDetected ? ', behind a NAT' : ''}`;
    if (pending.askedForLease && this.current.ipv4HomeAddress === undefined) { // its lease is gone (expired, revoked): a new one now, not at the next refresh
      return { registration: this.current, ...this.sendBu(nowMs, false, [registered, 'its IPv4 home address was refused: asking for a new one']) };
    }
    return { registration: this.current, events: [registered] };
  }

  /**
   * RFC 4285 §6: the home agent refused our timestamp and sent its clock in
   * the BA's Replay Protection option (not our timestamp: this BA is matched
   * by its sequence number and signature). Take that clock and send again.
   */
  private resynchronise(m: BindingAcknowledgement, nowMs: number): Output {
    const theirs = option(m, 'replayProtection')?.timestamp;
    if (theirs === undefined) return { events: [`BA 144 (sequence ${m.sequence}) without the home agent's clock: ignored`] };
    const theirsMs = fromNtp(theirs);
    // the home agent's clock goes on from what it said last (by ours that no one sets): one older than that, by more
    // than the replay window, is a replayed BA's, a signed 144 of an earlier BU that had this sequence number
    const mono = this.monotonicMs();
    if (this.clock && theirsMs < this.clock.theirsMs + (mono - this.clock.learntAtMonoMs) - DEFAULT_REPLAY_WINDOW_MS) {
      return { events: [`BA 144 (sequence ${m.sequence}) with a clock older than the home agent's: ignored`] };
    }
    const offsetMs = theirsMs - nowMs;
    this.clock = { offsetMs, theirsMs, learntAtMonoMs: mono };
    const out = this.sendBu(nowMs, false, [`timestamp refused (144): the home agent's clock is ${offsetMs} ms from ours; sending again on it`], this.pending!.timeoutMs);
    if (this.pending) this.pending.resynchronised = true;
    return out;
  }

  private registrationFrom(m: BindingAcknowledgement, pending: Pending): Registration {
    const { placement } = pending;
    const ack = option(m, 'ipv4AddressAcknowledgement');
    const ipv4Home = ack && ack.status < 128 ? ack.address : undefined; // (its prefix length, 32 from ours, "overrides what the mobile node requested": the address is the node's whatever it says)
    if (this.config.ipv4HomeAddress === 'dynamic') this.leasedIpv4 = ipv4Home; // refused: ask for a new one next time
    const overIpv4 = placement.kind === 'away4' || placement.kind === 'home4';
    const nat = overIpv4 ? option(m, 'natDetection') : undefined; // (meaningless to a BU sent over IPv6: UDP is never used on an IPv6 link, RFC 5555 §4.5)
    const ha = this.config.homeAgent;
    let tunnel: Tunnel;
    if (placement.kind === 'away6' || placement.kind === 'home6') {
      tunnel = { format: 'ip6', local: pending.careOf, remote: ha.ipv6 };
    } else if (nat || pending.forceUdp) {
      const tlv = m.flags.t && this.config.tlv; // T in both BU and BA (RFC 5555 §4.4)
      tunnel = { format: tlv ? 'udp4-tlv' : 'udp4', local: pending.careOf, remote: ha.ipv4!, localPort: DSMIP_PORT, remotePort: DSMIP_PORT };
    } else {
      tunnel = { format: 'ip4', local: pending.careOf, remote: ha.ipv4! };
    }
    // At home in one family, only the other family's home address goes through the tunnel.
    const homeAddresses = [
      ...(placement.kind === 'home6' ? [] : [this.config.homeAddress]),
      ...(ipv4Home && !(placement.kind === 'home4' && ipv4Home === pending.careOf) ? [ipv4Home] : []), // as the home agent decides it
    ];
    const lifetimeMs = m.lifetime * 1000;
    const natRefreshMs = !nat || nat.refreshTime === NO_KEEPALIVE ? Infinity : (nat.refreshTime || NATKATIMEOUT_S) * 1000;
    return {
      placement, tunnel, homeAddresses, prefixes: this.config.mobileRouter ? this.config.prefixes.filter((x) => x.includes(':')) : [],
      ...(ipv4Home && { ipv4HomeAddress: ipv4Home }),
      natDetected: nat !== undefined && nat.refreshTime !== NO_KEEPALIVE,
      // RFC 6275 §11.7.3: the lifetime counts down from when the BU was sent (the home agent's from when it came)
      lifetime: m.lifetime, expiresMs: pending.sentMs + lifetimeMs, refreshAtMs: pending.sentMs + Math.min(lifetimeMs * REFRESH_AT, natRefreshMs),
    };
  }

  private sendBu(nowMs: number, fresh: boolean, events: string[], timeoutMs?: number): Output {
    const placement = this.placement;
    if (placement.kind === 'detached') return { events };
    this.sequence = (this.sequence + 1) & 0xffff;
    const careOf = this.careOfFor(placement);
    const forceUdp = this.forceUdp && placement.kind === 'away4';
    const firstRegistration = this.current === null;
    const onTheirClock = ntpTimestamp(nowMs + (this.clock?.offsetMs ?? 0));
    // never one the home agent would call a replay (compared across the NTP era of 2036)
    const last = this.lastAccepted;
    const timestamp = last === undefined || ntpUnwrap(onTheirClock) > ntpUnwrap(last) ? onTheirClock : BigInt.asUintN(64, last + 1n);
    this.pending = {
      sequence: this.sequence, timestamp, placement, careOf, forceUdp, sentMs: nowMs,
      askedForLease: this.config.ipv4HomeAddress === 'dynamic' && this.leasedIpv4 !== undefined && placement.kind !== 'home4' && placement.kind !== 'home',
      timeoutMs: timeoutMs ?? (fresh && firstRegistration ? INITIAL_BINDACK_TIMEOUT_FIRST_REG_MS : INITIAL_BINDACK_TIMEOUT_MS),
    };
    return { send: this.buildBu(placement, careOf, forceUdp, timestamp), events: [...events, `BU sequence ${this.sequence} from ${careOf}${placement.kind === 'home' ? ' (deregistration)' : ''}`] };
  }

  private careOfFor(p: Exclude<Placement, { kind: 'detached' }>): string {
    switch (p.kind) {
      case 'away6': case 'away4': return p.careOf;
      case 'home4': return p.address;
      case 'home6': case 'home': return this.config.homeAddress;
    }
  }

  /** The IPv4 home address to ask for: the static one, the one leased before, or 0.0.0.0 for a new one. */
  private ipv4Request(p: Placement): MobilityOption[] {
    const v4 = this.config.ipv4HomeAddress;
    if (!v4) return [];
    let address = v4 === 'dynamic' ? this.leasedIpv4 ?? '0.0.0.0' : v4;
    if (p.kind === 'home4' && v4 === 'dynamic') address = '0.0.0.0'; // the on-link address becomes it (extended home link §4.1)
    return [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address }]; // one address, asked for or not: 32 (RFC 5555 §3.1.1; 0 is an error)
  }

  private buildBu(p: Exclude<Placement, { kind: 'detached' }>, careOf: string, forceUdp: boolean, timestamp: bigint): OutgoingBu {
    const c = this.config;
    const home = c.homeAddress;
    const deregister = p.kind === 'home';
    const options: MobilityOption[] = deregister ? [] : [
      ...this.ipv4Request(p),
      ...(p.kind === 'home6' ? [{ type: 'alternateCareOfAddress' as const, address: home }] : []),
      ...(p.kind === 'away4' || p.kind === 'home4' ? [{ type: 'ipv4CareOfAddress' as const, address: careOf }] : []),
      ...(c.mobileRouter ? c.prefixes.filter((x) => x.includes(':')).map((x) => {
        const [prefix = '', len = ''] = x.split('/');
        return { type: 'mobileNetworkPrefix' as const, prefixLength: Number(len), prefix };
      }) : []),
    ];
    const udp = p.kind === 'away4' || p.kind === 'home4';
    const mh = signMnHa(encodeMobilityHeader({
      type: 'bindingUpdate', sequence: this.sequence, lifetime: deregister ? 0 : c.lifetime,
      flags: { ...NO_BU_FLAGS, a: true, h: true, r: c.mobileRouter, f: forceUdp, t: udp && c.tlv },
      options: [...options,
        { type: 'mobileNodeIdentifier', subtype: 1, identifier: c.nai },
        { type: 'replayProtection', timestamp },
        { type: 'mobilityMessageAuthentication', subtype: 1, spi: c.spi, authenticator: Buffer.alloc(12) }],
    }), { key: c.key, spi: c.spi, careOf, home });
    if (udp) { // placementFor() gives no IPv4 placement without homeAgent.ipv4
      return { transport: 'udp4', ipv6: encodeSignalling6({ src: home, dst: c.homeAgent.ipv6, mh }), src: careOf, dst: c.homeAgent.ipv4!, srcPort: DSMIP_PORT, dstPort: DSMIP_PORT };
    }
    const fromCareOf = p.kind === 'away6';
    return { transport: 'ipv6', packet: encodeSignalling6({ src: careOf, dst: c.homeAgent.ipv6, ...(fromCareOf && { homeAddressOption: home }), mh }) };
  }
}

/** At home in IPv6 (on the home link in both families, or in IPv6 only): the home address is on the link, not tunnelled. */
export const atHome6 = (p: Placement): boolean => p.kind === 'home' || p.kind === 'home6';

export function describe(p: Placement): string {
  switch (p.kind) {
    case 'away6': return `away, IPv6 care-of address ${p.careOf}`;
    case 'away4': return `away, IPv4 care-of address ${p.careOf}`;
    case 'home6': return 'IPv6-wise at home';
    case 'home4': return `IPv4-wise at home (${p.address})`;
    case 'home': return 'at home';
    case 'detached': return 'detached';
  }
}

const statusName = (status: number): string =>
  Object.entries(BaStatus).find(([, v]) => v === status)?.[0] ?? 'unknown';
