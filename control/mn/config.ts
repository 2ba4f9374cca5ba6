/**
 * The mobile node's configuration: one JSON file, checked whole like the
 * home agent's (errors name the key path and the problem).
 *
 *   {
 *     "nai": "mn@example.net", "key": "<hex>", "spi": 4096,
 *     "homeAddress": "2001:db8:1::100",
 *     "ipv4HomeAddress": "10.1.0.100" | "dynamic",       (optional)
 *     "homeLink": { "prefixes": ["2001:db8:1::/64", "10.1.0.0/24"] },
 *     "homeAgent": { "ipv6": "2001:db8:1::1", "ipv4": "192.0.2.1" },
 *     "interfaces": ["wlan0", "eth0"],                   (where it may attach)
 *     "lifetime": 600, "forceUdp": false, "tlv": false,
 *     "mobileRouter": false, "prefixes": []              (NEMO: explicit prefixes, or none for implicit mode)
 *   }
 */
import { Checker, ConfigError, type Json } from '../config/checker.js';

export interface MobileNodeConfig {
  nai: string;
  key: Buffer;
  spi: number;
  homeAddress: string;
  /** A static IPv4 home address, 'dynamic' to ask for one, or none. */
  ipv4HomeAddress?: string;
  homeLink: { prefixes: string[] };
  homeAgent: { ipv6: string; ipv4?: string };
  interfaces: string[];
  /** Requested lifetime, seconds (a multiple of 4). */
  lifetime: number;
  forceUdp: boolean;
  tlv: boolean;
  mobileRouter: boolean;
  prefixes: string[];
}

const KEYS = ['nai', 'key', 'spi', 'homeAddress', 'ipv4HomeAddress', 'homeLink', 'homeAgent', 'interfaces', 'lifetime', 'forceUdp', 'tlv', 'mobileRouter', 'prefixes'];

/** Checks a parsed JSON configuration; throws ConfigError listing every problem. */
export function parseMobileNodeConfig(json: Json): MobileNodeConfig {
  const c = new Checker();
  const top = c.object(json, 'config', KEYS);
  const keyHex = typeof top.key === 'string' && /^([0-9a-f]{2})+$/i.test(top.key) ? top.key : c.fail('key', 'a hex string', top.key, '');
  const link = c.object(top.homeLink, 'homeLink', ['prefixes']);
  const ha = c.object(top.homeAgent, 'homeAgent', ['ipv6', 'ipv4']);
  const lifetime = c.integer(top.lifetime, 'lifetime', 4, 0xffff * 4, 600);
  if (lifetime % 4 !== 0) c.fail('lifetime', 'a multiple of 4 seconds (the wire counts 4-second units)', lifetime, 0);
  const ipv4 = top.ipv4HomeAddress === undefined || top.ipv4HomeAddress === 'dynamic'
    ? (top.ipv4HomeAddress as string | undefined)
    : c.address(top.ipv4HomeAddress, 'ipv4HomeAddress', 4);
  const config: MobileNodeConfig = {
    nai: c.string(top.nai, 'nai'),
    key: Buffer.from(keyHex, 'hex'),
    spi: c.integer(top.spi ?? null, 'spi', 256, 0xffffffff, 0),
    homeAddress: c.address(top.homeAddress, 'homeAddress', 6),
    ...(ipv4 !== undefined && { ipv4HomeAddress: ipv4 }),
    homeLink: { prefixes: c.array(link.prefixes, 'homeLink.prefixes', (x, p) => c.prefix(x, p)) },
    homeAgent: { ipv6: c.address(ha.ipv6, 'homeAgent.ipv6', 6), ...(ha.ipv4 !== undefined && { ipv4: c.address(ha.ipv4, 'homeAgent.ipv4', 4) }) },
    interfaces: c.array(top.interfaces, 'interfaces', (x, p) => c.string(x, p)),
    lifetime,
    forceUdp: c.boolean(top.forceUdp, 'forceUdp', false),
    tlv: c.boolean(top.tlv, 'tlv', false),
    mobileRouter: c.boolean(top.mobileRouter, 'mobileRouter', false),
    prefixes: c.array(top.prefixes, 'prefixes', (x, p) => c.prefix(x, p)),
  };
  if (config.interfaces.length === 0) c.problems.push('interfaces: must name at least one interface');
  if (c.problems.length) throw new ConfigError(c.problems);
  return config;
}
