/**
 * The mobile node's state machine against the real home agent's, with the
 * wire between them: every BU the node builds is encoded to bytes, decoded
 * as the home agent's signalling channel would (behind a NAT, with the NAT's
 * address and port), and every BA goes back as bytes.
 */
import { describe, expect, it } from 'vitest';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgent, type Outcome } from '../../control/ha/home-agent.js';
import { parseMobileNodeConfig } from '../../control/mn/config.js';
import { MobileNode, type OutgoingBu, type Output } from '../../control/mn/mobile-node.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { decodeSignalling6, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { decodeMobilityHeader, encodeMobilityHeader, NO_BA_FLAGS, type MobilityOption } from '../../control/wire/mh/index.js';

const KEY = '00112233445566778899aabbccddeeff00112233';
const HA6 = '2001:db8:1::1';
const HA4 = '192.0.2.1';

const haConfig = (policy: object = {}) => parseHomeAgentConfig({
  homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
  homeAgent: { ipv6: HA6, ipv4: HA4 },
  pools: { visitors: { from: '10.1.0.200', to: '10.1.0.201' } },
  policy,
  mobileNodes: [
    { nai: 'mn@example.net', key: KEY, spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.100' },
    { nai: 'dyn@example.net', key: KEY, spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: { pool: 'visitors' } },
  ],
});
const mnConfig = (over: object = {}) => parseMobileNodeConfig({
  nai: 'mn@example.net', key: KEY, spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.100',
  homeLink: { prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] }, homeAgent: { ipv6: HA6, ipv4: HA4 }, interfaces: ['eth0'], ...over,
});

/** What lies between them: an optional NAT (rewrites the IPv4 source and UDP port), and a clock. */
class Wire {
  nowMs = 1_000_000;
  nat?: { address: string; port: number };
  readonly received: Outcome[] = [];
  constructor(readonly ha: HomeAgent, readonly mn: MobileNode) {}

  /** Delivers a BU to the home agent and its BA (if any) back; returns what the node made of it (at mnNowMs by its own clock). */
  deliver(bu: OutgoingBu | undefined, mnNowMs = this.nowMs): Output {
    if (!bu) throw new Error('the node sent nothing');
    const outcome = this.ha.handleBindingUpdate(this.asReceived(bu));
    this.received.push(outcome);
    if (!outcome.reply) throw new Error(`no BA: ${outcome.event}`);
    const r = outcome.reply.route;
    const packet = encodeSignalling6(r.transport === 'ipv6'
      ? { src: r.src, dst: r.dst, ...(r.routingHeader2 !== undefined && { routingHeader2: r.routingHeader2 }), mh: outcome.reply.mh }
      : { src: r.ipv6Src, dst: r.ipv6Dst, mh: outcome.reply.mh });
    return this.mn.handleSignal({ signalling: decodeSignalling6(packet) }, mnNowMs);
  }

  private asReceived(bu: OutgoingBu) {
    if (bu.transport === 'ipv6') {
      const p = decodeSignalling6(bu.packet);
      return { transport: 'ipv6' as const, outer: { src: p.ipv6.src, dst: p.ipv6.dst }, ipv6Src: p.ipv6.src, ...(p.homeAddressOption && { homeAddressOption: p.homeAddressOption }), mh: p.mh, nowMs: this.nowMs };
    }
    const p = decodeSignalling6(bu.ipv6);
    const src = this.nat?.address ?? bu.src;
    const srcPort = this.nat?.port ?? bu.srcPort;
    return { transport: 'udp4' as const, outer: { src, srcPort, dst: bu.dst, dstPort: bu.dstPort }, ipv6Src: p.ipv6.src, mh: p.mh, nowMs: this.nowMs };
  }
}

const pair = (mn = mnConfig(), policy: object = {}) => new Wire(new HomeAgent(haConfig(policy)), new MobileNode(mn, 100));

/** What a BU the node sent says: its sequence number, lifetime and timestamp, and where from. */
function sentBu(bu: OutgoingBu | undefined): { sequence: number; lifetime: number; timestamp: bigint | undefined; from: string } {
  if (!bu) throw new Error('the node sent nothing');
  const p = decodeSignalling6(bu.transport === 'ipv6' ? bu.packet : bu.ipv6);
  const m = decodeMobilityHeader(p.mh);
  if (m.type !== 'bindingUpdate') throw new Error(`not a BU: ${m.type}`);
  return { sequence: m.sequence, lifetime: m.lifetime, timestamp: m.options.find((o) => o.type === 'replayProtection')?.timestamp, from: bu.transport === 'ipv6' ? p.ipv6.src : bu.src };
}

