/**
 * The binding cache's journal: what the pinned data plane does not hold
 * (NAI, sequence number, lifetime, last timestamp, where BAs go, the lease,
 * deprecated entries), so that a restarted home agent picks up where it
 * stopped.
 *
 * One fixed-size slot per binding id, rewritten in place as its entry
 * changes, and the file mapped into memory: a change is a copy into the
 * page cache, no system call (a pwrite(2) each cost more than the rest of
 * the journal's work) but when the file grows. The file never needs compacting (the
 * JSON-lines log this replaced held up to four times the state).
 *
 * A slot holds two copies of its record, each a sequence number (32 bits,
 * little-endian; 0: never written), the JSON's length (16 bits, 0: no
 * entry) and then { nai, entry }. A change goes over the older copy, its
 * sequence number stored last in one 32-bit store: a daemon killed in the
 * middle of a write leaves that copy's old number, so the slot still reads
 * as it was (the newer copy). Writes go without fsync: they survive the
 * daemon, not the machine losing power. Copies are sized at open for the
 * longest entry the profiles allow (copySizeFor()); an entry too long for
 * them (a profile added since) doubles them, the file rewritten once.
 *
 * The file's blocks are allocated as it grows (doubling as binding ids
 * need): a write through the mapping never needs disk space, which on a
 * full disk would kill the daemon (SIGBUS) rather than fail. (On a
 * copy-on-write filesystem, btrfs say, an overwrite still needs space: keep
 * the journal elsewhere.) Growing or rewriting the file can fail: the
 * change is then counted and logged, and the journal stale until repair()
 * rewrites it whole.
 *
 * The file starts with a header slot naming the format and the copy size.
 * Files of the formats before (one copy a slot, written with pwrite; JSON
 * lines) are read as such and rewritten in this one.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { MappedFile, reserveFile } from '../sys/libc.js';
import { Checker } from '../config/checker.js';
import { MAX_BINDINGS } from '../dataplane/dataplane.js';
import { TunnelFormat } from '../dataplane/layout.js';
import type { BindingCacheEntry } from './home-agent.js';

const MAGIC = 'mobility-anchor binding cache v2: slots of two copies of ';
/** The format before: one copy a slot, its length then its JSON. */
const V1_MAGIC = 'mobility-anchor binding cache, slots of ';
const FIRST_COPY_SIZE = 1024;
const MAX_COPY_SIZE = 4096;
const LENGTH_AT = 4;
const TEXT_AT = 6;
/** Slots the file first holds; it doubles as binding ids outgrow it. */
const FIRST_CAPACITY = 64;

/**
 * A record is its entry's JSON in three parts: the base, what only a new
 * registration changes; the part a move changes (care-of address, tunnel,
 * route); the tail, what every accepted BU changes (sequence number,
 * expiry, timestamp, refresh request). A slot keeps the text of its last
 * base and moving part while the node's entry keeps those fields (the same
 * objects: a predicted refresh or move), so a BU writes them again with a
 * new tail instead of serialising the entry's strings anew, a cache miss
 * each with 100,000 nodes. JSON cannot hold a bigint: the timestamp travels
 * as a decimal string. The binding's id and tunnel are the entry's own, so
 * they are not written twice.
 */
