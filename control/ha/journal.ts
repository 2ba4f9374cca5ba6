/**
 * The binding cache's journal: what the pinned data plane does not hold
 * (NAI, sequence number, lifetime, last timestamp, where BAs go, the lease,
 * deprecated entries), so that a restarted home agent picks up where it
 * stopped. One JSON line per change ({ nai, entry } or { nai, gone: true }),
 * appended as the change is made; on open the file is folded to the current
 * state and rewritten (a temporary file renamed over it), and again when
 * the log has grown to several times that.
 *
 * Appends are write(2)s without fsync: they survive the daemon being killed
 * (the page cache has them), not the machine losing power.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import type { BindingCacheEntry } from './home-agent.js';

type Line = { nai: string; entry: BindingCacheEntry } | { nai: string; gone: true };

/** JSON cannot hold a bigint: the timestamp travels as a decimal string. */
const toJson = (entry: BindingCacheEntry) => ({ ...entry, lastTimestamp: entry.lastTimestamp.toString() });
const fromJson = (raw: Record<string, unknown>): BindingCacheEntry => ({ ...(raw as unknown as BindingCacheEntry), lastTimestamp: BigInt(raw.lastTimestamp as string) });

const COMPACT_FACTOR = 4;
const COMPACT_MIN_LINES = 1000;

export class BindingJournal {
  private lines = 0;
  private live = 0;
  private fd: number | null = null;

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

  /** Records a node's entry as it now is (undefined: it left the cache). */
  record(nai: string, entry: BindingCacheEntry | undefined, current: () => Iterable<BindingCacheEntry>): void {
    writeSync(this.fd ?? this.reopen(), `${JSON.stringify(entry ? { nai, entry: toJson(entry) } : { nai, gone: true })}\n`);
    this.lines++;
    if (this.lines > Math.max(COMPACT_MIN_LINES, COMPACT_FACTOR * this.live)) this.rewrite([...current()]);
  }

  /** The file holds exactly these entries, replaced in one rename. */
  rewrite(entries: readonly BindingCacheEntry[]): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, entries.map((e) => `${JSON.stringify({ nai: e.nai, entry: toJson(e) })}\n`).join(''));
    renameSync(tmp, this.path);
    this.reopen();
    this.lines = entries.length;
    this.live = entries.length;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** The file was replaced: appends go to the new one. */
  private reopen(): number {
    this.close();
    this.fd = openSync(this.path, 'a');
    return this.fd;
  }
}
