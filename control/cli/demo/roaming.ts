/**
 * The demo's first part: our home agent and our mobile node in the roaming
 * lab. The node moves through every kind of network while the
 * correspondent holds a TCP session open to each home address; each move
 * prints what the node and the home agent did, the binding cache, the
 * traffic and the counters, and the signalling is summarised by tshark
 * from the home agent's capture file at the end.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createMetrics } from '../../api/metrics.js';
import { startApi } from '../../api/server.js';
import { packageRoot } from '../../dataplane/dataplane.js';
import { HomeAgentDaemon } from '../../ha/daemon.js';
import { buildRoamingLab, networks, roamingAddr as a, type NetworkName, type RoamingLab } from '../../lab/roaming-lab.js';
import { openTcpSession, ping, type TcpSession } from '../../lab/traffic.js';
import { MobileNodeDaemon } from '../../mn/daemon.js';
import type { Placement } from '../../mn/mobile-node.js';
import { bindingCacheTable, nonZero } from './show.js';

const TOUR: { network: NetworkName; settles: Placement['kind'] }[] = [
  { network: 'v6', settles: 'away6' },
  { network: 'v4', settles: 'away4' },
  { network: 'nat', settles: 'away4' },
  { network: 'home4', settles: 'home4' },
  { network: 'home6', settles: 'home6' },
  { network: 'home', settles: 'home' },
  { network: 'v6', settles: 'away6' },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settled(mn: MobileNodeDaemon, kind: Placement['kind']): Promise<boolean> {
  for (const end = Date.now() + 5000; Date.now() < end; await sleep(20)) {
    if (mn.node.where.kind === kind && !mn.node.awaitingAck && (kind === 'home') === (mn.node.registration === null)) return true;
  }
  return false;
}

async function visit(t: RoamingLab, ha: HomeAgentDaemon, mn: MobileNodeDaemon, said: string[], step: (typeof TOUR)[number], first: boolean): Promise<boolean> {
  console.log(`\n▶ ${first ? 'starts on' : 'moves to'} the ${networks[step.network].label} (${networks[step.network].ifname})`);
  said.length = 0;
  t.moveTo(step.network);
  if (first) mn.start();
  else mn.moved();
  const ok = await settled(mn, step.settles);
  for (const line of said) console.log(`  ${line}`);
  console.log('  binding cache:');
  console.log(bindingCacheTable(ha.homeAgent.bindings(), Date.now()));
  let good = ok;
  for (const home of [a.mnHome.v6, a.mnHome.v4]) {
    const p = await ping(t.ns.cn, home);
    good &&= p.received === p.sent;
    console.log(`  ${p.received === p.sent ? '✔' : '✘'} correspondent → ${home.padEnd(16)} ping ${p.received}/${p.sent}`);
  }
  for (const id of t.anchor.bindingIds()) {
    const c = t.anchor.bindingCounters(id);
    console.log(`  anchor binding ${id}: to the node ${c.encapPackets} packets / ${c.encapBytes} bytes, from it ${c.decapPackets} / ${c.decapBytes}`);
  }
  return good;
}

/** What an operator sees meanwhile: dsmipctl over the home agent's REST API, and a few of its metrics. */
async function operatorsView(ha: HomeAgentDaemon, t: RoamingLab): Promise<void> {
  const api = await startApi(ha, t.anchor, createMetrics(ha, t.anchor), { host: '127.0.0.1', port: 0 });
  try {
    const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    const ctl = (...args: string[]) => new Promise<string>((resolve) => execFile(process.execPath, [join(packageRoot, 'dist/control/cli/dsmipctl.js'), '--url', url, ...args],
      { encoding: 'utf8' }, (_err, out, err) => resolve(`${out}${err}`.trimEnd())));
    console.log('\nThe operator\'s view (dsmipctl over the REST API):');
    for (const args of [['bindings'], ['stats']]) console.log(`  $ dsmipctl ${args.join(' ')}\n${(await ctl(...args)).split('\n').map((l) => `  ${l}`).join('\n')}`);
    const metrics = (await (await fetch(`${url}/metrics`)).text()).split('\n').filter((l) => /^dsmip_(bindings|binding_updates_total|tunnel_packets_total)/.test(l));
    console.log(`  $ curl ${url}/metrics   (some of it)\n${metrics.map((l) => `  ${l}`).join('\n')}`);
  } finally {
    await api.close();
  }
}

