/**
 * The daemon's drains against a real data plane (not started: no sockets,
 * its replies go nowhere; what it answered is counted): each move of a
 * drain written to its node's tunnel slot (a write that cannot fail), the
 * refusals logged within bounds, frames no reply can answer discarded, and
 * expired bindings leaving the cache and the data plane.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataPlane, PIN_ROOT } from '../../control/dataplane/dataplane.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgentDaemon, type Arrival } from '../../control/ha/daemon.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { decodeSignalling6, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { BaStatus, encodeMobilityHeader, NO_BU_FLAGS } from '../../control/wire/mh/index.js';

const KEY = Buffer.alloc(20, 0x5a);
const HA = '2001:db8:f::1';
const ETH = Buffer.from('02000000000102000000000286dd', 'hex');
const nodes = [0, 1].map((i) => ({ nai: `mn${i}@example.net`, spi: 300 + i, home: `2001:db8:1::${i + 1}` }));

const config = parseHomeAgentConfig({
  homeLink: { interface: 'lo', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: HA }, policy: { duplicateAddressDetection: false }, // (not started: nothing would probe)
  mobileNodes: nodes.map((n) => ({ nai: n.nai, key: KEY.toString('hex'), spi: n.spi, homeAddress: n.home })),
});

let dp: DataPlane;
let daemon: HomeAgentDaemon;
const events: string[] = [];

beforeAll(() => {
  rmSync(join(PIN_ROOT, 'test-daemon-drains'), { recursive: true, force: true }); // a killed run's
  dp = DataPlane.open({ instance: 'test-daemon-drains', role: 'anchor' });
  daemon = new HomeAgentDaemon(config, dp, { log: (e, level) => events.push(`${level}: ${e}`), now: () => clock }); // its clock fixed: a slow machine does not age the BUs out of the replay window
});
afterAll(() => dp?.destroy());

const start = Date.now();
let clock = start + 1000;

/**
 * Node i's BU from careOf, as the data plane captures it (its timestamp a
 * millisecond a sequence number: each newer than the last). A node's first
 * takes the general path, the rest its prediction (prediction.ts).
 */
function bu(i: number, sequence: number, careOf: string, key = KEY): Arrival {
  const n = nodes[i]!;
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence, lifetime: 600, flags: { ...NO_BU_FLAGS, a: true, h: true },
    options: [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: n.nai }, { type: 'replayProtection', timestamp: ntpTimestamp(start + sequence) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: n.spi, authenticator: Buffer.alloc(12) }],
  }), { key, spi: n.spi, careOf, home: n.home });
  return { ifindex: 1, frame: Buffer.concat([ETH, encodeSignalling6({ src: careOf, dst: HA, homeAddressOption: n.home, mh })]) };
}

const remoteOf = (home: string) => dp.lookupEntry(home)?.remote;

