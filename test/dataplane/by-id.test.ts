/** ById: a Map by binding id over an array, against a Map doing the same. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ById } from '../../control/dataplane/by-id.js';

describe('ById', () => {
  it('holds what a Map by id holds, after any sequence of sets and deletes; its keys ascending', () => {
    const op = fc.record({ set: fc.boolean(), id: fc.integer({ min: 0, max: 63 }), value: fc.string() });
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const table = new ById<string>(64);
      const map = new Map<number, string>();
      for (const { set, id, value } of ops) {
        if (set) {
          table.set(id, value);
          map.set(id, value);
        } else {
          expect(table.delete(id)).toBe(map.delete(id));
        }
      }
      expect(table.size).toBe(map.size);
      expect([...table.keys()]).toEqual([...map.keys()].sort((a, b) => a - b));
      expect([...table.values()]).toEqual([...map.keys()].sort((a, b) => a - b).map((id) => map.get(id)));
      for (let id = 0; id < 64; id++) expect([table.has(id), table.get(id)]).toEqual([map.has(id), map.get(id)]);
    }), { numRuns: 500 });
  });

  it.each([-1, 64, 1.5, Number.NaN])('refuses id %s: outside its bound', (id) => {
    expect(() => new ById<string>(64).set(id, 'x')).toThrow(RangeError);
  });
});
