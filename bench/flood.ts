/**
 * The home agent under a signalling flood, in the roaming lab: up to 50k
 * BUs/s from 500 spoofed sources, nearly all invalid
 * (control/lab/flood.ts), while a real mobile node moves and the REST API
 * is polled every 50 ms. Printed: what the generator managed, where the
 * flood stopped (per-source limit, ring buffer full, answered), how long
 * the node's BU took to be accepted, the API's latency beside the same
 * polling without a flood (the baseline, same run), and heap growth.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { createMetrics } from '../control/api/metrics.js';
import { buildApi } from '../control/api/server.js';
import { packageRoot } from '../control/dataplane/dataplane.js';
import { HomeAgentDaemon } from '../control/ha/daemon.js';
import { buildRoamingLab, roamingAddr } from '../control/lab/roaming-lab.js';
import { MobileNodeDaemon } from '../control/mn/daemon.js';
import type { ResultRow } from './report.js';

const SECONDS = 3;
const RATE = 50_000;
const SOURCES = 500;

export interface FloodBench {
  offered: number;
  captured: number;
  ringFull: number;
  limited: number;
  answered: number;
  validBuMs: number;
  apiIdle: { p50: number; p99: number };
  apiFlood: { p50: number; p99: number };
  heapGrowthMb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A full collection first (node --expose-gc, as `make bench` runs), so heap figures are of live data only. */
const liveHeap = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};
const quantiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)] ?? 0, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0 };
};

export async function measureFlood(log: (s: string) => void): Promise<FloodBench> {
  const t = buildRoamingLab('mabench-fl');
  const ha = new HomeAgentDaemon(t.haConfig, t.anchor);
  const mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn });
  const api = await buildApi(ha, t.anchor, createMetrics(ha, t.anchor));
  try {
    t.lab.within(t.ns.anchor, () => ha.start());
    t.moveTo('v6');
    mn.start();
    await until(() => mn.node.registration !== null && !mn.node.awaitingAck, 5000, 'the node never registered');

    const poll = async (ms: number) => {
      const lat: number[] = [];
      for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
        const t0 = performance.now();
        await api.inject({ url: '/bindings' });
        lat.push(performance.now() - t0);
      }
      return quantiles(lat);
    };
    liveHeap(); // what earlier sections left is not the idle API's to pay for
    for (let i = 0; i < 20; i++) await api.inject({ url: '/bindings' }); // its serialiser compiled, its code warm
    const apiIdle = await poll(1000);
    const heapBefore = liveHeap();
    const events = t.anchor.events();
    const drops = t.anchor.drops();
    const answeredBefore = [...ha.answered.values()].reduce((a, b) => a + b, 0);
    const limitedBefore = ha.limiter.limited;

    log(`  flooding for ${SECONDS} s ...`);
    const generator = runGenerator(t.ns.cn, roamingAddr.ha.v4);
    await sleep(300);
    const moved = performance.now();
    mn.moved();
    const accepted = until(() => !mn.node.awaitingAck, 30_000, 'the node\'s BU was never answered').then(() => performance.now() - moved);
    const apiFlood = await poll((SECONDS - 0.5) * 1000);
    const offered = (await generator).sent;
    const validBuMs = await accepted;
    return {
      offered,
      captured: Number((t.anchor.events().signal ?? 0n) - (events.signal ?? 0n)),
      ringFull: Number((t.anchor.drops().signal_queue_full ?? 0n) - (drops.signal_queue_full ?? 0n)),
      limited: ha.limiter.limited - limitedBefore,
      answered: [...ha.answered.values()].reduce((a, b) => a + b, 0) - answeredBefore,
      validBuMs, apiIdle, apiFlood,
      heapGrowthMb: (liveHeap() - heapBefore) / (1 << 20),
    };
  } finally {
    await api.close();
    mn.stop();
    ha.stop();
    t.destroy();
  }
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (ok()) return;
  throw new Error(what);
}

function runGenerator(ns: string, dst: string): Promise<{ sent: number }> {
  const script = join(packageRoot, 'dist/control/lab/flood.js');
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, process.execPath, script, '--dst', dst, '--seconds', String(SECONDS), '--rate', String(RATE), '--sources', String(SOURCES)],
      { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(JSON.parse(out.trim()) as { sent: number })));
  });
}

export function floodRows(f: FloodBench): ResultRow[] {
  return [
    { name: 'flood/offered', value: Math.round(f.offered / SECONDS), unit: 'packets/s' },
    { name: 'flood/limited', value: Math.round(f.limited / SECONDS), unit: 'packets/s', baseline: 'flood/offered' },
    { name: 'flood/answered', value: Math.round(f.answered / SECONDS), unit: 'packets/s', baseline: 'flood/offered' },
    { name: 'flood/valid-bu', value: Math.round(f.validBuMs), unit: 'ms' },
    { name: 'flood/api-idle/p99', value: Number(f.apiIdle.p99.toFixed(2)), unit: 'ms' },
    { name: 'flood/api/p99', value: Number(f.apiFlood.p99.toFixed(2)), unit: 'ms', baseline: 'flood/api-idle/p99' },
    { name: 'flood/heap-growth', value: Number(f.heapGrowthMb.toFixed(1)), unit: 'MiB' },
  ];
}

export function floodTable(f: FloodBench): string {
  const rate = (n: number) => `${Math.round(n / SECONDS).toLocaleString('en')}/s`;
  return [
    `5. A signalling flood: ${RATE.toLocaleString('en')} BUs/s asked of the generator from ${SOURCES} spoofed sources (60% unknown NAI, 30% bad authenticator, 10% garbage), ${SECONDS} s, while a mobile node moves`,
    `   offered ${rate(f.offered)}; captured by the data plane ${rate(f.captured)}, ring buffer full ${rate(f.ringFull)}; stopped by the per-source limit ${rate(f.limited)}; answered ${rate(f.answered)}`,
    `   the node's BU accepted after ${Math.round(f.validBuMs)} ms (its retransmissions included)`,
    `   REST API: p50 ${f.apiFlood.p50.toFixed(2)} ms, p99 ${f.apiFlood.p99.toFixed(2)} ms under the flood; idle ${f.apiIdle.p50.toFixed(2)} / ${f.apiIdle.p99.toFixed(2)} ms (${(f.apiFlood.p99 / f.apiIdle.p99).toFixed(1)}× at p99)`,
    `   heap growth ${f.heapGrowthMb.toFixed(1)} MiB`,
  ].join('\n');
}
