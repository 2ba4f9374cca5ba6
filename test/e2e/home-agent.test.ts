/**
 * The home agent end to end, first slice: signed Binding Updates sent from
 * the mobile nodes' namespaces (over IPv6, and in UDP through the NAT) are
 * captured by the anchor's data plane, accepted by the home agent, turned
 * into live tunnels, and answered with BAs that reach the mobile nodes; then
 * real traffic flows to the home addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { addr, buildTunnelLab, DSMIP_PORT, NAT_PORT, type TunnelLab } from '../../control/lab/tunnel-lab.js';
import { ping } from '../../control/lab/traffic.js';
import { unwrapSignal, type SignalPacket } from '../../control/signalling/channel.js';
import { RawIpSocket } from '../../control/sys/libc.js';
import { addrBytes } from '../../control/dataplane/layout.js';
import { signMnHa, verifyMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeSignalling4, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { decodeMobilityHeader, encodeMobilityHeader, type MobilityOption } from '../../control/wire/mh/index.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const NO_FLAGS = { a: false, h: false, l: false, k: false, m: false, r: false, p: false, f: false, t: false };

let t: TunnelLab;
let daemon: HomeAgentDaemon;
const events: string[] = [];
const atMobile: Record<'mn' | 'mnn', SignalPacket[]> = { mn: [], mnn: [] };

beforeAll(() => {
  t = buildTunnelLab('hae');
  const config = parseHomeAgentConfig({
    homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
    homeAgent: { ipv6: addr.anchorVisited.v6, ipv4: addr.anchorVisited.v4, publicIpv4: addr.anchorNat.v4 },
    pools: { visitors: { from: addr.mnnHome.v4, to: addr.mnnHome.v4 } },
    mobileNodes: [
      { nai: 'mn@example.net', key: KEY.toString('hex'), spi: 4096, homeAddress: addr.mnHome.v6, ipv4HomeAddress: addr.mnHome.v4 },
      { nai: 'mnn@example.net', key: KEY.toString('hex'), spi: 4097, homeAddress: addr.mnnHome.v6, ipv4HomeAddress: { pool: 'visitors' } },
    ],
  });
  daemon = new HomeAgentDaemon(config, t.anchor, { log: (e) => events.push(e) });
  t.lab.within(t.ns.anchor, () => daemon.start());
  for (const node of [t.mn, t.mnn]) node.dataPlane.onSignal((f) => atMobile[node.name].push(unwrapSignal(f)));
});
afterAll(() => {
  daemon?.stop();
  t?.destroy();
});

function signedBu(nai: string, spi: number, careOf: string, home: string, options: MobilityOption[]): Buffer {
  const mh = encodeMobilityHeader({
    type: 'bindingUpdate', sequence: 1, lifetime: 600, flags: { ...NO_FLAGS, a: true, h: true },
    options: [...options, { type: 'mobileNodeIdentifier', subtype: 1, identifier: nai }, { type: 'replayProtection', timestamp: ntpTimestamp(Date.now()) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi, authenticator: Buffer.alloc(12) }],
  });
  return signMnHa(mh, { key: KEY, spi, careOf, home });
}

async function next(queue: SignalPacket[]): Promise<SignalPacket> {
  for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    const p = queue.shift();
    if (p) return p;
  }
  throw new Error(`no BA arrived; home agent said: ${events.join('; ')}`);
}

describe('home agent', () => {
  it('registers a mobile node on an IPv6 visited link; traffic to both home addresses flows', async () => {
    const { v6: careOf } = addr.mnCareOf;
    const bu = signedBu('mn@example.net', 4096, careOf, addr.mnHome.v6, [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: addr.mnHome.v4 }]);
    const packet = encodeSignalling6({ src: careOf, dst: addr.anchorVisited.v6, homeAddressOption: addr.mnHome.v6, mh: bu });
    t.lab.within(t.mn.ns, () => {
      const s = new RawIpSocket(6);
      s.send(packet, addrBytes(addr.anchorVisited.v6));
      s.close();
    });
    const ba = await next(atMobile.mn);
    expect(ba.signalling.routingHeader2?.homeAddress).toBe(addr.mnHome.v6);
    expect(verifyMnHa(ba.signalling.mh, { careOf, home: addr.mnHome.v6, keyFor: () => KEY }).verdict).toBe('ok');
    expect(decodeMobilityHeader(ba.signalling.mh)).toMatchObject({ type: 'bindingAcknowledgement', status: 0, lifetime: 600 });
    expect(t.anchor.lookupEntry(addr.mnHome.v4)).toMatchObject({ format: 'ip6', local: addr.anchorVisited.v6, remote: careOf });

    t.mn.dataPlane.install({ id: 1, tunnel: { format: 'ip6', local: careOf, remote: addr.anchorVisited.v6 }, homeAddresses: [addr.mnHome.v6, addr.mnHome.v4], prefixes: [] });
    expect(await ping(t.ns.cn, addr.mnHome.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, addr.mnHome.v4)).toEqual({ sent: 3, received: 3 });
  });

  it('registers a mobile node behind a NAT over UDP, leasing it an IPv4 home address', async () => {
    const careOf = addr.mnnCareOf.v4;
    const bu = signedBu('mnn@example.net', 4097, careOf, addr.mnnHome.v6, [
      { type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }, { type: 'ipv4CareOfAddress', address: careOf }]);
    const packet = encodeSignalling4({ src: careOf, dst: addr.anchorNat.v4, ipv6: encodeSignalling6({ src: addr.mnnHome.v6, dst: addr.anchorVisited.v6, mh: bu }) });
    t.lab.within(t.mnn.ns, () => {
      const s = new RawIpSocket(4);
      s.send(packet, addrBytes(addr.anchorNat.v4));
      s.close();
    });
    const ba = await next(atMobile.mnn);
    expect(ba).toMatchObject({ transport: 'udp4', outer: { src: addr.anchorNat.v4, srcPort: DSMIP_PORT, dstPort: DSMIP_PORT } });
    const message = decodeMobilityHeader(ba.signalling.mh);
    expect(message).toMatchObject({ type: 'bindingAcknowledgement', status: 0 });
    expect(message.type === 'bindingAcknowledgement' && message.options).toEqual(expect.arrayContaining([
      { type: 'natDetection', f: false, refreshTime: 110 },
      { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: addr.mnnHome.v4 },
    ]));
    expect(t.anchor.lookupEntry(addr.mnnHome.v6)).toMatchObject({ format: 'udp4', remote: addr.natOutside.v4, remotePort: NAT_PORT });

    t.mnn.dataPlane.install({ id: 2, tunnel: { format: 'udp4', local: careOf, remote: addr.anchorNat.v4, localPort: DSMIP_PORT, remotePort: DSMIP_PORT }, homeAddresses: [addr.mnnHome.v6, addr.mnnHome.v4], prefixes: [] });
    expect(await ping(t.ns.cn, addr.mnnHome.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, addr.mnnHome.v4)).toEqual({ sent: 3, received: 3 });
  });
});
