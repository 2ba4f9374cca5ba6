/**
 * The mobile node's host: what makes ordinary applications use the home
 * addresses. The home addresses live on `mip0`, one end of a veth pair whose
 * other end (`mip0p`) carries the data plane in the mobile role: what the
 * host sends from a home address goes into mip0 and is encapsulated at mip0p
 * towards the home agent. Two half-default routes per family (0/1 and 128/1,
 * ::/1 and 8000::/1) send everything there without touching the visited
 * network's own default route, which a host route to the home agent keeps
 * using. At home in a family, the home link holds that home address and the
 * mip0 side of that family goes away.
 *
 * Everything here is `ip` commands (run in the node's namespace when given),
 * idempotent, so a restarted node re-applies the same state.
 */
import { execFileSync } from 'node:child_process';
import { inPrefix } from '../dataplane/layout.js';
import { interfaceInfo, ip } from '../sys/ip.js';
import { inNetns, PacketSocket } from '../sys/libc.js';
import { gratuitousArp, unsolicitedNeighborAdvert } from '../wire/ip/neighbour.js';
import type { MobileNodeConfig } from './config.js';
import { atHome6, type Attachment, type Placement, type Registration } from './mobile-node.js';

export const TUNNEL_IF = 'mip0';
export const TUNNEL_PEER = 'mip0p';
/** Leaves room for the largest tunnel header (IPv6, 40 bytes) on a 1500-byte link. */
const TUNNEL_MTU = 1460;
const HALF_DEFAULTS = { 4: ['0.0.0.0/1', '128.0.0.0/1'], 6: ['::/1', '8000::/1'] } as const;

export class MobileHost {
  private haRoutes: string[][] = [];
  /** The IPv4 home address put on mip0 last (a dynamic one may change). */
  private ipv4OnMip0?: string;
  /** The home link interface the IPv6 home address was put on (at home), as "address/length dev". */
  private homeAddressOn?: string[];

  constructor(readonly config: MobileNodeConfig, private readonly netns?: string) {}

  ip(args: string[]): string {
    return ip(args, this.netns);
  }

  private tryIp(args: string[]): void {
    try { this.ip(args); } catch { /* already absent */ }
  }

  /**
   * Creates the mip0/mip0p pair if it is not there (same MAC on both: frames
   * handed back are addressed to it), and the two settings the data plane
   * needs: forwarding on mip0p (bpf_fib_lookup refuses an interface that does
   * not forward: only there, the host stays a host), and no reverse-path
   * filter where decapsulated packets arrive (their home-address
   * destinations route back through mip0, not the link they came in on).
   */
  setUp(): void {
    if (!interfaceInfo(TUNNEL_IF, this.netns)) {
      this.ip(['link', 'add', TUNNEL_IF, 'address', '02:00:00:00:00:fe', 'type', 'veth', 'peer', 'name', TUNNEL_PEER, 'address', '02:00:00:00:00:fe']);
      this.ip(['link', 'set', TUNNEL_IF, 'arp', 'off', 'mtu', String(TUNNEL_MTU), 'up']);
      this.ip(['link', 'set', TUNNEL_PEER, 'up']);
      for (const ifname of [TUNNEL_IF, TUNNEL_PEER]) this.exec(['ethtool', '-K', ifname, 'tx', 'off']); // XDP cannot finish a checksum left to "hardware"
    }
    this.exec(['sysctl', '-qw', `net.ipv4.conf.${TUNNEL_PEER}.forwarding=1`, `net.ipv6.conf.${TUNNEL_PEER}.forwarding=1`,
      ...['all', ...this.config.interfaces, TUNNEL_PEER].map((i) => `net.ipv4.conf.${i}.rp_filter=0`)]);
  }

  private exec([cmd = '', ...args]: string[]): void {
    execFileSync(this.netns ? 'ip' : cmd, this.netns ? ['netns', 'exec', this.netns, cmd, ...args] : args, { stdio: 'ignore' });
  }

  private forgetHomeAgentRoutes(): void {
    for (const [family = '', ...route] of this.haRoutes) this.tryIp([family, 'route', 'del', ...route]);
    this.haRoutes = [];
  }

  /** The first configured interface that is up and has a global address: where the node is attached. */
  attachment(): Attachment | null {
    for (const ifname of this.config.interfaces) {
      const info = interfaceInfo(ifname, this.netns);
      if (!info?.up) continue;
      const [ipv6] = info.ipv6;
      const [ipv4] = info.ipv4;
      if (ipv6 || ipv4) return { ifname, ...(ipv6 && { ipv6 }), ...(ipv4 && { ipv4 }) };
    }
    return null;
  }

