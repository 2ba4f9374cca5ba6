/**
 * The home agent's configuration: one JSON file, checked whole, every error
 * naming the key path and the problem ("mobileNodes[1].spi: must be an
 * integer in 256..4294967295, got 7").
 */
import { Checker, ConfigError, isObject, type Json } from '../config/checker.js';
import { addrBytes, inPrefix } from '../dataplane/layout.js';

export { ConfigError };

export interface MobileNodeProfile {
  nai: string;
  /** MN-HA shared key (RFC 4285), from hex. */
  key: Buffer;
  spi: number;
  homeAddress: string;
  /** A static IPv4 home address, or the pool dynamic ones come from. */
  ipv4HomeAddress?: { static: string } | { pool: string };
  /** Mobile network prefixes ("address/length"); a mobile router (NEMO) may register them. */
  prefixes: string[];
  mobileRouter: boolean;
}

export interface HomeAgentConfig {
  homeLink: { interface: string; prefixes: string[] };
  homeAgent: { ipv6: string; ipv4?: string; /** reached through a NAT at this address (RFC 5555 scenario 3) */ publicIpv4?: string };
  pools: Record<string, { from: string; to: string }>;
  policy: {
    forceUdp: 'allow' | 'refuse';
    tlv: boolean;
    maxLifetime: number;
    natRefreshTime: number;
    replayWindow: number;
    minDelayBeforeBceDelete: number;
    bindingRefreshLead: number;
    /** Signalling packets per second from one source (address, or address and port), and the burst allowed. */
    signallingRate: number;
    signallingBurst: number;
    /** Probe the home link for a home address before defending it (RFC 6275 §10.3.1: DAD, 134 if someone answers). */
    duplicateAddressDetection: boolean;
  };
  mobileNodes: MobileNodeProfile[];
}

const DEFAULT_POLICY: HomeAgentConfig['policy'] = {
  forceUdp: 'allow', tlv: true, maxLifetime: 3600, natRefreshTime: 110, replayWindow: 7, minDelayBeforeBceDelete: 10, bindingRefreshLead: 30,
  signallingRate: 10, signallingBurst: 20, duplicateAddressDetection: true,
};

