/**
 * Keys by the second they next fall due: the home agent's expiry looks at
 * the seconds that have come, not at every binding each second (100,000 of
 * them took 12 ms a scan, a stall every second). A key carries its own
 * second (dueSecond), so moving it is a Set delete and a Set add, with no
 * table of all keys to look it up in; a key is in at most one second.
 *
 * A key whose due time moves later stays where it is (a lazy timer wheel):
 * every refreshed binding's does, and moving it cost two operations on a
 * Set of thousands (cache misses, with 100,000 keys) on every BU. It is
 * taken at its earlier second, and the caller files it again then, once a
 * lifetime instead of once a BU.
 */
export interface Due {
  /** The second this key is held under; the wheel's to set. */
  dueSecond?: number | undefined;
}

export class DueWheel<K extends Due> {
  private readonly seconds = new Map<number, Set<K>>();
  private count = 0;

  /**
   * key falls due at dueMs (undefined: never, it leaves). Held for an
   * earlier second already, it stays there: taken then, the caller sees it
   * is not due yet and sets it again.
   */
  set(key: K, dueMs: number | undefined): void {
    const second = dueMs === undefined ? undefined : Math.floor(dueMs / 1000);
    const before = key.dueSecond;
    if (before === second || (before !== undefined && second !== undefined && before < second)) return;
    if (before !== undefined) this.leave(key, before);
    if (second === undefined) return;
    let keys = this.seconds.get(second);
    if (!keys) this.seconds.set(second, (keys = new Set()));
    keys.add(key);
    key.dueSecond = second;
    this.count++;
  }

  /**
   * Takes out every key of the seconds up to nowMs's own: those due by now,
   * and some due later within this second (the caller sets those again).
   */
  take(nowMs: number): K[] {
    const now = Math.floor(nowMs / 1000);
    const due = [...this.seconds.keys()].filter((s) => s <= now).sort((a, b) => a - b);
    const out: K[] = [];
    for (const second of due) {
      for (const k of this.seconds.get(second)!) {
        out.push(k);
        k.dueSecond = undefined;
      }
      this.count -= this.seconds.get(second)!.size;
      this.seconds.delete(second);
    }
    return out;
  }

  get size(): number {
    return this.count;
  }

  private leave(key: K, second: number): void {
    const keys = this.seconds.get(second)!;
    keys.delete(key);
    if (!keys.size) this.seconds.delete(second);
    key.dueSecond = undefined;
    this.count--;
  }
}