const baseJson = (e: BindingCacheEntry) => ({ // every field named (a literal of one shape: several times faster to build than a spread copy); undefined ones are left out
  nai: e.nai, bindingId: e.bindingId, homeAddress: e.homeAddress, ipv4HomeAddress: e.ipv4HomeAddress, natDetected: e.natDetected, lifetime: e.lifetime,
  binding: { homeAddresses: e.binding.homeAddresses, prefixes: e.binding.prefixes }, linkLocal: e.linkLocal, router: e.router, deprecatedUntilMs: e.deprecatedUntilMs,
} satisfies Record<Exclude<keyof BindingCacheEntry, MovingField | TailField>, unknown>);
type MovingField = 'careOf' | 'tunnel' | 'route';
type TailField = 'sequence' | 'expiresMs' | 'lastTimestamp' | 'refreshRequested';
/** The record up to its moving part: its JSON without the closing braces, and a comma. */
const baseText = (e: BindingCacheEntry) => `${JSON.stringify({ nai: e.nai, entry: baseJson(e) }).slice(0, -2)},`;
const movingText = (e: BindingCacheEntry) => `"careOf":${JSON.stringify(e.careOf)},"tunnel":${JSON.stringify(e.tunnel)},"route":${JSON.stringify(e.route)},`;
/** Every number here is an integer: as JSON, its String(). */
const tailText = (e: BindingCacheEntry) => `"sequence":${e.sequence},"expiresMs":${e.expiresMs},"lastTimestamp":"${e.lastTimestamp}","refreshRequested":${e.refreshRequested}}}`;
const recordText = (e: BindingCacheEntry): string => baseText(e) + movingText(e) + tailText(e);
function fromJson(raw: Record<string, unknown>): BindingCacheEntry {
  checkEntry(raw);
  const e = raw as unknown as BindingCacheEntry;
  // a journal from before entries said so: a registration with IPv6 mobile network prefixes was a mobile router's (R)
  const router = e.router ?? (e.binding.prefixes.some((x) => x.includes(':')) ? true : undefined);
  return { ...e, ...(router && { router }), lastTimestamp: BigInt(raw.lastTimestamp as string), binding: { id: e.bindingId, tunnel: e.tunnel, homeAddresses: e.binding.homeAddresses, prefixes: e.binding.prefixes } };
}

/**
 * Throws what is wrong with an entry read back, field by field: damage that
 * still parses as JSON (an address, a number out of range) must cost that
 * entry, not the daemon's start.
 */
function checkEntry(e: Record<string, unknown>): void {
  const c = new Checker();
  const need = (v: unknown) => v ?? null; // (Checker takes undefined as "left out, use the default")
  const anyAddress = (v: unknown, path: string) => c.address(v, path, typeof v === 'string' && v.includes(':') ? 6 : 4);
  const port = (v: unknown, path: string) => c.integer(need(v), path, 1, 65535, 0);
  c.string(e.nai, 'nai');
  c.integer(need(e.bindingId), 'bindingId', 1, MAX_BINDINGS - 1, 0);
  c.address(e.homeAddress, 'homeAddress', 6);
  if (e.ipv4HomeAddress !== undefined) c.address(e.ipv4HomeAddress, 'ipv4HomeAddress', 4);
  anyAddress(e.careOf, 'careOf');
  c.boolean(need(e.natDetected), 'natDetected', false);
  const t = c.object(e.tunnel, 'tunnel', ['format', 'local', 'remote', 'localPort', 'remotePort', 'mtu']);
  if (!Object.hasOwn(TunnelFormat, t.format as string)) c.fail('tunnel.format', `one of ${Object.keys(TunnelFormat).join(', ')}`, t.format, '');
  anyAddress(t.local, 'tunnel.local');
  anyAddress(t.remote, 'tunnel.remote');
  if (t.mtu !== undefined) c.integer(t.mtu, 'tunnel.mtu', 0, 65535, 0); // (16 bits in the data plane's entry)
  if (t.format === 'udp4' || t.format === 'udp4-tlv') {
    port(t.localPort, 'tunnel.localPort');
    port(t.remotePort, 'tunnel.remotePort');
  }
  c.integer(need(e.sequence), 'sequence', 0, 0xffff, 0);
  c.integer(need(e.lifetime), 'lifetime', 0, 0xffff * 4, 0);
  c.integer(need(e.expiresMs), 'expiresMs', 0, Number.MAX_SAFE_INTEGER, 0);
  // (an NTP timestamp is 64 bits: one larger would be newer than any a node can send, locking it out with 144 for good)
  if (typeof e.lastTimestamp !== 'string' || !/^\d{1,20}$/.test(e.lastTimestamp) || BigInt(e.lastTimestamp) >= 1n << 64n) {
    c.fail('lastTimestamp', 'a decimal string of an NTP timestamp (below 2^64)', e.lastTimestamp, '');
  }
  const r = c.object(e.route, 'route', ['transport', 'src', 'dst', 'routingHeader2', 'srcPort', 'dstPort', 'ipv6Src', 'ipv6Dst']);
  anyAddress(r.src, 'route.src');
  anyAddress(r.dst, 'route.dst');
  if (r.transport === 'udp4') {
    port(r.srcPort, 'route.srcPort');
    port(r.dstPort, 'route.dstPort');
    c.address(r.ipv6Src, 'route.ipv6Src', 6);
    c.address(r.ipv6Dst, 'route.ipv6Dst', 6);
  } else if (r.transport !== 'ipv6') {
    c.fail('route.transport', '"ipv6" or "udp4"', r.transport, '');
  }
  if (r.routingHeader2 !== undefined) c.address(r.routingHeader2, 'route.routingHeader2', 6);
  const b = c.object(e.binding, 'binding', ['homeAddresses', 'prefixes', 'id', 'tunnel']); // (id and tunnel: the JSON-lines format's, not read)
  (Array.isArray(b.homeAddresses) ? b.homeAddresses : [c.fail('binding.homeAddresses', 'a list', b.homeAddresses, '')]).forEach((a, i) => anyAddress(a, `binding.homeAddresses[${i}]`));
  (Array.isArray(b.prefixes) ? b.prefixes : [c.fail('binding.prefixes', 'a list', b.prefixes, '')]).forEach((x, i) => c.prefix(x, `binding.prefixes[${i}]`));
  c.boolean(need(e.refreshRequested), 'refreshRequested', false);
  if (e.linkLocal !== undefined) c.address(e.linkLocal, 'linkLocal', 6);
  if (e.router !== undefined && e.router !== true) c.fail('router', 'true, or left out', e.router, '');
  if (e.deprecatedUntilMs !== undefined) c.integer(e.deprecatedUntilMs, 'deprecatedUntilMs', 0, Number.MAX_SAFE_INTEGER, 0);
  if (c.problems.length) throw new Error(c.problems.join('; '));
}