describe('mobile node registering with the home agent', () => {
  it('from an IPv6 visited link: BU with a Home Address option, ip6 tunnel for both home addresses', () => {
    const w = pair();
    const out = w.mn.attach({ ifname: 'eth0', ipv6: '2001:db8:f::2', ipv4: '198.51.100.2' }, w.nowMs);
    expect(out.send?.transport).toBe('ipv6'); // never UDP on an IPv6 link, even with an IPv4 address too
    const p = decodeSignalling6((out.send as { packet: Buffer }).packet);
    expect(p).toMatchObject({ ipv6: { src: '2001:db8:f::2', dst: HA6 }, homeAddressOption: '2001:db8:1::100' });
    expect(decodeMobilityHeader(p.mh)).toMatchObject({ type: 'bindingUpdate', sequence: 101, lifetime: 600, flags: { a: true, h: true, f: false } });
    const ack = w.deliver(out.send);
    expect(ack.registration).toMatchObject({
      tunnel: { format: 'ip6', local: '2001:db8:f::2', remote: HA6 }, homeAddresses: ['2001:db8:1::100', '10.1.0.100'], ipv4HomeAddress: '10.1.0.100',
      natDetected: false, lifetime: 600, expiresMs: w.nowMs + 600_000, refreshAtMs: w.nowMs + 480_000,
    });
    expect(w.ha.binding('mn@example.net')).toMatchObject({ careOf: '2001:db8:f::2', sequence: 101 });
  });

  it('from public IPv4: BU in UDP with the IPv4 care-of address; no NAT, so IP-in-IP', () => {
    const w = pair();
    const out = w.mn.attach({ ifname: 'eth0', ipv4: '198.51.100.2' }, w.nowMs);
    expect(out.send).toMatchObject({ transport: 'udp4', src: '198.51.100.2', dst: HA4, srcPort: 4191, dstPort: 4191 });
    const bu = decodeMobilityHeader(decodeSignalling6((out.send as { ipv6: Buffer }).ipv6).mh);
    expect(bu.type === 'bindingUpdate' && bu.options).toEqual(expect.arrayContaining([{ type: 'ipv4CareOfAddress', address: '198.51.100.2' }]));
    expect(w.deliver(out.send).registration).toMatchObject({ tunnel: { format: 'ip4', local: '198.51.100.2', remote: HA4 }, natDetected: false });
  });

  it('behind a NAT: udp4 tunnel, refreshed at the home agent\'s NAT refresh time; TLV when both ask for it', () => {
    const w = pair(mnConfig({ tlv: true }), { natRefreshTime: 20 });
    w.nat = { address: '203.0.113.2', port: 40000 };
    const out = w.mn.attach({ ifname: 'eth0', ipv4: '10.0.0.2' }, w.nowMs);
    const reg = w.deliver(out.send).registration!;
    expect(reg).toMatchObject({ tunnel: { format: 'udp4-tlv', local: '10.0.0.2', remote: HA4, localPort: 4191, remotePort: 4191 }, natDetected: true, refreshAtMs: w.nowMs + 20_000 });
    expect(w.ha.binding('mn@example.net')?.tunnel).toEqual({ format: 'udp4-tlv', local: HA4, remote: '203.0.113.2', localPort: 4191, remotePort: 40000 });

    w.nowMs += 19_999;
    expect(w.mn.tick(w.nowMs).send).toBeUndefined();
    w.nowMs += 1;
    const refresh = w.mn.tick(w.nowMs);
    expect(refresh.events).toContain('refreshing the registration');
    expect(w.deliver(refresh.send).registration).toMatchObject({ expiresMs: w.nowMs + 600_000 });
  });

  it('forced UDP refused by policy (129): sends again without F and gets IP-in-IP', () => {
    const w = pair(mnConfig({ forceUdp: true }), { forceUdp: 'refuse' });
    const refused = w.deliver(w.mn.attach({ ifname: 'eth0', ipv4: '198.51.100.2' }, w.nowMs).send);
    expect(refused.events).toContain('the home agent refuses forced UDP: sending again without F');
    expect(decodeMobilityHeader(decodeSignalling6((refused.send as { ipv6: Buffer }).ipv6).mh)).toMatchObject({ flags: { f: false } });
    expect(w.deliver(refused.send).registration?.tunnel.format).toBe('ip4');
  });

  it('forced UDP accepted: udp4 without a NAT, and no keepalive refresh', () => {
    const w = pair(mnConfig({ forceUdp: true }));
    const reg = w.deliver(w.mn.attach({ ifname: 'eth0', ipv4: '198.51.100.2' }, w.nowMs).send).registration!;
    expect(reg).toMatchObject({ tunnel: { format: 'udp4' }, natDetected: false, refreshAtMs: w.nowMs + 480_000 });
  });

  it('moves: each move re-registers from the new care-of address with a newer sequence number', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    w.nat = { address: '203.0.113.2', port: 40000 };
    const moved = w.deliver(w.mn.attach({ ifname: 'nat', ipv4: '10.0.0.2' }, (w.nowMs += 5000)).send);
    expect(moved.registration).toMatchObject({ tunnel: { format: 'udp4', local: '10.0.0.2' }, homeAddresses: ['2001:db8:1::100', '10.1.0.100'] });
    expect(w.ha.binding('mn@example.net')).toMatchObject({ careOf: '10.0.0.2', natDetected: true, sequence: 102 });
  });

  it('IPv6-wise at home: BU from the home address with it as alternate care-of address; only IPv4 is tunnelled', () => {
    const w = pair();
    const out = w.mn.attach({ ifname: 'home0', ipv6: '2001:db8:1::100' }, w.nowMs);
    const p = decodeSignalling6((out.send as { packet: Buffer }).packet);
    expect(p.homeAddressOption).toBeUndefined();
    expect(p.ipv6.src).toBe('2001:db8:1::100');
    const reg = w.deliver(out.send).registration!;
    expect(reg).toMatchObject({ placement: { kind: 'home6' }, tunnel: { format: 'ip6', local: '2001:db8:1::100', remote: HA6 }, homeAddresses: ['10.1.0.100'] });
    expect(w.received.at(-1)!.dataPlane).toEqual([{ install: { id: 1, tunnel: { format: 'ip6', local: HA6, remote: '2001:db8:1::100' }, homeAddresses: ['10.1.0.100'], prefixes: [] } }]);
  });

  it('IPv4-wise at home: BU in UDP from the IPv4 home address as care-of address; only IPv6 is tunnelled, in IPv4', () => {
    const w = pair();
    const reg = w.deliver(w.mn.attach({ ifname: 'home0', ipv4: '10.1.0.100' }, w.nowMs).send).registration!;
    expect(reg).toMatchObject({ placement: { kind: 'home4' }, tunnel: { format: 'ip4', local: '10.1.0.100', remote: HA4 }, homeAddresses: ['2001:db8:1::100'] });
  });

  it('a dynamic IPv4 home address: leased while away, asked for again by address, the on-link one at home', () => {
    const dyn = mnConfig({ nai: 'dyn@example.net', spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: 'dynamic' });
    const w = pair(dyn);
    const first = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::9' }, w.nowMs).send as { packet: Buffer };
    const asking = decodeMobilityHeader(decodeSignalling6(first.packet).mh);
    expect(asking.type === 'bindingUpdate' && asking.options).toContainEqual({ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }); // one address: 32 (0 is an error, RFC 5555 §3.1.1)
    const away = w.deliver(first).registration!;
    expect(away).toMatchObject({ ipv4HomeAddress: '10.1.0.200', homeAddresses: ['2001:db8:1::200', '10.1.0.200'] });
    const again = w.mn.attach({ ifname: 'v6b', ipv6: '2001:db8:e::9' }, (w.nowMs += 1000)).send as { packet: Buffer };
    const bu = decodeMobilityHeader(decodeSignalling6(again.packet).mh);
    expect(bu.type === 'bindingUpdate' && bu.options).toContainEqual({ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.200' });
    expect(w.deliver(again).registration?.ipv4HomeAddress).toBe('10.1.0.200');
    const home4 = w.deliver(w.mn.attach({ ifname: 'home0', ipv4: '10.1.0.50' }, (w.nowMs += 1000)).send).registration!;
    expect(home4).toMatchObject({ ipv4HomeAddress: '10.1.0.50', tunnel: { format: 'ip4', local: '10.1.0.50' }, homeAddresses: ['2001:db8:1::200'] });
  });

  it('returns home in both families: deregisters (lifetime 0), and the home agent drops the tunnel', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const out = w.mn.attach({ ifname: 'home0', ipv6: '2001:db8:1::100', ipv4: '10.1.0.100' }, (w.nowMs += 1000));
    expect(decodeMobilityHeader(decodeSignalling6((out.send as { packet: Buffer }).packet).mh)).toMatchObject({ lifetime: 0, options: expect.not.arrayContaining([expect.objectContaining({ type: 'ipv4HomeAddress' })]) });
    const done = w.deliver(out.send);
    expect(done).toMatchObject({ registration: null, events: ['deregistered: at home'] });
    expect(w.received.at(-1)!.dataPlane).toEqual([{ remove: 1 }]);
    expect(w.ha.binding('mn@example.net')).toBeUndefined();
  });
});

