/**
 * fast-check arbitraries for valid Mobility Header messages and options:
 * every value they generate is one the encoder must accept and the decoder
 * must give back unchanged.
 */
import fc from 'fast-check';
import { formatAddr } from '../../../control/dataplane/layout.js';
import { OptionType } from '../../../control/wire/mh/constants.js';
import { mobilityHeader, type MobilityHeader, type MobilityOption } from '../../../control/wire/mh/index.js';

export const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatAddr(Buffer.from(b), 4));
export const addr6 = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  // mostly-zero addresses exercise the '::' forms
  fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 })).map(([i, v]) => Uint8Array.from({ length: 16 }, (_, j) => (j === i ? v : 0))),
).map((b) => formatAddr(Buffer.from(b), 6));
export const buf = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength }).map((b) => Buffer.from(b));
/** fc.record, as a plain object (fast-check's have a null prototype, which toStrictEqual tells apart). */
const rec: typeof fc.record = ((model: any) => fc.record(model).map((o) => ({ ...o }))) as typeof fc.record;
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
/** Seconds in 4-second units, as lifetimes and refresh intervals are carried. */
export const seconds4 = u16.map((n) => n * 4);
const prefix4 = fc.integer({ min: 0, max: 32 });
const prefix6 = fc.integer({ min: 0, max: 128 });

const known = new Set<number>(Object.values(OptionType));
const nai = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s, 'utf8') <= 254);

export const optionArbs: { [K in MobilityOption['type']]: fc.Arbitrary<Extract<MobilityOption, { type: K }>> } = {
  bindingRefreshAdvice: rec({ type: fc.constant('bindingRefreshAdvice'), refreshInterval: seconds4 }),
  alternateCareOfAddress: rec({ type: fc.constant('alternateCareOfAddress'), address: addr6 }),
  nonceIndices: rec({ type: fc.constant('nonceIndices'), homeNonceIndex: u16, careOfNonceIndex: u16 }),
  bindingAuthorizationData: rec({ type: fc.constant('bindingAuthorizationData'), authenticator: buf(255) }),
  mobileNetworkPrefix: rec({ type: fc.constant('mobileNetworkPrefix'), prefixLength: prefix6, prefix: addr6 }),
  mobileNodeIdentifier: fc.oneof(
    rec({ type: fc.constant('mobileNodeIdentifier' as const), subtype: fc.constant(1 as const), identifier: nai }),
    rec({ type: fc.constant('mobileNodeIdentifier' as const), subtype: u8.filter((s) => s !== 1), identifier: buf(254) }),
  ),
  mobilityMessageAuthentication: rec({ type: fc.constant('mobilityMessageAuthentication'), subtype: u8, spi: u32, authenticator: buf(250) }),
  replayProtection: rec({ type: fc.constant('replayProtection'), timestamp: u64 }),
  homeNetworkPrefix: rec({ type: fc.constant('homeNetworkPrefix'), prefixLength: prefix6, prefix: addr6 }),
  handoffIndicator: rec({ type: fc.constant('handoffIndicator'), indicator: u8 }),
  accessTechnologyType: rec({ type: fc.constant('accessTechnologyType'), att: u8 }),
  mnLinkLayerIdentifier: rec({ type: fc.constant('mnLinkLayerIdentifier'), identifier: buf(253) }),
  linkLocalAddress: rec({ type: fc.constant('linkLocalAddress'), address: addr6 }),
  timestamp: rec({ type: fc.constant('timestamp'), timestamp: u64 }),
  ipv4HomeAddress: rec({ type: fc.constant('ipv4HomeAddress'), prefixLength: prefix4, p: fc.boolean(), address: addr4 }),
  ipv4AddressAcknowledgement: rec({ type: fc.constant('ipv4AddressAcknowledgement'), status: u8, prefixLength: prefix4, address: addr4 }),
  natDetection: rec({ type: fc.constant('natDetection'), f: fc.boolean(), refreshTime: u32 }),
  ipv4CareOfAddress: rec({ type: fc.constant('ipv4CareOfAddress'), address: addr4 }),
  greKey: rec({ type: fc.constant('greKey'), key: fc.option(u32, { nil: null }) }),
  ipv4HomeAddressRequest: rec({ type: fc.constant('ipv4HomeAddressRequest'), prefixLength: prefix4, address: addr4 }),
  ipv4HomeAddressReply: rec({ type: fc.constant('ipv4HomeAddressReply'), status: u8, prefixLength: prefix4, address: addr4 }),
  ipv4DefaultRouterAddress: rec({ type: fc.constant('ipv4DefaultRouterAddress'), address: addr4 }),
  ipv4DhcpSupportMode: rec({ type: fc.constant('ipv4DhcpSupportMode'), s: fc.boolean() }),
  unknown: rec({ type: fc.constant('unknown'), code: u8.filter((c) => !known.has(c)), data: buf(255) }),
};

export const option: fc.Arbitrary<MobilityOption> = fc.oneof(...Object.values(optionArbs) as fc.Arbitrary<MobilityOption>[]);
export const options = fc.array(option, { maxLength: 8 });

const flags = <K extends string>(keys: readonly K[]) =>
  fc.tuple(...keys.map(() => fc.boolean())).map((bs) => Object.fromEntries(keys.map((k, i) => [k, bs[i]!])) as Record<K, boolean>);
export const buFlags = flags(['a', 'h', 'l', 'k', 'm', 'r', 'p', 'f', 't'] as const);
export const baFlags = flags(['k', 'r', 'p', 't'] as const);
export const brFlags = flags(['p', 'v', 'g'] as const);

export const messageArbs: { [K in MobilityHeader['type']]: fc.Arbitrary<Extract<MobilityHeader, { type: K }>> } = {
  bindingRefreshRequest: rec({ type: fc.constant('bindingRefreshRequest'), checksum: u16, options }),
  bindingUpdate: rec({ type: fc.constant('bindingUpdate'), checksum: u16, sequence: u16, flags: buFlags, lifetime: seconds4, options }),
  bindingAcknowledgement: rec({
    type: fc.constant('bindingAcknowledgement'), checksum: u16, status: u8, flags: baFlags, sequence: u16, lifetime: seconds4, options,
  }),
  bindingError: rec({ type: fc.constant('bindingError'), checksum: u16, status: u8, homeAddress: addr6, options }),
  bindingRevocationIndication: rec({
    type: fc.constant('bindingRevocationIndication'), checksum: u16, trigger: u8, sequence: u16, flags: brFlags, options,
  }),
  bindingRevocationAcknowledgement: rec({
    type: fc.constant('bindingRevocationAcknowledgement'), checksum: u16, status: u8, sequence: u16, flags: brFlags, options,
  }),
  unsupported: rec({
    type: fc.constant('unsupported'),
    checksum: u16,
    mhType: u8.filter((t) => ![0, 5, 6, 7, 16].includes(t)),
    data: fc.integer({ min: 0, max: 40 }).chain((n) => buf(8 * n + 2, 8 * n + 2)),
  }),
};

/** Any valid message that fits the 2048-octet limit of the MH. */
export const message: fc.Arbitrary<MobilityHeader> = fc
  .oneof(...Object.values(messageArbs) as fc.Arbitrary<MobilityHeader>[])
  .filter((m) => mobilityHeader.encodingLength(m) <= 2048);
