/**
 * The driver of the BPF data plane: loads bpf/anchor.c's object, pins its
 * maps in a per-instance directory (so a restarted control plane finds the
 * live data plane and traffic never stops), attaches XDP and TC through
 * pinned links, and turns bindings into map entries.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { Btf } from './btf.js';
import { ById } from './by-id.js';
import { BPF_ANY, LibbpfError, attachType, libbpf, xdpFlags, type MapShape, type ObjectHandle } from './libbpf.js';
import {
  EndpointFlag, addrFamily, canonicalAddr, sharedAddrBytes, decodeNexthop, decodeTunnel, encodeConfig, encodeEndpointKey, encodeHomeKey, encodeHomeLink, encodePrefixKey,
  encodeTunnel, formatAddr, layouts, sumBindingCounters, type AnchorConfig, type BindingCounters,
  type RoleName, type TunnelFormatName,
} from './layout.js';
import { MappedFile, closeFd, ifIndex } from '../sys/libc.js';
import { SignalReader, type SignalFrame } from './signals.js';
import { packageRoot } from './package-root.js';

export { packageRoot };
export const defaultObject = join(packageRoot, 'build/bpf/anchor.o');
export const PIN_ROOT = '/sys/fs/bpf/mobility-anchor';
export const MAX_BINDINGS = 131072;

const MAP_NAMES = ['tunnels', 'nexthops', 'home4', 'home6', 'prefix4', 'prefix6', 'endpoints', 'endpoint_ports', 'config', 'home_links', 'binding_cache', 'dest_cache', 'endpoint_cache', 'binding_counters', 'drops', 'events', 'icmp_budget', 'signals'] as const;
/**
 * Maps a build may replace, empty, when an older one pinned them in another
 * shape: the per-CPU caches and ICMP budget, and the drop and event counters
 * (which then start again from zero: a build that adds a reason grows them).
 */
const REPLACEABLE_MAPS: ReadonlySet<string> = new Set(['binding_cache', 'dest_cache', 'endpoint_cache', 'icmp_budget', 'drops', 'events']);
/** Map types whose entries can be listed and written back one by one (BPF_MAP_TYPE_HASH, _ARRAY, _LPM_TRIE). */
const ENUMERABLE_MAP_TYPES: ReadonlySet<number> = new Set([1, 2, 11]);
const MAP_TYPE_HASH = 1;

/**
 * struct tunnel as the builds before the slots pinned it: this build's
 * without its trailing seq (64 bytes, not 68). Older builds' address maps
 * (a whole tunnel in each entry) and the first build's `tunnels` (a hash,
 * binding id -> tunnel) hold it.
 */
const LEGACY_TUNNEL_SIZE = layouts.tunnel.fields.seq!.offset;

/** A slot holding tunnel t for binding id (seq 0: the first copy in use), as a conversion writes it. */
function slotOf(id: number, t: ReturnType<typeof decodeTunnel>): Buffer {
  const slot = Buffer.alloc(layouts.tunnel_slot.size);
  encodeTunnel({ ...t, bindingId: id }).copy(slot, COPY_AT);
  return slot;
}

/**
 * An address map's entries of an older build, whose values were whole
 * tunnels, as this build's: valued with their binding's id, the tunnel put
 * in `tunnels` (by id: every entry of a binding held the same one).
 */
function entriesNamingTunnels(entries: [Buffer, Buffer][], tunnels: Map<number, Buffer>): [Buffer, Buffer][] {
  return entries.map(([key, tunnel]) => {
    const t = decodeTunnel(tunnel);
    tunnels.set(t.bindingId, slotOf(t.bindingId, t));
    return [key, idBytes(t.bindingId)];
  });
}

/**
 * The first build's `tunnels` (a hash: binding id -> struct tunnel, its
 * address maps already naming ids) into slots of this build's. A tunnel
 * this build cannot read is left out: reloadBindings() then removes the
 * entries naming it, as it does for any entry naming no tunnel.
 */
function tunnelsIntoSlots(entries: [Buffer, Buffer][], tunnels: Map<number, Buffer>): void {
  for (const [key, tunnel] of entries) {
    let t: ReturnType<typeof decodeTunnel>;
    try {
      t = decodeTunnel(tunnel);
    } catch {
      continue;
    }
    const id = key.readUInt32LE(0);
    if (id < MAX_BINDINGS) tunnels.set(id, slotOf(id, t));
  }
}

/** Every entry of a map, as [key, value]. */
function entriesOf(fd: number, shape: MapShape): [Buffer, Buffer][] {
  const out: [Buffer, Buffer][] = [];
  for (const key of libbpf.keys(fd, shape.keySize)) {
    const value = libbpf.lookup(fd, key, shape.valueSize);
    if (value) out.push([key, value]);
  }
  return out;
}
type MapName = (typeof MAP_NAMES)[number];
type Hook = 'xdp' | 'tc-ingress' | 'tc-egress';
const PROGRAMS: Record<Hook, string> = { xdp: 'anchor_xdp', 'tc-ingress': 'anchor_tc_ingress', 'tc-egress': 'anchor_tc_egress' };

export type Tunnel =
  | { format: 'ip6' | 'ip4'; local: string; remote: string; mtu?: number }
  | { format: 'udp4' | 'udp4-tlv'; local: string; remote: string; localPort: number; remotePort: number; mtu?: number };

/**
 * A tunnel may write its remote address's bytes itself, under this symbol
 * (a predicted move's, control/ha/in-place.ts, holds it as words): a move
 * then writes its slot with no text made and parsed back.
 */
