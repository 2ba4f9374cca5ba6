/**
 * The home agent at its edges: signalling from the data plane's capture goes
 * into the HomeAgent state machine; its data-plane changes are applied, then
 * its BA is sent (raw IPv6 with a type 2 routing header, or IPv4/UDP 4191).
 */
import type { DataPlane } from '../dataplane/dataplane.js';
import { SignallingChannel, type SignalPacket } from '../signalling/channel.js';
import { encodeSignalling6 } from '../wire/ip/signalling.js';
import type { HomeAgentConfig } from './config.js';
import { DSMIP_PORT, HomeAgent, type Outcome } from './home-agent.js';

const EXPIRY_CHECK_MS = 1000;

export interface DaemonOptions {
  now?: () => number;
  log?: (event: string) => void;
}

export class HomeAgentDaemon {
  readonly homeAgent: HomeAgent;
  private channel: SignallingChannel | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly log: (event: string) => void;

  constructor(readonly config: HomeAgentConfig, private readonly dataPlane: DataPlane, options: DaemonOptions = {}) {
    this.homeAgent = new HomeAgent(config);
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  /** Declares the HA's addresses as endpoints and starts listening; call inside the HA's network namespace. */
  start(): void {
    const { ipv6, ipv4, publicIpv4 } = this.config.homeAgent;
    this.dataPlane.addEndpoint(ipv6, 0, ['decap', 'mh']);
    for (const v4 of [ipv4, publicIpv4].filter((a): a is string => a !== undefined)) {
      this.dataPlane.addEndpoint(v4, 0, ['decap']);
      this.dataPlane.addEndpoint(v4, DSMIP_PORT, ['decap', 'mh']);
    }
    this.channel = new SignallingChannel(this.dataPlane, (p) => this.onSignal(p), (err) => this.log(`undecodable signalling: ${err.message}`));
    this.expiry = setInterval(() => this.expire(), EXPIRY_CHECK_MS);
  }

  stop(): void {
    if (this.expiry) clearInterval(this.expiry);
    this.expiry = null;
    this.channel?.close();
    this.channel = null;
  }

  /** Removes the bindings whose lifetime ran out (also called by the timer). */
  expire(): void {
    for (const outcome of this.homeAgent.expire(this.now())) {
      this.log(outcome.event);
      this.apply(outcome);
    }
  }

  private onSignal(p: SignalPacket): void {
    const outcome = this.homeAgent.handleBindingUpdate({
      transport: p.transport,
      outer: p.outer,
      ipv6Src: p.signalling.ipv6.src,
      ...(p.signalling.homeAddressOption !== undefined && { homeAddressOption: p.signalling.homeAddressOption }),
      mh: p.signalling.mh,
      nowMs: this.now(),
    });
    this.log(outcome.event);
    this.apply(outcome);
  }

  /** Data plane first, so the binding is live before its BA leaves. */
  private apply(outcome: Outcome): void {
    try {
      for (const change of outcome.dataPlane) {
        if ('install' in change) this.dataPlane.install(change.install);
        else this.dataPlane.remove(change.remove);
      }
    } catch (err) {
      this.log(`data plane write failed: ${(err as Error).message}`);
      const refusal = outcome.onDataPlaneFailure?.();
      if (refusal) this.send(refusal);
      return;
    }
    this.send(outcome);
  }

  private send(outcome: Outcome): void {
    const reply = outcome.reply;
    if (!reply || !this.channel) return;
    const r = reply.route;
    if (r.transport === 'ipv6') {
      this.channel.sendIpv6(encodeSignalling6({ src: r.src, dst: r.dst, ...(r.routingHeader2 !== undefined && { routingHeader2: r.routingHeader2 }), mh: reply.mh }));
    } else {
      this.channel.sendUdp4(encodeSignalling6({ src: r.ipv6Src, dst: r.ipv6Dst, mh: reply.mh }), { src: r.src, dst: r.dst, srcPort: r.srcPort, dstPort: r.dstPort });
    }
  }
}