describe('mobile node: losses, restarts and what it refuses to believe', () => {
  it('sends an unanswered BU again after 1.5 s, then 3 s, 6 s…, each with a new sequence number', () => {
    const w = pair();
    const first = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs);
    const seqOf = (o: Output) => (decodeMobilityHeader(decodeSignalling6((o.send as { packet: Buffer }).packet).mh) as { sequence: number }).sequence;
    expect(w.mn.nextWakeMs()).toBe(w.nowMs + 1500);
    const resent: number[] = [seqOf(first)];
    let at = w.nowMs;
    for (const gap of [1500, 3000, 6000]) {
      expect(w.mn.tick(at + gap - 1).send).toBeUndefined();
      at += gap;
      resent.push(seqOf(w.mn.tick(at)));
    }
    expect(resent).toEqual([101, 102, 103, 104]);
    w.nowMs = at;
    const late = w.mn.tick(at); // nothing due
    expect(late.send).toBeUndefined();
  });

  it('after a restart with an older sequence number: takes the home agent\'s (135) and registers', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const restarted = new Wire(w.ha, new MobileNode(mnConfig(), 50));
    restarted.nowMs = w.nowMs + 2000;
    const out = restarted.deliver(restarted.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::3' }, restarted.nowMs).send);
    expect(out.events[0]).toMatch(/out of window, the home agent has 101/);
    expect(restarted.deliver(out.send).registration?.tunnel.local).toBe('2001:db8:f::3');
    expect(w.ha.binding('mn@example.net')?.sequence).toBe(102);
  });

  it('a Binding Refresh Request makes it refresh at once', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const brr = encodeSignalling6({ src: HA6, dst: '2001:db8:f::2', routingHeader2: '2001:db8:1::100', mh: encodeMobilityHeader({ type: 'bindingRefreshRequest', options: [] }) });
    const out = w.mn.handleSignal({ signalling: decodeSignalling6(brr) }, w.nowMs);
    expect(out.events[0]).toBe('binding refresh requested');
    expect(out.send?.transport).toBe('ipv6');
  });

  it('ignores a BA signed with another key, and one for another sequence number', () => {
    const w = pair();
    const out = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs);
    const forged = new Wire(new HomeAgent(parseHomeAgentConfig({ ...JSON.parse(JSON.stringify({ homeLink: { interface: 'x', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: HA6 } })), mobileNodes: [{ nai: 'mn@example.net', key: 'ff'.repeat(20), spi: 4096, homeAddress: '2001:db8:1::100' }] })), w.mn);
    expect(forged.deliver(out.send)).toMatchObject({ events: [expect.stringMatching(/^BA failed authentication/)] });
    expect(w.mn.registration).toBeNull();
    const stale = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs); // sequence 102 outstanding
    const ha = new HomeAgent(haConfig());
    const oldBa = ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: '2001:db8:f::2', dst: HA6 }, ipv6Src: '2001:db8:f::2', homeAddressOption: '2001:db8:1::100', mh: decodeSignalling6((out.send as { packet: Buffer }).packet).mh, nowMs: w.nowMs });
    const packet = encodeSignalling6({ src: HA6, dst: '2001:db8:f::2', routingHeader2: '2001:db8:1::100', mh: oldBa.reply!.mh });
    expect(w.mn.handleSignal({ signalling: decodeSignalling6(packet) }, w.nowMs).events).toEqual(['BA for sequence 101, waiting for 102: ignored']);
    expect(sentBu(stale.send)).toMatchObject({ sequence: 102, from: '2001:db8:f::2' });
  });

  it('a refused registration (unknown home address, 133) leaves nothing registered, and is tried again after 32 s', () => {
    const w = pair(mnConfig({ homeAddress: '2001:db8:1::999' }));
    const first = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send;
    const out = w.deliver(first);
    expect(out.events).toEqual(['registration refused: status 133 (notHomeAgentForThisMobileNode); trying again in 32 s']);
    expect(w.mn.registration).toBeNull();
    expect(w.mn.nextWakeMs()).toBe(w.nowMs + 32_000);
    expect(sentBu(w.mn.tick(w.nowMs + 32_000).send)).toMatchObject({ sequence: sentBu(first).sequence + 1, lifetime: sentBu(first).lifetime, from: '2001:db8:f::2' });
  });

  it('believes no refusal it cannot authenticate: a forged 146 is unsigned, and ignored', () => {
    const w = pair();
    const out = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs);
    const forged = decodeSignalling6((out.send as { packet: Buffer }).packet);
    const tampered = Buffer.from(forged.mh);
    tampered[tampered.length - 1]! ^= 1; // an attacker's copy, its authenticator broken
    const o = w.ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: '2001:db8:f::2', dst: HA6 }, ipv6Src: '2001:db8:f::2', homeAddressOption: '2001:db8:1::100', mh: tampered, nowMs: w.nowMs });
    expect(o.status).toBe(146);
    const ba = encodeSignalling6({ src: HA6, dst: '2001:db8:f::2', routingHeader2: '2001:db8:1::100', mh: o.reply!.mh });
    expect(w.mn.handleSignal({ signalling: decodeSignalling6(ba) }, w.nowMs).events[0]).toMatch(/^BA failed authentication/);
    expect(w.mn.awaitingAck).toBe(true); // still waiting for the real answer
  });

  it('does not spin while a refresh is outstanding: the next wake is the BU\'s wait', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const refreshAt = w.mn.registration!.refreshAtMs;
    expect(sentBu(w.mn.tick(refreshAt).send)).toMatchObject({ sequence: 102, from: '2001:db8:f::2' }); // the refresh BU, lost
    expect(w.mn.nextWakeMs()).toBe(refreshAt + 1000);
  });

  it('gets its dynamic IPv4 home address back after a revocation released it, and a new one when it is taken', () => {
    const w = pair(mnConfig({ nai: 'dyn@example.net', spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: 'dynamic' }));
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::9' }, w.nowMs).send);
    w.ha.revoke('dyn@example.net', w.nowMs); // the lease goes with the binding
    const again = w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::9' }, (w.nowMs += 20_000)).send);
    expect(again.registration).toMatchObject({ ipv4HomeAddress: '10.1.0.200' }); // asked for by address, still free
  });

  it('its registration expires if never refreshed', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const refresh = w.mn.tick(w.nowMs + 480_000); // the refresh BU is lost...
    expect(sentBu(refresh.send)).toMatchObject({ sequence: 102, from: '2001:db8:f::2' });
    let out: Output = { events: [] };
    for (let t = w.nowMs + 480_000; t <= w.nowMs + 600_000 && !('registration' in out); t += 1000) out = w.mn.tick(t);
    expect(out.registration).toBeNull();
    expect(out.events).toContain('registration expired');
  });
});