export const REMOTE_BYTES = Symbol('tunnel.remote, as bytes');
export interface RemoteBytes { [REMOTE_BYTES](into: Uint8Array, at: number): void }
const REMOTE_AT = layouts.tunnel.fields.remote!.offset;
/** What bpf_link_update() says of a link whose interface is gone. */
const ENOLINK = 67;

/** A binding as the data plane sees it: a tunnel and the addresses it carries. */
export interface Binding {
  id: number;
  tunnel: Tunnel;
  homeAddresses: readonly string[];
  /** "address/length", IPv6 or IPv4 (NEMO mobile network prefixes, IPv4 home prefixes). */
  prefixes: readonly string[];
}

export class BindingError extends Error {
  constructor(readonly bindingId: number, readonly field: string, message: string) {
    super(`binding ${bindingId}: ${field}: ${message}`);
  }
}

export interface DataPlaneOptions {
  instance: string;
  role: RoleName;
  objectPath?: string;
  icmpSource4?: string;
  icmpSource6?: string;
  pinRoot?: string;
}

/** A home address or prefix entry of a binding: its value is the binding's id. */
/**
 * An address map's entry a binding owns: its map, and its id (the map and
 * the key in hex). Its key is made from the id when a write needs one: kept
 * as a Buffer of its own, with 100,000 bindings the keys took ~40 MB of the
 * heap, whose pages every scavenge walks.
 */
class Entry {
  readonly id: string;

  constructor(readonly map: AddressMap, key: Buffer) {
    this.id = `${map}:${key.toString('hex')}`;
  }

  get key(): Buffer {
    return Buffer.from(this.id.slice(this.map.length + 1), 'hex');
  }
}
type AddressMap = 'home4' | 'home6' | 'prefix4' | 'prefix6';
const ADDRESS_MAPS: readonly AddressMap[] = ['home4', 'home6', 'prefix4', 'prefix6'];
/** Maps the kernel updates in batches (hash maps; the LPM tries have no batch operations). */
const BATCHED_MAPS: ReadonlySet<MapName> = new Set(['home4', 'home6']);
/** Maps builds before this one did not have: made, not found pinned, when an older build's instance is converted. */
const NEW_MAPS: ReadonlySet<MapName> = new Set(['tunnels', 'nexthops']);
/** A slot of `tunnels` in its memory mapping: the value rounded up to 8 bytes, as array maps lay them out. */
const SLOT_BYTES = Math.ceil(layouts.tunnel_slot.size / 8) * 8;
/** Where a slot's two copies start, and the words of one (struct tunnel_slot). */
const COPY_AT = layouts.tunnel_slot.fields.copy!.offset;
const TUNNEL_WORDS = layouts.tunnel.size / 4;
const PAGE = 4096;
/** Map writes grouped by map, each map's keys and values in order. */
type Writes = Map<MapName, { keys: Buffer[]; values: Buffer[] }>;

/** A binding id as the maps hold it: their key in `tunnels`, the value of its address entries. */
function idBytes(id: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(id);
  return b;
}

const possibleCpus = (): number => {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  return Math.max(...text.split(',').map((r) => Number(r.split('-').pop()))) + 1;
};

