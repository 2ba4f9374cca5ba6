/**
 * Nanoseconds per packet for each path through the anchor's XDP program, by
 * BPF_PROG_TEST_RUN with repeat, beside a minimal XDP_TX program.
 *
 * A repeated test run re-runs the program on its own output (the kernel
 * keeps the frame and its data pointers between iterations), so an
 * encapsulating program would see its own tunnel packet from the second
 * iteration on. bench_anchor (bpf/bench.c) therefore runs the anchor's code
 * and then undoes it: one bpf_xdp_adjust_head back by as much as the frame
 * grew or shrank, and direct stores of the whole input frame over it.
 *
 *   raw   bench_anchor: harness + anchor + undo
 *   undo  bench_undo − bench_pass: the same undo alone on the same frame,
 *         less the harness (bench_pass does nothing)
 *   net   raw − undo: harness + anchor, what BPF_PROG_TEST_RUN would report
 *         for the anchor alone; comparable with the XDP_TX baseline, which
 *         carries the same harness
 *
 * This machine's speed drifts by a fifth from one second to the next, so
 * every round of a path runs XDP_TX, the wrapper, the undo and the empty
 * program back to back, and a path's ratio is the median of its rounds'
 * ratios: each net figure against the baseline measured beside it.
 */
import { join } from 'node:path';
import { closeFd } from '../control/sys/libc.js';
import { libbpf } from '../control/dataplane/libbpf.js';
import type { DataPlane } from '../control/dataplane/dataplane.js';
import { FRAME_LEN, OVERHEAD, encapsulate, ethernet, macBytes, mhPacket, udpPacket } from './frames.js';
import { XDP, verdictName, type BenchObject, type BenchProgram } from './programs.js';
import { addr, homeAddress, mac, type Topology } from './topology.js';
import { FORMATS, bindingNumber } from './bindings.js';

export const REPEAT = 1_000_000;
const ROUNDS = 7;
// Signalling fills the ring buffer (4 MiB: ~15,400 records of a BU-sized frame), drained between runs of
// SIGNAL_CHUNK, as long as the ring allows: a run's own fixed cost (~25 µs inside the kernel's timing, its
// caches cold after the drain) is then ~2 ns a packet, as it is ~0 in the other paths' runs of REPEAT (with
// runs of 2,000 it added ~12 ns). Every run also costs ~16 ms outside that timing (the XDP dispatcher switch).
export const SIGNAL_CHUNK = 12_500;
export const SIGNAL_REPEAT = 1_000_000;

export interface Path {
  key: string;      // e.g. encap/ip6/inner-v6
  label: string;
  frame: Buffer;
  ingress: 'anchorIn' | 'anchorOut';
  verdict: number;
  outLen: number;   // length of the anchor's output frame
  outDmac: string;  // its destination MAC
  /** A reference beside the anchor's paths, run by this program instead of the anchor (no target applies). */
  reference?: BenchProgram;
}

/**
 * raw: bench_anchor; undo: bench_undo − bench_pass; net = raw − undo, the anchor's figure as test_run would give it;
 * xdpTx: the baseline in the same rounds; ratio: the median of the rounds' net / XDP_TX (medians all).
 */
export interface PathResult { path: Path; raw: number; undo: number; net: number; xdpTx: number; ratio: number }
export interface TestRunResults {
  xdpTx: number;
  redirect: number;
  /** bench_pass: the harness's own cost per iteration, in every figure (as in the baseline's). */
  harness: number;
  paths: PathResult[];
  repeat: number;
  rounds: number;
}

const fam = (f: 4 | 6) => (f === 6 ? 'v6' : 'v4');

