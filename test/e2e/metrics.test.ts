/**
 * What the data plane drops at XDP reaches an operator: malformed and
 * spoofed tunnel packets sent for real to the home agent are dropped, each
 * counted by its reason, and /metrics shows exactly those counts.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMetrics } from '../../control/api/metrics.js';
import { buildApi } from '../../control/api/server.js';
import { addrBytes } from '../../control/dataplane/layout.js';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, roamingAddr as a, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { RawIpSocket } from '../../control/sys/libc.js';
import { ipv4HeaderChecksum } from '../../control/wire/checksum.js';

let t: RoamingLab;
let ha: HomeAgentDaemon;
let api: FastifyInstance;

beforeAll(async () => {
  t = buildRoamingLab('mtr');
  ha = new HomeAgentDaemon(t.haConfig, t.anchor);
  t.lab.within(t.ns.anchor, () => ha.start());
  api = await buildApi(ha, t.anchor, createMetrics(ha, t.anchor));
});
afterAll(async () => {
  await api?.close();
  ha?.stop();
  t?.destroy();
});

/** An IPv4 packet from the correspondent to the home agent with this protocol and payload. */
function ipv4(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(0x4000, 6);
  h[8] = 64;
  h[9] = protocol;
  addrBytes(a.cn.v4).copy(h, 12);
  addrBytes(a.ha.v4).copy(h, 16);
  h.writeUInt16BE(ipv4HeaderChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

const udp = (payload: Buffer, length = 8 + payload.length) => {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(4191, 0);
  u.writeUInt16BE(4191, 2);
  u.writeUInt16BE(length, 4);
  return Buffer.concat([u, payload]);
};

const dropsIn = (metrics: string) => Object.fromEntries([...metrics.matchAll(/^dsmip_dataplane_drops_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));

it('malformed and spoofed tunnel packets are dropped at XDP and counted by reason in /metrics', async () => {
  const before = dropsIn((await api.inject({ url: '/metrics' })).body);
  const innerV6 = Buffer.alloc(40);
  innerV6[0] = 0x60;
  addrBytes('2001:db8:99::1').copy(innerV6, 8); // a source no binding holds
  addrBytes(a.cn.v6).copy(innerV6, 24);
  const sends: [string, Buffer, number][] = [
    ['malformed_tunnel', ipv4(17, udp(Buffer.from('00'.repeat(44), 'hex'))), 3], // UDP 4191 carrying neither IP nor a TLV header
    ['malformed_tunnel', ipv4(17, udp(Buffer.alloc(44), 20)), 2], // a UDP length that is not the packet's
    ['malformed_inner', ipv4(4, Buffer.from('4500', 'hex')), 4], // IP-in-IP whose inner header is cut short
    ['unknown_inner_source', ipv4(41, innerV6), 5], // IPv6-in-IPv4 from no binding's home address
  ];
  t.lab.within(t.ns.cn, () => {
    const s = new RawIpSocket(4);
    for (const [, packet, n] of sends) for (let i = 0; i < n; i++) s.send(packet, addrBytes(a.ha.v4));
    s.close();
  });
  const expected = { malformed_tunnel: 5, malformed_inner: 4, unknown_inner_source: 5 };
  let delta: Record<string, number> = {};
  for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) { // the first packets wait for ARP
    const after = dropsIn((await api.inject({ url: '/metrics' })).body);
    delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
    if (JSON.stringify(delta) === JSON.stringify(expected)) break;
  }
  expect(delta).toEqual(expected);
});