/** Whether two bindings put the same tunnel in front of the same addresses (spelling and order aside). */
export function sameBinding(a: Binding, b: Binding): boolean {
  const ta = a.tunnel as Binding['tunnel'] & { localPort?: number; remotePort?: number };
  const tb = b.tunnel as typeof ta;
  if (a.id !== b.id || ta.format !== tb.format || (ta.localPort ?? 0) !== (tb.localPort ?? 0) || (ta.remotePort ?? 0) !== (tb.remotePort ?? 0)
    || (ta.mtu ?? 0) !== (tb.mtu ?? 0) || a.homeAddresses.length !== b.homeAddresses.length || a.prefixes.length !== b.prefixes.length) return false;
  const same = (x: string, y: string) => x === y || sameText(x, y); // spelled alike, the common case, costs nothing
  const sameSet = (xs: readonly string[], ys: readonly string[]) => xs.every((x, i) => same(x, ys[i]!)) || xs.map(canonical).sort().join() === ys.map(canonical).sort().join();
  return same(ta.local, tb.local) && same(ta.remote, tb.remote) && sameSet(a.homeAddresses, b.homeAddresses) && sameSet(a.prefixes, b.prefixes);
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Two addresses (or "address/length"s) the same however spelled: addresses by their bytes (a move's new care-of address parsed once, for the install after). */
const sameText = (x: string, y: string): boolean => (x.includes('/') || y.includes('/') ? canonical(x) === canonical(y) : sharedAddrBytes(x).equals(sharedAddrBytes(y)));

/** An address or "address/length" in canonical form. */
function canonical(x: string): string {
  const [address = '', length] = x.split('/');
  return `${canonicalAddr(address)}${length === undefined ? '' : `/${length}`}`;
}

export class DataPlane {
  readonly pinDir: string;
  readonly cpus = possibleCpus();
  private readonly fds = new Map<MapName, number>();
  private readonly progFds: Record<Hook, number>;
  private readonly links = new Map<string, number>();
  private readonly bindings = new ById<{ binding: Binding; entries: Entry[] }>(MAX_BINDINGS);
  private readonly owner = new Map<string, number>(); // entry id -> binding id
  private readonly counterNames: { drops: string[]; events: string[] };
  private obj: ObjectHandle | null;
  private config: AnchorConfig;
  private reader: SignalReader | null = null;
  private batchDepth = 0;
  private invalidationHeld = false;
  /** Where writeEntries() packs a batch's keys and its values. */
  private readonly staging: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  /** `tunnels` mapped into memory, where its slots are written (writeSlot()); its words, for the seqlock's stores. */
  private slots: MappedFile | null = null;
  private slotWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private readonly tunnelScratch = Buffer.alloc(layouts.tunnel.size);
  /** True if the maps were already pinned: a restart on a live data plane. */
  readonly resumed: boolean;
  /** Pinned maps replaced by ones with this build's flags, their entries carried over (see pinnedVerdict). */
  readonly carriedOver: readonly string[];
  /** Pinned links dropped at open, their interfaces gone since they were made ("ifname@hook"): their pins removed. */
  readonly droppedLinks: string[] = [];

  private constructor(readonly options: Required<Pick<DataPlaneOptions, 'instance' | 'role' | 'objectPath' | 'pinRoot'>> & DataPlaneOptions) {
    this.pinDir = join(options.pinRoot, options.instance);
    mkdirSync(join(this.pinDir, 'links'), { recursive: true });
    const btf = new Btf(options.objectPath);
    this.counterNames = { drops: btf.fieldNames('drop_counters'), events: btf.fieldNames('event_counters') };

    this.obj = libbpf.open(options.objectPath);
    const pinnedMaps = new Set<MapName>();
    let converted = false;
    const replaced = new Map<MapName, [Buffer, Buffer][]>(); // pinned maps this build replaces, with the entries it carries over
    const carried: MapName[] = [];
    const tunnels = new Map<number, Buffer>(); // from the address maps of builds that kept the tunnel in each entry
    for (const name of MAP_NAMES) {
      const pinned = libbpf.getPinned(join(this.pinDir, name));
      if (pinned < 0) continue;
      pinnedMaps.add(name);
      try {
        const verdict = this.pinnedVerdict(name, pinned);
        if (verdict === 'reuse') libbpf.reuseMapFd(libbpf.map(this.obj, name), pinned, name);
        else if (verdict === 'convert' && name === 'tunnels') tunnelsIntoSlots(entriesOf(pinned, libbpf.mapInfo(pinned, name)), tunnels); // (written with the others' below)
        else if (verdict === 'convert') replaced.set(name, entriesNamingTunnels(entriesOf(pinned, libbpf.mapInfo(pinned, name)), tunnels));
        else replaced.set(name, verdict === 'carry' ? entriesOf(pinned, libbpf.mapInfo(pinned, name)) : []);
        if (verdict === 'carry' || (verdict === 'convert' && name !== 'tunnels')) carried.push(name);
        converted ||= verdict === 'convert';
      } catch (err) {
        libbpf.close(this.obj);
        throw err;
      } finally {
        closeFd(pinned);
      }
    }
    if (converted) {
      replaced.set('tunnels', [...tunnels].map(([id, value]) => [idBytes(id), value]));
      carried.push('tunnels');
    }
    try {
      libbpf.load(this.obj, options.objectPath);
    } catch (err) {
      libbpf.close(this.obj);
      throw err;
    }
    // Nothing pinned was touched before here: a refused map or a failed load leaves the instance as it was.
    for (const name of MAP_NAMES) {
      const fd = libbpf.mapFd(libbpf.map(this.obj, name), name);
      const path = join(this.pinDir, name);
      this.fds.set(name, fd);
      const entries = replaced.get(name);
      if (entries) {
        for (const [key, value] of entries) libbpf.update(fd, key, value);
        rmSync(`${path}-new`, { force: true }); // left by a start that died here
        libbpf.pin(fd, `${path}-new`);
        renameSync(`${path}-new`, path); // in one step; the running programs keep the old map until ours replace them
      } else if (!existsSync(path)) {
        libbpf.pin(fd, path);
      }
    }
    this.carriedOver = carried;
    this.resumed = MAP_NAMES.every((name) => pinnedMaps.has(name) || (converted && NEW_MAPS.has(name)));
    this.slots = new MappedFile(this.fd('tunnels'), Math.ceil((MAX_BINDINGS * SLOT_BYTES) / PAGE) * PAGE);
    this.slotWords = new Uint32Array(this.slots.bytes.buffer, this.slots.bytes.byteOffset, this.slots.length / 4);
    const obj = this.obj;
    this.progFds = { xdp: 0, 'tc-ingress': 0, 'tc-egress': 0 };
    for (const hook of Object.keys(PROGRAMS) as Hook[]) this.progFds[hook] = libbpf.programFd(obj, PROGRAMS[hook]);
    const pinned = libbpf.lookup(this.fd('config'), Buffer.alloc(4), layouts.anchor_config.size);
    this.config = {
      role: options.role, icmpSource4: options.icmpSource4, icmpSource6: options.icmpSource6,
      generation: pinned?.readUInt32LE(layouts.anchor_config.fields.generation!.offset) ?? 0,
    };
    this.reloadBindings();
    // after reloadBindings(): the running programs may have cached "no binding", at the generation of the moment,
    // for an address whose entry named no tunnel, which it removed (a prefix may cover that address)
    this.invalidateCaches();
    this.reattachPinnedLinks();
  }

  /**
   * What to do with a pinned map. Reuse it if it is what this build's object
   * expects. A cache or counters of another shape (an older build's) are
   * replaced, empty (REPLACEABLE_MAPS).
   * A map that differs only in its flags (older builds preallocated the home
   * maps) is replaced by one with this build's flags, its entries carried
   * over. An address map whose entries hold whole tunnels (builds before
   * `tunnels`) is converted: its entries name their binding, whose tunnel
   * goes into `tunnels`. So is the first build's `tunnels` (a hash of
   * tunnels by binding id): into slots. Both hold struct tunnel as it was
   * then (LEGACY_TUNNEL_SIZE). Any other map of another shape holds state
   * this build cannot read: refused, by name.
   */
  private pinnedVerdict(name: string, pinnedFd: number): 'reuse' | 'replace' | 'carry' | 'convert' {
    const want = libbpf.mapShape(libbpf.map(this.obj!, name));
    const have = libbpf.mapInfo(pinnedFd, name);
    const differs = (Object.keys(want) as (keyof typeof want)[]).filter((k) => want[k] !== have[k]);
    if (!differs.length) return 'reuse';
    if (REPLACEABLE_MAPS.has(name)) return 'replace';
    if (differs.length === 1 && differs[0] === 'flags' && ENUMERABLE_MAP_TYPES.has(want.type)) return 'carry';
    if ((ADDRESS_MAPS as readonly string[]).includes(name) && have.valueSize === LEGACY_TUNNEL_SIZE
      && differs.every((k) => k === 'flags' || k === 'valueSize')) return 'convert';
    if (name === 'tunnels' && have.type === MAP_TYPE_HASH && have.keySize === 4 && have.valueSize === LEGACY_TUNNEL_SIZE) return 'convert';
    const what = differs.map((k) => `${k} ${have[k]} (this build: ${want[k]})`).join(', ');
    throw new Error(`${join(this.pinDir, name)}: pinned by another build of the data plane: ${what}; `
      + `its state cannot be carried over: remove ${this.pinDir} (its traffic stops until the bindings are installed again)`);
  }

  static open(options: DataPlaneOptions): DataPlane {
    return new DataPlane({ objectPath: defaultObject, pinRoot: PIN_ROOT, ...options });
  }

  private fd(name: MapName): number {
    const fd = this.fds.get(name);
    if (fd === undefined) throw new Error(`map ${name} not open`);
    return fd;
  }

  /**
   * Runs fn with the caches' invalidation held to its end: many changes, one
   * generation bump (one map write instead of one per change). Until fn
   * returns, a packet may still meet a cached entry from before it, so what
   * must follow a change being live (a BA) goes after.
   */
  batch<T>(fn: () => T): T {
    this.beginBatch();
    try {
      return fn();
    } finally {
      this.endBatch();
    }
  }

  /** batch() in two calls, for a caller that would make a closure with each drain: each beginBatch() ends with an endBatch() (try/finally). */
  beginBatch(): void {
    this.batchDepth++;
  }

  endBatch(): void {
    if (--this.batchDepth === 0 && this.invalidationHeld) {
      this.invalidationHeld = false;
      this.invalidateCaches();
    }
  }

  /**
   * Writes a binding's tunnel into its slot (struct tunnel_slot in
   * bpf/anchor.h): into the copy not in use, then seq one up, which puts it
   * in use. value null: the slot emptied. No system call: a move costs a
   * few stores. Atomics.store orders seq after the copy (x86-64 keeps
   * stores in order anyway).
   */
  private writeSlot(id: number, value: Buffer | null): void {
    if (!this.slots) throw new Error('map tunnels not open'); // (slotWords would still point where the mapping was: a crash)
    const words = this.slotWords, base = (id * SLOT_BYTES) >> 2;
    const next = (words[base]! + 1) >>> 0;
    const copy = base + ((COPY_AT + (next & 1) * layouts.tunnel.size) >> 2);
    for (let w = 0; w < TUNNEL_WORDS; w++) words[copy + w] = value ? value.readUInt32LE(w * 4) : 0;
    Atomics.store(words, base, next);
  }

  /** The tunnel in a binding's slot, read as the programs read it (between two reads of the same seq), with that seq. */
  private readSlot(id: number): Buffer {
    if (!this.slots) throw new Error('map tunnels not open');
    const at = id * SLOT_BYTES, base = at >> 2;
    for (;;) {
      const seq = Atomics.load(this.slotWords, base);
      const from = at + COPY_AT + (seq & 1) * layouts.tunnel.size;
      const copy = Buffer.from(this.slots!.bytes.subarray(from, from + layouts.tunnel.size));
      if (Atomics.load(this.slotWords, base) !== seq) continue;
      copy.writeUInt32LE(seq, layouts.tunnel.fields.seq!.offset);
      return copy;
    }
  }

  /**
   * Every change to bindings, endpoints or routes bumps the generation: the
   * data plane's per-CPU caches (learnt destinations) then start empty, so no
   * packet is forwarded on what was true before the change.
   */
  private invalidateCaches(): void {
    if (this.batchDepth > 0) {
      this.invalidationHeld = true;
      return;
    }
    this.config.generation = (this.config.generation + 1) >>> 0 || 1; // 0 marks an empty cache slot
    libbpf.update(this.fd('config'), Buffer.alloc(4), encodeConfig(this.config));
  }

  /* ---- attachment ---- */

  /** Links left by an earlier run now run this run's programs (atomically: no packet unhandled). */
  private reattachPinnedLinks(): void {
    for (const name of readdirSync(join(this.pinDir, 'links'))) {
      const hook = name.slice(name.lastIndexOf('@') + 1) as Hook;
      const pin = join(this.pinDir, 'links', name);
      const fd = libbpf.getPinned(pin);
      if (fd < 0 || !(hook in PROGRAMS)) continue;
      try {
        libbpf.linkUpdate(fd, this.progFds[hook]);
      } catch (err) {
        if (!(err instanceof LibbpfError && err.code === -ENOLINK)) throw err;
        closeFd(fd); // its interface is gone (deleted, or its namespace with it): the kernel's link is defunct, its pin all that is left
        rmSync(pin, { force: true });
        this.droppedLinks.push(name);
        continue;
      }
      this.links.set(name, fd);
    }
  }

  /** Attaches one program to ifname (in the current network namespace) through a pinned link. */
  private link(ifname: string, hook: Hook, flags = 0): boolean {
    const name = `${ifname}@${hook}`; // bpffs names may not contain dots
    if (this.links.has(name)) return false;
    const type = hook === 'xdp' ? attachType.XDP : hook === 'tc-ingress' ? attachType.TCX_INGRESS : attachType.TCX_EGRESS;
    const fd = libbpf.linkCreate(this.progFds[hook], ifIndex(ifname), type, flags);
    libbpf.pin(fd, join(this.pinDir, 'links', name));
    this.links.set(name, fd);
    return true;
  }

  /**
   * Puts the data plane on ifname: XDP (native, else generic) for the hot
   * path, and TC ingress for the packets XDP hands up to have a neighbour
   * resolved. Returns the XDP mode used.
   */
  attach(ifname: string, mode: 'native' | 'generic' | 'auto' = 'auto'): 'native' | 'generic' | 'existing' {
    const used = this.attachXdp(ifname, mode);
    this.link(ifname, 'tc-ingress');
    return used;
  }

  /** XDP alone (attach() is what an interface of the anchor needs). */
  attachXdp(ifname: string, mode: 'native' | 'generic' | 'auto' = 'auto'): 'native' | 'generic' | 'existing' {
    if (mode !== 'generic') {
      try {
        return this.link(ifname, 'xdp', xdpFlags.DRV_MODE) ? 'native' : 'existing';
      } catch (err) {
        if (mode === 'native') throw err;
      }
    }
    return this.link(ifname, 'xdp', xdpFlags.SKB_MODE) ? 'generic' : 'existing';
  }

  /** TC egress on ifname: tunnels what the host itself sends to a home address. */
  attachTcEgress(ifname: string): void {
    this.link(ifname, 'tc-egress');
  }

  /** Detaches every program of this instance (from one interface if named). */
  detach(ifname?: string): void {
    for (const [file, fd] of this.links) {
      if (ifname && !file.startsWith(`${ifname}@`)) continue;
      rmSync(join(this.pinDir, 'links', file), { force: true });
      closeFd(fd);
      this.links.delete(file);
    }
  }

  attachments(): string[] {
    return [...this.links.keys()].sort();
  }

  /* ---- bindings ---- */

  private entriesOf(b: Binding): Entry[] {
    const out: Entry[] = [];
    for (const addr of b.homeAddresses) {
      const map = addrFamily(addr) === 4 ? 'home4' : 'home6';
      const key = encodeHomeKey(addr);
      out.push(new Entry(map, key));
    }
    for (const prefix of b.prefixes) {
      const { addr, len } = parsePrefix(prefix, b.id);
      const map = addrFamily(addr) === 4 ? 'prefix4' : 'prefix6';
      const key = encodePrefixKey(addr, len);
      out.push(new Entry(map, key));
    }
    return out;
  }

  /** Checks a binding's fields; its addresses too unless told they were checked before. */
  private validate(b: Binding, addresses = true): void {
    if (!Number.isInteger(b.id) || b.id < 0 || b.id >= MAX_BINDINGS) throw new BindingError(b.id, 'id', `must be an integer in [0, ${MAX_BINDINGS})`);
    const outer = b.tunnel.format === 'ip6' ? 6 : 4;
    for (const field of ['local', 'remote'] as const) {
      let family: number;
      try {
        family = addrFamily(b.tunnel[field]);
      } catch {
        throw new BindingError(b.id, `tunnel.${field}`, `not an IP address: ${b.tunnel[field]}`);
      }
      if (family !== outer) throw new BindingError(b.id, `tunnel.${field}`, `${b.tunnel.format} needs an IPv${outer} address, got ${b.tunnel[field]}`);
    }
    if (b.tunnel.format === 'udp4' || b.tunnel.format === 'udp4-tlv') {
      for (const field of ['localPort', 'remotePort'] as const) {
        const port = b.tunnel[field];
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BindingError(b.id, `tunnel.${field}`, `not a UDP port: ${port}`);
      }
    }
    if (b.homeAddresses.length + b.prefixes.length === 0) throw new BindingError(b.id, 'homeAddresses', 'a binding needs a home address or prefix');
    if (!addresses) return;
    for (const addr of b.homeAddresses) {
      try { addrFamily(addr); } catch { throw new BindingError(b.id, 'homeAddresses', `not an IP address: ${addr}`); }
    }
  }

  /**
   * Installs or replaces a binding: the entries of addresses it no longer
   * has go first, then its tunnel is written, then the entries of addresses
   * it did not have. Its addresses all name the one tunnel slot, so a packet
   * sees the old tunnel or the new one, never a mix; an address it drops
   * never meets its new tunnel, nor one it adds its old one. If a write
   * fails, what this call did is undone and the error thrown. A binding
   * that only moved (the same addresses) is one write to its slot, which
   * cannot fail.
   */
  install(b: Binding): void {
    const previous = this.bindings.get(b.id);
    // a node that moved keeps its addresses: their entries (checked and owned then) are the ones it had
    const moved = previous !== undefined && sameList(previous.binding.homeAddresses, b.homeAddresses) && sameList(previous.binding.prefixes, b.prefixes);
    this.validate(b, !moved);
    const entries = moved ? previous.entries : this.entriesOf(b);
    for (const e of moved ? [] : entries) {
      const holder = this.owner.get(e.id);
      if (holder !== undefined && holder !== b.id) throw new BindingError(b.id, 'homeAddresses', `${describeEntry(e)} belongs to binding ${holder}`);
    }
    const had = new Set(previous?.entries.map((e) => e.id));
    const keep = new Set(entries.map((e) => e.id));
    const added = entries.filter((e) => !had.has(e.id));
    const dropped = previous?.entries.filter((e) => !keep.has(e.id)) ?? [];
    const key = idBytes(b.id);
    const written: Entry[] = [];
    if (!previous) this.zeroCounters(b.id);
    // (the id may have named another node's binding: a journal that disagreed with the maps at start)
    for (const e of dropped) libbpf.delete(this.fd(e.map), e.key);
    this.writeSlot(b.id, this.tunnelValue(b));
    try {
      for (const e of added) {
        libbpf.update(this.fd(e.map), e.key, key, BPF_ANY);
        written.push(e);
      }
    } catch (err) {
      for (const e of written) libbpf.delete(this.fd(e.map), e.key);
      this.writeSlot(b.id, previous ? this.tunnelValue(previous.binding) : null);
      for (const e of dropped) {
        try {
          libbpf.update(this.fd(e.map), e.key, key, BPF_ANY); // back, behind the tunnel they name
        } catch { /* not for want of room: its slot was freed above */ }
      }
      // while they were gone a packet may have cached "no binding" for them (or a prefix's binding): not to outlive this
      if (dropped.length) this.invalidateCaches();
      throw err;
    }
    for (const e of dropped) this.owner.delete(e.id);
    for (const e of added) this.owner.set(e.id, b.id);
    this.bindings.set(b.id, { binding: b, entries });
    if (!moved) this.invalidateCaches(); // a moved tunnel's copies go stale with its slot's seq
  }

  /**
   * The binding the data plane holds, changed in place by the caller: only
   * its tunnel's remote address (a predicted move). Written to its slot,
   * without install()'s comparisons and checks. False if the data plane
   * holds another object for it: install() it then (which compares).
   */
  move(b: Binding): boolean {
    if (this.bindings.get(b.id)?.binding !== b) return false;
    this.writeSlot(b.id, this.tunnelValue(b));
    return true;
  }

  /**
   * Installs many bindings with batched map writes (bulk loads, restarts).
   * Everything is checked before anything is written; bindings that exist
   * already are replaced one by one with install(). If a batched write
   * fails, the new bindings' entries and tunnels are removed again and the
   * error thrown.
   */
  installMany(list: readonly Binding[]): void {
    const fresh: { binding: Binding; entries: Entry[] }[] = [];
    const claimed = new Map<string, number>();
    const seen = new Set<number>();
    for (const b of list) {
      this.validate(b);
      if (seen.has(b.id)) throw new BindingError(b.id, 'id', 'appears twice in one batch');
      seen.add(b.id);
      if (this.bindings.has(b.id)) continue;
      const entries = this.entriesOf(b);
      for (const e of entries) {
        const holder = this.owner.get(e.id) ?? claimed.get(e.id);
        if (holder !== undefined && holder !== b.id) throw new BindingError(b.id, 'homeAddresses', `${describeEntry(e)} belongs to binding ${holder}`);
        claimed.set(e.id, b.id);
      }
      fresh.push({ binding: b, entries });
    }
    for (const b of list) if (this.bindings.has(b.id)) this.install(b);

    const writes: Writes = new Map();
    for (const { binding, entries } of fresh) {
      const key = idBytes(binding.id);
      this.zeroCounters(binding.id);
      this.writeSlot(binding.id, this.tunnelValue(binding)); // the tunnels before the entries that name them
      for (const e of entries) this.stage(writes, e.map, e.key, key);
    }
    try {
      this.write(writes);
    } catch (err) {
      for (const { binding, entries } of fresh) {
        for (const e of entries) libbpf.delete(this.fd(e.map), e.key);
        this.writeSlot(binding.id, null);
      }
      throw err;
    }
    for (const { binding, entries } of fresh) {
      for (const e of entries) this.owner.set(e.id, binding.id);
      this.bindings.set(binding.id, { binding, entries });
    }
    this.invalidateCaches();
  }

  /** Removes a binding: no packet is tunnelled for it afterwards. False if unknown. */
  remove(id: number): boolean {
    const held = this.bindings.get(id);
    if (!held) return false;
    for (const e of held.entries) {
      libbpf.delete(this.fd(e.map), e.key);
      this.owner.delete(e.id);
    }
    this.writeSlot(id, null);
    libbpf.delete(this.fd('nexthops'), idBytes(id));
    this.bindings.delete(id);
    this.invalidateCaches();
    return true;
  }

  binding(id: number): Binding | undefined {
    return this.bindings.get(id)?.binding;
  }

  bindingIds(): number[] {
    return [...this.bindings.keys()];
  }

  /** The tunnel as the data plane holds it for an address, with the next hop learnt for it (if it still stands). */
  lookupEntry(addr: string): ReturnType<typeof decodeTunnel> | null {
    const id = libbpf.lookup(this.fd(addrFamily(addr) === 4 ? 'home4' : 'home6'), encodeHomeKey(addr), 4);
    if (!id) return null;
    const slot = this.readSlot(id.readUInt32LE(0));
    if (slot.readUInt8(layouts.tunnel.fields.format!.offset) === 0) return null;
    const learnt = libbpf.lookup(this.fd('nexthops'), id, layouts.nexthop.size);
    const nh = learnt && decodeNexthop(learnt);
    return { ...decodeTunnel(slot), nexthop: nh && nh.seq === slot.readUInt32LE(layouts.tunnel.fields.seq!.offset) ? nh.nexthop : null };
  }

  /** Forgets every learnt next hop, in bindings and in the destination caches: call it on any route or neighbour change. */
  flushNexthops(): void {
    for (const id of this.bindings.keys()) this.writeSlot(id, this.readSlot(id)); // the same tunnel, seq one up
    this.invalidateCaches();
  }

  private stage(writes: Writes, map: MapName, key: Buffer, value: Buffer): void {
    let batch = writes.get(map);
    if (!batch) writes.set(map, (batch = { keys: [], values: [] }));
    batch.keys.push(key);
    batch.values.push(value);
  }

  /** Writes what was staged, map by map in order: one batched syscall a hash map, one write per entry for the LPM tries (no batch ops). */
  private write(writes: Writes): void {
    for (const [map, { keys, values }] of writes) {
      if (!keys.length) continue;
      if (BATCHED_MAPS.has(map)) libbpf.updateBatch(this.fd(map), this.packed(keys, 0), this.packed(values, 1), keys.length);
      else keys.forEach((k, i) => libbpf.update(this.fd(map), k, values[i]!));
    }
  }

  /** Keys (one) or values (the other) of a batched write, packed back to back into a buffer kept for it (grown as needed). */
  private packed(parts: readonly Buffer[], which: 0 | 1): Buffer {
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    if (this.staging[which].length < bytes) this.staging[which] = Buffer.allocUnsafe(2 * bytes);
    const out = this.staging[which];
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out.subarray(0, bytes);
  }

  /** A binding's struct tunnel, in a buffer kept for it: good until the next call (writeSlot() takes it at once). */
  private tunnelValue(b: Binding): Buffer {
    const t = b.tunnel;
    const udp = t.format === 'udp4' || t.format === 'udp4-tlv';
    const writesRemote = REMOTE_BYTES in t;
    const value = encodeTunnel({
      bindingId: b.id, format: t.format as TunnelFormatName, local: t.local, remote: writesRemote ? (t.format === 'ip6' ? '::' : '0.0.0.0') : t.remote,
      localPort: udp ? t.localPort : 0, remotePort: udp ? t.remotePort : 0, mtu: t.mtu ?? 0,
    }, this.tunnelScratch);
    if (writesRemote) (t as Tunnel & RemoteBytes)[REMOTE_BYTES](value, REMOTE_AT);
    return value;
  }

  /**
   * Rebuilds the binding table from the pinned maps (after a restart). An
   * entry naming no tunnel this build can read, or a tunnel no entry names
   * (what a control plane that died between its writes leaves), is removed.
   */
  private reloadBindings(): void {
    const named = new Map<number, { home: string[]; prefixes: string[]; entries: Entry[] }>();
    const addressOf: Record<AddressMap, (key: Buffer) => { home?: string; prefix?: string }> = {
      home4: (k) => ({ home: formatAddr(k, 4) }),
      home6: (k) => ({ home: formatAddr(k, 6) }),
      prefix4: (k) => ({ prefix: `${formatAddr(k.subarray(4), 4)}/${k.readUInt32LE(0)}` }),
      prefix6: (k) => ({ prefix: `${formatAddr(k.subarray(4), 6)}/${k.readUInt32LE(0)}` }),
    };
    for (const map of ADDRESS_MAPS) {
      for (const key of [...libbpf.keys(this.fd(map), libbpf.mapInfo(this.fd(map), map).keySize)]) {
        const id = libbpf.lookup(this.fd(map), key, 4)?.readUInt32LE(0);
        if (id === undefined) continue;
        const f = named.get(id) ?? named.set(id, { home: [], prefixes: [], entries: [] }).get(id)!;
        const { home, prefix } = addressOf[map](key);
        if (home) f.home.push(home);
        if (prefix) f.prefixes.push(prefix);
        f.entries.push(new Entry(map, key));
      }
    }
    for (const [id, f] of named) {
      const tunnel = id < MAX_BINDINGS ? readableTunnel(this.readSlot(id)) : undefined;
      if (!tunnel) {
        for (const e of f.entries) libbpf.delete(this.fd(e.map), e.key);
        continue;
      }
      this.bindings.set(id, { binding: { id, tunnel, homeAddresses: f.home, prefixes: f.prefixes }, entries: f.entries });
      for (const e of f.entries) this.owner.set(e.id, id);
    }
    const formatAt = layouts.tunnel.fields.format!.offset;
    for (let id = 0; id < MAX_BINDINGS; id++) {
      if (!this.bindings.has(id) && this.readSlot(id)[formatAt] !== 0) this.writeSlot(id, null);
    }
  }

  /* ---- endpoints ---- */

  /** Declares one of our addresses (and UDP port, 0 for IP-in-IP) as a tunnel or signalling endpoint. */
  addEndpoint(addr: string, port: number, flags: readonly (keyof typeof EndpointFlag)[]): void {
    const value = Buffer.alloc(4);
    value.writeUInt32LE(flags.reduce((acc, f) => acc | EndpointFlag[f], 0));
    libbpf.update(this.fd('endpoints'), encodeEndpointKey(addr, port), value);
    if (port) this.markPort(port, true);
    this.invalidateCaches();
  }

  removeEndpoint(addr: string, port: number): boolean {
    const removed = libbpf.delete(this.fd('endpoints'), encodeEndpointKey(addr, port));
    const portOffset = layouts.endpoint_key.fields.port!.offset;
    const stillUsed = [...libbpf.keys(this.fd('endpoints'), layouts.endpoint_key.size)].some((k) => k.readUInt16BE(portOffset) === port);
    if (port && !stillUsed) this.markPort(port, false);
    this.invalidateCaches();
    return removed;
  }

  private markPort(port: number, listened: boolean): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(port);
    libbpf.update(this.fd('endpoint_ports'), key, Buffer.from([listened ? 1 : 0]));
  }

  /* ---- home links ---- */

  /**
   * Makes ifname a home link: its XDP program answers ARP and Neighbor
   * Solicitations for away nodes' home addresses with mac, NAs coming from
   * ipv6 (our address on that link). Call inside the interface's namespace.
   */
  setHomeLink(ifname: string, mac: string, ipv6: string): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(ifIndex(ifname));
    libbpf.update(this.fd('home_links'), key, encodeHomeLink(mac, ipv6));
  }

  /* ---- counters ---- */

  private perCpu(name: MapName, key: number, size: number): Buffer {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(key);
    const stride = Math.ceil(size / 8) * 8;
    return libbpf.lookup(this.fd(name), k, stride * this.cpus) ?? Buffer.alloc(stride * this.cpus);
  }

  private zeroCounters(id: number): void {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(id);
    libbpf.update(this.fd('binding_counters'), k, Buffer.alloc(layouts.binding_counters.size * this.cpus));
  }

  bindingCounters(id: number): BindingCounters {
    return sumBindingCounters(this.perCpu('binding_counters', id, layouts.binding_counters.size), this.cpus);
  }

  private namedCounters(map: 'drops' | 'events', names: string[]): Record<string, bigint> {
    const raw = this.perCpu(map, 0, names.length * 8);
    const out: Record<string, bigint> = {};
    names.forEach((name, i) => {
      let sum = 0n;
      for (let cpu = 0; cpu < this.cpus; cpu++) sum += raw.readBigUInt64LE(cpu * names.length * 8 + i * 8);
      out[name] = sum;
    });
    return out;
  }

  /** Packets dropped, by reason (names from the object's BTF). */
  drops(): Record<string, bigint> {
    return this.namedCounters('drops', this.counterNames.drops);
  }

  events(): Record<string, bigint> {
    return this.namedCounters('events', this.counterNames.events);
  }

  /* ---- signalling and testing ---- */

  /** Delivers every signalling frame the data plane captures to onFrame, until close(). */
  onSignal(onFrame: (frame: SignalFrame) => void, onDrained?: () => void): void {
    if (this.reader) throw new Error('signal reader already running');
    this.reader = new SignalReader(this.fd('signals'), onFrame, onDrained);
  }

  /** Stops delivering signalling frames (they queue in the ring buffer for whoever reads next). */
  offSignal(): void {
    this.reader?.stop();
    this.reader = null;
  }

  /** Runs a program once on a frame with BPF_PROG_TEST_RUN. */
  testRun(prog: Hook | 'tc', frame: Buffer, opts: { ingressIfindex?: number; ifindex?: number; repeat?: number } = {}): { verdict: number; frame: Buffer; durationNs: number } {
    const out = Buffer.alloc(frame.length + 512);
    const run: Record<string, unknown> = { data_in: frame, data_size_in: frame.length, data_out: out, data_size_out: out.length, repeat: opts.repeat ?? 1 };
    if (prog === 'xdp' && opts.ingressIfindex) {
      const ctx = Buffer.alloc(24);
      ctx.writeUInt32LE(frame.length, 4); // data_end
      ctx.writeUInt32LE(opts.ingressIfindex, 12);
      Object.assign(run, { ctx_in: ctx, ctx_size_in: ctx.length });
    }
    if (prog !== 'xdp' && opts.ifindex) { // the device the packet is on (else loopback): struct __sk_buff up to ifindex, the rest zero
      const ctx = Buffer.alloc(44);
      ctx.writeUInt32LE(opts.ifindex, 40);
      Object.assign(run, { ctx_in: ctx, ctx_size_in: ctx.length });
    }
    const r = libbpf.testRun(this.programFd(prog), run);
    return { verdict: r.retval!, frame: out.subarray(0, r.data_size_out), durationNs: r.duration! };
  }

  /** 'tc' is the TC egress program. */
  programFd(prog: Hook | 'tc'): number {
    return this.progFds[prog === 'tc' ? 'tc-egress' : prog];
  }

  /** Lets go of this process's handles; the pinned data plane keeps forwarding. */
  close(): void {
    this.reader?.stop();
    this.reader = null;
    for (const fd of this.links.values()) closeFd(fd);
    this.links.clear();
    this.slots?.close();
    this.slots = null;
    this.slotWords = new Uint32Array(0);
    for (const fd of this.fds.values()) closeFd(fd);
    this.fds.clear();
    if (this.obj) libbpf.close(this.obj);
    this.obj = null;
  }

  /** Detaches everything and removes the pinned maps: the instance is gone. */
  destroy(): void {
    this.detach();
    this.close();
    rmSync(this.pinDir, { recursive: true, force: true });
    try { rmdirSync(this.options.pinRoot); } catch { /* other instances remain */ }
  }
}