/** A BA made by hand for the node's last BU (its sequence and timestamp), signed as the home agent would, as the node receives it. */
function handMadeBa(w: Wire, bu: OutgoingBu | undefined, a: { status: number; lifetime: number; options?: MobilityOption[]; t?: boolean; clockMs?: number }): Output {
  if (!bu) throw new Error('the node sent nothing');
  const sent = bu.transport === 'ipv6' ? decodeSignalling6(bu.packet) : decodeSignalling6(bu.ipv6);
  const m = decodeMobilityHeader(sent.mh);
  if (m.type !== 'bindingUpdate') throw new Error('not a BU');
  const timestamp = a.clockMs === undefined ? m.options.find((o) => o.type === 'replayProtection')! : { type: 'replayProtection' as const, timestamp: ntpTimestamp(a.clockMs) };
  const careOf = bu.transport === 'ipv6' ? sent.ipv6.src : bu.src;
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingAcknowledgement', status: a.status, sequence: m.sequence, lifetime: a.lifetime, flags: { ...NO_BA_FLAGS, t: a.t ?? false },
    options: [...(a.options ?? []), { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn@example.net' }, timestamp,
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: 4096, authenticator: Buffer.alloc(12) }],
  }), { key: Buffer.from(KEY, 'hex'), spi: 4096, careOf, home: '2001:db8:1::100' });
  const packet = bu.transport === 'ipv6'
    ? encodeSignalling6({ src: HA6, dst: careOf, routingHeader2: '2001:db8:1::100', mh })
    : encodeSignalling6({ src: HA6, dst: '2001:db8:1::100', mh });
  return w.mn.handleSignal({ signalling: decodeSignalling6(packet) }, w.nowMs);
}

