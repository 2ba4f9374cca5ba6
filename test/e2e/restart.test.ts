/**
 * A restarted control plane finds the live data plane: the pinned maps and
 * links keep forwarding while no process holds them, and the new process
 * rebuilds its binding table from the maps and swaps in its programs
 * without losing a packet.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Btf } from '../../control/dataplane/btf.js';
import { DataPlane, PIN_ROOT, defaultObject } from '../../control/dataplane/dataplane.js';
import { Lab } from '../../control/lab/netns.js';
import { addr, buildTunnelLab, type TunnelLab } from '../../control/lab/tunnel-lab.js';

let t: TunnelLab;
beforeAll(() => {
  t = buildTunnelLab('rst');
  t.useFormat(t.mn, 'udp4');
});
afterAll(() => t?.destroy());

/** The program a pinned link runs now. */
const linkProgram = (dp: DataPlane, link: string): number =>
  (JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'pinned', join(dp.pinDir, 'links', link)], { encoding: 'utf8' })) as { prog_id: number }).prog_id;

it('traffic flows without loss while the control plane is down and after it comes back', async () => {
  const before = t.anchor.binding(t.mn.bindingId);
  const oldProgram = linkProgram(t.anchor, 'a-cn@xdp');
  const count = 400;
  const flood = spawn('ip', ['netns', 'exec', t.ns.cn, 'ping', '-n', '-q', '-i', '0.005', '-c', String(count), addr.mnHome.v6], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  flood.stdout.on('data', (d) => (out += d));
  const done = new Promise((r) => flood.on('exit', r));

  await new Promise((r) => setTimeout(r, 300));
  t.anchor.close(); // the process's handles are gone: only the pins remain
  await new Promise((r) => setTimeout(r, 500));
  const again = DataPlane.open({ instance: t.anchor.options.instance, role: 'anchor', icmpSource4: addr.anchorCn.v4, icmpSource6: addr.anchorCn.v6 });
  try {
    expect(again.resumed).toBe(true);
    expect(again.bindingIds()).toEqual([t.mn.bindingId]);
    expect(again.binding(t.mn.bindingId)).toEqual({ ...before, prefixes: [], homeAddresses: [...before!.homeAddresses].sort() });
    expect(again.attachments()).toEqual(['a-cn@tc-ingress', 'a-cn@xdp', 'a-home@tc-egress', 'a-home@tc-ingress', 'a-home@xdp', 'a-mn@tc-ingress', 'a-mn@xdp', 'a-nat@tc-ingress', 'a-nat@xdp']);
    await done;
    expect(out).toMatch(new RegExp(`${count} packets transmitted, ${count} received, 0% packet loss`));
    expect(again.bindingCounters(t.mn.bindingId).encapPackets).toBeGreaterThanOrEqual(BigInt(count));
    // the links now run the programs the new process loaded
    expect(linkProgram(again, 'a-cn@xdp')).not.toBe(oldProgram);
  } finally {
    again.close();
  }
});

it('a pinned cache of another shape (an older build\'s) is replaced, and traffic goes on through the new one', async () => {
  const instance = t.anchor.options.instance;
  const pinDir = t.anchor.pinDir;
  t.anchor.close();
  const cache = join(pinDir, 'binding_cache');
  rmSync(cache); // the running programs keep theirs
  execFileSync('bpftool', ['map', 'create', cache, 'type', 'percpu_array', 'key', '4', 'value', '8', 'entries', '16', 'name', 'binding_cache']);
  const again = DataPlane.open({ instance, role: 'anchor', icmpSource4: addr.anchorCn.v4, icmpSource6: addr.anchorCn.v6 });
  try {
    expect(again.resumed).toBe(true);
    const shape = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', cache], { encoding: 'utf8' })) as { bytes_value: number; max_entries: number };
    expect(shape).toMatchObject({ bytes_value: new Btf(defaultObject).struct('binding_cache_entry').size, max_entries: 4096 });
    const ping = execFileSync('ip', ['netns', 'exec', t.ns.cn, 'ping', '-n', '-q', '-c', '20', '-i', '0.01', '-w', '5', addr.mnHome.v6], { encoding: 'utf8' });
    expect(ping).toMatch(/20 packets transmitted, 20 received, 0% packet loss/);
  } finally {
    again.close();
  }
});

it('drops, and says so, the pinned links of an interface deleted while it was down (their pins removed), and opens', () => {
  const instance = 'test-restart-gone';
  rmSync(join(PIN_ROOT, instance), { recursive: true, force: true });
  const lab = new Lab('rstgone');
  let dp = DataPlane.open({ instance, role: 'anchor' });
  try {
    const ns = lab.ns('a');
    lab.link(ns, 'g0', lab.ns('b'), 'g1');
    lab.within(ns, () => dp.attach('g0'));
    expect(dp.attachments()).toEqual(['g0@tc-ingress', 'g0@xdp']);
    dp.close(); // its pins stay
    lab.exec(ns, 'ip link del g0'); // (at once: a namespace is torn down later, by the kernel's own worker)
    dp = DataPlane.open({ instance, role: 'anchor' }); // bpf_link_update() on those links: ENOLINK
    expect([...dp.droppedLinks].sort()).toEqual(['g0@tc-ingress', 'g0@xdp']);
    expect(dp.attachments()).toEqual([]);
    expect(readdirSync(join(dp.pinDir, 'links'))).toEqual([]);
  } finally {
    dp.destroy();
    lab.destroy();
  }
});