export function benchPaths(): Path[] {
  const out: Path[] = [];
  for (const format of FORMATS) {
    const home = homeAddress(bindingNumber(format));
    const outer = format === 'ip6' ? 'v6' : 'v4';
    for (const f of [6, 4] as const) {
      out.push({
        key: `encap/${format}/inner-${fam(f)}`, label: `encap ${format}, inner IP${fam(f)}`,
        frame: ethernet(mac.anchorIn, mac.gen, udpPacket(addr.gen[fam(f)], home[fam(f)])),
        ingress: 'anchorIn', verdict: XDP.REDIRECT, outLen: FRAME_LEN + OVERHEAD[format], outDmac: mac.sink,
      });
    }
    for (const f of [6, 4] as const) {
      const inner = udpPacket(home[fam(f)], addr.gen[fam(f)]);
      out.push({
        key: `decap/${format}/inner-${fam(f)}`, label: `decap ${format}, inner IP${fam(f)}`,
        frame: ethernet(mac.anchorOut, mac.sink, encapsulate(format, addr.sink[outer], addr.anchorOut[outer], inner)),
        ingress: 'anchorOut', verdict: XDP.REDIRECT, outLen: FRAME_LEN, outDmac: mac.gen,
      });
    }
  }
  for (const f of [6, 4] as const) {
    out.push({
      key: `pass/${fam(f)}`, label: `pass-through, IP${fam(f)} of no binding`,
      frame: ethernet(mac.anchorIn, mac.gen, udpPacket(addr.gen[fam(f)], addr.stranger[fam(f)])),
      ingress: 'anchorIn', verdict: XDP.PASS, outLen: FRAME_LEN, outDmac: mac.anchorIn,
    });
  }
  out.push({
    key: 'floor/helpers', label: 'floor: bpf_xdp_adjust_head + bpf_redirect alone', frame: out[0]!.frame,
    ingress: 'anchorIn', verdict: XDP.REDIRECT, outLen: FRAME_LEN, outDmac: mac.anchorIn, reference: 'bench_floor',
  });
  const mh = ethernet(mac.anchorOut, mac.sink, mhPacket(addr.sink.v6, addr.anchorOut.v6));
  out.push({ key: 'signal/mh', label: 'signalling capture (MH to ring buffer)', frame: mh, ingress: 'anchorOut', verdict: XDP.DROP, outLen: mh.length, outDmac: mac.anchorOut });
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const sumOf = (counters: Record<string, bigint>, names?: string[]) =>
  Object.entries(counters).filter(([k]) => !names || names.includes(k)).reduce((a, [, v]) => a + v, 0n);

/** One path, checked: the real anchor program (anchor.o) once, then the wrapper once. Learns next hops. */
function check(dp: DataPlane, bench: BenchObject, p: Path, ifindex: number): void {
  const problems: string[] = [];
  if (p.reference) {
    bench.setInput(p.frame);
    const r = bench.run(p.reference, p.frame, 1, ifindex);
    if (r.verdict !== p.verdict || !r.out.equals(p.frame)) throw new Error(`test_run ${p.key}: verdict ${verdictName(r.verdict)}, input ${r.out.equals(p.frame) ? '' : 'not '}restored`);
    return;
  }
  const real = dp.testRun('xdp', p.frame, { ingressIfindex: ifindex });
  if (real.verdict !== p.verdict) problems.push(`verdict ${verdictName(real.verdict)}, expected ${verdictName(p.verdict)}`);
  if (real.frame.length !== p.outLen) problems.push(`output of ${real.frame.length} bytes, expected ${p.outLen}`);
  if (!real.frame.subarray(0, 6).equals(macBytes(p.outDmac))) problems.push(`output to ${real.frame.subarray(0, 6).toString('hex')}, expected ${p.outDmac}`);
  bench.setInput(p.frame);
  const wrapped = bench.run('bench_anchor', p.frame, 1, ifindex);
  if (wrapped.verdict !== p.verdict) problems.push(`bench_anchor: verdict ${verdictName(wrapped.verdict)}`);
  if (!wrapped.out.equals(p.frame)) problems.push('bench_anchor did not restore the input frame');
  if (problems.length) throw new Error(`test_run ${p.key}: ${problems.join('; ')}`);
}

/** The kernel's ns per iteration for REPEAT iterations of prog; checks the verdict. */
function timeProgram(bench: BenchObject, prog: BenchProgram, frame: Buffer, ifindex: number, verdict: number): number {
  const r = bench.run(prog, frame, REPEAT, ifindex);
  if (r.verdict !== verdict) throw new Error(`${prog}: verdict ${verdictName(r.verdict)}, expected ${verdictName(verdict)}`);
  return r.nsPerRun;
}

/** The signalling path in chunks, draining the ring buffer between them; returns mean ns per iteration. */
function timeSignal(bench: BenchObject, dp: DataPlane, p: Path, ifindex: number): number {
  const fd = libbpf.getPinned(join(dp.pinDir, 'signals'));
  const rb = libbpf.ringBuffer(fd, () => {});
  try {
    let ns = 0;
    for (let done = 0; done < SIGNAL_REPEAT; done += SIGNAL_CHUNK) {
      const r = bench.run('bench_anchor', p.frame, SIGNAL_CHUNK, ifindex);
      if (r.verdict !== p.verdict) throw new Error(`${p.key}: verdict ${verdictName(r.verdict)}`);
      ns += r.nsPerRun * SIGNAL_CHUNK;
      libbpf.ringConsume(rb.handle);
    }
    return ns / SIGNAL_REPEAT;
  } finally {
    libbpf.ringFree(rb.handle, rb.callback);
    closeFd(fd);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const SLOW_EVENTS = ['nh_learnt', 'stack_no_neigh', 'stack_route', 'stack_ttl'];

/** Runs in the anchor's namespace, so that FIB lookups and ingress interfaces are the anchor's. */
export async function measureTestRun(topo: Topology, dp: DataPlane, bench: BenchObject, log: (s: string) => void): Promise<TestRunResults> {
  const inAnchor = <T>(fn: () => T) => topo.lab.within(topo.ns.anchor, fn);
  const all = benchPaths();
  inAnchor(() => all.forEach((p) => check(dp, bench, p, topo.ifindex[p.ingress])));
  for (const format of FORMATS) { // learnt by check(): every encap below takes the cached next hop
    if (!dp.lookupEntry(homeAddress(bindingNumber(format)).v6)?.nexthop) throw new Error(`binding ${format}: no next hop cached`);
  }

  // Baselines, at the start and again at the end (the median of both).
  const baseFrame = all[0]!.frame; // 64-byte IPv6/UDP
  const base = { xdpTx: [] as number[], redirect: [] as number[], pass: [] as number[] };
  bench.setForwarder(topo.ifindex.anchorOut, mac.anchorOut, mac.sink);
  const baselines = async () => {
    for (let i = 0; i < ROUNDS; i++) {
      inAnchor(() => {
        base.pass.push(timeProgram(bench, 'bench_pass', baseFrame, topo.ifindex.anchorIn, XDP.PASS));
        base.xdpTx.push(timeProgram(bench, 'bench_xdp_tx', baseFrame, topo.ifindex.anchorIn, XDP.TX));
        base.redirect.push(timeProgram(bench, 'bench_redirect', baseFrame, topo.ifindex.anchorIn, XDP.REDIRECT));
      });
      await tick();
    }
  };
  await baselines();

  const paths: PathResult[] = [];
  for (const p of all) {
    const ifindex = topo.ifindex[p.ingress];
    const signal = p.key.startsWith('signal');
    bench.setInput(p.frame);
    const drops0 = sumOf(dp.drops());
    const slow0 = sumOf(dp.events(), SLOW_EVENTS);
    const r = { xdpTx: [] as number[], raw: [] as number[], undo: [] as number[], net: [] as number[], ratio: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) { // paired: all four figures of a round side by side
      inAnchor(() => {
        const xdpTx = timeProgram(bench, 'bench_xdp_tx', baseFrame, ifindex, XDP.TX);
        const raw = signal ? timeSignal(bench, dp, p, ifindex) : timeProgram(bench, p.reference ?? 'bench_anchor', p.frame, ifindex, p.verdict);
        const undo = timeProgram(bench, 'bench_undo', p.frame, ifindex, XDP.PASS) - timeProgram(bench, 'bench_pass', p.frame, ifindex, XDP.PASS);
        Object.entries({ xdpTx, raw, undo, net: raw - undo, ratio: (raw - undo) / xdpTx }).forEach(([k, v]) => r[k as keyof typeof r].push(v));
      });
      await tick();
    }
    // Nothing measured may have taken a cheaper way out: no drops, no next-hop learning, no hand-up.
    const drops = sumOf(dp.drops()) - drops0;
    const slow = sumOf(dp.events(), SLOW_EVENTS) - slow0;
    if (drops || slow) throw new Error(`test_run ${p.key}: ${drops} drops and ${slow} slow-path events while measuring`);
    const result = { path: p, xdpTx: median(r.xdpTx), raw: median(r.raw), undo: median(r.undo), net: median(r.net), ratio: median(r.ratio) };
    paths.push(result);
    log(`  ${p.key}: net ${result.net.toFixed(1)} ns, ${result.ratio.toFixed(2)}× XDP_TX (${result.xdpTx} ns beside it)`);
  }
  await baselines();

  const harness = median(base.pass);
  return { xdpTx: median(base.xdpTx), redirect: median(base.redirect), harness, paths, repeat: REPEAT, rounds: ROUNDS };
}
