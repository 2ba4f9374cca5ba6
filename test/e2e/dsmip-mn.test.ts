/**
 * dsmip-mn as a process: started in the mobile node's namespace of the
 * roaming lab, with our home agent serving in the anchor's, it registers,
 * carries traffic to both home addresses, re-registers from behind the NAT
 * when SIGHUP tells it it has moved, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, NAT_PORT, roamingAddr as a, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { ping } from '../../control/lab/traffic.js';

let t: RoamingLab;
let ha: HomeAgentDaemon;
let dir: string;

beforeAll(() => {
  t = buildRoamingLab('dmn');
  ha = new HomeAgentDaemon(t.haConfig, t.anchor);
  t.lab.within(t.ns.anchor, () => ha.start());
  dir = mkdtempSync(join(tmpdir(), 'dsmip-mn-'));
});
afterAll(() => {
  ha?.stop();
  t?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('registers, moves on SIGHUP, and stops on SIGTERM', async () => {
  const config = join(dir, 'mn.json');
  writeFileSync(config, JSON.stringify({ ...t.mnConfig, key: t.mnConfig.key.toString('hex') }));
  t.moveTo('v6');
  const node = spawn('nsenter', [`--net=/run/netns/${t.ns.mn}`, process.execPath, '--import', 'tsx', 'control/cli/dsmip-mn.ts',
    '--config', config, '--instance', t.mobile.options.instance], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  createInterface({ input: node.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.filter((x) => x.re.test(l))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const logged = (re: RegExp, ms = 5000) => new Promise<void>((resolve, reject) => {
    if (lines.some((l) => re.test(l))) return resolve();
    waiters.push({ re, resolve });
    setTimeout(() => reject(new Error(`never logged ${re}:\n${lines.join('\n')}`)), ms);
  });
  const exited = new Promise<number | null>((resolve) => node.on('exit', resolve));
  try {
    await logged(/"msg":"running"/, 20_000); // a cold start (tsx, the data plane, the host's set-up) takes what it takes
    await logged(/registered: away, IPv6 care-of address 2001:db8:f::2, ip6 tunnel/);
    expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });

    t.moveTo('nat');
    node.kill('SIGHUP');
    await logged(/registered: away, IPv4 care-of address 10\.0\.0\.2, udp4 tunnel, lifetime 600 s, behind a NAT/);
    expect(t.anchor.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'udp4', remote: a.natOutside, remotePort: NAT_PORT });
    expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
  } finally {
    node.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
});
