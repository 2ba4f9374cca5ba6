/**
 * Byte layouts of the map keys and values declared in bpf/anchor.h.
 * The C header is the source of truth: test/dataplane/layout.test.ts checks
 * every offset and size here against the BTF of the compiled object.
 */

export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
}
export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly fields: Readonly<Record<string, FieldLayout>>;
}

export function struct(name: string, size: number, fields: Record<string, [number, number]>): StructLayout {
  const out: Record<string, FieldLayout> = {};
  for (const [field, [offset, len]] of Object.entries(fields)) out[field] = { offset, size: len };
  return { name, size, fields: out };
}

export const layouts = {
  tunnel: struct('tunnel', 68, {
    binding_id: [0, 4], format: [4, 1], nh_valid: [5, 1], mtu: [6, 2],
    local: [8, 16], remote: [24, 16], local_port: [40, 2], remote_port: [42, 2],
    nh_ifindex: [44, 4], nh_mtu: [48, 2], nh_smac: [50, 6], nh_dmac: [56, 6], seq: [64, 4],
  }),
  tunnel_slot: struct('tunnel_slot', 144, { seq: [0, 4], pad: [4, 4], copy: [8, 136] }),
  nexthop: struct('nexthop', 24, { seq: [0, 4], ifindex: [4, 4], mtu: [8, 2], smac: [10, 6], dmac: [16, 6], pad: [22, 2] }),
  prefix4_key: struct('prefix4_key', 8, { prefixlen: [0, 4], addr: [4, 4] }),
  prefix6_key: struct('prefix6_key', 20, { prefixlen: [0, 4], addr: [4, 16] }),
  endpoint_key: struct('endpoint_key', 20, { addr: [0, 16], family: [16, 1], pad: [17, 1], port: [18, 2] }),
  anchor_config: struct('anchor_config', 40, { role: [0, 4], generation: [4, 4], icmp_src4: [8, 16], icmp_src6: [24, 16] }),
  home_link: struct('home_link', 24, { mac: [0, 6], pad: [6, 2], ipv6: [8, 16] }),
  icmp_budget: struct('icmp_budget', 16, { stamp_ns: [0, 8], credit_ns: [8, 8] }),
  binding_counters: struct('binding_counters', 32, {
    encap_packets: [0, 8], encap_bytes: [8, 8], decap_packets: [16, 8], decap_bytes: [24, 8],
  }),
  signal_event: struct('signal_event', 8 + 2048, { ifindex: [0, 4], frame_len: [4, 2], reserved: [6, 2], frame: [8, 2048] }),
} as const;

/** Numbers from the C enums (checked against BTF too). */
export const TunnelFormat = { ip6: 1, ip4: 2, udp4: 3, 'udp4-tlv': 4 } as const;
export type TunnelFormatName = keyof typeof TunnelFormat;
export const Role = { anchor: 0, mobile: 1 } as const;
export type RoleName = keyof typeof Role;
export const EndpointFlag = { decap: 1, mh: 2, signal: 4 } as const;

const L = layouts;

/**
 * The bytes of an IPv4 or IPv6 address in text (IPv6 with an embedded IPv4
 * tail too); throws TypeError on anything else. Hand-parsed: the control
 * plane turns addresses into bytes several times per Binding Update.
 */
export function addrBytes(addr: string): Buffer {
  const b = Buffer.allocUnsafe(addr.includes(':') ? 16 : 4);
  writeAddr(addr, b, 0);
  return b;
}

/**
 * The bytes of an address in text into `into` at `at` (4 or 16 of them, as
 * addrBytes() would return); their count. Throws TypeError on anything
 * else. For bytes copied where they go at once: nothing is allocated (a
 * BU's care-of address, parsed into its tunnel and journal slot, left no
 * Buffer for the scavenger to copy).
 */
export function writeAddr(addr: string, into: Uint8Array, at: number): 4 | 16 {
  const v6 = addr.includes(':');
  if (!(v6 ? parseIpv6(addr, into, at) : parseIpv4(addr, 0, addr.length, into, at))) throw new TypeError(`not an IP address: ${JSON.stringify(addr)}`);
  return v6 ? 16 : 4;
}

/** Addresses lately parsed by sharedAddrBytes(), forgotten all at once when there are this many. */
const SHARED_ADDRS_MAX = 1024;
const sharedAddrs = new Map<string, Buffer>();

/**
 * addrBytes() for readers only: the bytes are shared with the next caller
 * asking for the same address, so they must not be changed. A BU's
 * addresses are turned into bytes several times (its authenticator, the
 * BA's, the BA's headers and checksum): parsed once.
 */
