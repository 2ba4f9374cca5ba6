/**
 * Keys by the second they next fall due: the home agent's expiry looks at
 * the seconds that have come, not at every binding each second (100,000 of
 * them took 12 ms a scan, a stall every second). Moving a key is two Set
 * operations; a key is in at most one second.
 */
export class DueWheel<K> {
  private readonly secondOf = new Map<K, number>();
  private readonly seconds = new Map<number, Set<K>>();

  /** key falls due at dueMs (undefined: never, it leaves). */
  set(key: K, dueMs: number | undefined): void {
    const second = dueMs === undefined ? undefined : Math.floor(dueMs / 1000);
    const before = this.secondOf.get(key);
    if (before === second) return;
    if (before !== undefined) this.leave(key, before);
    if (second === undefined) return;
    let keys = this.seconds.get(second);
    if (!keys) this.seconds.set(second, (keys = new Set()));
    keys.add(key);
    this.secondOf.set(key, second);
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
        this.secondOf.delete(k);
      }
      this.seconds.delete(second);
    }
    return out;
  }

  get size(): number {
    return this.secondOf.size;
  }

  private leave(key: K, second: number): void {
    const keys = this.seconds.get(second)!;
    keys.delete(key);
    if (!keys.size) this.seconds.delete(second);
    this.secondOf.delete(key);
  }
}