/** Checks a parsed JSON configuration; throws ConfigError listing every problem. */
export function parseHomeAgentConfig(json: Json): HomeAgentConfig {
  const c = new Checker();
  const top = c.object(json, 'config', ['homeLink', 'homeAgent', 'pools', 'policy', 'mobileNodes']);

  const link = c.object(top.homeLink, 'homeLink', ['interface', 'prefixes']);
  const homeLink = { interface: c.string(link.interface, 'homeLink.interface'), prefixes: c.array(link.prefixes, 'homeLink.prefixes', (x, p) => c.prefix(x, p)) };

  const ha = c.object(top.homeAgent, 'homeAgent', ['ipv6', 'ipv4', 'publicIpv4']);
  const homeAgent: HomeAgentConfig['homeAgent'] = {
    ipv6: c.address(ha.ipv6, 'homeAgent.ipv6', 6),
    ...(ha.ipv4 !== undefined && { ipv4: c.address(ha.ipv4, 'homeAgent.ipv4', 4) }),
    ...(ha.publicIpv4 !== undefined && { publicIpv4: c.address(ha.publicIpv4, 'homeAgent.publicIpv4', 4) }),
  };

  // own properties whatever their names ("__proto__" too: an assignment would set the prototype instead)
  const pools: HomeAgentConfig['pools'] = Object.fromEntries(Object.entries(top.pools === undefined ? {} : c.object(top.pools, 'pools', Object.keys(isObject(top.pools) ? top.pools : {}))).map(([name, v]) => {
    const p = c.object(v, `pools.${name}`, ['from', 'to']);
    return [name, { from: c.address(p.from, `pools.${name}.from`, 4), to: c.address(p.to, `pools.${name}.to`, 4) }];
  }));

  const pol = top.policy === undefined ? {} : c.object(top.policy, 'policy', Object.keys(DEFAULT_POLICY));
  const forceUdp = pol.forceUdp === undefined || pol.forceUdp === 'allow' || pol.forceUdp === 'refuse'
    ? ((pol.forceUdp as 'allow' | 'refuse' | undefined) ?? DEFAULT_POLICY.forceUdp)
    : c.fail('policy.forceUdp', '"allow" or "refuse"', pol.forceUdp, DEFAULT_POLICY.forceUdp);
  const policy: HomeAgentConfig['policy'] = {
    forceUdp,
    tlv: c.boolean(pol.tlv, 'policy.tlv', DEFAULT_POLICY.tlv),
    maxLifetime: pol.maxLifetime === undefined || (pol.maxLifetime as number) % 4 === 0
      ? c.integer(pol.maxLifetime, 'policy.maxLifetime', 4, 65535 * 4, DEFAULT_POLICY.maxLifetime)
      : c.fail('policy.maxLifetime', 'seconds in 4..262140, a multiple of 4 (the wire counts 4-second units)', pol.maxLifetime, DEFAULT_POLICY.maxLifetime),
    natRefreshTime: c.integer(pol.natRefreshTime, 'policy.natRefreshTime', 1, 0xffffffff, DEFAULT_POLICY.natRefreshTime),
    replayWindow: c.integer(pol.replayWindow, 'policy.replayWindow', 1, 3600, DEFAULT_POLICY.replayWindow),
    minDelayBeforeBceDelete: c.integer(pol.minDelayBeforeBceDelete, 'policy.minDelayBeforeBceDelete', 0, 3600, DEFAULT_POLICY.minDelayBeforeBceDelete),
    bindingRefreshLead: c.integer(pol.bindingRefreshLead, 'policy.bindingRefreshLead', 0, 3600, DEFAULT_POLICY.bindingRefreshLead),
    signallingRate: c.integer(pol.signallingRate, 'policy.signallingRate', 1, 1_000_000, DEFAULT_POLICY.signallingRate),
    signallingBurst: c.integer(pol.signallingBurst, 'policy.signallingBurst', 1, 1_000_000, DEFAULT_POLICY.signallingBurst),
    duplicateAddressDetection: c.boolean(pol.duplicateAddressDetection, 'policy.duplicateAddressDetection', DEFAULT_POLICY.duplicateAddressDetection),
  };

  const mobileNodes = c.array(top.mobileNodes, 'mobileNodes', (x, path) => mobileNode(c, x, path, { pools, homeLink }));
  const seen = new Map<string, string>();
  mobileNodes.forEach((m, i) => {
    const owned: (readonly [string, string])[] = [['nai', m.nai], ['homeAddress', m.homeAddress], ['spi', String(m.spi)], ['ipv4HomeAddress', staticIpv4(m) ?? ''],
      ...m.prefixes.map((x) => ['prefixes', x] as const)]; // a mobile network prefix is one router's
    for (const [what, value] of owned) {
      if (!value || value === '0') continue; // already reported as invalid
      const key = `${what}=${value}`;
      const first = seen.get(key);
      if (first) c.problems.push(`mobileNodes[${i}].${what}: ${value} is already ${first}'s`);
      else seen.set(key, `mobileNodes[${i}]`);
    }
  });
  const prefixes = mobileNodes.flatMap((m, i) => m.prefixes.map((prefix) => ({ prefix, owner: i })));
  checkPools(c, pools, [homeAgent.ipv4, homeAgent.publicIpv4], prefixes);
  for (const [a, b] of overlapping(prefixes.map((x) => rangeOf(x.prefix)))) {
    const [first, then] = [prefixes[a]!, prefixes[b]!];
    if (first.owner !== then.owner && first.prefix !== then.prefix) c.problems.push(`mobileNodes[${then.owner}].prefixes: ${then.prefix} overlaps ${first.prefix}, mobileNodes[${first.owner}]'s`); // (the same prefix twice: reported above)
  }
  if (c.problems.length) throw new ConfigError(c.problems);
  return { homeLink, homeAgent, pools, policy, mobileNodes };
}

/**
 * Each pool runs forwards, overlaps no other pool, holds none of the home
 * agent's own addresses (a pool would lease it, the home link then proxy
 * it) and none of a node's IPv4 prefixes (its addresses are that node's).
 */