describe('a drain of BUs', () => {
  it('moves its nodes together: each tunnel rewritten, each answered 0', () => {
    daemon.handleBatch([bu(0, 1, '2001:db8:e::a'), bu(1, 1, '2001:db8:e::a')]);
    daemon.handleBatch([bu(0, 2, '2001:db8:e::b'), bu(1, 2, '2001:db8:e::b')]);
    expect([remoteOf(nodes[0]!.home), remoteOf(nodes[1]!.home)]).toEqual(['2001:db8:e::b', '2001:db8:e::b']);
    expect(daemon.answered.get(0)).toBe(4);
    expect(daemon.predictedCount).toBe(2); // the second drain: each node's BU as its first predicted
  });

  it('logs each accepted BU at info, a predicted one with the address it moved to', () => {
    const logged = events.length;
    daemon.handleBatch([bu(0, 3, '2001:db8:e:0:ffff:ffff:fff0:c')]); // (predicted: its event made when read)
    expect(daemon.predictedCount).toBe(3);
    expect(events.slice(logged)).toEqual([`info: registered ${nodes[0]!.nai} at 2001:db8:e:0:ffff:ffff:fff0:c (ip6)`]);
    expect(remoteOf(nodes[0]!.home)).toBe('2001:db8:e:0:ffff:ffff:fff0:c');
  });

  it('logs at most 20 refusals a second, and then how many it left out: forged BUs do not flood the log', () => {
    const forged = (k: number) => bu(1, 100 + k, '2001:db8:e::f', Buffer.alloc(20, 0x11));
    const refused = () => daemon.answered.get(BaStatus.mipv6AuthFail) ?? 0;
    clock += 1000; // a second of its own (the refusals before were logged in theirs)
    const [before, logged] = [refused(), events.length];
    daemon.handleBatch(Array.from({ length: 50 }, (_, k) => forged(k)));
    expect(refused()).toBe(before + 50);
    expect(events.slice(logged)).toEqual(Array(20).fill('warn: authentication: mismatch'));
    daemon.handleBatch([forged(50)]); // the same second: counted, not logged
    expect(events.length).toBe(logged + 20);
    clock += 1000;
    try {
      daemon.handleBatch([forged(51)]); // the next second: the one before summed up
      expect(events.slice(logged + 20)).toEqual([expect.stringMatching(/^warn: 31 more BUs refused or discarded in the second after .*, not logged/), 'warn: authentication: mismatch']);
    } finally {
      clock += 1000; // a second of its own for the tests after (7 s of replay window: the BUs' timestamps still fresh)
    }
  });

  it('discards a frame that does not unwrap: counted and logged, nothing answered', () => {
    const before = daemon.answered.get(-1) ?? 0;
    daemon.handleBatch([{ ifindex: 1, frame: Buffer.concat([ETH, Buffer.from('60000000ffff3c40', 'hex')]) }]); // an IPv6 header cut short
    expect(daemon.answered.get(-1)).toBe(before + 1);
    expect(events.at(-1)).toMatch(/^warn: undecodable signalling: /);
  });

  it('discards a BU from a source no reply can go to (multicast, unspecified): counted and logged, nothing answered', () => {
    const before = daemon.answered.get(-1) ?? 0;
    daemon.handleBatch([bu(0, 80, 'ff02::1'), bu(0, 81, '::')]);
    expect(daemon.answered.get(-1)).toBe(before + 2);
    expect(events.slice(-2)).toEqual(['warn: signalling from ff02::1, a source no reply can go to, discarded', 'warn: signalling from ::, a source no reply can go to, discarded']);
  });

  it('discards a BU that carries a type 2 routing header (only a BA carries one, RFC 6275 §6.1): counted and logged, nothing answered', () => {
    const before = daemon.answered.get(-1) ?? 0;
    const { mh } = decodeSignalling6(bu(0, 70, '2001:db8:e::c').frame.subarray(14));
    const routed = encodeSignalling6({ src: '2001:db8:e::c', dst: HA, homeAddressOption: nodes[0]!.home, routingHeader2: '2001:db8:9::9', mh });
    daemon.handleBatch([{ ifindex: 1, frame: Buffer.concat([ETH, routed]) }]);
    expect(daemon.answered.get(-1)).toBe(before + 1);
    expect(events.at(-1)).toBe('warn: MH with a type 2 routing header from 2001:db8:e::c discarded (only a BA carries one, RFC 6275 §6.1)');
    expect(daemon.homeAgent.binding(nodes[0]!.nai)?.sequence).not.toBe(70);
  });

  it('expires a binding whose lifetime ran out: its entry leaves the cache and its tunnel the data plane (so nothing answers for its address on the home link)', () => {
    daemon.handleBatch([bu(1, 200, '2001:db8:e::d')]);
    const id = daemon.homeAgent.binding(nodes[1]!.nai)!.bindingId;
    expect(dp.lookupEntry(nodes[1]!.home)?.remote).toBe('2001:db8:e::d');
    const saved = clock;
    try {
      clock += 599_000;
      daemon.expire();
      expect(dp.lookupEntry(nodes[1]!.home)?.remote).toBe('2001:db8:e::d'); // not yet
      clock += 2_000;
      daemon.expire();
      expect(daemon.homeAgent.binding(nodes[1]!.nai)).toBeUndefined();
      expect([dp.lookupEntry(nodes[1]!.home), dp.bindingIds().includes(id)]).toEqual([null, false]);
      expect(events).toContain(`info: binding of ${nodes[1]!.nai} expired`);
    } finally {
      clock = saved + 3000;
    }
  });
});

describe('a daemon logging at warn (as dsmipd --log-level warn, at tens of thousands of BUs a second)', () => {
  it('logs no accepted BU, general or predicted, and still each refusal', () => {
    rmSync(join(PIN_ROOT, 'test-daemon-quiet'), { recursive: true, force: true });
    const quietDp = DataPlane.open({ instance: 'test-daemon-quiet', role: 'anchor' });
    try {
      const logged: string[] = [];
      const quiet = new HomeAgentDaemon(config, quietDp, { log: (e, level) => logged.push(`${level}: ${e}`), logLevel: 'warn', now: () => clock });
      quiet.handleBatch([bu(0, 301, '2001:db8:e::a')]);
      quiet.handleBatch([bu(0, 302, '2001:db8:e::b'), bu(1, 301, '2001:db8:e::f', Buffer.alloc(20, 0x11))]);
      expect([quiet.answered.get(0), quiet.predictedCount, quiet.answered.get(BaStatus.mipv6AuthFail)]).toEqual([2, 1, 1]);
      expect(quietDp.lookupEntry(nodes[0]!.home)?.remote).toBe('2001:db8:e::b');
      expect(logged).toEqual(['warn: authentication: mismatch']);
    } finally {
      quietDp.destroy();
    }
  });
});
