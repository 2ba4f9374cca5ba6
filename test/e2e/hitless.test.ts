/**
 * Hitless restart: dsmipd (a process, with a journal) is SIGKILLed while a
 * correspondent pings a roaming node's home address every 10 ms; the pinned
 * data plane forwards on with no loss while no daemon runs, the restarted
 * daemon rebuilds its binding cache from the journal and the maps, and the
 * node's next BU is accepted in sequence. SIGTERM then drains cleanly.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildRoamingLab, roamingAddr as a, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { ping } from '../../control/lab/traffic.js';
import { MobileNodeDaemon } from '../../control/mn/daemon.js';

let t: RoamingLab;
let mn: MobileNodeDaemon;
let dir: string;
const running: ChildProcess[] = [];
const said: string[] = [];

beforeAll(() => {
  t = buildRoamingLab('hls');
  dir = mkdtempSync(join(tmpdir(), 'hitless-'));
  mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn, log: (e) => said.push(`mn: ${e}`) });
});
afterAll(() => {
  for (const p of running) p.kill('SIGKILL');
  mn?.stop();
  t?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** dsmipd in the anchor's namespace on the lab's data plane; resolves once it serves, with its log lines. */
async function dsmipd(config: string, journal: string): Promise<{ proc: ChildProcess; lines: string[]; exited: Promise<number | null> }> {
  const proc = spawn('nsenter', [`--net=/run/netns/${t.ns.anchor}`, process.execPath, '--import', 'tsx', 'control/cli/dsmipd.ts',
    '--config', config, '--instance', t.anchor.options.instance, '--journal', journal], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.push(proc);
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines.push(l);
      if (l.includes('"msg":"serving"')) resolve();
    });
    void exited.then((code) => reject(new Error(`dsmipd exited (${code}): ${lines.join('\n')}`)));
  });
  return { proc, lines, exited };
}

async function registered(sequence?: number): Promise<void> {
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    if (mn.node.registration && !mn.node.awaitingAck) return;
  }
  throw new Error(`not registered${sequence ?? ''}:\n${said.join('\n')}`);
}

it('forwards with zero loss through a SIGKILL, then resumes its binding cache and answers the next BU', async () => {
  const config = join(dir, 'ha.json');
  const journal = join(dir, 'bindings.journal');
  const c = t.haConfig;
  writeFileSync(config, JSON.stringify({ ...c, mobileNodes: c.mobileNodes.map((m) => ({ ...m, key: m.key.toString('hex'), ipv4HomeAddress: (m.ipv4HomeAddress as { static: string }).static })) }));

  const first = await dsmipd(config, journal);
  t.moveTo('v6');
  mn.start();
  await registered();
  expect(readFileSync(journal, 'utf8')).toContain('"nai":"mn@example.net"');

  const farSide = () => t.mobile.bindingCounters(1).decapPackets; // what reached the node through the tunnel
  const arrivedBefore = farSide();
  const stream = ping(t.ns.cn, a.mnHome.v6, 400, 0.01); // 4 s, one every 10 ms
  await new Promise((r) => setTimeout(r, 800));
  first.proc.kill('SIGKILL');
  expect(await first.exited).toBe(null); // killed, not exited
  await new Promise((r) => setTimeout(r, 800)); // no daemon at all
  const second = await dsmipd(config, journal);
  expect(JSON.parse(second.lines.find((l) => l.includes('"msg":"serving"'))!)).toMatchObject({ resumed: true, bindings: 1, cached: 1 });
  expect(second.lines.some((l) => l.includes('journal: 1 bindings and 0 deprecated entries restored'))).toBe(true);
  expect(await stream).toEqual({ sent: 400, received: 400 });
  expect(farSide() - arrivedBefore).toBe(400n); // every echo request reached the node, counted by its data plane

  const before = mn.node.registration!.expiresMs;
  said.length = 0;
  mn.moved(); // the node's next BU, one sequence number on
  await registered();
  expect(said.some((l) => /^mn: registered/.test(l))).toBe(true);
  expect(mn.node.registration!.expiresMs).toBeGreaterThan(before);
  // (the daemon's log is asynchronous: its line may follow the BA)
  for (const end = Date.now() + 3000; !second.lines.some((l) => l.includes('registered mn@example.net at 2001:db8:f::2')) && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(second.lines.some((l) => l.includes('registered mn@example.net at 2001:db8:f::2'))).toBe(true);

  // the operator's view, over the restarted daemon's REST API (127.0.0.1:9180 in its namespace)
  const listed = await new Promise<string>((resolve) => execFile('ip', ['netns', 'exec', t.ns.anchor, process.execPath, '--import', 'tsx', 'control/cli/dsmipctl.ts', '--json', 'bindings'],
    { encoding: 'utf8' }, (_err, out) => resolve(out)));
  expect(JSON.parse(listed)).toEqual([expect.objectContaining({ nai: 'mn@example.net', careOf: '2001:db8:f::2', tunnel: expect.objectContaining({ format: 'ip6' }) })]);

  second.proc.kill('SIGTERM');
  expect(await second.exited).toBe(0);
  expect(second.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  expect(existsSync(journal)).toBe(true);
  expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 }); // and it still forwards
});
