/**
 * The mobile node's timers for real, in the roaming lab with short ones:
 * behind the NAT it re-registers at the home agent's NAT refresh time (2 s)
 * and keeps the NAT's mapping alive; on IPv6 it refreshes at 80% of a 4 s
 * lifetime, so its binding never lapses and traffic keeps flowing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roamingAddr as a } from '../../control/lab/roaming-lab.js';
import { ping } from '../../control/lab/traffic.js';
import { roamingPair, type RoamingPair } from '../helpers/roaming-pair.js';

let pair: RoamingPair;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  pair = roamingPair('rfr', { natRefreshTime: 2, maxLifetime: 4 });
});
afterAll(() => pair?.destroy());

async function registered(): Promise<number> {
  const { ha, mn, said } = pair;
  for (const end = Date.now() + 5000; Date.now() < end; await sleep(20)) {
    const b = ha.homeAgent.binding('mn@example.net');
    if (b && !mn.node.awaitingAck && mn.node.registration) return b.sequence;
  }
  throw new Error(said.join('\n'));
}

describe('refresh timers', () => {
  it('behind the NAT: a new BU every NAT refresh time (2 s), well before the 4 s lifetime', async () => {
    const { t, ha, mn, said } = pair;
    t.moveTo('nat');
    mn.start();
    const first = await registered();
    expect(mn.node.registration).toMatchObject({ natDetected: true, lifetime: 4 });
    const refreshedTwice = () => ((ha.homeAgent.binding('mn@example.net')?.sequence ?? first) - first & 0xffff) >= 2;
    for (const end = Date.now() + 8000; !refreshedTwice() && Date.now() < end;) await sleep(50);
    expect(refreshedTwice()).toBe(true); // at 2 s and 4 s
    expect(said.filter((l) => l === 'mn: refreshing the registration').length).toBeGreaterThanOrEqual(2);
    expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
  });

  it('on IPv6: refreshed at 80% of the lifetime, the binding never lapses', async () => {
    const { t, ha, mn, said } = pair;
    t.moveTo('v6');
    mn.moved();
    const first = await registered();
    said.length = 0;
    for (let i = 0; i < 10; i++) { // 5 s, over one lifetime: the tunnel is there every time we look
      await sleep(500);
      expect(t.anchor.lookupEntry(a.mnHome.v6)).toMatchObject({ remote: '2001:db8:f::2' });
    }
    expect(((ha.homeAgent.binding('mn@example.net')!.sequence - first) & 0xffff)).toBeGreaterThanOrEqual(1);
    expect(said).not.toContain('ha: binding of mn@example.net expired');
    expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
  });
});