export function sharedAddrBytes(addr: string): Buffer {
  return sharedAddrs.get(addr) ?? share(addr, addrBytes(addr));
}

function share(addr: string, bytes: Buffer): Buffer {
  if (sharedAddrs.size >= SHARED_ADDRS_MAX) sharedAddrs.clear();
  sharedAddrs.set(addr, bytes);
  return bytes;
}

/** A source address no packet can come from: multicast or unspecified (RFC 4291 §2.7, §2.5.2), IPv4 multicast, broadcast or this-network. */
export function noSource(address: string): boolean {
  const b = sharedAddrBytes(address);
  return b.length === 16 ? b[0] === 0xff || b.every((x) => x === 0) : b[0] === 0 || b[0]! >= 224;
}

export function addrFamily(addr: string): 4 | 6 {
  return sharedAddrBytes(addr).length === 4 ? 4 : 6;
}

/** An address in canonical form (RFC 5952 for IPv6): "2001:DB8:1::0:5" is "2001:db8:1::5", as packets decode. */
export function canonicalAddr(addr: string): string {
  const b = addrBytes(addr);
  return formatAddr(b, b.length === 4 ? 4 : 6);
}

/** The six bytes of a MAC address written "02:00:00:00:00:01"; throws TypeError on anything else. */
export function macBytes(mac: string): Buffer {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw new TypeError(`not a MAC address: ${JSON.stringify(mac)}`);
  return Buffer.from(mac.replaceAll(':', ''), 'hex');
}

/** Dotted quad in s[from, to): four decimal octets, no leading zeros; into out[at..] (written to even if it is not one). */
function parseIpv4(s: string, from: number, to: number, out: Uint8Array, at: number): boolean {
  let octet = 0;
  let i = from;
  for (; octet < 4; octet++) {
    let v = 0;
    const start = i;
    while (i < to && i - start < 3) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || v > 255 || (digits > 1 && s.charCodeAt(start) === 48)) return false;
    out[at + octet] = v;
    if (octet < 3) {
      if (i >= to || s.charCodeAt(i) !== 46) return false;
      i++;
    }
  }
  return i === to;
}

const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

const words = new Uint16Array(8); // scratch for parseIpv6
const tail4 = new Uint8Array(4); // (its IPv4 tail)

/** RFC 4291 §2.2 text: up to eight groups of 1–4 hex digits, one "::", an IPv4 tail in the last 32 bits; into out[at..] (untouched if it is not one). */
function parseIpv6(s: string, out: Uint8Array, at: number): boolean {
  const n = s.length;
  let groups = 0;
  let gap = -1; // where "::" stands, in groups
  let i = 0;
  if (s.startsWith('::')) {
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (groups >= 8) return false;
    let v = 0;
    const start = i;
    for (let h; i < n && i - start < 5 && (h = hexValue(s.charCodeAt(i))) >= 0; i++) v = v * 16 + h;
    if (i < n && s.charCodeAt(i) === 46) { // the IPv4 tail, in place of two groups
      if (groups > 6 || !parseIpv4(s, start, n, tail4, 0)) return false;
      words[groups++] = (tail4[0]! << 8) | tail4[1]!;
      words[groups++] = (tail4[2]! << 8) | tail4[3]!;
      break;
    }
    if (i === start || i - start > 4) return false;
    words[groups++] = v;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === n) {
      return false; // a single trailing colon
    }
  }
  if (gap < 0 ? groups !== 8 : groups === 8) return false; // "::" stands for at least one group
  const zeros = 8 - groups;
  for (let g = 0, w = 0; g < 8; g++) {
    const word = gap >= 0 && g >= gap && g < gap + zeros ? 0 : words[w++]!;
    out[at + 2 * g] = word >> 8;
    out[at + 2 * g + 1] = word & 0xff;
  }
  return true;
}

/** Whether addr lies in prefix ("address/length"); never across families. */
export function inPrefix(addr: string, prefix: string): boolean {
  const p = parsedPrefix(prefix);
  const a = sharedAddrBytes(addr);
  return a.length === p.net.length && bytesInPrefix(a, 0, p);
}

/** A prefix as its address's bytes and its length (parsed once, to match many addresses' bytes with bytesInPrefix()). */
export type ParsedPrefix = { readonly net: Buffer; readonly length: number };
export const prefixOf = (prefix: string): ParsedPrefix => parsedPrefix(prefix);

/** The address at bytes[at..] (of p's family) is in p. */
export function bytesInPrefix(bytes: Uint8Array, at: number, p: ParsedPrefix): boolean {
  let bits = p.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[at + i]! ^ p.net[i]!) & mask) !== 0) return false;
  }
  return true;
}

