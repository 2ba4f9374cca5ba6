/**
 * The printed table and bench/results.json: an array of
 * { name, value, unit, baseline? }, where baseline names the row measured
 * beside it in the same run (absent for baselines), so that runs on
 * different commits can be compared row by row and ratio by ratio.
 *
 * Baselines: test_run/xdp_tx (every test_run row refers to it), and per
 * family forward/ipvN/{gen-sink,kernel,redirect}; the anchor's forwarding
 * row refers to the redirect forwarder (the limit on the same XDP path),
 * and its ratio to the kernel's row of the same run is the other target.
 */
import { readFileSync } from 'node:fs';
import { cpus, hostname, release } from 'node:os';
import type { ForwardResult } from './forward.js';
import { SIGNAL_CHUNK, SIGNAL_REPEAT, type TestRunResults } from './testrun.js';

export interface ResultRow { name: string; value: number; unit: string; baseline?: string }

export const TARGET = { pathVsXdpTx: 2, anchorVsKernel: 2, anchorVsRedirect: 0.7 } as const;

export function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1]?.trim();
  const model = `${field('model name') ?? 'unknown CPU'} (family ${field('cpu family') ?? '?'}, model ${field('model') ?? '?'})`;
  return `${hostname()}: ${model}, ${cpus().length} cores, Linux ${release()}`;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const fmt = (ns: number) => (Number.isInteger(ns) ? String(ns) : ns.toFixed(1));

export function rows(tr: TestRunResults, fw: ForwardResult[]): ResultRow[] {
  const ns = 'ns/packet';
  const out: ResultRow[] = [
    { name: 'test_run/xdp_tx', value: tr.xdpTx, unit: ns },
    { name: 'test_run/redirect', value: tr.redirect, unit: ns, baseline: 'test_run/xdp_tx' },
    { name: 'test_run/empty', value: tr.harness, unit: ns, baseline: 'test_run/xdp_tx' },
  ];
  for (const r of tr.paths) {
    out.push({ name: `test_run/${r.path.key}`, value: round(r.net, 1), unit: ns, baseline: 'test_run/xdp_tx' });
    out.push({ name: `test_run/${r.path.key}/raw`, value: round(r.raw, 1), unit: ns, baseline: 'test_run/xdp_tx' });
    out.push({ name: `test_run/${r.path.key}/undo`, value: round(r.undo, 1), unit: ns, baseline: 'test_run/xdp_tx' });
    out.push({ name: `test_run/${r.path.key}/xdp_tx`, value: round(r.xdpTx, 1), unit: ns });
    out.push({ name: `test_run/${r.path.key}/vs-xdp_tx`, value: round(r.ratio, 3), unit: '×', baseline: `test_run/${r.path.key}/xdp_tx` });
  }
  for (const f of fw) {
    const base = `forward/ipv${f.family}`;
    out.push({ name: `${base}/gen-sink`, value: round(f.rates.none.mpps, 3), unit: 'Mpps' });
    out.push({ name: `${base}/redirect`, value: round(f.rates.redirect.mpps, 3), unit: 'Mpps' });
    out.push({ name: `${base}/kernel`, value: round(f.rates.kernel.mpps, 3), unit: 'Mpps' });
    out.push({ name: `${base}/anchor-${f.format}`, value: round(f.rates.anchor.mpps, 3), unit: 'Mpps', baseline: `${base}/redirect` });
  }
  return out;
}

const mark = (ok: boolean) => (ok ? 'yes' : 'NO');

