/**
 * Signalling leaves the data path at XDP: a Mobility Header packet to one of
 * our endpoints flagged 'mh' (directly, behind a Destination Options header
 * with a Home Address option, as IPv6 inside UDP 4191 over IPv4, or at a
 * mobile node tunnelled in IPv6 to its home address) is
 * copied whole into the `signals` ring buffer and dropped, and arrives
 * through DataPlane.onSignal byte for byte with the interface it came in
 * on. The same packet to an address that is not such an endpoint is not
 * ours: the kernel gets it untouched and nothing is queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalFrame } from '../../control/dataplane/signals.js';
import { ADDR, DSMIP_PORT, MAC, XDP_DROP, XDP_PASS, XDP_REDIRECT, anchorTunnel, buildDataPlaneLab, changed, hex, type DataPlaneLab } from '../helpers/dataplane-lab.js';
import { eth } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';

let t: DataPlaneLab;
let f: Record<keyof typeof EXPR, Buffer>;
const queue: SignalFrame[] = [];

const BU = 'MIP6MH_BU(seq=7, flags=0b1100000, mhtime=30)'; // A and H flags, 30 x 4 s
const hao = `IPv6ExtHdrDestOpt(options=[HAO(hoa='${ADDR.home1.v6}')])`;
const viaUdp = (dport: number, tlv = '') =>
  `${eth(MAC.gw, MAC.aMn)}/IP(src='${ADDR.nat.v4}', dst='${ADDR.anchor.v4}')/UDP(sport=40000, dport=${dport})/${tlv}IPv6(src='${ADDR.home1.v6}', dst='${ADDR.anchor.v6}')/${BU}`;

const EXPR = {
  hao: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}')/${hao}/${BU}`,
  udp: viaUdp(DSMIP_PORT),
  udpTlv: viaUdp(DSMIP_PORT, 'TLV(type=2, len=56)/'),
  plain: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.home1.v6}', dst='${ADDR.anchor.v6}')/${BU}`,
  mip4: `${eth(MAC.mn, MAC.aMn)}/IP(src='${ADDR.careOf.v4}', dst='${ADDR.anchor.v4}')/UDP(sport=434, dport=434)/Raw(bytes([1, 0, 0, 30]) + bytes(20))`,
  notEndpoint: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='2001:db8:f::77')/${hao}/${BU}`,
  noMhFlag: `${eth(MAC.cn, MAC.aCn)}/IPv6(src='${ADDR.cn.v6}', dst='${ADDR.anchorCn.v6}')/${BU}`,
  udpOtherPort: viaUdp(4500),
  // a record is as long as its frame needs: up to 256 bytes of frame (every BU), or up to 2048 (bpf/anchor.h)
  ...Object.fromEntries([256, 257, 1514].map((n) => [`mhOf${n}`, `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.home1.v6}', dst='${ADDR.anchor.v6}', nh=135)/Raw(bytes(i % 251 for i in range(${n - 54})))`])) as Record<'mhOf256' | 'mhOf257' | 'mhOf1514', string>,
  tooBig: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.home1.v6}', dst='${ADDR.anchor.v6}', nh=135)/Raw(bytes(2100))`,
  toHome: `${eth(MAC.cn, MAC.aCn)}/IPv6(src='${ADDR.cn.v6}', dst='${ADDR.home1.v6}')/UDP(sport=1000, dport=2000)`,
  // the home agent's Binding Refresh Request, to the home address through the tunnel (RFC 6275 §6.1: no type 2 routing header)
  brrTunnelled: `${eth(MAC.aMn, MAC.mn)}/IPv6(src='${ADDR.anchor.v6}', dst='${ADDR.careOf.v6}')/IPv6(src='${ADDR.anchor.v6}', dst='${ADDR.home1.v6}')/MIP6MH_BRR()`,
  dataTunnelled: `${eth(MAC.aMn, MAC.mn)}/IPv6(src='${ADDR.anchor.v6}', dst='${ADDR.careOf.v6}')/IPv6(src='${ADDR.cn.v6}', dst='${ADDR.home1.v6}')/UDP(sport=1000, dport=2000)`,
  mhToAnchorTunnelled: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}')/IPv6(src='${ADDR.home1.v6}', dst='${ADDR.anchor.v6}')/${BU}`,
};

beforeAll(() => {
  t = buildDataPlaneLab('dpsig');
  t.anchor.addEndpoint(ADDR.anchorCn.v6, 0, ['decap']); // an endpoint, but not for signalling
  t.anchor.addEndpoint(ADDR.anchor.v4, 434, ['signal']); // everything to it is signalling (MIPv4)
  t.anchor.onSignal((frame) => queue.push(frame));
  f = scapy(EXPR);
});
afterAll(() => t?.destroy());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function nextSignal(ms = 3000): Promise<SignalFrame> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) {
    const s = queue.shift();
    if (s) return s;
  }
  throw new Error('no signalling frame arrived');
}

describe('signalling to an endpoint: queued whole, dropped from the data path', () => {
  it.each([
    { name: 'hao', what: 'a BU behind a Home Address option' },
    { name: 'udp', what: 'a BU in UDP 4191 over IPv4 (vanilla)' },
    { name: 'udpTlv', what: 'a BU in UDP 4191 over IPv4 after a TLV header' },
    { name: 'plain', what: 'a plain Mobility Header packet' },
    { name: 'mip4', what: 'anything to an endpoint flagged "signal" (MIPv4, UDP 434)' },
    { name: 'mhOf256', what: 'a 256-byte frame (the largest in a small record)' },
    { name: 'mhOf257', what: 'a 257-byte frame (the smallest in a large record)' },
    { name: 'mhOf1514', what: 'a 1514-byte frame' },
  ] as const)('$what', async ({ name }) => {
    const input = f[name]!;
    if (name.startsWith('mhOf')) expect(input.length).toBe(Number(name.slice(4)));
    const r = t.xdp(t.anchor, 'a-mn', input);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ events: { signal: 1 } }));
    const got = await nextSignal();
    expect(got.ifindex).toBe(t.ifindex(t.anchor, 'a-mn'));
    expect(hex(got.frame)).toBe(hex(input));
    expect(queue).toEqual([]);
  });

  it('a BU in UDP from a node whose binding is in the cache (the decapsulation hot path) is still signalling', async () => {
    t.anchor.install({ id: 1, tunnel: anchorTunnel('udp4'), homeAddresses: [ADDR.home1.v6], prefixes: [] });
    try {
      // traffic to the home address learns the tunnel's next hop, which lets the binding into the cache
      expect(t.xdp(t.anchor, 'a-cn', f.toHome).verdict).toBe(XDP_REDIRECT);
      expect(t.xdp(t.anchor, 'a-cn', f.toHome).verdict).toBe(XDP_REDIRECT);
      const r = t.xdp(t.anchor, 'a-mn', f.udp);
      expect(r.verdict).toBe(XDP_DROP);
      expect(r.delta).toEqual(changed({ events: { signal: 1 } }));
      expect(hex((await nextSignal()).frame)).toBe(hex(f.udp));
    } finally {
      t.anchor.remove(1);
    }
  });

  it('the ring buffer holds 10,000 BUs unread (a record as long as a BU needs), each delivered whole', async () => {
    const drops = t.anchor.drops().signal_queue_full;
    const events = t.anchor.events().signal;
    const r = t.anchor.testRun('xdp', f.hao, { ingressIfindex: t.ifindex(t.anchor, 'a-mn'), repeat: 10_000 }); // one run: nothing drains meanwhile
    expect(r.verdict).toBe(XDP_DROP);
    expect(t.anchor.drops().signal_queue_full - drops).toBe(0n);
    expect(t.anchor.events().signal - events).toBe(10_000n);
    for (let end = Date.now() + 5000; queue.length < 10_000 && Date.now() < end;) await sleep(10);
    expect(queue.length).toBe(10_000);
    expect(queue.every((s) => s.frame.equals(f.hao) && s.ifindex === t.ifindex(t.anchor, 'a-mn'))).toBe(true);
    queue.length = 0;
  });

  it('delivers records of every size in order however many wait (copied out natively, hundreds a call, into arenas of 1 MiB)', async () => {
    const ifindex = t.ifindex(t.anchor, 'a-mn');
    const drops = t.anchor.drops().signal_queue_full;
    const sent: Buffer[] = [];
    for (const batch of [[[f.mhOf1514, 700], [f.hao, 3000], [f.mhOf257, 500]], [[f.mhOf1514, 1200], [f.hao, 1000]]] as const) { // (each under the ring's 4 MiB)
      for (const [frame, repeat] of batch) {
        expect(t.anchor.testRun('xdp', frame, { ingressIfindex: ifindex, repeat }).verdict).toBe(XDP_DROP);
        for (let k = 0; k < repeat; k++) sent.push(frame);
      }
      for (let end = Date.now() + 5000; queue.length < sent.length && Date.now() < end;) await sleep(10);
    }
    expect(t.anchor.drops().signal_queue_full - drops).toBe(0n);
    expect(queue.length).toBe(sent.length);
    expect(queue.findIndex((s, k) => !s.frame.equals(sent[k]!) || s.ifindex !== ifindex)).toBe(-1);
    queue.length = 0;
  });

  it('a frame over SIGNAL_MAX_FRAME (2048) is dropped uncopied (signal_too_big)', async () => {
    const r = t.xdp(t.anchor, 'a-mn', f.tooBig);
    expect(f.tooBig.length).toBeGreaterThan(2048);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { signal_too_big: 1 } }));
    await sleep(300); // the reader polls every 100 ms
    expect(queue).toEqual([]);
  });
});

describe('a Mobility Header tunnelled to a mobile node\'s home address', () => {
  it('is signalling at the mobile node (its care-of endpoint flagged "mh"): queued whole, the inner packet not passed on; other tunnelled packets are not', async () => {
    const mine: SignalFrame[] = [];
    t.mobile.onSignal((frame) => mine.push(frame));
    const r = t.xdp(t.mobile, 'm0', f.brrTunnelled);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ events: { signal: 1 } }));
    for (const end = Date.now() + 3000; mine.length === 0 && Date.now() < end;) await sleep(10);
    expect(mine.map((x) => hex(x.frame))).toEqual([hex(f.brrTunnelled)]);
    expect(t.xdp(t.mobile, 'm0', f.dataTunnelled).delta.events?.signal).toBeUndefined(); // decapsulated as ever, no signal
  });

  it('is not signalling at the anchor (a node sends its BUs outside the tunnel)', async () => {
    const r = t.xdp(t.anchor, 'a-mn', f.mhToAnchorTunnelled);
    expect(r.delta.events?.signal).toBeUndefined();
    await sleep(300);
    expect(queue).toEqual([]);
  });
});

describe('not signalling for us: the kernel gets it untouched, nothing is queued', () => {
  it.each([
    { name: 'notEndpoint', what: 'a BU to an address that is not an endpoint', ifname: 'a-mn' },
    { name: 'noMhFlag', what: 'an MH to an endpoint without the "mh" flag', ifname: 'a-cn' },
    { name: 'udpOtherPort', what: 'a BU in UDP to a port that is not an endpoint', ifname: 'a-mn' },
  ] as const)('$what', async ({ name, ifname }) => {
    const input = f[name]!;
    if (name.startsWith('mhOf')) expect(input.length).toBe(Number(name.slice(4)));
    const r = t.xdp(t.anchor, ifname, input);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({}));
    await sleep(300);
    expect(queue).toEqual([]);
  });
});