const TSHARK_FIELDS = ['frame.time_relative', 'ip.src', 'udp.srcport', 'ip.dst', 'udp.dstport', 'ipv6.src', 'ipv6.dst', 'mip6.mhtype',
  'mip6.bu.seqnr', 'mip6.bu.lifetime', 'mip6.ba.seqnr', 'mip6.ba.status', 'mip6.ba.lifetime'];
const MH_TYPES: Record<string, string> = { 0: 'BRR', 5: 'BU', 6: 'BA', 7: 'BE' };

/** One line per signalling packet: when, over what (IPv6, or UDP/IPv4 with the NAT's port), which message. */
function signallingSummary(capture: string): string {
  const out = execFileSync('tshark', ['-r', capture, '-d', 'udp.port==4191,ipv6', '-T', 'fields', '-E', 'separator=;', ...TSHARK_FIELDS.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trimEnd().split('\n').map((line) => {
    const [time = '', v4src, sport, v4dst, dport, v6src = '', v6dst = '', type = '', buSeq, buLife, baSeq, baStatus, baLife] = line.split(';');
    const outer = v4src ? `UDP ${v4src}:${sport} → ${v4dst}:${dport}, inside ` : '';
    const what = MH_TYPES[type] ?? `MH type ${type}`;
    const seconds = (units = '') => `${Number(units) * 4} s`; // the wire counts 4-second units
    const detail = what === 'BU' ? `seq ${buSeq}, lifetime ${seconds(buLife)}` : what === 'BA' ? `seq ${baSeq}, status ${baStatus}, lifetime ${seconds(baLife)}` : '';
    return `  ${Number(time).toFixed(3).padStart(7)} s  ${what.padEnd(3)} ${detail.padEnd(34)} ${outer}${v6src} → ${v6dst}`;
  }).join('\n');
}

/** The tour; true if every move registered and all traffic went through, sessions included. */
export async function roaming(): Promise<boolean> {
  console.log('Building the roaming lab: correspondent ─ anchor (home agent) ─ IPv6-only, IPv4, NAT and home networks ─ mobile node …');
  const t = buildRoamingLab('demo-roam');
  const dir = mkdtempSync(join(tmpdir(), 'demo-'));
  const capture = join(dir, 'signalling.pcap');
  const said: string[] = [];
  const ha = new HomeAgentDaemon(t.haConfig, t.anchor, { capture, log: (e) => said.push(`home agent:  ${e}`) });
  const mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn, log: (e) => said.push(`mobile node: ${e}`) });
  const sessions: TcpSession[] = [];
  let ok = true;
  try {
    t.lab.within(t.ns.anchor, () => ha.start());
    for (const [i, step] of TOUR.entries()) {
      ok = (await visit(t, ha, mn, said, step, i === 0)) && ok;
      if (i === 0) {
        sessions.push(await openTcpSession(t.ns.mn, a.mnHome.v6, t.ns.cn, 7001), await openTcpSession(t.ns.mn, a.mnHome.v4, t.ns.cn, 7002));
        console.log(`  correspondent opens a TCP session to each home address (a numbered line every 50 ms, echoed back)`);
      }
      await sleep(300);
    }
    console.log('\nThe TCP sessions, after every move:');
    for (const [home, s] of [[a.mnHome.v6, sessions[0]!], [a.mnHome.v4, sessions[1]!]] as const) {
      const r = await s.stop();
      ok &&= r.ok;
      console.log(`  ${r.ok ? '✔' : '✘'} ${home.padEnd(16)} one connection, ${r.echoed}/${r.sent} lines echoed in order, longest silence ${r.longestGapMs} ms${r.error ? ` (${r.error})` : ''}`);
    }
    sessions.length = 0;
    console.log(`\nAnchor data plane: events ${nonZero(t.anchor.events())}; drops ${nonZero(t.anchor.drops())}`);
    await operatorsView(ha, t);
    ha.stop(); // closes the capture file
    console.log(`\nThe signalling, as the home agent captured it, dissected by tshark:`);
    console.log(signallingSummary(capture));
  } finally {
    for (const s of sessions) await s.stop();
    mn.stop();
    ha.stop();
    t.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}
