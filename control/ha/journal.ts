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
 * A slot holds two copies of its record, each a tail (its sequence number,
 * 32 bits, little-endian, 0: never written; its JSON's length, 16 bits, 0:
 * no entry; what every BU changes, in binary: see TAIL) and a text, the
 * JSON of { nai, entry } without the tail; the tails sit together at the
 * head of each block of slots, the texts after them (see BLOCK). A change
 * goes over the older copy, its
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
 * The file starts with a header naming the format and the copy size, where
 * binding id 0's tails would be.
 * Files of the formats before (v2: the tail in the JSON; one copy a slot,
 * written with pwrite; JSON lines) are read as such and rewritten in this one.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { MappedFile, reserveFile } from '../sys/libc.js';
import { Checker } from '../config/checker.js';
import { MAX_BINDINGS } from '../dataplane/dataplane.js';
import { careOfInPlace, copyCareOf, isStamped, STAMP_HIGH, STAMP_LOW } from './in-place.js';
import { formatAddr, TunnelFormat, writeAddr } from '../dataplane/layout.js';
import type { BindingCacheEntry } from './home-agent.js';

const MAGIC = 'mobility-anchor binding cache v3: blocks of tails, then text copies of ';
/** The formats before: copies of number, length and the whole JSON (v2); one copy a slot, its length then its JSON (v1). */
const V2_MAGIC = 'mobility-anchor binding cache v2: slots of two copies of ';
const V1_MAGIC = 'mobility-anchor binding cache, slots of ';
const FIRST_COPY_SIZE = 1024;
const MAX_COPY_SIZE = 4096;
/**
 * A copy's tail, TAIL_BYTES: its write number (32 bits, 0: never written),
 * its text's length (16 bits, 0: no entry), a care-of family byte (0: the
 * JSON holds the care-of address; 4 or 6: the tail does, and it is the
 * tunnel's remote end and the route's destination too, left out of the
 * JSON), refreshRequested (a byte, 0 or 1), the sequence number (16 bits),
 * expiresMs (a double), lastTimestamp (64 bits), the care-of address (16
 * bytes, IPv4 in the first four). A predicted BU changes only these: a
 * move or a refresh writes a few words, no text.
 */
const TAIL = { length: 4, careOfFamily: 6, refreshRequested: 7, sequence: 8, expiresMs: 16, lastTimestamp: 24, careOf: 32 } as const;
const TAIL_BYTES = 48;
/**
 * The file is blocks of BLOCK slots: their tails (two a slot), then their
 * texts (two copies a slot, copySize bytes each). The tails of 100,000
 * slots take 4.7 MiB, their texts 200 MiB: BUs that write only tails touch
 * few pages, so few are written back and write-protected again between two
 * BUs (a page fault each, ~2-5 µs here) and few miss the TLB. Binding id 0
 * is never used: its tails hold the header.
 */
const BLOCK = 64;
/** v2's copies: number, length, then the whole JSON. */
const V2_LENGTH_AT = 4;
const V2_TEXT_AT = 6;
/** Slots the file first holds; it doubles as binding ids outgrow it. */
const FIRST_CAPACITY = BLOCK;

/** Where a v3 file of this copy size keeps a slot's tails and texts (copy 0 or 1). */
class Geometry {
  readonly blockBytes: number;
  constructor(readonly copySize: number) {
    this.blockBytes = BLOCK * 2 * (TAIL_BYTES + copySize);
  }

  tail(slot: number, copy: number): number {
    return Math.floor(slot / BLOCK) * this.blockBytes + ((slot % BLOCK) * 2 + copy) * TAIL_BYTES;
  }

  text(slot: number, copy: number): number {
    return Math.floor(slot / BLOCK) * this.blockBytes + BLOCK * 2 * TAIL_BYTES + ((slot % BLOCK) * 2 + copy) * this.copySize;
  }

  /** The file's length for this many slots (whole blocks). */
  bytesFor(capacity: number): number {
    return Math.ceil(capacity / BLOCK) * this.blockBytes;
  }
}