/**
 * Prefixes parsed once: the home agent asks inPrefix() of the same few
 * (home link, non-global ranges) several times per Binding Update.
 * Bounded: a program that asks of ever new prefixes starts over.
 */
const prefixes = new Map<string, ParsedPrefix>();
const PREFIXES_KEPT = 4096;

function parsedPrefix(prefix: string): ParsedPrefix {
  let p = prefixes.get(prefix);
  if (p) return p;
  const slash = prefix.indexOf('/');
  p = { net: addrBytes(slash < 0 ? prefix : prefix.slice(0, slash)), length: slash < 0 ? 0 : Number(prefix.slice(slash + 1)) };
  if (prefixes.size >= PREFIXES_KEPT) prefixes.clear();
  prefixes.set(prefix, p);
  return p;
}

/** An address in the 16-byte union anchor_addr (IPv4 in the first four bytes). */
export function anchorAddr(addr: string): Buffer {
  const out = Buffer.alloc(16);
  addrBytes(addr).copy(out);
  return out;
}

/** Where formatAddr() spells an address: its text is then one flat string, made once (built by += it was a tree of a dozen strings, each kept). */
const addrText = Buffer.alloc(40);
const COLON = 0x3a;
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** The text of the address at bytes[at..]: dotted quad, or RFC 5952 IPv6 (the longest run of two or more zero groups as "::", the first of equals). */
export function formatAddr(bytes: Uint8Array, family: 4 | 6, at = 0): string {
  let n = 0;
  if (family === 4) {
    for (let i = 0; i < 4; i++) {
      if (i > 0) addrText[n++] = 0x2e;
      n = writeNumber(bytes[at + i]!, 10, n);
    }
    return addrText.toString('latin1', 0, n);
  }
  let best = -1, bestLen = 1;
  for (let i = 0, run = 0; i < 8; i++) {
    run = bytes[at + 2 * i] === 0 && bytes[at + 2 * i + 1] === 0 ? run + 1 : 0;
    if (run > bestLen) { best = i - run + 1; bestLen = run; }
  }
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      addrText[n++] = COLON;
      addrText[n++] = COLON;
      i += bestLen - 1;
      continue;
    }
    if (n > 0 && addrText[n - 1] !== COLON) addrText[n++] = COLON;
    n = writeNumber((bytes[at + 2 * i]! << 8) | bytes[at + 2 * i + 1]!, 16, n);
  }
  return addrText.toString('latin1', 0, n);
}

/** value in this base (10 or 16), no leading zeros, into addrText at n; where it ends. */
function writeNumber(value: number, base: 10 | 16, n: number): number {
  let digits = 1;
  for (let v = value; v >= base; v = Math.floor(v / base)) digits++;
  for (let k = digits - 1, v = value; k >= 0; k--, v = Math.floor(v / base)) addrText[n + k] = DIGITS[v % base]!;
  return n + digits;
}

export interface TunnelValue {
  bindingId: number;
  format: TunnelFormatName;
  local: string;
  remote: string;
  localPort: number;
  remotePort: number;
  mtu: number;
}

/** t as a struct tunnel, into `into` if given (zeroed first: a caller's buffer used again spares an allocation a move). */
export function encodeTunnel(t: TunnelValue, into?: Buffer): Buffer {
  const f = L.tunnel.fields;
  const b = into ? into.fill(0, 0, L.tunnel.size) : Buffer.alloc(L.tunnel.size);
  b.writeUInt32LE(t.bindingId, f.binding_id!.offset);
  b.writeUInt8(TunnelFormat[t.format], f.format!.offset);
  b.writeUInt16LE(t.mtu, f.mtu!.offset);
  writeAddr(t.local, b, f.local!.offset); // (b is zeroed: an IPv4 address is the union's first four bytes)
  writeAddr(t.remote, b, f.remote!.offset);
  b.writeUInt16BE(t.localPort, f.local_port!.offset);
  b.writeUInt16BE(t.remotePort, f.remote_port!.offset);
  return b;
}

export interface LearntNexthop {
  ifindex: number;
  mtu: number;
  smac: string;
  dmac: string;
}