describe('mobile node: what a second review found', () => {
  it('registers again when a tick comes only after the registration expired (a suspended host, a clock stepped forward)', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    w.nowMs = w.mn.registration!.expiresMs + 1;
    const out = w.mn.tick(w.nowMs);
    expect(out).toMatchObject({ registration: null, events: ['registration expired', 'registering again', expect.stringMatching(/^BU sequence/)] });
    expect(w.mn.awaitingAck).toBe(true);
    expect(w.deliver(out.send).registration).toMatchObject({ placement: { kind: 'away6' } });
  });

  it('counts its lifetime from when the BU was sent, not from when the BA came (RFC 6275 §11.7.3)', () => {
    const w = pair();
    const sentAt = w.nowMs;
    const reg = w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, sentAt).send, sentAt + 1400).registration!; // its BA 1.4 s later
    expect(reg.expiresMs).toBe(sentAt + 600_000);
    expect(reg.refreshAtMs).toBe(sentAt + 480_000);
  });

  it('keeps an IPv4 home address acknowledged with a prefix length other than 32 ("overrides what the mobile node requested")', () => {
    const w = pair();
    const out = handMadeBa(w, w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send, { status: 0, lifetime: 600,
      options: [{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 24, address: '10.1.0.100' }] });
    expect(out.registration).toMatchObject({ ipv4HomeAddress: '10.1.0.100', homeAddresses: ['2001:db8:1::100', '10.1.0.100'] });
  });

  it('after a 135 sends again at once, once: a second 135 for that BU waits for the timer (no BU/BA loop with a home agent that keeps saying it)', () => {
    const w = pair();
    const first = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send;
    const again = handMadeBa(w, first, { status: 135, lifetime: 0 });
    expect(sentBu(again.send)).toMatchObject({ sequence: sentBu(first).sequence + 1, from: '2001:db8:f::2' }); // (the home agent's own number was the BU's: this hand-made BA echoes it)
    const still = handMadeBa(w, again.send, { status: 135, lifetime: 0 });
    expect(still).toEqual({ events: [expect.stringMatching(/out of window again, the home agent has \d+: sending on the timer$/)] });
    expect(w.mn.awaitingAck).toBe(true);
    expect(w.mn.nextWakeMs()).toBeGreaterThan(w.nowMs); // its retransmission timer
  });

  it('asks for a new dynamic IPv4 home address at once when the one it had is refused (130), not at the next refresh', () => {
    const w = pair(mnConfig({ ipv4HomeAddress: 'dynamic' }));
    const ok = handMadeBa(w, w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send, { status: 0, lifetime: 600, options: [{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' }] });
    expect(ok.registration?.ipv4HomeAddress).toBe('10.1.0.200');
    w.nowMs = ok.registration!.refreshAtMs;
    const refresh = w.mn.tick(w.nowMs).send as { packet: Buffer };
    const lost = handMadeBa(w, refresh, { status: 0, lifetime: 600, options: [{ type: 'ipv4AddressAcknowledgement', status: 130, prefixLength: 0, address: '10.1.0.200' }] });
    expect(lost.registration?.homeAddresses).toEqual(['2001:db8:1::100']);
    expect(lost.events).toContain('its IPv4 home address was refused: asking for a new one');
    const asking = decodeMobilityHeader(decodeSignalling6((lost.send as { packet: Buffer }).packet).mh);
    expect(asking.type === 'bindingUpdate' && asking.options).toContainEqual({ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' });
    const none = handMadeBa(w, lost.send, { status: 0, lifetime: 600, options: [{ type: 'ipv4AddressAcknowledgement', status: 132, prefixLength: 0, address: '0.0.0.0' }] });
    expect(none.send).toBeUndefined(); // asked anew and refused (the pool is empty): it waits for the next refresh, no loop
  });

  it('ignores a NAT Detection option in the BA to a BU it sent over IPv6: no NAT, no refresh at the NAT refresh time', () => {
    const w = pair();
    const out = handMadeBa(w, w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send, { status: 0, lifetime: 600, options: [{ type: 'natDetection', f: false, refreshTime: 15 }] });
    expect(out.registration).toMatchObject({ natDetected: false, tunnel: { format: 'ip6' }, refreshAtMs: w.nowMs + 480_000 });
  });

  it('answers a Binding Refresh Request from its home agent only (RFC 6275 §11.7.4)', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const brr = (src: string) => w.mn.handleSignal({ signalling: decodeSignalling6(encodeSignalling6({ src, dst: '2001:db8:1::100', mh: encodeMobilityHeader({ type: 'bindingRefreshRequest', options: [] }) })) }, w.nowMs);
    expect(brr('2001:db8:bad::66')).toEqual({ events: ['binding refresh request from 2001:db8:bad::66, not the home agent: ignored'] });
    expect(brr(HA6)).toMatchObject({ events: ['binding refresh requested', expect.stringMatching(/^BU sequence/)], send: expect.anything() });
  });
});

describe('mobile node: what a protocol review found', () => {
  it('detached after registering: no wake at the refresh time (it spun there), the registration expires', () => {
    const w = pair(mnConfig({ homeAgent: { ipv6: HA6 } })); // no IPv4 address of the home agent: an IPv4-only link detaches it
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const { refreshAtMs, expiresMs } = w.mn.registration!;
    expect(w.mn.attach({ ifname: 'v4', ipv4: '198.51.100.2' }, w.nowMs).events[0]).toMatch(/^detached/);
    expect(w.mn.nextWakeMs()).toBe(expiresMs);
    expect(w.mn.tick(refreshAtMs)).toEqual({ events: [] });
    expect(w.mn.tick(expiresMs)).toMatchObject({ registration: null, events: ['registration expired'] });
  });

  it('a BA with a wrong MH checksum, or in a UDP datagram with a wrong checksum, is discarded (RFC 6275 §9.2, RFC 768)', () => {
    const w = pair();
    const bu = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send!;
    const outcome = w.ha.handleBindingUpdate({ transport: 'ipv6', outer: { src: '2001:db8:f::2', dst: HA6 }, ipv6Src: '2001:db8:f::2', homeAddressOption: '2001:db8:1::100',
      mh: decodeSignalling6((bu as { packet: Buffer }).packet).mh, nowMs: w.nowMs });
    const packet = encodeSignalling6({ src: HA6, dst: '2001:db8:f::2', routingHeader2: '2001:db8:1::100', mh: outcome.reply!.mh });
    const good = decodeSignalling6(packet);
    expect(w.mn.handleSignal({ signalling: good, udpChecksumOk: false }, w.nowMs)).toEqual({ events: ['UDP datagram with a wrong checksum discarded'] }); // (no outer addresses given)
    packet[packet.length - 1]! ^= 0x01; // the authenticator's last byte: the checksum no longer holds
    expect(w.mn.handleSignal({ signalling: decodeSignalling6(packet) }, w.nowMs)).toEqual({ events: [`MH with a wrong checksum from ${HA6} discarded`] });
    expect(w.mn.awaitingAck).toBe(true);
    expect(w.mn.handleSignal({ signalling: good, udpChecksumOk: null }, w.nowMs).registration).toMatchObject({ lifetime: 600 });
  });

  it('a replayed 135 (an answer to an earlier BU) is not taken for the answer to the BU outstanding', () => {
    const w = pair();
    const first = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs);
    w.nowMs += 1000;
    const second = w.mn.tick(w.nowMs + 500); // the first BU unanswered: sent again, a new timestamp
    expect(sentBu(second.send)).toMatchObject({ sequence: 102, from: '2001:db8:f::2' });
    expect(sentBu(second.send).timestamp).not.toBe(sentBu(first.send).timestamp);
    const old = handMadeBa(w, first.send, { status: 135, lifetime: 0 });
    expect(old.events).toEqual(['BA (sequence 101) not for the BU outstanding: ignored']);
    expect(w.mn.awaitingAck).toBe(true);
  });

  it('at home with nothing registered: the home agent\'s 133 ends the deregistration (it retried every 32 s)', () => {
    const w = pair();
    const out = w.deliver(w.mn.attach({ ifname: 'home0', ipv6: '2001:db8:1::100', ipv4: '10.1.0.100' }, w.nowMs).send);
    expect(out).toEqual({ registration: null, events: ['at home, and the home agent had no binding'] });
    expect(w.mn.awaitingAck).toBe(false);
    expect(w.mn.nextWakeMs()).toBeUndefined();
  });

  it('a refused refresh from the same care-of address leaves the registration standing until it expires', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    const reg = w.mn.registration!;
    w.nowMs = reg.refreshAtMs;
    const refused = handMadeBa(w, w.mn.tick(w.nowMs).send, { status: 143, lifetime: 0 });
    expect(refused.events).toEqual(['registration refused: status 143 (forwardingSetupFailed); trying again in 32 s']);
    expect(refused.registration).toBeUndefined();
    expect(w.mn.registration).toBe(reg);
  });

  it('a refresh refused for good (133: the home agent holds nothing now) ends the registration at once', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    w.nowMs = w.mn.registration!.refreshAtMs;
    const refused = handMadeBa(w, w.mn.tick(w.nowMs).send, { status: 133, lifetime: 0 });
    expect(refused.registration).toBeNull();
    expect(w.mn.registration).toBeNull();
  });

  it('a success granting lifetime 0 is a refusal: the registration ends (the home agent\'s expires now), tried again after 32 s', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs).send);
    w.nowMs = w.mn.registration!.refreshAtMs;
    const out = handMadeBa(w, w.mn.tick(w.nowMs).send, { status: 0, lifetime: 0 });
    expect(out).toMatchObject({ registration: null, events: ['registration refused: lifetime 0 granted; trying again in 32 s'] });
    expect(w.mn.nextWakeMs()).toBe(w.nowMs + 32_000);
  });

  it('behind a NAT with refresh time 0: keepalive at NATKATIMEOUT, 110 s', () => {
    const w = pair();
    const out = handMadeBa(w, w.mn.attach({ ifname: 'eth0', ipv4: '10.0.0.2' }, w.nowMs).send, { status: 0, lifetime: 600, options: [{ type: 'natDetection', f: false, refreshTime: 0 }] });
    expect(out.registration).toMatchObject({ natDetected: true, refreshAtMs: w.nowMs + 110_000 });
  });

  it('T in a BA to a BU that did not ask for it: plain udp4 (T in both, RFC 5555 §4.4)', () => {
    const w = pair();
    const out = handMadeBa(w, w.mn.attach({ ifname: 'eth0', ipv4: '10.0.0.2' }, w.nowMs).send, { status: 0, lifetime: 600, t: true, options: [{ type: 'natDetection', f: false, refreshTime: 110 }] });
    expect(out.registration?.tunnel.format).toBe('udp4');
  });

  it('IPv4-wise at home on another on-link address than its IPv4 home address: that home address is tunnelled, as the home agent does', () => {
    const w = pair();
    const reg = w.deliver(w.mn.attach({ ifname: 'home0', ipv4: '10.1.0.50' }, w.nowMs).send).registration!;
    expect(w.ha.binding('mn@example.net')?.binding.homeAddresses).toEqual(['2001:db8:1::100', '10.1.0.100']);
    expect(reg).toMatchObject({ placement: { kind: 'home4' }, homeAddresses: ['2001:db8:1::100', '10.1.0.100'] });
  });
});