function table(header: string[], body: string[][], align: ('l' | 'r')[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Kernel mitigations that make every call and return dearer (helpers, map lookups), as the kernel reports them. */
function mitigations(): string {
  const read = (v: string) => { try { return readFileSync(`/sys/devices/system/cpu/vulnerabilities/${v}`, 'utf8').trim(); } catch { return '?'; } };
  return `spectre_v2: ${read('spectre_v2').split(';')[0]}; spec_rstack_overflow: ${read('spec_rstack_overflow')}`;
}

export interface Target { what: string; met: boolean; detail: string }

export function report(tr: TestRunResults, fw: ForwardResult[]): { text: string; targets: Target[] } {
  const lines: string[] = [];
  lines.push(`Mobility anchor benchmark on ${machine()}`, `(${mitigations()})`, '');
  lines.push(`1. ns per packet by BPF_PROG_TEST_RUN (repeat ${tr.repeat.toLocaleString('en')}, median of ${tr.rounds} rounds, the kernel's integer ns),`);
  lines.push('   64-byte frames in (tunnel packets: 64-byte inner frame plus the tunnel headers), next hop cached in the binding');
  const ratio = (x: number) => `${(x / tr.xdpTx).toFixed(2)}×`;
  const body: string[][] = [
    ['minimal XDP_TX, MAC swap (baseline)', '', '', fmt(tr.xdpTx), '', '1.00×', ''],
    ['XDP redirect forwarder (reference)', '', '', fmt(tr.redirect), '', ratio(tr.redirect), ''],
    ['empty program: the harness alone', '', '', fmt(tr.harness), '', ratio(tr.harness), ''],
  ];
  const byKind = new Map<string, number[]>(); // encap, decap, pass, signal -> their ratios to XDP_TX
  const paths = tr.paths.filter((r) => !r.path.reference);
  for (const r of tr.paths) {
    const kind = r.path.key.split('/')[0]!;
    if (!r.path.reference) byKind.set(kind, [...(byKind.get(kind) ?? []), r.ratio]);
    body.push([r.path.label, fmt(r.raw), fmt(r.undo), fmt(r.net), fmt(r.xdpTx), `${r.ratio.toFixed(2)}×`, r.path.reference ? '' : mark(r.ratio <= TARGET.pathVsXdpTx)]);
  }
  const over = paths.filter((r) => r.ratio > TARGET.pathVsXdpTx).length;
  const spans = [...byKind].map(([kind, xs]) => `${kind} ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`.replace(/ (\S+)–\1×/, ' $1×'));
  const targets: Target[] = [{
    what: `every path ≤ ${TARGET.pathVsXdpTx}× the minimal XDP_TX measured beside it`,
    met: over === 0, detail: `${paths.length - over} of ${paths.length} paths within: ${spans.join(', ')}`,
  }];
  lines.push(table(['path', 'raw', 'undo', 'net', 'XDP_TX', 'net/XDP_TX', `≤${TARGET.pathVsXdpTx}×`], body, ['l', 'r', 'r', 'r', 'r', 'r', 'l']));
  lines.push(
    '   A repeated test run re-runs the program on its own output, so the anchor runs wrapped (bench_anchor, bpf/bench.c):',
    '   after the anchor\'s code, one bpf_xdp_adjust_head moves the start back by the bytes the frame grew (encap) or',
    '   shrank (decap) and direct stores write the whole input frame again (MACs, inner TTL and checksum, outer headers).',
    '   raw = the wrapper. undo = bench_undo (the same undo alone, same frame) − the empty program. net = raw − undo: what',
    '   the test run would report for the anchor alone, harness included as in the baseline. Each round runs XDP_TX, the',
    '   wrapper, the undo and the empty program back to back; net/XDP_TX is the median of the rounds\' ratios (this',
    '   machine\'s speed drifts between seconds), XDP_TX the median of that path\'s baselines. Signalling: the mean of',
    `   ${SIGNAL_REPEAT / SIGNAL_CHUNK} runs of ${SIGNAL_CHUNK}, the ring buffer drained between runs.`,
    '',
  );

  lines.push('2. Forwarding between namespaces, Mpps delivered at the sink (gen → anchor → sink over veth, one CPU doing all of it),');
  lines.push('   64-byte UDP frames from a LIVE_FRAMES generator; the same frames and topology for every forwarder');
  const fbody: string[][] = [];
  const perPacket = (mpps: number, none: number) => `${Math.round(1e3 / mpps - 1e3 / none)} ns`;
  const vs = { kernel: [] as string[], redirect: [] as string[] };
  let fwdMet = { kernel: true, redirect: true };
  for (const f of fw) {
    const { none, kernel, redirect, anchor } = f.rates;
    const vsKernel = anchor.mpps / kernel.mpps;
    const vsRedirect = anchor.mpps / redirect.mpps;
    fwdMet = { kernel: fwdMet.kernel && vsKernel >= TARGET.anchorVsKernel, redirect: fwdMet.redirect && vsRedirect >= TARGET.anchorVsRedirect };
    vs.kernel.push(`IPv${f.family} ${vsKernel.toFixed(2)}×`);
    vs.redirect.push(`IPv${f.family} ${vsRedirect.toFixed(2)}×`);
    fbody.push([`IPv${f.family} UDP`, none.mpps.toFixed(2),
      `${kernel.mpps.toFixed(2)} (${perPacket(kernel.mpps, none.mpps)})`,
      `${redirect.mpps.toFixed(2)} (${perPacket(redirect.mpps, none.mpps)})`,
      `${anchor.mpps.toFixed(2)} (${perPacket(anchor.mpps, none.mpps)}) ${f.format}`,
      `${vsKernel.toFixed(2)}× ${mark(vsKernel >= TARGET.anchorVsKernel)}`, `${vsRedirect.toFixed(2)}× ${mark(vsRedirect >= TARGET.anchorVsRedirect)}`]);
  }
  lines.push(table(['traffic', 'no forwarder', 'kernel', 'XDP redirect', 'anchor, tunnel', `anchor/kernel ≥${TARGET.anchorVsKernel}×`, `anchor/redirect ≥${TARGET.anchorVsRedirect}×`],
    fbody, ['l', 'r', 'r', 'r', 'r', 'r', 'r']));
  lines.push(
    '   kernel: no XDP program on the anchor\'s ingress, IP forwarding by the stack. XDP redirect: MACs from a map and',
    '   bpf_redirect, no lookup and no encapsulation (the limit). anchor: its XDP program, encapsulating into the binding\'s',
    '   tunnel, next hop cached in the binding. no forwarder: the sink\'s program on the anchor\'s ingress (generator and',
    '   sink alone). The sink counts and drops in XDP; every batch of 64 is forwarded and dropped in the softirq that',
    '   follows it on the generator\'s CPU, so nothing is lost on the way. In brackets: the forwarder\'s share per packet,',
    '   1/rate − 1/rate(no forwarder), the veth hop to the sink included.',
    '',
  );
  targets.push(
    { what: `anchor's XDP forwarding ≥ ${TARGET.anchorVsKernel}× the kernel's`, met: fwdMet.kernel, detail: vs.kernel.join(', ') },
    { what: `anchor's XDP forwarding ≥ ${TARGET.anchorVsRedirect}× the pure redirect forwarder`, met: fwdMet.redirect, detail: vs.redirect.join(', ') },
  );
  lines.push('Targets:', ...targets.map((t) => `  ${t.met ? 'met   ' : 'MISSED'}  ${t.what}: ${t.detail}`));
  return { text: lines.join('\n'), targets };
}
