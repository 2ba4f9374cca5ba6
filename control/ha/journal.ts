/**
 * The binding cache's journal: what the pinned data plane does not hold
 * (NAI, sequence number, lifetime, last timestamp, where BAs go, the lease,
 * deprecated entries), so that a restarted home agent picks up where it
 * stopped. One JSON line per change ({ nai, entry } or { nai, gone: true }),
 * appended as the change is made; on open the file is folded to the current
 * state and rewritten (a temporary file renamed over it). When the log has
 * grown to several times that, it is compacted the same way in the
 * background: the state of that moment goes to the temporary file a slice
 * per event-loop turn (100,000 entries take a second to write: the home
 * agent must not stop answering for that long) while appends go on to the
 * journal and are kept aside, then follow the state into the new file.
 *
 * Appends are write(2)s without fsync: they survive the daemon being killed
 * (the page cache has them), not the machine losing power. Changes made
 * inside batch() go out together, in one write when it returns (the home
 * agent answers a drained batch of BUs after that write).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { BindingCacheEntry } from './home-agent.js';

type Line = { nai: string; entry: BindingCacheEntry } | { nai: string; gone: true };

/** JSON cannot hold a bigint: the timestamp travels as a decimal string. */
const toJson = (entry: BindingCacheEntry) => ({ ...entry, lastTimestamp: entry.lastTimestamp.toString() });
const entryLine = (e: BindingCacheEntry) => `${JSON.stringify({ nai: e.nai, entry: toJson(e) })}\n`;
const goneLine = (nai: string) => `${JSON.stringify({ nai, gone: true })}\n`;
const fromJson = (raw: Record<string, unknown>): BindingCacheEntry => ({ ...(raw as unknown as BindingCacheEntry), lastTimestamp: BigInt(raw.lastTimestamp as string) });

const COMPACT_FACTOR = 4;
const COMPACT_MIN_LINES = 1000;
const COMPACT_SLICE_MS = 1;

/** A compaction under way: the state it writes, how far it got, what was appended since it began. */
interface Compaction {
  fd: number;
  entries: BindingCacheEntry[];
  next: number;
  since: string[];
  sinceLines: number;
}

export class BindingJournal {
  private lines = 0;
  private live = 0;
  private fd: number | null = null;
  private depth = 0;
  private pending: string[] = [];
  private current: () => Iterable<BindingCacheEntry> = () => [];
  private compaction: Compaction | null = null;

  private constructor(readonly path: string) {}

  /** Opens (or creates) the journal at path, folds it, and returns it with the entries it held. */
  static open(path: string): { journal: BindingJournal; entries: BindingCacheEntry[]; problems: string[] } {
    const problems: string[] = [];
    const state = new Map<string, BindingCacheEntry>();
    if (existsSync(path)) {
      readFileSync(path, 'utf8').split('\n').forEach((text, i) => {
        if (!text.trim()) return;
        try {
          const line = JSON.parse(text) as Line | { nai: string; entry: Record<string, unknown> };
          if ('gone' in line) state.delete(line.nai);
          else state.set(line.nai, fromJson(line.entry as unknown as Record<string, unknown>));
        } catch (err) {
          problems.push(`${path}:${i + 1}: ${(err as Error).message}: line skipped`); // a torn last write, say
        }
      });
    }
    const journal = new BindingJournal(path);
    const entries = [...state.values()];
    journal.rewrite(entries);
    return { journal, entries, problems };
  }

  /**
   * Records a node's entry as it now is (undefined: it left the cache);
   * current() lists every entry, for a compaction.
   */
  record(nai: string, entry: BindingCacheEntry | undefined, current: () => Iterable<BindingCacheEntry>): void {
    this.pending.push(entry ? entryLine(entry) : goneLine(nai));
    this.current = current;
    if (this.depth === 0) this.flush();
  }

  /** Runs fn; what it records is written when it returns (or throws), in one write. */
  batch<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      if (--this.depth === 0) this.flush();
    }
  }

  private flush(): void {
    if (!this.pending.length) return;
    const text = this.pending.join('');
    const lines = this.pending.length;
    this.lines += lines;
    this.pending = [];
    writeSync(this.fd ?? this.reopen(), text);
    if (this.compaction) {
      this.compaction.since.push(text);
      this.compaction.sinceLines += lines;
    } else {
      this.compactIfGrown();
    }
  }

  /** A compaction is under way (it advances on event-loop turns). */
  get compacting(): boolean {
    return this.compaction !== null;
  }

  private compactIfGrown(): void {
    if (this.lines <= Math.max(COMPACT_MIN_LINES, COMPACT_FACTOR * this.live)) return;
    this.compaction = { fd: openSync(this.tmpPath, 'w'), entries: [...this.current()], next: 0, since: [], sinceLines: 0 };
    setImmediate(() => this.compactSome()).unref();
  }

  /** One slice of the compaction, or its end: the state, then what came since, renamed over the journal. */
  private compactSome(): void {
    const c = this.compaction;
    if (!c) return; // abandoned
    const start = performance.now();
    while (c.next < c.entries.length && performance.now() - start < COMPACT_SLICE_MS) {
      const end = Math.min(c.next + 100, c.entries.length);
      writeSync(c.fd, c.entries.slice(c.next, end).map(entryLine).join(''));
      c.next = end;
    }
    if (c.next < c.entries.length) {
      setImmediate(() => this.compactSome()).unref();
      return;
    }
    writeSync(c.fd, c.since.join(''));
    closeSync(c.fd);
    renameSync(this.tmpPath, this.path);
    this.compaction = null;
    this.reopen();
    this.lines = c.entries.length + c.sinceLines;
    this.live = c.entries.length;
    this.compactIfGrown(); // much came in meanwhile
  }

  private abandonCompaction(): void {
    if (!this.compaction) return;
    closeSync(this.compaction.fd);
    rmSync(this.tmpPath, { force: true });
    this.compaction = null;
  }

  private get tmpPath(): string {
    return `${this.path}.tmp`;
  }

  /** The file holds exactly these entries, replaced in one rename (now: at open and restore). */
  rewrite(entries: readonly BindingCacheEntry[]): void {
    this.abandonCompaction();
    this.pending = []; // entries holds what they said
    writeFileSync(this.tmpPath, entries.map(entryLine).join(''));
    renameSync(this.tmpPath, this.path);
    this.reopen();
    this.lines = entries.length;
    this.live = entries.length;
  }

  /** Writes what is held; a compaction under way is given up (the journal itself is whole). */
  close(): void {
    this.flush();
    this.abandonCompaction();
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** The file was replaced: appends go to the new one. */
  private reopen(): number {
    this.closeFd();
    this.fd = openSync(this.path, 'a');
    return this.fd;
  }
}