function checkPools(c: Checker, pools: HomeAgentConfig['pools'], own: readonly (string | undefined)[], prefixes: readonly { prefix: string; owner: number }[]): void {
  const named = Object.entries(pools).filter(([, p]) => p.from && p.to);
  const ranges = named.map(([, p]) => ({ family: 4 as const, first: ipv4Number(p.from), last: ipv4Number(p.to) }));
  named.forEach(([name, p], i) => {
    if (ranges[i]!.last < ranges[i]!.first) c.problems.push(`pools.${name}: ${p.to} comes before ${p.from}`);
    for (const address of own) if (address && ipv4Number(address) >= ranges[i]!.first && ipv4Number(address) <= ranges[i]!.last) c.problems.push(`pools.${name}: holds the home agent's own address ${address}`);
  });
  for (const [a, b] of overlapping(ranges)) c.problems.push(`pools.${named[b]![0]}: overlaps pools.${named[a]![0]}`);
  for (const { prefix, owner } of prefixes.filter((x) => !x.prefix.includes(':'))) { // (pools are few: each against each)
    const r = rangeOf(prefix);
    named.forEach(([name], i) => {
      if (ranges[i]!.first <= r.last && r.first <= ranges[i]!.last) c.problems.push(`pools.${name}: overlaps ${prefix}, mobileNodes[${owner}]'s`);
    });
  }
}

const ipv4Number = (address: string): bigint => BigInt(addrBytes(address).readUInt32BE(0));

/** The addresses a prefix "address/length" covers. */
function rangeOf(prefix: string): AddressRange {
  const [address = '', length = ''] = prefix.split('/');
  const bytes = addrBytes(address);
  const bits = BigInt(bytes.length * 8);
  const first = BigInt(`0x${bytes.toString('hex')}`) >> (bits - BigInt(length)) << (bits - BigInt(length));
  return { family: bytes.length === 4 ? 4 : 6, first, last: first | ((1n << (bits - BigInt(length))) - 1n) };
}

interface AddressRange { family: 4 | 6; first: bigint; last: bigint }

/** Pairs [i, j] of ranges that share an address, j the later by start: sorted once, each range checked against the furthest end before it. */
function overlapping(ranges: readonly AddressRange[]): [number, number][] {
  const order = ranges.map((_, i) => i).sort((i, j) => ranges[i]!.family - ranges[j]!.family || (ranges[i]!.first < ranges[j]!.first ? -1 : ranges[i]!.first > ranges[j]!.first ? 1 : 0));
  const pairs: [number, number][] = [];
  let reach: number | undefined; // the range reaching furthest so far, in this family
  for (const i of order) {
    const r = ranges[reach ?? i]!;
    if (reach !== undefined && r.family === ranges[i]!.family && ranges[i]!.first <= r.last) pairs.push([reach, i]);
    if (reach === undefined || r.family !== ranges[i]!.family || ranges[i]!.last > r.last) reach = i;
  }
  return pairs;
}

/** Two prefixes share an address: one holds the other (the REST API's check of a new profile against each other one). */
export const prefixesOverlap = (a: string, b: string): boolean => inPrefix(a.split('/')[0]!, b) || inPrefix(b.split('/')[0]!, a);

/** The node's static IPv4 home address, if it has one (not a pool). */
export const staticIpv4 = (m: MobileNodeProfile | undefined): string | undefined =>
  (m?.ipv4HomeAddress && 'static' in m.ipv4HomeAddress ? m.ipv4HomeAddress.static : undefined);

/** One mobile node profile (the REST API's body), checked like the file's; throws ConfigError naming each field. */
export function parseMobileNodeProfile(json: Json, config: Pick<HomeAgentConfig, 'pools' | 'homeLink'>, path = 'profile'): MobileNodeProfile {
  const c = new Checker();
  const profile = mobileNode(c, json, path, config);
  if (c.problems.length) throw new ConfigError(c.problems);
  return profile;
}

/** A profile as the file (and the REST API) writes it: the key as hex, the IPv4 source as an address or { pool }. */
export function profileJson(p: MobileNodeProfile, withKey = true): Record<string, unknown> {
  return {
    nai: p.nai, ...(withKey && { key: p.key.toString('hex') }), spi: p.spi, homeAddress: p.homeAddress,
    ...(p.ipv4HomeAddress && { ipv4HomeAddress: 'static' in p.ipv4HomeAddress ? p.ipv4HomeAddress.static : { pool: p.ipv4HomeAddress.pool } }),
    ...(p.prefixes.length > 0 && { prefixes: p.prefixes }), ...(p.mobileRouter && { mobileRouter: true }),
  };
}

