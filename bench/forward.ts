/**
 * Packets per second forwarded between namespaces, for the same frames and
 * the same topology, by three forwarders on the anchor's ingress veth:
 *
 *   kernel    no XDP program: the kernel's own IP forwarding of the plain
 *             packets (routes and permanent neighbours towards the sink)
 *   redirect  bench_redirect: MACs from a map and bpf_redirect out of the
 *             egress veth, no lookup, no encapsulation (the limit)
 *   anchor    the anchor's XDP program: a binding for the destination, the
 *             next hop cached in it, encapsulated and redirected out
 *
 * and, for reference, no forwarder at all: the sink's program on the
 * anchor's ingress veth itself (generator and sink alone).
 *
 * The generator is bench_gen under BPF_F_TEST_XDP_LIVE_FRAMES in the gen
 * namespace. Each batch of 64 frames it redirects is received, forwarded
 * and dropped by the sink (bench_sink, XDP, counting) in the softirq that
 * runs when the batch is flushed, on the generator's CPU: one CPU does all
 * the work, nothing is dropped on the way, and the rate at the sink is that
 * of the whole path, whose generator and sink costs are the same for every
 * forwarder. (With the forwarder in a NAPI thread on the other CPU the
 * generator overruns it, and the rates varied by ±30 % from run to run.)
 * Rounds alternate between the forwarders; the median round is reported.
 */
import type { DataPlane } from '../control/dataplane/dataplane.js';
import type { TunnelFormatName } from '../control/dataplane/layout.js';
import { closeFd } from '../control/sys/libc.js';
import { FRAME_LEN, OVERHEAD, ethernet, udpPacket } from './frames.js';
import type { BenchObject } from './programs.js';
import { addr, homeAddress, ifname, mac, type Topology } from './topology.js';
import { bindingNumber } from './bindings.js';

export const FORWARDERS = ['none', 'kernel', 'redirect', 'anchor'] as const;
export type Forwarder = (typeof FORWARDERS)[number];

const ROUND_SECONDS = 1; // of generating, per forwarder and round
const ROUNDS = 3;
const WARMUP_PACKETS = 1 << 20; // also sizes the round to ROUND_SECONDS

export interface Rate {
  mpps: number;        // delivered to the sink
  offeredMpps: number; // sent by the generator
  frameBytes: number;  // per frame at the sink
}
export interface ForwardResult {
  family: 4 | 6;
  format: TunnelFormatName; // the anchor's tunnel for these packets
  rates: Record<Forwarder, Rate>;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

export async function measureForwarding(topo: Topology, dp: DataPlane, bench: BenchObject,
  cases: { family: 4 | 6; format: TunnelFormatName }[], log: (s: string) => void): Promise<ForwardResult[]> {
  const { lab, ns, ifindex } = topo;
  const links: number[] = [];
  const inAnchor = <T>(fn: () => T) => lab.within(ns.anchor, fn);
  const use = (f: Forwarder) => {
    while (links.length) closeFd(links.pop()!);
    inAnchor(() => {
      dp.detach(ifname.anchorIn);
      if (f === 'none') links.push(bench.attachXdp('bench_sink', ifindex.anchorIn));
      if (f === 'redirect') links.push(bench.attachXdp('bench_redirect', ifindex.anchorIn));
      if (f === 'anchor') dp.attachXdp(ifname.anchorIn, 'native');
    });
  };

  /**
   * Generates count packets; returns the packets offered and delivered per
   * second while the generator ran (its own clock, so not the call's setup),
   * and the bytes per frame that reached the sink.
   */
  const blast = async (count: number): Promise<Rate> => {
    const c0 = bench.sinkCounters();
    const nsPerPacket = lab.within(ns.gen, () => bench.generate(count));
    await tick();
    const c1 = bench.sinkCounters();
    const seconds = (nsPerPacket * count) / 1e9;
    const got = c1.packets - c0.packets;
    return { mpps: got / seconds / 1e6, offeredMpps: count / seconds / 1e6, frameBytes: got ? (c1.bytes - c0.bytes) / got : 0 };
  };

  const sinkLink = lab.within(ns.sink, () => bench.attachXdp('bench_sink', ifindex.sink));
  try {
    bench.setForwarder(ifindex.anchorOut, mac.anchorOut, mac.sink);
    const results: ForwardResult[] = [];
    for (const { family, format } of cases) {
      const home = homeAddress(bindingNumber(format));
      const v = family === 6 ? 'v6' : 'v4';
      bench.setGenerator(ethernet(mac.anchorIn, mac.gen, udpPacket(addr.gen[v], home[v])), ifindex.gen);
      const samples: Record<Forwarder, Rate[]> = { none: [], kernel: [], redirect: [], anchor: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const f of FORWARDERS) {
          use(f);
          const warm = await blast(WARMUP_PACKETS);
          const r = await blast(Math.round(warm.offeredMpps * 1e6 * ROUND_SECONDS));
          const want = FRAME_LEN + (f === 'anchor' ? OVERHEAD[format] : 0);
          if (r.mpps === 0 || Math.abs(r.frameBytes - want) > 0.01)
            throw new Error(`IPv${family} by ${f}: ${r.mpps.toFixed(3)} Mpps of ${r.frameBytes.toFixed(1)}-byte frames at the sink, expected ${want}-byte`);
          samples[f].push(r);
        }
      }
      use('kernel'); // nothing attached
      const rates = Object.fromEntries(FORWARDERS.map((f) => {
        const sorted = [...samples[f]].sort((a, b) => a.mpps - b.mpps);
        return [f, sorted[Math.floor(sorted.length / 2)]!];
      })) as Record<Forwarder, Rate>;
      log(`  IPv${family}: ${FORWARDERS.map((f) => `${f} ${rates[f].mpps.toFixed(2)} (offered ${rates[f].offeredMpps.toFixed(2)})`).join(', ')} Mpps`);
      results.push({ family, format, rates });
    }
    return results;
  } finally {
    while (links.length) closeFd(links.pop()!);
    inAnchor(() => dp.detach(ifname.anchorIn));
    closeFd(sinkLink);
  }
}