/**
 * A slot's last record up to its tail (its base, then its moving part):
 * their lengths, and the entry it was made from. Their text is kept only
 * in the file: written from new strings when a part changes, and into the
 * other copy at its next write from the copy that holds it (no string per
 * node on the heap). baseIn, wholeIn: the slot's copies known to hold this
 * base, and this base with this moving part (bit 0 the first copy, bit 1
 * the second); a write leaves what a copy holds as it is.
 */
interface Head { of: BindingCacheEntry; baseBytes: number; bytes: number; baseIn: number; wholeIn: number }
/** The text of the parts a new head changed: written into the copy, kept nowhere else. */
interface Fresh { base?: string; moving: string }
/** The entry's base is the head's: every field in it the same (objects and lists the same objects). */
const sameBase = ({ of: h }: Head, e: BindingCacheEntry) => h.nai === e.nai && h.bindingId === e.bindingId && h.homeAddress === e.homeAddress
  && h.ipv4HomeAddress === e.ipv4HomeAddress && h.natDetected === e.natDetected && h.lifetime === e.lifetime && h.binding.homeAddresses === e.binding.homeAddresses
  && h.binding.prefixes === e.binding.prefixes && h.linkLocal === e.linkLocal && h.router === e.router && h.deprecatedUntilMs === e.deprecatedUntilMs;
const sameMoving = ({ of: h }: Head, e: BindingCacheEntry) => h.careOf === e.careOf && h.tunnel === e.tunnel && h.route === e.route;
/** The entry's head: the slot's last one again, or its base with a new moving part, or new; with the text of what is new. */
function head(e: BindingCacheEntry, last: Head | undefined): { h: Head; fresh?: Fresh } {
  const known = last !== undefined && sameBase(last, e);
  if (known && sameMoving(last, e)) return { h: last };
  const base = known ? undefined : baseText(e);
  const baseBytes = known ? last.baseBytes : Buffer.byteLength(base!);
  const moving = movingText(e);
  return { h: { of: e, baseBytes, bytes: baseBytes + Buffer.byteLength(moving), baseIn: known ? last.baseIn : 0, wholeIn: 0 }, fresh: { base, moving } };
}

/** Serial-number order of two copies' sequence numbers (RFC 1982 style: they wrap). */
const newer = (a: number, b: number) => ((a - b) | 0) > 0;