/** The configuration as a file again (profiles changed through the API are saved so). */
export function configJson(c: HomeAgentConfig): Record<string, unknown> {
  return { homeLink: c.homeLink, homeAgent: c.homeAgent, pools: c.pools, policy: c.policy, mobileNodes: c.mobileNodes.map((p) => profileJson(p)) };
}

const MAX_NAI_BYTES = 254;
/** Prefixes a profile may hold: enough for any mobile network, and its binding then fits a journal slot (journal.ts). */
export const MAX_PROFILE_PREFIXES = 32;

function mobileNode(c: Checker, v: Json, path: string, { pools, homeLink }: Pick<HomeAgentConfig, 'pools' | 'homeLink'>): MobileNodeProfile {
  const m = c.object(v, path, ['nai', 'key', 'spi', 'homeAddress', 'ipv4HomeAddress', 'prefixes', 'mobileRouter']);
  const keyHex = typeof m.key === 'string' && /^([0-9a-f]{2})+$/i.test(m.key) ? m.key : c.fail(`${path}.key`, 'a hex string', m.key, '');
  let ipv4: MobileNodeProfile['ipv4HomeAddress'];
  if (isObject(m.ipv4HomeAddress)) {
    const pool = c.string(m.ipv4HomeAddress.pool, `${path}.ipv4HomeAddress.pool`);
    if (pool && !Object.hasOwn(pools, pool)) c.problems.push(`${path}.ipv4HomeAddress.pool: no pool named ${JSON.stringify(pool)}`);
    ipv4 = { pool };
  } else if (m.ipv4HomeAddress !== undefined) {
    ipv4 = { static: c.address(m.ipv4HomeAddress, `${path}.ipv4HomeAddress`, 4) };
  }
  const homeAddress = c.address(m.homeAddress, `${path}.homeAddress`, 6);
  // the home agent answers a BU for a home address off its link with 132 (RFC 6275 §10.3.1): say so now
  if (homeAddress && !homeLink.prefixes.some((p) => inPrefix(homeAddress, p))) c.problems.push(`${path}.homeAddress: ${homeAddress} is not on the home link (homeLink.prefixes)`);
  const nai = c.string(m.nai, `${path}.nai`);
  // RFC 4283: the identifier is what an option's 8-bit length leaves after the subtype
  if (Buffer.byteLength(nai) > MAX_NAI_BYTES) c.problems.push(`${path}.nai: ${Buffer.byteLength(nai)} bytes, at most ${MAX_NAI_BYTES} fit a Mobile Node Identifier option`);
  // RFC 7542 §2.2: no control characters, quotes or backslashes in an NAI (a journal slot then holds it as it is)
  if (/["\\\u0000-\u001f\u007f]/.test(nai)) c.problems.push(`${path}.nai: control characters, quotes and backslashes are no part of an NAI (RFC 7542)`);
  const spi = c.integer(m.spi ?? null, `${path}.spi`, 256, 0xffffffff, 0); // required; 0–255 are reserved (RFC 4285)
  const prefixes = c.array(m.prefixes, `${path}.prefixes`, (x, p) => c.prefix(x, p));
  if (prefixes.length > MAX_PROFILE_PREFIXES) c.problems.push(`${path}.prefixes: ${prefixes.length} of them, at most ${MAX_PROFILE_PREFIXES}`);
  const mobileRouter = c.boolean(m.mobileRouter, `${path}.mobileRouter`, false);
  // RFC 3963 §6.2, RFC 5555 §3.1.1: mobile network prefixes, IPv6 or IPv4, are a mobile router's (a node that is none would be refused them)
  if (prefixes.length > 0 && !mobileRouter) c.problems.push(`${path}.prefixes: mobile network prefixes are a mobile router's: set mobileRouter: true`);
  return {
    nai,
    key: Buffer.from(keyHex, 'hex'),
    spi,
    homeAddress,
    ...(ipv4 && { ipv4HomeAddress: ipv4 }),
    prefixes,
    mobileRouter,
  };
}
