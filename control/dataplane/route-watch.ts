/**
 * Keeps the data plane's learnt next hops honest: a binding remembers the
 * interface and MACs its first packet's FIB lookup found, and that stays
 * right only until a route, a link or a neighbour's MAC changes. This
 * watches rtnetlink (routes of both families, links, neighbours) in the
 * current network namespace and calls DataPlane.flushNexthops() after a
 * change, at most once per settle time. Routes of the local table and
 * local, broadcast, anycast or multicast routes (what adding an address or
 * bringing a link up brings along) do not count; neighbour events are many
 * and mostly state changes (REACHABLE, STALE, …): only a different MAC, or
 * the deletion of a neighbour seen before, counts.
 */
import { createRtNetlink, rt, type NetlinkMessage, type RtNetlinkSocket } from 'netlink';
import type { DataPlane } from './dataplane.js';

const RTM = { NEWLINK: 16, DELLINK: 17, NEWROUTE: 24, DELROUTE: 25, NEWNEIGH: 28, DELNEIGH: 29 } as const;
const RT_TABLE_LOCAL = 255;
/** Route types no tunnel's next hop is found by: local, broadcast, anycast, multicast (struct rtmsg's rtm_type). */
const NOT_FORWARDING = new Set([2, 3, 4, 5]);
const BUFFER = 1 << 20; // a burst of neighbour events must not overflow the socket

export class RouteWatch {
  private readonly socket: RtNetlinkSocket;
  private readonly macs = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  /** Flushes done so far. */
  flushes = 0;

  constructor(private readonly dataPlane: DataPlane, private readonly settleMs = 50) {
    this.socket = createRtNetlink({ ref: false, recvBufferSize: BUFFER, sendBufferSize: 1 << 16 });
    for (const group of ['IPV4_ROUTE', 'IPV6_ROUTE', 'LINK', 'NEIGH'] as const) this.socket.addMembership(group);
    this.socket.socket.on('message', (messages: NetlinkMessage[]) => {
      if (messages.some((m) => this.matters(m))) this.schedule();
    });
  }

  private matters(m: NetlinkMessage): boolean {
    switch (m.type) {
      case RTM.NEWROUTE: case RTM.DELROUTE: // struct rtmsg: table at byte 4, type at byte 7
        return m.data.length >= 8 && m.data[4] !== RT_TABLE_LOCAL && !NOT_FORWARDING.has(m.data[7]!);
      case RTM.NEWLINK: case RTM.DELLINK: return true;
      case RTM.NEWNEIGH: case RTM.DELNEIGH: break;
      default: return false;
    }
    const n = rt.parseNeighborMessage(m.data);
    const key = `${n.data.ifindex}/${n.attrs.dst?.toString('hex')}`;
    const mac = n.attrs.lladdr?.toString('hex');
    if (m.type === RTM.DELNEIGH || mac === undefined) return this.macs.delete(key);
    const before = this.macs.get(key);
    this.macs.set(key, mac);
    return before !== undefined && before !== mac;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushes++;
      this.dataPlane.flushNexthops();
    }, this.settleMs);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket.socket.close();
  }
}
