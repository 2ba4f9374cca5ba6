/**
 * Wire-format throughput on one core: decode and encode of an authenticated
 * DSMIPv6 Binding Update (IPv4 home address, IPv4 care-of address, NAI,
 * MN-HA authentication) and of its Binding Acknowledgement, beside a
 * JSON.stringify + JSON.parse round trip of the same decoded message,
 * measured in the same run (the baseline: Node's own serializer).
 */
import { decodeMobilityHeader, encodeMobilityHeader, NO_BA_FLAGS, NO_BU_FLAGS, type MobilityHeader } from '../control/wire/mh/index.js';
import { signMnHa, verifyMnHa } from '../control/wire/auth/mipv6.js';
import type { ResultRow } from './report.js';

const KEY = Buffer.alloc(20, 7);
const SPI = 0x1000;
const SECURITY = { careOf: '2001:db8:f::2', home: '2001:db8:1::100' };
const auth = { type: 'mobilityMessageAuthentication' as const, subtype: 1, spi: SPI, authenticator: Buffer.alloc(12) };

export const bindingUpdate: MobilityHeader = {
  type: 'bindingUpdate', sequence: 4711, lifetime: 3600, flags: { ...NO_BU_FLAGS, a: true, h: true },
  options: [
    { type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' },
    { type: 'ipv4CareOfAddress', address: '198.51.100.2' },
    { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn1@example.net' },
    auth,
  ],
};

export const bindingAck: MobilityHeader = {
  type: 'bindingAcknowledgement', status: 0, sequence: 4711, lifetime: 3600, flags: NO_BA_FLAGS,
  options: [
    { type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.100' },
    { type: 'natDetection', f: false, refreshTime: 110 },
    auth,
  ],
};

/** Messages per second of fn, over about `ms` of wall time after a warm-up. */
function rate(fn: () => unknown, ms = 700): number {
  for (let i = 0; i < 20_000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

export interface WireResult { name: string; decode: number; decodeVerify: number; encode: number; encodeSign: number; jsonParse: number }

export function wireBench(): WireResult[] {
  return [['bu', bindingUpdate], ['ba', bindingAck]].map(([name, message]) => {
    const m = message as MobilityHeader;
    const bytes = signMnHa(encodeMobilityHeader(m), { key: KEY, spi: SPI, ...SECURITY });
    if (verifyMnHa(bytes, { keyFor: () => KEY, ...SECURITY }).verdict !== 'ok') throw new Error(`wire bench: ${name as string} does not verify`);
    const decoded = decodeMobilityHeader(bytes);
    const text = json(decoded);
    return {
      name: name as string,
      decode: rate(() => decodeMobilityHeader(bytes)),
      encode: rate(() => encodeMobilityHeader(m)),
      // what a home agent does with each message: decode and authenticate it, or build and sign it
      decodeVerify: rate(() => verifyMnHa(bytes, { keyFor: () => KEY, ...SECURITY }).verdict === 'ok' && decodeMobilityHeader(bytes)),
      encodeSign: rate(() => signMnHa(encodeMobilityHeader(m), { key: KEY, spi: SPI, ...SECURITY })),
      jsonParse: rate(() => JSON.parse(text)),
    };
  });
}

export function wireRows(results: WireResult[]): ResultRow[] {
  const unit = 'messages/s';
  return results.flatMap((r) => {
    const base = `wire/${r.name}/json-parse`;
    return [
      { name: base, value: Math.round(r.jsonParse), unit },
      { name: `wire/${r.name}/decode`, value: Math.round(r.decode), unit, baseline: base },
      { name: `wire/${r.name}/encode`, value: Math.round(r.encode), unit, baseline: base },
      { name: `wire/${r.name}/decode-verify`, value: Math.round(r.decodeVerify), unit, baseline: base },
      { name: `wire/${r.name}/encode-sign`, value: Math.round(r.encodeSign), unit, baseline: base },
    ];
  });
}

export function wireTable(results: WireResult[]): string {
  const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
  const ratio = (x: number, r: WireResult) => `${k(x).padStart(6)} ${`(${(x / r.jsonParse).toFixed(2)}×)`.padStart(8)}`;
  const lines = results.map((r) => `${r.name.toUpperCase().padEnd(4)}  ${k(r.jsonParse).padStart(6)}  ${ratio(r.decode, r)}  ${ratio(r.encode, r)}  ${ratio(r.decodeVerify, r)}  ${ratio(r.encodeSign, r)}`);
  return [
    '3. Wire formats, messages/s on one core: authenticated DSMIPv6 BU (IPv4 HoA, IPv4 CoA, NAI, MN-HA auth) and its BA,',
    '   beside JSON.parse of the same decoded message (Node\'s own parser, same run)',
    'msg   JSON.parse    decode            encode            decode+verify     encode+sign',
    ...lines,
  ].join('\n');
}
