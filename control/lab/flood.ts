/**
 * A signalling flood, for the lab's tests and the benchmark: Binding Updates
 * in UDP 4191 to a home agent's IPv4 address from many spoofed sources
 * (198.18.0.0/15), most of them invalid: six in ten name an unknown NAI,
 * three in ten a known one with a wrong authenticator, one in ten is
 * garbage after the UDP header. Run it inside a namespace:
 *
 *   node flood.js --dst 10.1.0.1 --seconds 3 --rate 50000 --sources 500 [--nai mn@example.net --spi 4096 --home 2001:db8:1::100]
 *
 * It sends at the rate it can up to --rate and prints { sent, seconds, rate }.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { addrBytes } from '../dataplane/layout.js';
import { RawIpSocket } from '../sys/libc.js';
import { signMnHa } from '../wire/auth/mipv6.js';
import { ntpTimestamp } from '../wire/auth/replay.js';
import { encodeSignalling4, encodeSignalling6 } from '../wire/ip/signalling.js';
import { DSMIP6_UDP_PORT } from '../wire/ip/constants.js';
import { encodeMobilityHeader, NO_BU_FLAGS } from '../wire/mh/index.js';

export interface FloodOptions {
  dst: string;
  ha6?: string;
  sources: number;
  nai: string;
  spi: number;
  home: string;
}

const FLAGS = { ...NO_BU_FLAGS, a: true, h: true };

/** One packet per source, built once: the flood replays them. */
export function floodPackets(o: FloodOptions): Buffer[] {
  return Array.from({ length: o.sources }, (_, i) => {
    const src = `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;
    const srcPort = 1024 + ((i * 7919) % 60000);
    const kind = i % 10;
    const careOf = '192.168.0.2';
    const nai = kind < 6 ? `stranger${i}@example.org` : o.nai;
    const mh = signMnHa(encodeMobilityHeader({
      type: 'bindingUpdate', sequence: i & 0xffff, lifetime: 600, flags: FLAGS,
      options: [{ type: 'ipv4CareOfAddress', address: careOf }, { type: 'mobileNodeIdentifier', subtype: 1, identifier: nai },
        { type: 'replayProtection', timestamp: ntpTimestamp(Date.now()) }, { type: 'mobilityMessageAuthentication', subtype: 1, spi: o.spi, authenticator: Buffer.alloc(12) }],
    }), { key: randomBytes(20), spi: o.spi, careOf, home: o.home }); // a key no one has: the authenticator never verifies
    const ipv6 = kind === 9 ? randomBytes(48) : encodeSignalling6({ src: o.home, dst: o.ha6 ?? '2001:db8:1::1', mh });
    return encodeSignalling4({ src, dst: o.dst, srcPort, dstPort: DSMIP6_UDP_PORT, ipv6 });
  });
}

/** Sends packets round-robin at up to rate per second for seconds; returns how many went. */
export function flood(packets: readonly Buffer[], dst: string, seconds: number, rate: number): { sent: number; seconds: number; rate: number } {
  const socket = new RawIpSocket(4);
  const to = addrBytes(dst);
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  try {
    for (let now = start; now < end; now = process.hrtime.bigint()) {
      const due = Math.floor((Number(now - start) / 1e9) * rate);
      for (; sent < due; sent++) socket.send(packets[sent % packets.length]!, to);
    }
  } finally {
    socket.close();
  }
  const took = Number(process.hrtime.bigint() - start) / 1e9;
  return { sent, seconds: took, rate: Math.round(sent / took) };
}

if (process.argv[1]?.endsWith('flood.ts') || process.argv[1]?.endsWith('flood.js')) {
  const { values } = parseArgs({
    options: {
      dst: { type: 'string' }, ha6: { type: 'string' }, seconds: { type: 'string', default: '3' }, rate: { type: 'string', default: '50000' },
      sources: { type: 'string', default: '500' }, nai: { type: 'string', default: 'mn@example.net' }, spi: { type: 'string', default: '4096' },
      home: { type: 'string', default: '2001:db8:1::100' },
    },
  });
  if (!values.dst) {
    process.stderr.write('usage: flood --dst IPV4 [--seconds S] [--rate PER_S] [--sources N] [--nai NAI --spi SPI --home HOA] [--ha6 ADDR]\n');
    process.exit(2);
  }
  const packets = floodPackets({ dst: values.dst, ...(values.ha6 && { ha6: values.ha6 }), sources: Number(values.sources), nai: values.nai, spi: Number(values.spi), home: values.home });
  process.stdout.write(`${JSON.stringify(flood(packets, values.dst, Number(values.seconds), Number(values.rate)))}\n`);
}
