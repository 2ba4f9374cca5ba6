/** Drains of many frames (several of predictor_check()'s groups) and profile changes, the batch check against the general path. */
import { describe, expect, it } from 'vitest';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { receivedBu } from '../../control/ha/daemon.js';
import { HomeAgent, type Outcome } from '../../control/ha/home-agent.js';
import { unwrapSignal } from '../../control/signalling/channel.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { encodeMobilityHeader, NO_BU_FLAGS } from '../../control/wire/mh/index.js';

const KEY = Buffer.alloc(20, 0x3c);
const HA = '2001:db8:f::1';
const ETH = Buffer.from('02000000000102000000000286dd', 'hex');
const T0 = 1_800_000_000_000;
const N = 40;
const nodes = Array.from({ length: N }, (_, i) => ({ nai: `n${i}@example.net`, spi: 1000 + i, home: `2001:db8:1::${(0x100 + i).toString(16)}` }));
const cfg = () => parseHomeAgentConfig({ homeLink: { interface: 'lo', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: HA }, policy: { maxLifetime: 1000, replayWindow: 60, duplicateAddressDetection: false },
  mobileNodes: nodes.map((n) => ({ nai: n.nai, key: KEY.toString('hex'), spi: n.spi, homeAddress: n.home })) });
function frame(n: typeof nodes[0], careOf: string, sequence: number, tsMs: number, lifetime = 600): Buffer {
  const mh = signMnHa(encodeMobilityHeader({ type: 'bindingUpdate', sequence, lifetime, flags: { ...NO_BU_FLAGS, a: true, h: true },
    options: [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: n.nai }, { type: 'replayProtection', timestamp: ntpTimestamp(tsMs) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: n.spi, authenticator: Buffer.alloc(12) }] }), { key: KEY, spi: n.spi, careOf, home: n.home });
  return Buffer.concat([ETH, encodeSignalling6({ src: careOf, dst: HA, homeAddressOption: n.home, mh })]);
}
const general = (ha: HomeAgent, f: Buffer, now: number) => { const p = unwrapSignal({ ifindex: 1, frame: f }); return p.signalling.mhChecksumOk ? ha.handleBindingUpdate(receivedBu(p, now)) : undefined; };
const seen = (o: Outcome | undefined) => o && { status: o.status, event: o.event, ba: (o.reply?.packet ?? o.reply?.mh)?.toString('hex') };
/** The daemon's way since 0bb7f52: the drain's predictions first, then each frame. */
function drainBatch(ha: HomeAgent, fs: Buffer[], now: number) {
  const pr = ha.predictBatch(fs);
  let count = 0;
  const out = fs.map((f, k) => { const o = pr[k] && ha.predictedUpdate(pr[k]!, now); if (o) count++; return o ?? general(ha, f, now); });
  return { out, count };
}
/** The old daemon's way (each frame predicted when its turn comes). */
function drainSequential(ha: HomeAgent, fs: Buffer[], now: number) {
  let count = 0;
  const out = fs.map((f) => { const b = ha.predictBatch([f])[0]; const o = b && ha.predictedUpdate(b, now); if (o) count++; return o ?? general(ha, f, now); });
  return { out, count };
}

describe('review: drains', () => {
  it('a drain of many nodes (> 32 frames: several groups), refreshes and moves, answers as the general path', () => {
    const a = new HomeAgent(cfg()), b = new HomeAgent(cfg()), g = new HomeAgent(cfg());
    let now = T0;
    const first = nodes.map((n, i) => frame(n, `2001:db8:e::${i + 1}`, 1, now));
    for (const ha of [a, b, g]) first.forEach((f) => expect(general(ha, f, now)?.status).toBe(0));
    for (let round = 2; round < 8; round++) {
      now += 1000;
      const fs = nodes.flatMap((n, i) => [frame(n, round % 2 ? `2001:db8:e::${i + 1}` : `2001:db8:e:${round}::${i + 1}`, round * 2, now - 5), frame(n, `2001:db8:e::${i + 1}`, round * 2 + 1, now - 4)]);
      const ra = drainBatch(a, fs, now), rb = drainSequential(b, fs, now);
      const rg = fs.map((f) => general(g, f, now));
      expect(ra.out.map(seen)).toEqual(rg.map(seen));
      expect(rb.out.map(seen)).toEqual(rg.map(seen));
      expect(ra.count).toBe(rb.count);
    }
  });
});

describe('review: profiles', () => {
  it('a deleted profile\'s binding id and SPI taken by a new profile; SPIs swapped between nodes', () => {
    const ha = new HomeAgent(cfg());
    const [a, b] = [nodes[0]!, nodes[1]!];
    let now = T0;
    expect(general(ha, frame(a, '2001:db8:e::1', 1, now), now)?.status).toBe(0);
    expect(general(ha, frame(b, '2001:db8:e::2', 1, now), now)?.status).toBe(0);
    now += 1000;
    expect(ha.predictBatch([frame(a, '2001:db8:e::1', 2, now)])[0]).toBeDefined();
    ha.deleteProfile(a.nai);
    const c = { nai: 'c@example.net', spi: a.spi, home: '2001:db8:1::999' };
    ha.setProfile({ ...ha.profile(b.nai)!, nai: c.nai, spi: c.spi, homeAddress: c.home, key: Buffer.alloc(20, 1) } as never);
    // a's BU (a's key, the SPI c has now) is no prediction's
    expect(ha.predictBatch([frame(a, '2001:db8:e::1', 3, now)])[0]).toBeUndefined();
    // swap SPIs of b and c in three saves
    ha.setProfile({ ...ha.profile(b.nai)!, spi: 7777 });
    ha.setProfile({ ...ha.profile(c.nai)!, spi: b.spi });
    ha.setProfile({ ...ha.profile(b.nai)!, spi: a.spi });
    const b2 = { ...b, spi: a.spi };
    expect(general(ha, frame(b2, '2001:db8:e::2', 5, now), now)?.status).toBe(0);
    now += 1000;
    const got = ha.predictBatch([frame(b2, '2001:db8:e::2', 6, now), frame(b, '2001:db8:e::2', 7, now)]);
    expect(got[0]).toBeDefined();
    expect(got[1]).toBeUndefined();
    expect(ha.predictedUpdate(got[0]!, now)?.status).toBe(0);
  });
});
