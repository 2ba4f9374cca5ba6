/**
 * The mobile node at its edges: the MobileNode state machine driven by the
 * clock, by the BAs its own data plane captures, and by moves; its
 * registrations made live in its data plane and on the host (MobileHost).
 *
 * Order matters as at the home agent: the endpoints of a new care-of address
 * exist before its BU leaves (the BA must be captured), and the tunnel
 * changes only when the home agent has accepted the binding.
 */
import type { DataPlane } from '../dataplane/dataplane.js';
import { RouteWatch } from '../dataplane/route-watch.js';
import { SignallingChannel, type SignalPacket } from '../signalling/channel.js';
import { inNetns } from '../sys/libc.js';
import { IcmpErrorLimit, parameterProblemFor } from '../wire/ip/icmp6.js';
import type { MobileNodeConfig } from './config.js';
import { MobileHost, TUNNEL_PEER } from './host.js';
import { atHome6, DSMIP_PORT, MobileNode, type Attachment, type Output, type Placement, type Registration } from './mobile-node.js';

const BINDING_ID = 1;

export interface MobileDaemonOptions {
  /** The node's network namespace (a name under /run/netns) when it is not this process's own. */
  netns?: string;
  now?: () => number;
  log?: (event: string) => void;
  initialSequence?: number;
}

type Endpoint = [address: string, port: number, flags: ('decap' | 'mh')[]];

export class MobileNodeDaemon {
  readonly node: MobileNode;
  readonly host: MobileHost;
  private channel: SignallingChannel | null = null;
  /** ICMPv6 Parameter Problems for BAs discarded for an option (RFC 8200 §4.2): at most 10 a second (RFC 4443 §2.4(f)). */
  readonly icmpErrors = new IcmpErrorLimit(10);
  private timer: NodeJS.Timeout | null = null;
  private endpoints: Endpoint[] = [];
  private attached: Attachment | null = null;
  private routeWatch: RouteWatch | null = null;
  private readonly now: () => number;
  private readonly log: (event: string) => void;

  constructor(readonly config: MobileNodeConfig, private readonly dataPlane: DataPlane, private readonly options: MobileDaemonOptions = {}) {
    this.node = new MobileNode(config, options.initialSequence);
    this.host = new MobileHost(config, options.netns);
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  /** Sets up the host and the data plane, then registers from wherever the node is. */
  start(): void {
    this.host.setUp();
    this.inNs(() => {
      for (const ifname of [...this.config.interfaces, TUNNEL_PEER]) this.dataPlane.attach(ifname);
      this.routeWatch = new RouteWatch(this.dataPlane); // a move changes routes under the tunnel's learnt next hop
      this.channel = new SignallingChannel(this.dataPlane, {
        onPacket: (p) => this.guarded('a BA', () => {
          this.answerRefusedOption(p);
          this.handle(this.node.handleSignal(p, this.now()));
        }),
        onError: (err) => this.log(`undecodable signalling: ${err.message}`),
      });
    });
    this.moved();
  }

  /** The node's link changed (or may have): find where it is and register from there. */
  moved(attachment?: Attachment | null): void {
    this.guarded('a move', () => {
      const a = attachment === undefined ? this.host.attachment() : attachment;
      if (!a) {
        this.log('no interface is up with an address: waiting to be told of a move');
        return;
      }
      this.attached = a;
      const placement = this.node.placementFor(a);
      this.setEndpoints(a, placement);
      this.host.holdHomeAddress(a, placement);
      this.host.routeToHomeAgent(a);
      this.handle(this.node.attach(a, this.now()));
    });
  }

  /** A failure (an `ip` command, a data-plane write) is logged and the node carries on: the next timer or move tries again. */
  private guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log(`${what} failed: ${(err as Error).message}`);
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.channel?.close();
    this.channel = null;
    this.routeWatch?.close();
    this.routeWatch = null;
  }

  /** A packet its data plane took before the kernel's IPv6 layer could: an option whose unknown type asks for it gets a Parameter Problem (icmp6.ts). */
  private answerRefusedOption(p: SignalPacket): void {
    const icmp = parameterProblemFor(p);
    if (!icmp || !this.channel || !this.icmpErrors.take(this.now())) return;
    const to = `to ${p.signalling.ipv6.src} for option type 0x${p.signalling.refusedOption!.optionType.toString(16)}`;
    try {
      this.channel.sendIpv6(icmp);
      this.log(`ICMP Parameter Problem sent ${to}`);
    } catch (err) { // the packet is still handled (and its discard said)
      this.log(`ICMP Parameter Problem ${to} not sent: ${(err as Error).message}`);
    }
  }

  /** Whatever fails here (and is thrown on, to be logged), the BU goes and the timer stays armed: the node never stalls. */
  private handle(out: Output): void {
    try {
      if (out.registration !== undefined) this.makeLive(out.registration); // live before it is said to be
    } finally {
      for (const e of out.events) this.log(e);
      if (out.send && this.channel) {
        const bu = out.send;
        try {
          if (bu.transport === 'ipv6') this.channel.sendIpv6(bu.packet);
          else this.channel.sendUdp4(bu.ipv6, bu);
        } catch (err) {
          this.log(`BU not sent (${(err as Error).message}): it goes again when its wait runs out`);
        }
      }
      this.schedule();
    }
  }

  private makeLive(registration: Registration | null): void {
    if (registration) {
      this.dataPlane.install({ id: BINDING_ID, tunnel: registration.tunnel, homeAddresses: registration.homeAddresses, prefixes: registration.prefixes });
    } else {
      this.dataPlane.remove(BINDING_ID);
    }
    const where = this.node.where;
    this.host.apply(where, registration);
    if (this.attached && (where.kind === 'home' || where.kind === 'home4' || where.kind === 'home6')) this.host.announceHome(this.attached, where);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const at = this.node.nextWakeMs();
    this.timer = at === undefined ? null : setTimeout(() => this.guarded('a timer', () => this.handle(this.node.tick(this.now()))), Math.max(0, at - this.now()));
  }

  /** Where tunnelled packets and BAs come to: the care-of addresses (or home addresses, at home in a family). */
  private setEndpoints(a: Attachment, placement: Placement): void {
    const wanted: Endpoint[] = [];
    if (a.ipv6) wanted.push([a.ipv6, 0, ['decap', 'mh']]);
    const home = this.config.homeAddress; // at home in IPv6 BUs leave from the home address (also on a link that gave another)
    if (atHome6(placement) && a.ipv6 !== home) wanted.push([home, 0, ['decap', 'mh']]);
    if (a.ipv4) wanted.push([a.ipv4, 0, ['decap']], [a.ipv4, DSMIP_PORT, ['decap', 'mh']]);
    for (const [address, port] of this.endpoints) this.dataPlane.removeEndpoint(address, port);
    for (const [address, port, flags] of wanted) this.dataPlane.addEndpoint(address, port, flags);
    this.endpoints = wanted;
  }

  private inNs<T>(fn: () => T): T {
    return this.options.netns ? inNetns(`/run/netns/${this.options.netns}`, fn) : fn();
  }
}
