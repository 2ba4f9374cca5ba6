/**
 * A flood of Binding Updates (up to 50k/s from 500 spoofed sources, nearly
 * all invalid) at the home agent while a real mobile node moves: the
 * daemon stays responsive (its REST API answers), the node's BU is still
 * accepted, the per-source limit and the bounded tables keep memory flat,
 * and what was refused is counted where an operator looks (/metrics).
 */
import { execFile } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMetrics } from '../../control/api/metrics.js';
import { buildApi } from '../../control/api/server.js';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, roamingAddr as a, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { ping } from '../../control/lab/traffic.js';
import { MobileNodeDaemon } from '../../control/mn/daemon.js';

let t: RoamingLab;
let ha: HomeAgentDaemon;
let mn: MobileNodeDaemon;
let api: FastifyInstance;
const said: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** The heap after a full collection: live data only. */
const liveHeap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

beforeAll(async () => {
  t = buildRoamingLab('fld');
  ha = new HomeAgentDaemon(t.haConfig, t.anchor, { log: (e) => said.push(`ha: ${e}`) });
  t.lab.within(t.ns.anchor, () => ha.start());
  mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn, log: (e) => said.push(`mn: ${e}`) });
  api = await buildApi(ha, t.anchor, createMetrics(ha, t.anchor));
});
afterAll(async () => {
  await api?.close();
  mn?.stop();
  ha?.stop();
  t?.destroy();
});

function runFlood(seconds: number): Promise<{ sent: number; rate: number }> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', t.ns.cn, process.execPath, '--import', 'tsx', 'control/lab/flood.ts', '--dst', a.ha.v4, '--seconds', String(seconds), '--rate', '50000', '--sources', '500'],
      { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(JSON.parse(out.trim()) as { sent: number; rate: number })));
  });
}

async function registered(): Promise<void> {
  for (const end = Date.now() + 20_000; Date.now() < end; await sleep(50)) if (mn.node.registration && !mn.node.awaitingAck) return;
  throw new Error(`no registration under the flood:\n${said.slice(-20).join('\n')}`);
}

it('stays responsive under a flood, still accepts a valid BU, keeps memory bounded, counts what it refused', async () => {
  t.moveTo('v6');
  mn.start();
  await registered();
  const sequence = ha.homeAgent.binding('mn@example.net')!.sequence;
  const heapBefore = liveHeap();

  const flooding = runFlood(4);
  await sleep(500);
  mn.moved(); // the node re-registers in the middle of it
  let slowest = 0;
  let polls = 0;
  for (const end = Date.now() + 3000; Date.now() < end; await sleep(100)) {
    const t0 = performance.now();
    expect((await api.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await api.inject({ url: '/bindings?nai=mn@example.net' })).statusCode).toBe(200);
    slowest = Math.max(slowest, performance.now() - t0);
    polls++;
  }
  const sent = await flooding;
  await registered();

  expect(sent.sent).toBeGreaterThan(20_000); // the flood was one
  expect(polls).toBeGreaterThan(10); // the API was reached again and again...
  expect(slowest).toBeLessThan(1000); // ...and answered each time within a second
  expect(ha.homeAgent.binding('mn@example.net')!.sequence).not.toBe(sequence); // the node's new BU got through
  expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
  // the per-source limit held: no flooding source got more than its burst and rate through to the decoders
  const processed = [...ha.answered.values()].reduce((x, y) => x + y, 0);
  expect(ha.limiter.limited).toBeGreaterThan(0);
  expect(processed).toBeLessThanOrEqual(500 * (20 + 10 * 6) + 50);
  expect(ha.limiter.sources).toBeLessThanOrEqual(65536);
  expect(liveHeap() - heapBefore).toBeLessThan(64 << 20);

  const metrics = (await api.inject({ url: '/metrics' })).body;
  expect(Number(/^dsmip_signalling_rate_limited_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  expect(Number(/^dsmip_binding_updates_total\{result="rejected",status="146"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
}, 60_000);
