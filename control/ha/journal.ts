/**
 * The binding cache's journal: what the pinned data plane does not hold
 * (NAI, sequence number, lifetime, last timestamp, where BAs go, the lease,
 * deprecated entries), so that a restarted home agent picks up where it
 * stopped.
 *
 * One fixed-size slot per binding id, rewritten in place as its entry
 * changes: a change costs one pwrite(2) of its slot however long the home
 * agent has run, and the file never needs compacting (the JSON-lines log
 * this replaced was rewritten whole in the background every time it grew
 * fourfold, and held up to four times the state). A slot is its JSON's
 * length (16 bits, little-endian, 0: empty) and then { nai, entry }. Slots
 * are a power of two no larger than a page, so none straddles a page: a
 * write of one is whole or absent after the daemon is killed. Writes go
 * without fsync: they survive the daemon, not the machine losing power.
 * Slots are sized at open for the longest entry the profiles allow
 * (slotSizeFor()); an entry too long for them (a profile added since)
 * doubles them, the file rewritten once. A write that fails leaves the
 * journal stale until repair() rewrites it whole.
 *
 * The file starts with a header slot naming the format and the slot size.
 * A file in the old JSON-lines format is read as such (and rewritten in
 * slots by the next rewrite()).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { BindingCacheEntry } from './home-agent.js';

const MAGIC = 'mobility-anchor binding cache, slots of ';
const FIRST_SLOT_SIZE = 1024;
const MAX_SLOT_SIZE = 4096; // a page: a slot is written whole or not at all
const LENGTH_BYTES = 2;

/**
 * JSON cannot hold a bigint: the timestamp travels as a decimal string. The
 * binding's id and tunnel are the entry's own, so they are not written twice.
 */
const toJson = (entry: BindingCacheEntry) => ({
  ...entry, lastTimestamp: entry.lastTimestamp.toString(), binding: { homeAddresses: entry.binding.homeAddresses, prefixes: entry.binding.prefixes },
});
function fromJson(raw: Record<string, unknown>): BindingCacheEntry {
  const e = raw as unknown as BindingCacheEntry;
  return { ...e, lastTimestamp: BigInt(raw.lastTimestamp as string), binding: { id: e.bindingId, tunnel: e.tunnel, homeAddresses: e.binding.homeAddresses, prefixes: e.binding.prefixes } };
}
const recordText = (e: BindingCacheEntry) => JSON.stringify({ nai: e.nai, entry: toJson(e) });

export class BindingJournal {
  private fd: number | null = null;
  /** The slot (binding id) each node's entry is written in. */
  private readonly slotOf = new Map<string, number>();
  private readonly naiIn = new Map<number, string>();
  private current: () => Iterable<BindingCacheEntry> = () => [];
  /** A slot's bytes as they are written. */
  private scratch: Buffer;
  /** A write failed since the last rewrite: the file may not hold the cache as it is. */
  stale = false;
  /** When repair() may next try, and how long it waits after that try fails (doubling, up to a minute: a full disk, say). */
  private repairAt = { ms: -Infinity, backoffMs: 1000 };

  private constructor(readonly path: string, private slotSize: number) {
    this.scratch = Buffer.alloc(slotSize);
  }

  /**
   * Opens (or creates) the journal at path, and returns it with the entries
   * it held. Its slots are made at least minSlotSize long (slotSizeFor()
   * the profiles: no entry of theirs then has to grow them while BUs wait).
   * Throws on a file that is no journal, rather than overwrite it.
   */
  static open(path: string, minSlotSize = FIRST_SLOT_SIZE): { journal: BindingJournal; entries: BindingCacheEntry[]; problems: string[] } {
    const file = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    const slotSize = slotSizeOf(file);
    const { entries, problems, lines } = slotSize ? { ...readSlots(path, file, slotSize), lines: 0 } : readLines(path, file.toString('utf8'));
    if (!slotSize && file.length > 0 && lines === 0) throw new Error(`${path}: neither a binding cache journal nor one of the JSON-lines format before it: move it aside`);
    const journal = new BindingJournal(path, Math.max(slotSize ?? FIRST_SLOT_SIZE, minSlotSize));
    if (slotSize === journal.slotSize) {
      journal.fd = openSync(path, 'r+');
      for (const e of entries) journal.placed(e.nai, e.bindingId);
    } else {
      journal.rewrite(entries); // a new file, one in the old format, or slots too short for the profiles
    }
    return { journal, entries, problems };
  }

