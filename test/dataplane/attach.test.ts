/**
 * Attaching and detaching: XDP native on a veth, generic when asked (the
 * fallback for drivers without native XDP), TC through TCX, all through
 * pinned links; detach and destroy leave the interface as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataPlane } from '../../control/dataplane/dataplane.js';
import { Lab, sh } from '../../control/lab/netns.js';

const lab = new Lab('att');
let ns: string;
beforeAll(() => {
  ns = lab.ns('a');
  lab.link(ns, 'x0', ns, 'x1');
});
afterAll(() => lab.destroy());

/** What `ip -d link` says is attached to ifname. */
const xdpMode = (ifname: string): string => /\b(xdpgeneric|xdpdrv|xdpoffload|xdp)\b/.exec(lab.exec(ns, `ip -d link show ${ifname}`))?.[1] ?? 'none';
/** The program a pinned link runs, and the link's id (bpftool 7.1 shows TCX links only by id). */
function pinnedLink(dp: DataPlane, name: string): { id: number; program: string } {
  const link = JSON.parse(sh('bpftool', ['-j', 'link', 'show', 'pinned', join(dp.pinDir, 'links', name)])) as { id: number; prog_id: number };
  const prog = JSON.parse(sh('bpftool', ['-j', 'prog', 'show', 'id', String(link.prog_id)])) as { name: string };
  return { id: link.id, program: prog.name };
}
const linkExists = (id: number): boolean => { try { sh('bpftool', ['link', 'show', 'id', String(id)]); return true; } catch { return false; } };

describe('attach', () => {
  it.each([['native', 'xdp'], ['generic', 'xdpgeneric']] as const)('XDP %s, TC ingress and egress, then a clean detach', (mode, shown) => {
    const dp = DataPlane.open({ instance: `test-attach-${mode}`, role: 'anchor' });
    try {
      expect(lab.within(ns, () => dp.attach('x0', mode))).toBe(mode);
      lab.within(ns, () => dp.attachTcEgress('x0'));
      expect(xdpMode('x0')).toBe(shown);
      expect(readdirSync(join(dp.pinDir, 'links')).sort()).toEqual(['x0@tc-egress', 'x0@tc-ingress', 'x0@xdp']);
      const links = ['x0@xdp', 'x0@tc-ingress', 'x0@tc-egress'].map((name) => pinnedLink(dp, name));
      expect(links.map((l) => l.program)).toEqual(['anchor_xdp', 'anchor_tc_ingress', 'anchor_tc_egress']);
      expect(lab.within(ns, () => dp.attach('x0'))).toBe('existing');

      dp.detach('x0');
      expect(xdpMode('x0')).toBe('none');
      expect(links.map((l) => linkExists(l.id))).toEqual([false, false, false]);
      expect(readdirSync(join(dp.pinDir, 'links'))).toEqual([]);
    } finally {
      dp.destroy();
    }
  });

  it('destroy removes the programs and every pin', () => {
    const dp = DataPlane.open({ instance: 'test-attach-destroy', role: 'anchor' });
    lab.within(ns, () => dp.attach('x1'));
    const link = pinnedLink(dp, 'x1@tc-ingress');
    dp.destroy();
    expect(xdpMode('x1')).toBe('none');
    expect(linkExists(link.id)).toBe(false);
    expect(() => readdirSync(dp.pinDir)).toThrow(/ENOENT/);
  });
});