const macText = (b: Buffer, off: number) => [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** A `nexthops` value: the next hop, and the version of the tunnel it was learnt for. */
export function decodeNexthop(b: Buffer): { seq: number; nexthop: LearntNexthop } {
  const f = L.nexthop.fields;
  return {
    seq: b.readUInt32LE(f.seq!.offset),
    nexthop: { ifindex: b.readUInt32LE(f.ifindex!.offset), mtu: b.readUInt16LE(f.mtu!.offset), smac: macText(b, f.smac!.offset), dmac: macText(b, f.dmac!.offset) },
  };
}

export function decodeTunnel(b: Buffer): TunnelValue & { nexthop: LearntNexthop | null } {
  const f = L.tunnel.fields;
  const formatNum = b.readUInt8(f.format!.offset);
  const format = (Object.keys(TunnelFormat) as TunnelFormatName[]).find((k) => TunnelFormat[k] === formatNum);
  if (!format) throw new RangeError(`tunnel.format: unknown value ${formatNum}`);
  const family = format === 'ip6' ? 6 : 4;
  return {
    bindingId: b.readUInt32LE(f.binding_id!.offset),
    format,
    local: formatAddr(b, family, f.local!.offset),
    remote: formatAddr(b, family, f.remote!.offset),
    localPort: b.readUInt16BE(f.local_port!.offset),
    remotePort: b.readUInt16BE(f.remote_port!.offset),
    mtu: b.readUInt16LE(f.mtu!.offset),
    nexthop: b.readUInt8(f.nh_valid!.offset)
      ? { ifindex: b.readUInt32LE(f.nh_ifindex!.offset), mtu: b.readUInt16LE(f.nh_mtu!.offset), smac: macText(b, f.nh_smac!.offset), dmac: macText(b, f.nh_dmac!.offset) }
      : null,
  };
}

export function encodeHomeKey(addr: string): Buffer {
  return addrBytes(addr);
}

export function encodePrefixKey(addr: string, prefixLen: number): Buffer {
  const family = addrFamily(addr);
  const layout = family === 4 ? L.prefix4_key : L.prefix6_key;
  const b = Buffer.alloc(layout.size);
  b.writeUInt32LE(prefixLen, layout.fields.prefixlen!.offset);
  const bytes = addrBytes(addr);
  for (let bit = prefixLen; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7)); // host bits off: one key per prefix
  bytes.copy(b, layout.fields.addr!.offset);
  return b;
}

export function encodeEndpointKey(addr: string, port: number): Buffer {
  const f = L.endpoint_key.fields;
  const b = Buffer.alloc(L.endpoint_key.size);
  anchorAddr(addr).copy(b, f.addr!.offset);
  b.writeUInt8(addrFamily(addr), f.family!.offset);
  b.writeUInt16BE(port, f.port!.offset);
  return b;
}

/** The MAC a home link's proxy answers with, and its IPv6 address there (the source of its NAs). */
export function encodeHomeLink(mac: string, ipv6: string): Buffer {
  const f = L.home_link.fields;
  const b = Buffer.alloc(L.home_link.size);
  macBytes(mac).copy(b, f.mac!.offset);
  anchorAddr(ipv6).copy(b, f.ipv6!.offset);
  return b;
}

export interface AnchorConfig {
  role: RoleName;
  /** Bumped on every change the data plane's per-CPU caches must not outlive. */
  generation: number;
  icmpSource4?: string;
  icmpSource6?: string;
}

export function encodeConfig(c: AnchorConfig): Buffer {
  const f = L.anchor_config.fields;
  const b = Buffer.alloc(L.anchor_config.size);
  b.writeUInt32LE(Role[c.role], f.role!.offset);
  b.writeUInt32LE(c.generation >>> 0, f.generation!.offset);
  if (c.icmpSource4) anchorAddr(c.icmpSource4).copy(b, f.icmp_src4!.offset);
  if (c.icmpSource6) anchorAddr(c.icmpSource6).copy(b, f.icmp_src6!.offset);
  return b;
}

export interface BindingCounters {
  encapPackets: bigint;
  encapBytes: bigint;
  decapPackets: bigint;
  decapBytes: bigint;
}

/** Sums a per-CPU binding_counters value (one struct per possible CPU, 8-byte aligned). */
export function sumBindingCounters(perCpu: Buffer, cpus: number): BindingCounters {
  const f = L.binding_counters.fields;
  const sum = { encapPackets: 0n, encapBytes: 0n, decapPackets: 0n, decapBytes: 0n };
  for (let cpu = 0; cpu < cpus; cpu++) {
    const base = cpu * L.binding_counters.size;
    sum.encapPackets += perCpu.readBigUInt64LE(base + f.encap_packets!.offset);
    sum.encapBytes += perCpu.readBigUInt64LE(base + f.encap_bytes!.offset);
    sum.decapPackets += perCpu.readBigUInt64LE(base + f.decap_packets!.offset);
    sum.decapBytes += perCpu.readBigUInt64LE(base + f.decap_bytes!.offset);
  }
  return sum;
}