export class BindingJournal {
  private fd: number | null = null;
  private file: MappedFile | null = null;
  /** The mapped file as 32-bit words: each copy's sequence number is stored in one. */
  private words: Int32Array = new Int32Array(0);
  /** Slots the file holds (the header's included). */
  private capacity = 0;
  /** The slot (binding id) each node's entry is written in. */
  private readonly slotOf = new Map<string, number>();
  private readonly naiIn = new Map<number, string>();
  /** Each slot's last head (see Head). */
  private heads: (Head | undefined)[] = [];
  private current: () => Iterable<BindingCacheEntry> = () => [];
  /** A write failed since the last rewrite: the file may not hold the cache as it is. */
  stale = false;
  /** When repair() may next try, and how long it waits after that try fails (doubling, up to a minute: a full disk, say). */
  private repairAt = { ms: -Infinity, backoffMs: 1000 };

  private constructor(readonly path: string, private copySize: number) {}

  private get slotSize(): number {
    return 2 * this.copySize;
  }

  /**
   * Opens (or creates) the journal at path, and returns it with the entries
   * it held. Its copies are made at least minCopySize long (copySizeFor()
   * the profiles: no entry of theirs then has to grow them while BUs wait).
   * Throws on a file that is no journal, rather than overwrite it.
   */
  static open(path: string, minCopySize = FIRST_COPY_SIZE): { journal: BindingJournal; entries: BindingCacheEntry[]; problems: string[] } {
    const file = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    const copySize = copySizeOf(file);
    const v1SlotSize = copySize ? undefined : sizeAfter(file, V1_MAGIC);
    const { entries, problems, lines } = copySize ? { ...readSlots(path, file, copySize), lines: 0 }
      : v1SlotSize ? { ...readV1Slots(path, file, v1SlotSize), lines: 0 } : readLines(path, file.toString('utf8'));
    if (!copySize && !v1SlotSize && file.length > 0 && lines === 0) throw new Error(`${path}: neither a binding cache journal nor one of the JSON-lines format before it: move it aside`);
    const journal = new BindingJournal(path, Math.max(copySize ?? FIRST_COPY_SIZE, minCopySize));
    if (copySize === journal.copySize) {
      journal.attach();
      for (const e of entries) journal.placed(e.nai, e.bindingId);
    } else {
      journal.rewrite(entries); // a new file, one in a format before, or copies too short for the profiles
    }
    return { journal, entries, problems };
  }

  /**
   * Writes a node's entry as it now is (undefined: it left the cache) into
   * its slot; current() lists every entry, for a rewrite with larger copies.
   */
  record(nai: string, entry: BindingCacheEntry | undefined, current: () => Iterable<BindingCacheEntry>): void {
    this.current = current;
    try {
      if (entry && this.heads[entry.bindingId]?.of.nai === nai) { // its slot still (the common case: no index to look up)
        this.write(entry, true);
        return;
      }
      const before = this.slotOf.get(nai);
      if (entry) {
        this.write(entry, before === entry.bindingId);
        if (before !== undefined && before !== entry.bindingId) this.clear(before); // the new slot first: a kill between leaves both, the newer wins
      } else if (before !== undefined) {
        this.clear(before);
      }
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  /**
   * Rewrites the file whole if a write failed since the last rewrite (the
   * daemon asks every second, and at stop); true if it did. A failed try
   * puts the next one off.
   */
  repair(entries: () => Iterable<BindingCacheEntry>, nowMs: number): boolean {
    if (!this.stale || nowMs < this.repairAt.ms) return false;
    try {
      this.rewrite([...entries()]);
    } catch (err) {
      this.repairAt = { ms: nowMs + this.repairAt.backoffMs, backoffMs: Math.min(2 * this.repairAt.backoffMs, 60_000) };
      throw err;
    }
    this.repairAt = { ms: -Infinity, backoffMs: 1000 };
    return true;
  }

  /**
   * The file holds exactly these entries, replaced in one rename (at open
   * and restore, and to grow the copies). Nothing changes here unless the
   * new file is in place.
   */
  rewrite(entries: readonly BindingCacheEntry[]): void {
    const texts = entries.map(recordText);
    const longest = largest(texts.map((t) => Buffer.byteLength(t)));
    let copySize = this.copySize;
    while (TEXT_AT + longest > copySize) copySize = grownCopy(copySize, longest);
    const slotSize = 2 * copySize;
    const capacity = capacityFor(largest(entries.map((e) => e.bindingId)));
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      try {
        writeSync(fd, header(copySize), 0, slotSize, 0);
        const slot = Buffer.alloc(slotSize);
        texts.forEach((t, i) => writeSync(fd, firstCopy(slot, t), 0, slotSize, entries[i]!.bindingId * slotSize));
        reserveFile(fd, capacity * slotSize);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true }); // a half-written file would only take the room the journal may need
      throw err;
    }
    this.copySize = copySize;
    this.close();
    this.attach();
    this.slotOf.clear();
    this.naiIn.clear();
    this.heads = [];
    for (const e of entries) this.placed(e.nai, e.bindingId);
    this.stale = false;
  }

