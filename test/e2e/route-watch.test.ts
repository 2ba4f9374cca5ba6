/**
 * The learnt next hops follow the kernel: a binding's next hop, learnt from
 * the FIB by its first packet, is forgotten when a route changes (the home
 * agent daemon watches rtnetlink), then learnt again from the new route,
 * with traffic flowing throughout.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, roamingAddr as a, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { ping } from '../../control/lab/traffic.js';
import { MobileNodeDaemon } from '../../control/mn/daemon.js';

let t: RoamingLab;
let ha: HomeAgentDaemon;
let mn: MobileNodeDaemon;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  t = buildRoamingLab('rtw');
  ha = new HomeAgentDaemon(t.haConfig, t.anchor);
  t.lab.within(t.ns.anchor, () => ha.start());
  mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn });
  t.moveTo('v6');
  mn.start();
  for (const end = Date.now() + 5000; !(mn.node.registration && !mn.node.awaitingAck) && Date.now() < end;) await sleep(20);
});
afterAll(() => {
  mn?.stop();
  ha?.stop();
  t?.destroy();
});

/** Waits until no flush has come for a while: a link just brought up brings its own route events (fe80::/64 and the like). */
async function settled(): Promise<void> {
  let last = ha.routeWatch!.flushes;
  for (let quietSince = Date.now(); Date.now() - quietSince < 600; await sleep(50)) {
    if (ha.routeWatch!.flushes !== last) [last, quietSince] = [ha.routeWatch!.flushes, Date.now()];
  }
}

it('keeps a learnt next hop through a refresh, forgets it when a route changes, and learns it again', async () => {
  await settled();
  expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
  const learnt = t.anchor.lookupEntry(a.mnHome.v6)?.nexthop;
  expect(learnt).toMatchObject({ ifindex: expect.any(Number) });

  // a refresh changes nothing in the data plane: the learnt next hop stays
  const quiet = ha.routeWatch!.flushes;
  const sequence = ha.homeAgent.binding('mn@example.net')!.sequence;
  mn.moved();
  for (const end = Date.now() + 3000; ha.homeAgent.binding('mn@example.net')!.sequence === sequence && Date.now() < end;) await sleep(10);
  expect(ha.homeAgent.binding('mn@example.net')!.sequence).not.toBe(sequence);
  expect(ha.routeWatch!.flushes).toBe(quiet); // (nothing else happened meanwhile that would forget it)
  expect(t.anchor.lookupEntry(a.mnHome.v6)?.nexthop).toEqual(learnt);

  const flushes = ha.routeWatch!.flushes;
  t.lab.exec(t.ns.anchor, 'ip -6 route add 2001:db8:f::2/128 dev a-v6 metric 1');
  for (const end = Date.now() + 2000; ha.routeWatch!.flushes === flushes && Date.now() < end;) await sleep(10);
  expect(ha.routeWatch!.flushes).toBeGreaterThan(flushes);
  expect(t.anchor.lookupEntry(a.mnHome.v6)?.nexthop).toBeNull();

  expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
  expect(t.anchor.lookupEntry(a.mnHome.v6)?.nexthop).toEqual(learnt);
});