  /** Keeps signalling and tunnelled packets to the home agent on the visited link, past the half-default routes. */
  routeToHomeAgent(a: Attachment): void {
    this.forgetHomeAgentRoutes();
    const ha = this.config.homeAgent;
    for (const [family, address] of [[6, ha.ipv6], [4, ha.ipv4]] as const) {
      if (!address || !(family === 6 ? a.ipv6 : a.ipv4)) continue;
      const gateway = this.gateway(a.ifname, family);
      const route = [`${address}/${family === 6 ? 128 : 32}`, ...(gateway && gateway !== address ? ['via', gateway] : []), 'dev', a.ifname];
      this.ip([`-${family}`, 'route', 'replace', ...route]);
      this.haRoutes.push([`-${family}`, ...route]);
    }
  }

  private gateway(ifname: string, family: 4 | 6): string | undefined {
    try {
      const routes = JSON.parse(this.ip([`-${family}`, '-j', 'route', 'show', 'default', 'dev', ifname])) as { gateway?: string }[];
      return routes.find((r) => r.gateway)?.gateway;
    } catch {
      return undefined;
    }
  }

  /**
   * At home in IPv6 the home address belongs on the home link (RFC 6275
   * §11.5.4): correspondents, and the home agent's BA, reach it there. A home
   * link may hand out other addresses, so it is put on that interface here,
   * and taken off when the node leaves.
   */
  holdHomeAddress(a: Attachment, placement: Placement): void {
    const home = this.config.homeAddress;
    const length = this.config.homeLink.prefixes.find((p) => inPrefix(home, p))?.split('/')[1] ?? '128';
    const wanted = atHome6(placement) ? [`${home}/${length}`, 'dev', a.ifname] : undefined;
    if (this.homeAddressOn && this.homeAddressOn.join(' ') !== wanted?.join(' ')) this.tryIp(['-6', 'addr', 'del', ...this.homeAddressOn]);
    if (wanted) this.ip(['-6', 'addr', 'replace', ...wanted, 'nodad']);
    this.homeAddressOn = wanted;
  }

  /**
   * Back on the home link in a family: tells its hosts that the home address
   * is here again (RFC 6275 §11.5.4), over the home agent's proxy answers
   * still in their caches: an unsolicited NA, a gratuitous ARP.
   */
  announceHome(a: Attachment, placement: Placement): void {
    const info = interfaceInfo(a.ifname, this.netns);
    if (!info) return;
    const frames: Buffer[] = [];
    const home = this.config.homeAddress;
    if (atHome6(placement)) frames.push(unsolicitedNeighborAdvert(info.mac, home, home));
    if ((placement.kind === 'home' || placement.kind === 'home4') && a.ipv4) frames.push(gratuitousArp(info.mac, a.ipv4));
    if (frames.length === 0) return;
    const send = () => {
      const socket = new PacketSocket(a.ifname);
      try {
        for (const f of frames) socket.send(f);
      } finally {
        socket.close();
      }
    };
    if (this.netns) inNetns(`/run/netns/${this.netns}`, send);
    else send();
  }

  /**
   * Home addresses and routes for where the node is and what is registered:
   * a family's traffic goes into mip0 while that family's home address is
   * tunnelled; a home address the home link holds leaves mip0.
   */
  apply(placement: Placement, registration: Registration | null): void {
    const c = this.config;
    const ipv4Home = registration?.ipv4HomeAddress ?? (c.ipv4HomeAddress !== 'dynamic' ? c.ipv4HomeAddress : undefined);
    if (this.ipv4OnMip0 && this.ipv4OnMip0 !== ipv4Home) this.tryIp(['addr', 'del', `${this.ipv4OnMip0}/32`, 'dev', TUNNEL_IF]);
    this.ipv4OnMip0 = ipv4Home;
    // IPv4-wise at home only on the IPv4 home address itself: another on-link address leaves it tunnelled
    const atHome = { 6: atHome6(placement), 4: placement.kind === 'home' || (placement.kind === 'home4' && placement.address === ipv4Home) };
    for (const [family, home] of [[6, c.homeAddress], [4, ipv4Home]] as const) {
      if (!home) continue;
      const tunnelled = registration?.homeAddresses.includes(home) ?? false;
      const onMip0 = `${home}/${family === 6 ? 128 : 32}`;
      if (atHome[family]) {
        this.tryIp(['addr', 'del', onMip0, 'dev', TUNNEL_IF]);
      } else {
        this.ip(['addr', 'replace', onMip0, 'dev', TUNNEL_IF, ...(family === 6 ? ['nodad'] : [])]); // kept through outages: sessions survive
      }
      for (const half of HALF_DEFAULTS[family]) {
        if (tunnelled) this.ip([`-${family}`, 'route', 'replace', half, 'dev', TUNNEL_IF, 'src', home]);
        else this.tryIp([`-${family}`, 'route', 'del', half, 'dev', TUNNEL_IF]);
      }
    }
  }
}
