/**
 * A drain whose first BU (the general path) makes its node's template and
 * whose next BU of that node is that template's refresh: the refresh is
 * predicted, as it was when each BU was checked in its turn (before
 * 0bb7f52), not left to the general path by a check made before the
 * template was.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataPlane, PIN_ROOT } from '../../control/dataplane/dataplane.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgentDaemon, type Arrival } from '../../control/ha/daemon.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { encodeMobilityHeader, NO_BU_FLAGS } from '../../control/wire/mh/index.js';

const KEY = Buffer.alloc(20, 0x5a);
const HA = '2001:db8:f::1';
const ETH = Buffer.from('02000000000102000000000286dd', 'hex');
const node = { nai: 'mn@example.net', spi: 300, home: '2001:db8:1::1' };
const start = Date.now();
let dp: DataPlane;
let daemon: HomeAgentDaemon;

beforeAll(() => {
  rmSync(join(PIN_ROOT, 'test-daemon-drain-template'), { recursive: true, force: true });
  dp = DataPlane.open({ instance: 'test-daemon-drain-template', role: 'anchor' });
  const config = parseHomeAgentConfig({
    homeLink: { interface: 'lo', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: HA }, policy: { duplicateAddressDetection: false },
    mobileNodes: [{ nai: node.nai, key: KEY.toString('hex'), spi: node.spi, homeAddress: node.home }],
  });
  daemon = new HomeAgentDaemon(config, dp, { log: () => {}, now: () => start + 1000 });
});
afterAll(() => dp?.destroy());

function bu(sequence: number, lifetime: number): Arrival {
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence, lifetime, flags: { ...NO_BU_FLAGS, a: true, h: true },
    options: [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: node.nai }, { type: 'replayProtection', timestamp: ntpTimestamp(start + sequence) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: node.spi, authenticator: Buffer.alloc(12) }],
  }), { key: KEY, spi: node.spi, careOf: '2001:db8:e::a', home: node.home });
  return { ifindex: 1, frame: Buffer.concat([ETH, encodeSignalling6({ src: '2001:db8:e::a', dst: HA, homeAddressOption: node.home, mh })]) };
}

describe('a drain that makes a template', () => {
  it('predicts the refresh after the BU that made its template, in the same drain', () => {
    daemon.handleBatch([bu(1, 600), bu(2, 600)]);
    expect(daemon.answered.get(0)).toBe(2);
    expect(daemon.predictedCount).toBe(1);
    daemon.handleBatch([bu(3, 400), bu(4, 400)]); // a new lifetime: the general path, a new template; its refresh
    expect(daemon.answered.get(0)).toBe(4);
    expect(daemon.predictedCount).toBe(2);
  });
});