/** A slot's tunnel as a binding's, or undefined if the slot is empty or holds what this build cannot read. */
function readableTunnel(slot: Buffer): Tunnel | undefined {
  if (slot[layouts.tunnel.fields.format!.offset] === 0) return undefined;
  try {
    const t = decodeTunnel(slot);
    return t.format === 'udp4' || t.format === 'udp4-tlv'
      ? { format: t.format, local: t.local, remote: t.remote, localPort: t.localPort, remotePort: t.remotePort, ...(t.mtu ? { mtu: t.mtu } : {}) }
      : { format: t.format, local: t.local, remote: t.remote, ...(t.mtu ? { mtu: t.mtu } : {}) };
  } catch {
    return undefined;
  }
}

function parsePrefix(prefix: string, id: number): { addr: string; len: number } {
  const [addr = '', lenText = ''] = prefix.split('/');
  const len = Number(lenText);
  let family: 4 | 6;
  try { family = addrFamily(addr); } catch { throw new BindingError(id, 'prefixes', `not a prefix: ${prefix}`); }
  if (!Number.isInteger(len) || len < 0 || len > (family === 4 ? 32 : 128) || lenText === '') throw new BindingError(id, 'prefixes', `bad prefix length in ${prefix}`);
  return { addr, len };
}

function describeEntry(e: Entry): string {
  return `${e.map} entry ${e.key.toString('hex')}`;
}
