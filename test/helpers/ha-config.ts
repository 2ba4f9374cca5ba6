/**
 * The home agent the state machine's tests run (test/ha/home-agent.test.ts,
 * home-link-nemo.test.ts): its configuration, and BUs built and signed with
 * the wire encoders as a mobile node would.
 */
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeMobilityHeader, type MobilityOption } from '../../control/wire/mh/index.js';

export const KEY = '00112233445566778899aabbccddeeff00112233';
export const HA6 = '2001:db8:f::1';
export const HA4 = '203.0.113.1';

/** Four nodes: mn1 (static IPv4 home address), mn2 (pooled), mr (a mobile router), mn4 (a router with only an IPv4 prefix); extra ones after them. */
export const config = (policy: object = {}, extra: object[] = []) => parseHomeAgentConfig({
  homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
  homeAgent: { ipv6: HA6, ipv4: HA4 },
  pools: { visitors: { from: '10.1.0.200', to: '10.1.0.200' } },
  policy,
  mobileNodes: [
    { nai: 'mn1@example.net', key: KEY, spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.100' },
    { nai: 'mn2@example.net', key: KEY, spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: { pool: 'visitors' } },
    { nai: 'mr@example.net', key: KEY, spi: 4098, homeAddress: '2001:db8:1::300', mobileRouter: true, prefixes: ['2001:db8:300::/48', '2001:db8:301::/48', '10.30.0.0/16'] },
    { nai: 'mn4@example.net', key: KEY, spi: 4099, homeAddress: '2001:db8:1::400', ipv4HomeAddress: '10.1.0.104', mobileRouter: true, prefixes: ['10.40.0.0/16'] },
    ...extra,
  ],
});

export const NO_FLAGS = { a: false, h: false, l: false, k: false, m: false, r: false, p: false, f: false, t: false };

export interface BuSpec { seq?: number; lifetime?: number; flags?: Partial<typeof NO_FLAGS>; options?: MobilityOption[]; nai?: string; spi?: number; key?: string; careOf: string; home: string; atMs?: number }

/** A BU's MH (A and H set, then the spec's flags), its options then NAI, timestamp and MN-HA authenticator, signed (mn1's by default). */
export function signedBu(s: BuSpec): Buffer {
  const mh = encodeMobilityHeader({
    type: 'bindingUpdate', sequence: s.seq ?? 1, lifetime: s.lifetime ?? 600, flags: { ...NO_FLAGS, a: true, h: true, ...s.flags },
    options: [
      ...(s.options ?? []),
      { type: 'mobileNodeIdentifier', subtype: 1, identifier: s.nai ?? 'mn1@example.net' },
      { type: 'replayProtection', timestamp: ntpTimestamp(s.atMs ?? 1_000_000) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: s.spi ?? 4096, authenticator: Buffer.alloc(12) },
    ],
  });
  return signMnHa(mh, { key: Buffer.from(s.key ?? KEY, 'hex'), spi: s.spi ?? 4096, careOf: s.careOf, home: s.home });
}
