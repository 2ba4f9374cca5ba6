/**
 * Records by binding id (an integer below a bound, dense): an array of that
 * length, not a Map. A Map's lookup is a hash, its bucket and its entry, a
 * cache miss or two each with 100,000 bindings; here it is one element.
 * The array is made whole at once: written at ids far past its end, V8
 * would make it a dictionary, slower than the Map.
 */
export class ById<T> {
  private readonly slots: (T | undefined)[];
  private count = 0;

  constructor(readonly bound: number) {
    this.slots = new Array<T | undefined>(bound).fill(undefined);
  }

  get(id: number): T | undefined {
    return this.slots[id];
  }

  has(id: number): boolean {
    return this.slots[id] !== undefined;
  }

  set(id: number, value: T): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.bound) throw new RangeError(`binding id ${id} is not in [0, ${this.bound})`);
    if (this.slots[id] === undefined) this.count++;
    this.slots[id] = value;
  }

  delete(id: number): boolean {
    if (this.slots[id] === undefined) return false;
    this.slots[id] = undefined;
    this.count--;
    return true;
  }

  get size(): number {
    return this.count;
  }

  /** The ids held, ascending. */
  *keys(): IterableIterator<number> {
    for (let id = 0; id < this.bound; id++) if (this.slots[id] !== undefined) yield id;
  }

  *values(): IterableIterator<T> {
    for (const id of this.keys()) yield this.slots[id]!;
  }
}