  /**
   * Writes a node's entry as it now is (undefined: it left the cache) into
   * its slot; current() lists every entry, for a rewrite with larger slots.
   */
  record(nai: string, entry: BindingCacheEntry | undefined, current: () => Iterable<BindingCacheEntry>): void {
    this.current = current;
    const before = this.slotOf.get(nai);
    try {
      if (entry) {
        this.write(entry);
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
   * and restore, and to grow the slots). Nothing changes here unless the
   * new file is in place.
   */
  rewrite(entries: readonly BindingCacheEntry[]): void {
    const texts = entries.map(recordText);
    const longest = Math.max(0, ...texts.map((t) => Buffer.byteLength(t)));
    let slotSize = this.slotSize;
    while (LENGTH_BYTES + longest > slotSize) slotSize = grownSlot(slotSize, longest);
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      try {
        writeSync(fd, header(slotSize), 0, slotSize, 0);
        const slot = Buffer.alloc(slotSize);
        texts.forEach((t, i) => writeSync(fd, fillSlot(slot, t), 0, slotSize, entries[i]!.bindingId * slotSize));
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true }); // a half-written file would only take the room the journal may need
      throw err;
    }
    this.slotSize = slotSize;
    this.scratch = Buffer.alloc(slotSize);
    this.closeFd();
    this.fd = openSync(this.path, 'r+');
    this.slotOf.clear();
    this.naiIn.clear();
    for (const e of entries) this.placed(e.nai, e.bindingId);
    this.stale = false;
  }

  close(): void {
    this.closeFd();
  }

  private write(entry: BindingCacheEntry): void {
    const text = recordText(entry);
    const length = Buffer.byteLength(text);
    if (LENGTH_BYTES + length > this.slotSize) { // a profile added since open() with a longer entry: larger slots, the file rewritten once
      this.rewrite([...this.current()].filter((e) => e.nai !== entry.nai).concat(entry));
      return;
    }
    writeSync(this.fd!, fillSlot(this.scratch, text), 0, this.slotSize, entry.bindingId * this.slotSize);
    const other = this.naiIn.get(entry.bindingId);
    if (other !== undefined && other !== entry.nai) this.slotOf.delete(other);
    this.placed(entry.nai, entry.bindingId);
  }

  private clear(slot: number): void {
    writeSync(this.fd!, Buffer.alloc(this.slotSize), 0, this.slotSize, slot * this.slotSize);
    const nai = this.naiIn.get(slot);
    if (nai !== undefined) this.slotOf.delete(nai);
    this.naiIn.delete(slot);
  }

  private placed(nai: string, slot: number): void {
    this.slotOf.set(nai, slot);
    this.naiIn.set(slot, nai);
  }

  private closeFd(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
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

/** The slot size that holds any entry of these nodes (within MAX_SLOT_SIZE: the configuration bounds NAIs and prefixes). */
export function slotSizeFor(nodes: readonly { nai: string; prefixes: readonly string[] }[]): number {
  const longest = Math.max(0, ...nodes.map((n) => recordBytesBound(n.nai, n.prefixes)));
  let size = FIRST_SLOT_SIZE;
  while (size < LENGTH_BYTES + longest && size < MAX_SLOT_SIZE) size *= 2;
  return size;
}

function header(slotSize: number): Buffer {
  const b = Buffer.alloc(slotSize);
  b.write(`${MAGIC}${slotSize} bytes\n`);
  return b;
}

/** The slot size a file in this format declares; undefined for another format (or an empty file). */
function slotSizeOf(file: Buffer): number | undefined {
  const magic = Buffer.from(MAGIC);
  if (file.length < magic.length || !file.subarray(0, magic.length).equals(magic)) return undefined;
  const size = Number(/^(\d+) bytes\n/.exec(file.toString('latin1', magic.length, magic.length + 16))?.[1]);
  return Number.isInteger(size) && size >= FIRST_SLOT_SIZE && size <= MAX_SLOT_SIZE ? size : undefined;
}

function grownSlot(size: number, textLength: number): number {
  if (size >= MAX_SLOT_SIZE) throw new Error(`a binding cache entry of ${textLength} bytes is longer than the journal's largest slot (${MAX_SLOT_SIZE} bytes)`);
  return size * 2;
}

/** slot filled with a record (it fits): its length, its text, zeros after it (whole slots: nothing of an older entry stays behind). */
function fillSlot(slot: Buffer, text: string): Buffer {
  const length = slot.write(text, LENGTH_BYTES);
  slot.writeUInt16LE(length, 0);
  slot.fill(0, LENGTH_BYTES + length);
  return slot;
}

function readSlots(path: string, file: Buffer, slotSize: number): { entries: BindingCacheEntry[]; problems: string[] } {
  const problems: string[] = [];
  const byNai = new Map<string, BindingCacheEntry>();
  for (let at = slotSize; at + LENGTH_BYTES <= file.length; at += slotSize) {
    const length = file.readUInt16LE(at);
    if (length === 0) continue;
    try {
      if (LENGTH_BYTES + length > slotSize || at + LENGTH_BYTES + length > file.length) throw new Error(`length ${length} overruns the slot`);
      const { nai, entry } = JSON.parse(file.toString('utf8', at + LENGTH_BYTES, at + LENGTH_BYTES + length)) as { nai: string; entry: Record<string, unknown> };
      const e = fromJson(entry);
      if (e.nai !== nai || e.bindingId !== at / slotSize) throw new Error(`holds ${nai}'s entry of binding ${e.bindingId}`);
      const other = byNai.get(nai);
      if (!other || e.lastTimestamp > other.lastTimestamp) byNai.set(nai, e); // a node's move between slots, cut short
    } catch (err) {
      problems.push(`${path}: slot ${at / slotSize}: ${(err as Error).message}: skipped`);
    }
  }
  return { entries: [...byNai.values()], problems };
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