describe('mobile node: a clock the home agent does not share (RFC 4285 §6)', () => {
  const BEHIND = 60_000; // the node's clock, against the home agent's

  it('takes the home agent\'s clock from its 144 and sends again at once, then registers', () => {
    const w = pair();
    const mnNow = w.nowMs - BEHIND;
    const refused = w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, mnNow).send, mnNow);
    expect(decodeMobilityHeader(w.received[0]!.reply!.mh)).toMatchObject({ status: 144 });
    expect(refused.events).toEqual([`timestamp refused (144): the home agent's clock is ${BEHIND} ms from ours; sending again on it`, 'BU sequence 102 from 2001:db8:f::2']);
    const ack = w.deliver(refused.send, mnNow);
    expect(ack.registration).toMatchObject({ lifetime: 600, tunnel: { format: 'ip6' } });
    expect(w.ha.binding('mn@example.net')?.lastTimestamp).toBe(ntpTimestamp(w.nowMs));
  });

  it('ignores a 144 carrying a clock older than the one it learnt (a replayed BA of an earlier BU with this sequence number)', () => {
    const w = pair();
    const mnNow = w.nowMs - BEHIND;
    w.deliver(w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, mnNow).send, mnNow).send, mnNow); // resynchronised, registered
    const refresh = w.mn.tick(w.mn.registration!.refreshAtMs);
    const replayed = handMadeBa(w, refresh.send, { status: 144, lifetime: 0, clockMs: w.nowMs - 3_600_000 });
    expect(replayed.events).toEqual(['BA 144 (sequence 103) with a clock older than the home agent\'s: ignored']);
    expect(w.mn.awaitingAck).toBe(true);
  });

  it('takes the home agent\'s clock again after its own is stepped right (by NTP, say) under the learnt offset', () => {
    const w = pair();
    const behind = w.nowMs - BEHIND;
    w.deliver(w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, behind).send, behind).send, behind); // +60 s learnt, registered
    w.nowMs += 1000;
    const moved = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::3' }, w.nowMs); // its clock now right: on the learnt offset its BUs are a minute ahead
    const refused = w.deliver(moved.send, w.nowMs);
    expect(refused.events[0]).toBe("timestamp refused (144): the home agent's clock is 0 ms from ours; sending again on it");
    expect(w.deliver(refused.send, w.nowMs).registration).toMatchObject({ tunnel: { local: '2001:db8:f::3' } });
  });

  it('never sends a timestamp older than the last one accepted: a clock set back is no replay', () => {
    const w = pair();
    w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, w.nowMs + 5000).send, w.nowMs + 5000); // 5 s ahead: inside the window, accepted
    const accepted = w.ha.binding('mn@example.net')!.lastTimestamp;
    const moved = w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::3' }, w.nowMs - BEHIND); // then its clock is set back a minute, and it moves
    expect(w.deliver(moved.send, w.nowMs - BEHIND).events[0]).toMatch(/^registered/);
    expect(w.ha.binding('mn@example.net')).toMatchObject({ careOf: '2001:db8:f::3', lastTimestamp: accepted + 1n });
  });

  it('takes a second 144 for the BU sent on the home agent\'s clock as a refusal, tried again after the longest wait', () => {
    const w = pair();
    const mnNow = w.nowMs - BEHIND;
    const again = w.deliver(w.mn.attach({ ifname: 'v6', ipv6: '2001:db8:f::2' }, mnNow).send, mnNow);
    const refused = handMadeBa(w, again.send, { status: 144, lifetime: 0 });
    expect(refused.events).toEqual(['registration refused: status 144 (mipv6IdMismatch); trying again in 32 s']);
    expect(w.mn.awaitingAck).toBe(true);
  });
});