/**
 * A record is its entry in three parts: the base, what only a new
 * registration changes; the part a move changes (care-of address, tunnel,
 * route); the tail, what every accepted BU changes (sequence number,
 * expiry, timestamp, refresh request), in binary beside the JSON of the
 * other two. A care-of address that is also the tunnel's remote end and the
 * route's destination (no NAT between) is written in the tail too, and
 * left out of the JSON: a move then changes no text. A slot keeps the
 * text of its last base and moving part while the node's entry keeps those
 * fields (the same objects, or a predicted move's objects the same but for
 * the care-of address), so such a BU writes a new tail and no text, instead
 * of serialising the entry's strings anew, a cache miss each with 100,000
 * nodes (and ~1.4 KiB of strings a BU for the scavenger). The binding's id
 * and tunnel are the entry's own, so they are not written twice.
 */
const baseJson = (e: BindingCacheEntry) => ({ // every field named (a literal of one shape: several times faster to build than a spread copy); undefined ones are left out
  nai: e.nai, bindingId: e.bindingId, homeAddress: e.homeAddress, ipv4HomeAddress: e.ipv4HomeAddress, natDetected: e.natDetected, lifetime: e.lifetime,
  binding: { homeAddresses: e.binding.homeAddresses, prefixes: e.binding.prefixes }, linkLocal: e.linkLocal, router: e.router, deprecatedUntilMs: e.deprecatedUntilMs,
} satisfies Record<Exclude<keyof BindingCacheEntry, MovingField | TailField>, unknown>);
type MovingField = 'careOf' | 'tunnel' | 'route';
type TailField = 'sequence' | 'expiresMs' | 'lastTimestamp' | 'refreshRequested';
/** The record up to its moving part: its JSON without the closing braces, and a comma. */
const baseText = (e: BindingCacheEntry) => `${JSON.stringify({ nai: e.nai, entry: baseJson(e) }).slice(0, -2)},`;
/** The rest of the record's JSON, closing it: the care-of address (the tail's, if bound), tunnel and route. */
const movingText = (e: BindingCacheEntry) => (careOfBound(e)
  ? `"tunnel":${JSON.stringify({ ...e.tunnel, remote: undefined })},"route":${JSON.stringify({ ...e.route, dst: undefined })}}}`
  : `"careOf":${JSON.stringify(e.careOf)},"tunnel":${JSON.stringify(e.tunnel)},"route":${JSON.stringify(e.route)}}}`);
const recordText = (e: BindingCacheEntry): string => baseText(e) + movingText(e);
/** The care-of address is also where the tunnel and the BAs go: the tail holds it for all three. */
const careOfBound = (e: BindingCacheEntry) => careOfInPlace(e) || (e.tunnel.remote === e.careOf && e.route.dst === e.careOf);

/** An entry's tail into the tail at `at` (see TAIL; not its write number, nor its length). */
function writeTail(view: DataView, bytes: Uint8Array, at: number, e: BindingCacheEntry): void {
  // (its bytes copied or parsed into the tail: a shared copy of them was a Buffer a BU for the scavenger)
  const careOf = careOfInPlace(e) ? copyCareOf(e, bytes, at + TAIL.careOf) : careOfBound(e) ? writeAddr(e.careOf, bytes, at + TAIL.careOf) : undefined;
  view.setUint8(at + TAIL.careOfFamily, careOf === undefined ? 0 : careOf === 4 ? 4 : 6);
  view.setUint8(at + TAIL.refreshRequested, e.refreshRequested ? 1 : 0);
  view.setUint16(at + TAIL.sequence, e.sequence, true);
  view.setFloat64(at + TAIL.expiresMs, e.expiresMs, true);
  if (isStamped(e)) { // (its halves: no bigint made)
    view.setUint32(at + TAIL.lastTimestamp, e[STAMP_LOW], true);
    view.setUint32(at + TAIL.lastTimestamp + 4, e[STAMP_HIGH], true);
  } else {
    view.setBigUint64(at + TAIL.lastTimestamp, e.lastTimestamp, true);
  }
  if (careOf !== 16) bytes.fill(0, at + TAIL.careOf + (careOf ?? 0), at + TAIL.careOf + 16);
}

