/**
 * The UDP options negotiated for real, each with its own mobile node daemon
 * in the roaming lab: the TLV header asked for behind the NAT (udp4-tlv at
 * both ends), and UDP forced from a public IPv4 address where no NAT would
 * call for it (udp4 without a NAT Detection option). Traffic both ways.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, NAT_PORT, roamingAddr as a, type NetworkName, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { ping } from '../../control/lab/traffic.js';
import type { MobileNodeConfig } from '../../control/mn/config.js';
import { MobileNodeDaemon } from '../../control/mn/daemon.js';

let t: RoamingLab;
let ha: HomeAgentDaemon;
let mn: MobileNodeDaemon | undefined;
const said: string[] = [];

beforeEach(() => {
  t = buildRoamingLab('udpo');
  ha = new HomeAgentDaemon(t.haConfig, t.anchor, { log: (e) => said.push(`ha: ${e}`) });
  t.lab.within(t.ns.anchor, () => ha.start());
});
afterEach(() => {
  mn?.stop();
  ha?.stop();
  t?.destroy();
});

async function registerFrom(network: NetworkName, options: Partial<MobileNodeConfig>): Promise<void> {
  mn = new MobileNodeDaemon({ ...t.mnConfig, ...options }, t.mobile, { netns: t.ns.mn, log: (e) => said.push(`mn: ${e}`) });
  t.moveTo(network);
  mn.start();
  for (const end = Date.now() + 5000; !(mn.node.registration && !mn.node.awaitingAck); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(said.join('\n'));
  }
}

describe('UDP options', () => {
  it('the TLV header, asked for behind the NAT: udp4-tlv at both ends', async () => {
    await registerFrom('nat', { tlv: true });
    expect(t.anchor.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'udp4-tlv', remote: a.natOutside, remotePort: NAT_PORT });
    expect(t.mobile.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'udp4-tlv', local: '10.0.0.2', remote: a.ha.v4 });
    expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
  });

  it('UDP forced from a public address: udp4 with no NAT detected', async () => {
    await registerFrom('v4', { forceUdp: true });
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ natDetected: false, tunnel: { format: 'udp4', remote: '198.51.100.2', remotePort: 4191 } });
    expect(mn!.node.registration).toMatchObject({ natDetected: false, tunnel: { format: 'udp4' } });
    expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
  });
});
