/**
 * The home agent's Binding Refresh Request for real, in the roaming lab: a
 * node on the IPv6 visited network with an 8 s lifetime is asked to refresh
 * 3 s before it runs out, before its own timer (80%) would. The request
 * goes to its home address through its tunnel (RFC 6275 §6.1: a type 2
 * routing header only on a BA), the node's data plane hands it to its
 * daemon, and the node answers with a BU that the home agent accepts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { roamingAddr as a } from '../../control/lab/roaming-lab.js';
import { decodeTunnelledSignalling6 } from '../../control/wire/ip/signalling.js';
import { decodeMobilityHeader } from '../../control/wire/mh/index.js';
import { ipPacketOf, readCapture } from '../../control/wire/pcap.js';
import { roamingPair, type RoamingPair } from '../helpers/roaming-pair.js';
import { field, LINKTYPE_RAW, tshark } from '../helpers/tshark.js';

let pair: RoamingPair;
const dir = mkdtempSync(join(tmpdir(), 'brr-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  pair = roamingPair('brr', { maxLifetime: 8, bindingRefreshLead: 3 }, { capture: join(dir, 'ha.pcap') });
});
afterAll(() => {
  pair?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

it('a node on IPv6 is asked to refresh through its tunnel, and does', async () => {
  const { t, ha, mn, said } = pair;
  t.moveTo('v6');
  mn.start();
  for (const end = Date.now() + 5000; !ha.homeAgent.binding('mn@example.net') && Date.now() < end;) await sleep(20);
  const first = ha.homeAgent.binding('mn@example.net')!.sequence;
  const answered = () => said.includes('mn: binding refresh requested') && ha.homeAgent.binding('mn@example.net')!.sequence !== first;
  for (const end = Date.now() + 8000; !answered() && Date.now() < end;) await sleep(50);
  expect(said).toContain('ha: binding refresh requested from mn@example.net');
  expect(answered()).toBe(true);
  expect(said).not.toContain('mn: refreshing the registration'); // (its own timer had not come yet)

  const sent = readCapture(readFileSync(join(dir, 'ha.pcap'))).map((r) => ipPacketOf(r)!.packet).filter((p) => p[6] === 41); // IPv6 in IPv6
  expect(sent).toHaveLength(1);
  const { outer, inner } = decodeTunnelledSignalling6(sent[0]!);
  expect(outer).toMatchObject({ src: a.ha.v6, dst: '2001:db8:f::2' });
  expect(inner).toMatchObject({ ipv6: { src: a.ha.v6, dst: a.mnHome.v6 }, mhChecksumOk: true });
  expect(inner.routingHeader2).toBeUndefined();
  expect(decodeMobilityHeader(inner.mh)).toMatchObject({ type: 'bindingRefreshRequest' });
  // as tshark reads it: IPv6 in IPv6 to the care-of address, inside it an MH of type 0 (Binding Refresh Request) to the home address
  const [seen] = tshark(sent, { linktype: LINKTYPE_RAW });
  expect({ dst: field(seen!, 'ipv6.dst'), type: field(seen!, 'mip6.mhtype') }).toEqual({ dst: ['2001:db8:f::2', a.mnHome.v6], type: ['0'] });
});