/** A record's JSON (the entry's) with the tail at `at` put back in: as v2 wrote it whole. Throws on a tail no write makes. */
function withTail(raw: Record<string, unknown>, file: Buffer, at: number): Record<string, unknown> {
  const family = file[at + TAIL.careOfFamily]!, refresh = file[at + TAIL.refreshRequested]!;
  if (family !== 0 && family !== 4 && family !== 6) throw new Error(`its tail's care-of family is ${family}, neither 0, 4 nor 6`);
  if (refresh > 1) throw new Error(`its tail's refreshRequested is ${refresh}, neither 0 nor 1`);
  const e = raw.entry as Record<string, unknown> | undefined;
  if (typeof e !== 'object' || e === null) return raw; // (parsed() says what is wrong)
  if (family !== 0) {
    // a bound care-of address is the tunnel's remote end: of its family (writeTail() never writes another; checkEntry() takes either)
    const format = typeof e.tunnel === 'object' && e.tunnel !== null ? (e.tunnel as Record<string, unknown>).format : undefined;
    if (typeof format === 'string' && family !== (format === 'ip6' ? 6 : 4)) throw new Error(`its tail's care-of family is ${family}, but its tunnel is ${format}`);
    const careOf = formatAddr(file, family, at + TAIL.careOf);
    e.careOf = careOf;
    if (typeof e.tunnel === 'object' && e.tunnel !== null) (e.tunnel as Record<string, unknown>).remote = careOf;
    if (typeof e.route === 'object' && e.route !== null) (e.route as Record<string, unknown>).dst = careOf;
  }
  Object.assign(e, {
    sequence: file.readUInt16LE(at + TAIL.sequence), expiresMs: file.readDoubleLE(at + TAIL.expiresMs),
    lastTimestamp: file.readBigUInt64LE(at + TAIL.lastTimestamp).toString(), refreshRequested: refresh === 1,
  });
  return raw;
}

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
/** The entry's moving part writes the head's text: the same objects, or (a move's) the care-of bound in both and the rest the same. */
const sameMoving = ({ of: h }: Head, e: BindingCacheEntry) => h === e || (h.careOf === e.careOf && h.tunnel === e.tunnel && h.route === e.route)
  || (careOfBound(h) && careOfBound(e) && sameBut(h.tunnel, e.tunnel, 'remote') && sameBut(h.route, e.route, 'dst'));
