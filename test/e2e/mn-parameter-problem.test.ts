/**
 * The mobile node's share of the IPv6 layer's duties for what its data plane
 * takes before the kernel sees it (RFC 8200 §4.2): a packet to its care-of
 * address with a Mobility Header and a destination option whose unknown
 * type asks for it is discarded, and an ICMP Parameter Problem pointing at
 * the option goes back, as tshark reads it at the home agent.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addrBytes } from '../../control/dataplane/layout.js';
import { roamingAddr as a } from '../../control/lab/roaming-lab.js';
import { RawIpSocket } from '../../control/sys/libc.js';
import { encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { encodeMobilityHeader, NO_BA_FLAGS } from '../../control/wire/mh/index.js';
import { roamingPair, type RoamingPair } from '../helpers/roaming-pair.js';
import { captureOne } from '../helpers/tshark.js';

const CARE_OF = '2001:db8:f::2';
let pair: RoamingPair;

beforeAll(() => {
  pair = roamingPair('mpp', {});
});
afterAll(() => pair?.destroy());

it('answers an MH with a destination option whose unknown type asks for it with a Parameter Problem, and takes nothing from it', async () => {
  const { t, ha, mn, said } = pair;
  t.moveTo('v6');
  mn.start();
  for (const end = Date.now() + 5000; !mn.node.registration && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
  const registration = mn.node.registration;
  expect(registration).toMatchObject({ placement: { kind: 'away6', careOf: CARE_OF } });
  // a BA-like MH from the home agent's address, its Destination Options header's PadN made option type 0x8a (discard, send ICMP)
  const packet = encodeSignalling6({ src: a.ha.v6, dst: CARE_OF, homeAddressOption: a.mnHome.v6, mh: encodeMobilityHeader({ type: 'bindingAcknowledgement', status: 0, sequence: 1, lifetime: 600, flags: NO_BA_FLAGS, options: [] }) });
  expect([packet[6], packet[42], packet[43]]).toEqual([60, 1, 2]);
  packet[42] = 0x8a;
  const send = () => t.lab.within(t.ns.anchor, () => {
    const s = new RawIpSocket(6);
    s.send(packet, addrBytes(CARE_OF));
    s.close();
  });
  const { fields, sends } = await captureOne(t.ns.anchor, 'any', 'icmp6 and ip6[40] == 4', ['ipv6.src', 'ipv6.dst', 'icmpv6.code', 'icmpv6.pointer', 'icmpv6.checksum.status'], send);
  expect(fields).toEqual([CARE_OF, a.ha.v6, '2', '42', '1']);
  expect(mn.icmpErrors.sent).toBe(sends);
  expect(said).toContain(`mn: ICMP Parameter Problem sent to ${a.ha.v6} for option type 0x8a`);
  expect(said.some((l) => l.startsWith('mn: destination option type 0x8a unknown'))).toBe(true);
  expect(mn.node.registration).toBe(registration); // the BA taken for nothing
  expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: CARE_OF });
});