  close(): void {
    this.unmap();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Opens the file at path (in this format, this copy size) and maps it (lengthened to whole slots, at least FIRST_CAPACITY of them). */
  private attach(): void {
    this.fd = openSync(this.path, 'r+');
    try {
      const capacity = Math.max(FIRST_CAPACITY, Math.ceil(fstatSync(this.fd).size / this.slotSize));
      reserveFile(this.fd, capacity * this.slotSize);
      this.map(capacity);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private map(capacity: number): void {
    this.unmap();
    this.file = new MappedFile(this.fd!, capacity * this.slotSize);
    this.words = new Int32Array(this.file.bytes.buffer, this.file.bytes.byteOffset, this.file.length / 4);
    this.capacity = capacity;
  }

  private unmap(): void {
    this.words = new Int32Array(0); // nothing may reach the mapping once it is gone
    this.file?.close();
    this.file = null;
    this.capacity = 0;
  }

  /** An entry into its slot; placed: the slot is the node's already (its next entry, the common case: its head may be the last one, nothing to index). */
  private write(entry: BindingCacheEntry, placed = false): void {
    const slot = entry.bindingId;
    const { h, fresh } = head(entry, placed ? this.heads[slot] : undefined);
    const tail = tailText(entry);
    if (TEXT_AT + h.bytes + tail.length > this.copySize) { // a profile added since open() with a longer entry: larger copies, the file rewritten once
      this.rewrite([...this.current()].filter((e) => e.nai !== entry.nai).concat(entry));
      return;
    }
    this.writeSlot(slot, h, fresh, tail);
    this.heads[slot] = h;
    if (placed) return;
    const other = this.naiIn.get(entry.bindingId);
    if (other !== undefined && other !== entry.nai) this.slotOf.delete(other);
    this.placed(entry.nai, entry.bindingId);
  }

  private clear(slot: number): void {
    this.writeSlot(slot);
    this.heads[slot] = undefined;
    const nai = this.naiIn.get(slot);
    if (nai !== undefined && this.slotOf.get(nai) === slot) this.slotOf.delete(nai); // (not a node's new slot, written just before its old one is cleared)
    this.naiIn.delete(slot);
  }

  /**
   * A record (none: no entry) over the slot's older copy, its sequence
   * number last (until then the slot reads as it was); the rest of what the
   * copy held zeroed, not the whole copy: each write would otherwise touch
   * every cache line of it, a miss each with 100,000 slots. A part the copy
   * holds already is not written again (Head.baseIn, wholeIn); one it lacks
   * comes from fresh (the part is new) or else from the newer copy, which
   * holds the head's whole text (its last write). (A write cut short may
   * leave bytes past its copy's length: nothing reads them, and a cleared
   * slot is zeroed whole.)
   */
  private writeSlot(slot: number, h?: Head, fresh?: Fresh, tail = ''): void {
    if (!this.file) throw new Error(`${this.path}: the journal is closed`);
    if (slot >= this.capacity) this.grow(slot);
    const bytes = this.file!.bytes;
    const a = slot * this.slotSize;
    const b = a + this.copySize;
    const [at, other] = newer(this.words[a / 4]!, this.words[b / 4]!) ? [b, a] : [a, b];
    const seq = (this.words[other / 4]! + 1) | 0 || 1; // 0 is never written: after 2^32 writes, 1
    const stale = h ? TEXT_AT + bytes.readUInt16LE(at + LENGTH_AT) : this.copySize; // what the copy held: past it, zeros already
    const copyBit = at === a ? 1 : 2;
    if (h) {
      const text = at + TEXT_AT;
      const holdsBase = (h.baseIn & copyBit) !== 0;
      if (fresh) {
        if (!holdsBase) {
          if (fresh.base !== undefined) bytes.write(fresh.base, text);
          else bytes.copy(bytes, text, other + TEXT_AT, other + TEXT_AT + h.baseBytes);
        }
        bytes.write(fresh.moving, text + h.baseBytes);
      } else if (!(h.wholeIn & copyBit)) {
        const from = holdsBase ? h.baseBytes : 0;
        bytes.copy(bytes, text + from, other + TEXT_AT + from, other + TEXT_AT + h.bytes);
      }
    }
    const length = h ? h.bytes + bytes.write(tail, at + TEXT_AT + h.bytes, 'latin1') : 0;
    bytes.writeUInt16LE(length, at + LENGTH_AT);
    if (TEXT_AT + length < stale) bytes.fill(0, at + TEXT_AT + length, at + stale);
    Atomics.store(this.words, at / 4, seq);
    if (h) {
      h.baseIn |= copyBit;
      h.wholeIn |= copyBit;
    } else {
      bytes.fill(0, other, other + this.copySize); // a cleared slot keeps nothing of the node (the older copy was its last entry)
    }
  }

  /** Room for binding id slot: the file lengthened (its new slots read as empty, their blocks allocated) and mapped again. */
  private grow(slot: number): void {
    const capacity = capacityFor(slot);
    reserveFile(this.fd!, capacity * this.slotSize);
    this.map(capacity);
  }

  private placed(nai: string, slot: number): void {
    this.slotOf.set(nai, slot);
    this.naiIn.set(slot, nai);
  }
}

/**
 * Bytes an entry's record may take at most, for a node of this NAI and
 * these prefixes: every address in it at its longest, every number at its
 * widest (test/ha/journal.test.ts checks the bound against such an entry).
 */
export function recordBytesBound(nai: string, prefixes: readonly string[]): number {
  return RECORD_BASE_BYTES + 2 * Buffer.byteLength(nai) + prefixes.length * PREFIX_BYTES;
}
const RECORD_BASE_BYTES = 960;
const PREFIX_BYTES = 46; // "ffff:…:ffff/128" and its quotes and comma

/** The copy size that holds any entry of these nodes (within MAX_COPY_SIZE: the configuration bounds NAIs and prefixes). */
export function copySizeFor(nodes: readonly { nai: string; prefixes: readonly string[] }[]): number {
  const longest = largest(nodes.map((n) => recordBytesBound(n.nai, n.prefixes)));
  let size = FIRST_COPY_SIZE;
  while (size < TEXT_AT + longest && size < MAX_COPY_SIZE) size *= 2;
  return size;
}

/** The largest of many numbers, 0 for none (Math.max(...list) overflows the stack with a hundred thousand). */
function largest(list: readonly number[]): number {
  let max = 0;
  for (const x of list) if (x > max) max = x;
  return max;
}

/** Slots for binding ids up to maxId: the next power of two, at least FIRST_CAPACITY (the header slot included). */
function capacityFor(maxId: number): number {
  let capacity = FIRST_CAPACITY;
  while (capacity <= maxId) capacity *= 2;
  return capacity;
}

function header(copySize: number): Buffer {
  const b = Buffer.alloc(2 * copySize);
  b.write(`${MAGIC}${copySize} bytes\n`);
  return b;
}

/** The size a header of this magic declares; undefined for another format (or an empty file). */
function sizeAfter(file: Buffer, magic: string): number | undefined {
  if (file.length < magic.length || file.toString('latin1', 0, magic.length) !== magic) return undefined;
  const size = Number(/^(\d+) bytes\n/.exec(file.toString('latin1', magic.length, magic.length + 16))?.[1]);
  return Number.isInteger(size) && size >= FIRST_COPY_SIZE && size <= MAX_COPY_SIZE ? size : undefined;
}

const copySizeOf = (file: Buffer) => sizeAfter(file, MAGIC);

function grownCopy(size: number, textLength: number): number {
  if (size >= MAX_COPY_SIZE) throw new Error(`a binding cache entry of ${textLength} bytes is longer than the journal's largest copy (${MAX_COPY_SIZE} bytes)`);
  return size * 2;
}

/** slot holding text (it fits) in its first copy, sequence number 1; the second copy never written. */
function firstCopy(slot: Buffer, text: string): Buffer {
  slot.fill(0);
  slot.writeUInt32LE(1, 0);
  slot.writeUInt16LE(slot.write(text, TEXT_AT), LENGTH_AT);
  return slot;
}

/** A node's entry, parsed from a record's text; throws what is wrong with it. */
function parsed(text: string, slot: number): BindingCacheEntry {
  const { nai, entry } = JSON.parse(text) as { nai: string; entry: Record<string, unknown> };
  const e = fromJson(entry);
  if (e.nai !== nai || e.bindingId !== slot) throw new Error(`holds ${nai}'s entry of binding ${e.bindingId}`);
  return e;
}

/** Entries by node, a node found in two slots (its move between binding ids, cut short) taken from the newer. */
function keepNewest(found: Iterable<BindingCacheEntry>): BindingCacheEntry[] {
  const byNai = new Map<string, BindingCacheEntry>();
  for (const e of found) {
    const other = byNai.get(e.nai);
    if (!other || e.lastTimestamp > other.lastTimestamp) byNai.set(e.nai, e);
  }
  return [...byNai.values()];
}

/** Each slot's newer copy (the older one if the newer cannot be read: damage, not a write cut short). */
function readSlots(path: string, file: Buffer, copySize: number): { entries: BindingCacheEntry[]; problems: string[] } {
  const problems: string[] = [];
  const found: BindingCacheEntry[] = [];
  const slotSize = 2 * copySize;
  const copy = (at: number, slot: number): BindingCacheEntry | undefined => {
    const length = file.readUInt16LE(at + LENGTH_AT);
    if (length === 0) return undefined;
    if (TEXT_AT + length > copySize) throw new Error(`length ${length} overruns the copy`);
    return parsed(file.toString('utf8', at + TEXT_AT, at + TEXT_AT + length), slot);
  };
  for (let slot = 1; (slot + 1) * slotSize <= file.length; slot++) {
    const a = slot * slotSize;
    const copies = [a, a + copySize].filter((at) => file.readInt32LE(at) !== 0);
    copies.sort((x, y) => (newer(file.readInt32LE(x), file.readInt32LE(y)) ? -1 : 1));
    for (const [i, at] of copies.entries()) {
      try {
        const e = copy(at, slot);
        if (e) found.push(e);
        if (i > 0) problems.push(`${path}: slot ${slot}: its older copy taken instead`);
        break;
      } catch (err) {
        problems.push(`${path}: slot ${slot}: ${i === 0 ? 'newer' : 'older'} copy: ${(err as Error).message}: skipped`);
      }
    }
  }
  return { entries: keepNewest(found), problems };
}

/** The format before: one copy a slot, its length (16 bits) then its JSON. */
function readV1Slots(path: string, file: Buffer, slotSize: number): { entries: BindingCacheEntry[]; problems: string[] } {
  const problems: string[] = [];
  const found: BindingCacheEntry[] = [];
  for (let at = slotSize; at + 2 <= file.length; at += slotSize) {
    const length = file.readUInt16LE(at);
    if (length === 0) continue;
    try {
      if (2 + length > slotSize || at + 2 + length > file.length) throw new Error(`length ${length} overruns the slot`);
      found.push(parsed(file.toString('utf8', at + 2, at + 2 + length), at / slotSize));
    } catch (err) {
      problems.push(`${path}: slot ${at / slotSize}: ${(err as Error).message}: skipped`);
    }
  }
  return { entries: keepNewest(found), problems };
}

/**
 * The JSON-lines journal of earlier versions: { nai, entry } or { nai, gone: true }
 * per line, folded; lines: how many were such lines (none: it is no journal).
 */
function readLines(path: string, text: string): { entries: BindingCacheEntry[]; problems: string[]; lines: number } {
  const problems: string[] = [];
  const state = new Map<string, BindingCacheEntry>();
  let lines = 0;
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const parsed = JSON.parse(line) as { nai?: unknown; gone?: unknown; entry?: Record<string, unknown> };
      if (typeof parsed?.nai !== 'string' || (parsed.gone !== true && typeof parsed.entry !== 'object')) throw new Error('not a journal line');
      lines++;
      if (parsed.gone === true) state.delete(parsed.nai);
      else state.set(parsed.nai, fromJson(parsed.entry!));
    } catch (err) {
      problems.push(`${path}:${i + 1}: ${(err as Error).message}: line skipped`); // a torn last write, say
    }
  });
  return { entries: [...state.values()], problems, lines };
}