/** Two objects of the same fields but one (its JSON alike without it: an undefined field is left out as an absent one is). */
function sameBut<T extends object>(a: T, b: T, but: keyof T): boolean {
  if (a === b) return true;
  for (const k in a) if (k !== but && a[k] !== b[k]) return false;
  for (const k in b) if (k !== but && b[k] !== undefined && !(k in a)) return false;
  return true;
}
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
  /** The same, for the tail's fields. */
  private view: DataView = new DataView(new ArrayBuffer(0));
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

  private g: Geometry;

  private constructor(readonly path: string, copySize: number) {
    this.g = new Geometry(copySize);
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
    const v2CopySize = copySize ? undefined : sizeAfter(file, V2_MAGIC);
    const v1SlotSize = copySize || v2CopySize ? undefined : sizeAfter(file, V1_MAGIC);
    const { entries, problems, lines } = copySize ? { ...readSlots(path, file, v3Places(new Geometry(copySize), file.length)), lines: 0 }
      : v2CopySize ? { ...readSlots(path, file, v2Places(v2CopySize, file.length)), lines: 0 }
      : v1SlotSize ? { ...readV1Slots(path, file, v1SlotSize), lines: 0 } : readLines(path, file.toString('utf8'));
    if (!copySize && !v2CopySize && !v1SlotSize && file.length > 0 && lines === 0) throw new Error(`${path}: neither a binding cache journal nor one of the JSON-lines format before it: move it aside`);
    const journal = new BindingJournal(path, Math.max(copySize ?? v2CopySize ?? FIRST_COPY_SIZE, minCopySize));
    if (copySize !== undefined && copySize === journal.g.copySize) {
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
    let copySize = this.g.copySize;
    while (longest > copySize) copySize = grownCopy(copySize, longest);
    const g = new Geometry(copySize);
    const capacity = capacityFor(largest(entries.map((e) => e.bindingId)));
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      try {
        writeSync(fd, header(copySize), 0, 2 * TAIL_BYTES, 0);
        const tail = Buffer.alloc(TAIL_BYTES);
        const view = new DataView(tail.buffer, tail.byteOffset, TAIL_BYTES);
        entries.forEach((e, i) => { // each in its slot's first copy, write number 1; the second never written
          const text = Buffer.from(texts[i]!);
          tail.fill(0);
          tail.writeInt32LE(1, 0);
          tail.writeUInt16LE(text.length, TAIL.length);
          writeTail(view, tail, 0, e);
          writeSync(fd, tail, 0, TAIL_BYTES, g.tail(e.bindingId, 0));
          writeSync(fd, text, 0, text.length, g.text(e.bindingId, 0));
        });
        reserveFile(fd, g.bytesFor(capacity));
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true }); // a half-written file would only take the room the journal may need
      throw err;
    }
    this.g = g;
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

  /** Opens the file at path (in this format, this copy size) and maps it (lengthened to whole blocks, at least FIRST_CAPACITY slots). */
  private attach(): void {
    this.fd = openSync(this.path, 'r+');
    try {
      const capacity = Math.max(FIRST_CAPACITY, BLOCK * Math.ceil(fstatSync(this.fd).size / this.g.blockBytes));
      reserveFile(this.fd, this.g.bytesFor(capacity));
      this.map(capacity);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private map(capacity: number): void {
    this.unmap();
    this.file = new MappedFile(this.fd!, this.g.bytesFor(capacity));
    this.words = new Int32Array(this.file.bytes.buffer, this.file.bytes.byteOffset, this.file.length / 4);
    this.view = new DataView(this.file.bytes.buffer, this.file.bytes.byteOffset, this.file.length);
    this.capacity = capacity;
  }

  private unmap(): void {
    this.words = new Int32Array(0); // nothing may reach the mapping once it is gone
    this.view = new DataView(new ArrayBuffer(0));
    this.file?.close();
    this.file = null;
    this.capacity = 0;
  }

  /** An entry into its slot; placed: the slot is the node's already (its next entry, the common case: its head may be the last one, nothing to index). */
  private write(entry: BindingCacheEntry, placed = false): void {
    const slot = entry.bindingId;
    const { h, fresh } = head(entry, placed ? this.heads[slot] : undefined);
    if (h.bytes > this.g.copySize) { // a profile added since open() with a longer entry: larger copies, the file rewritten once
      this.rewrite([...this.current()].filter((e) => e.nai !== entry.nai).concat(entry));
      return;
    }
    this.writeSlot(slot, h, fresh, entry);
    this.heads[slot] = h;
    if (placed) return;
    const other = this.naiIn.get(entry.bindingId);
    if (other !== undefined && other !== entry.nai) this.slotOf.delete(other);
    this.placed(entry.nai, entry.bindingId);
  }

  private clear(slot: number): void {
    this.clearSlot(slot);
    this.heads[slot] = undefined;
    const nai = this.naiIn.get(slot);
    if (nai !== undefined && this.slotOf.get(nai) === slot) this.slotOf.delete(nai); // (not a node's new slot, written just before its old one is cleared)
    this.naiIn.delete(slot);
  }

  /**
   * A record over the slot's older copy, its sequence
   * number last (until then the slot reads as it was): the tail, and the
   * text if the copy does not hold it. What the copy held past the new text
   * is zeroed, not the whole copy: each write would otherwise touch every
   * cache line of it, a miss each with 100,000 slots. A part the copy holds
   * already is not written again (Head.baseIn, wholeIn); one it lacks comes
   * from fresh (the part is new) or else from the newer copy, which holds
   * the head's whole text (its last write). A new text goes into a copy
   * never written too (length set, number still 0: nothing reads it), so
   * that the node's next BU finds it there. (A write cut short may leave
   * bytes past its copy's length: nothing reads them, and a cleared slot is
   * zeroed whole.)
   */
  private writeSlot(slot: number, h: Head, fresh: Fresh | undefined, entry: BindingCacheEntry): void {
    const { copy, at, other, seq } = this.older(slot);
    if (!(h.wholeIn & (1 << copy))) this.writeText(slot, copy, h, fresh);
    writeTail(this.view, this.file!.bytes, at, entry);
    Atomics.store(this.words, at / 4, seq);
    if (fresh && this.words[other / 4] === 0 && !(h.wholeIn & (1 << (copy ^ 1)))) this.writeText(slot, copy ^ 1, h); // (a registration's: its slot's other copy was never written)
  }

  /** The slot emptied: its older copy written as no entry (its number last), then the other zeroed (a cleared slot keeps nothing of the node). */
  private clearSlot(slot: number): void {
    const { copy, at, other, seq } = this.older(slot);
    const bytes = this.file!.bytes;
    bytes.fill(0, at + TAIL.length, at + TAIL_BYTES);
    bytes.fill(0, this.g.text(slot, copy), this.g.text(slot, copy) + this.g.copySize);
    Atomics.store(this.words, at / 4, seq);
    bytes.fill(0, other, other + TAIL_BYTES);
    bytes.fill(0, this.g.text(slot, copy ^ 1), this.g.text(slot, copy ^ 1) + this.g.copySize);
  }

  /** The slot's older copy (the first, if neither was written), where its tail and the other's are, and the number it is to be written with. */
  private older(slot: number): { copy: number; at: number; other: number; seq: number } {
    if (!this.file) throw new Error(`${this.path}: the journal is closed`);
    if (slot >= this.capacity) this.grow(slot);
    const a = this.g.tail(slot, 0);
    const copy = newer(this.words[a / 4]!, this.words[a / 4 + TAIL_BYTES / 4]!) ? 1 : 0;
    const other = a + (copy ^ 1) * TAIL_BYTES;
    return { copy, at: a + copy * TAIL_BYTES, other, seq: (this.words[other / 4]! + 1) | 0 || 1 }; // (0 is never written: after 2^32 writes, 1)
  }

  /** The head's text into the slot's copy (its parts from fresh, else from the other copy), its length set, what the copy held past it zeroed. */
  private writeText(slot: number, copy: number, h: Head, fresh?: Fresh): void {
    const bytes = this.file!.bytes;
    const lengthAt = this.g.tail(slot, copy) + TAIL.length;
    const text = this.g.text(slot, copy);
    const from = this.g.text(slot, copy ^ 1);
    const stale = bytes.readUInt16LE(lengthAt); // what the copy held: past it, zeros already
    const bit = 1 << copy;
    const holdsBase = (h.baseIn & bit) !== 0;
    if (fresh) {
      if (!holdsBase) {
        if (fresh.base !== undefined) bytes.write(fresh.base, text);
        else bytes.copy(bytes, text, from, from + h.baseBytes);
      }
      bytes.write(fresh.moving, text + h.baseBytes);
    } else {
      const start = holdsBase ? h.baseBytes : 0;
      bytes.copy(bytes, text + start, from + start, from + h.bytes);
    }
    bytes.writeUInt16LE(h.bytes, lengthAt);
    if (h.bytes < stale) bytes.fill(0, text + h.bytes, text + stale);
    h.baseIn |= bit;
    h.wholeIn |= bit;
  }

  /** Room for binding id slot: the file lengthened (its new slots read as empty, their blocks allocated) and mapped again. */
  private grow(slot: number): void {
    const capacity = capacityFor(slot);
    reserveFile(this.fd!, this.g.bytesFor(capacity));
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
const RECORD_BASE_BYTES = 860;
const PREFIX_BYTES = 46; // "ffff:…:ffff/128" and its quotes and comma

/** The copy size that holds any entry of these nodes (within MAX_COPY_SIZE: the configuration bounds NAIs and prefixes). */
export function copySizeFor(nodes: readonly { nai: string; prefixes: readonly string[] }[]): number {
  const longest = largest(nodes.map((n) => recordBytesBound(n.nai, n.prefixes)));
  let size = FIRST_COPY_SIZE;
  while (size < longest && size < MAX_COPY_SIZE) size *= 2;
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

/** The header: binding id 0's tails (the magic and copy size fit: at most 82 bytes of 96). */
function header(copySize: number): Buffer {
  const b = Buffer.alloc(2 * TAIL_BYTES);
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

/** A node's entry, parsed from a record's text (its tail put back in by tailed); throws what is wrong with it. */
function parsed(text: string, slot: number, tailed: (raw: Record<string, unknown>) => Record<string, unknown> = (raw) => raw): BindingCacheEntry {
  const { nai, entry } = tailed(JSON.parse(text) as Record<string, unknown>) as { nai: string; entry: Record<string, unknown> };
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

/** Where a format keeps each slot's copies: their write number and length (numberAt; the length after it), text (textRoom bytes at most); whether a tail of TAIL's follows the length. */
interface Places {
  slots: number;
  textRoom: number;
  numberAt(slot: number, copy: number): number;
  textAt(slot: number, copy: number): number;
  tailed: boolean;
}

/** v3's places in a file of this length (a block cut short too: what lies past the end reads as never written, or overruns). */
function v3Places(g: Geometry, fileLength: number): Places {
  return { slots: BLOCK * Math.ceil(fileLength / g.blockBytes), textRoom: g.copySize, numberAt: (s, c) => g.tail(s, c), textAt: (s, c) => g.text(s, c), tailed: true };
}

/** v2's: slots of two copies, each its number, length and JSON. */
function v2Places(copySize: number, fileLength: number): Places {
  const at = (s: number, c: number) => (2 * s + c) * copySize;
  return { slots: Math.floor(fileLength / (2 * copySize)), textRoom: copySize - V2_TEXT_AT, numberAt: at, textAt: (s, c) => at(s, c) + V2_TEXT_AT, tailed: false };
}

/** Each slot's newer copy (the older one if the newer cannot be read: damage, not a write cut short). */
function readSlots(path: string, file: Buffer, places: Places): { entries: BindingCacheEntry[]; problems: string[] } {
  const problems: string[] = [];
  const found: BindingCacheEntry[] = [];
  const read = (slot: number, copy: number): BindingCacheEntry | undefined => {
    const at = places.numberAt(slot, copy);
    const length = file.readUInt16LE(at + V2_LENGTH_AT); // (v3's TAIL.length too)
    if (length === 0) return undefined;
    const text = places.textAt(slot, copy);
    if (length > places.textRoom || text + length > file.length) throw new Error(`length ${length} overruns the ${length > places.textRoom ? 'copy' : 'file'}`);
    return parsed(file.toString('utf8', text, text + length), slot, places.tailed ? (raw) => withTail(raw, file, at) : undefined);
  };
  for (let slot = 1; slot < places.slots; slot++) {
    const copies = [0, 1].filter((c) => places.numberAt(slot, c) + TAIL_BYTES <= file.length && file.readInt32LE(places.numberAt(slot, c)) !== 0);
    copies.sort((x, y) => (newer(file.readInt32LE(places.numberAt(slot, x)), file.readInt32LE(places.numberAt(slot, y))) ? -1 : 1));
    for (const [i, c] of copies.entries()) {
      try {
        const e = read(slot, c);
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
