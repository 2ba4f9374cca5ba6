/**
 * For encoder robustness properties: a deep copy of a typed value with one
 * property, chosen by `pick`, replaced by `junk` — what an untyped caller
 * (JSON from an operator, a bug elsewhere) might hand an encoder.
 */
export function corrupt<T>(value: T, junk: unknown, pick: number): T {
  const copy = clone(value);
  const holders: Record<string, unknown>[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      holders.push(v as Record<string, unknown>);
      if (depth < 3) for (const x of Object.values(v)) walk(x, depth + 1);
    }
  };
  walk(copy, 0);
  const holder = holders[pick % holders.length]!;
  const keys = Object.keys(holder);
  if (keys.length > 0) holder[keys[Math.floor(pick / holders.length) % keys.length]!] = junk;
  return copy as T;
}

/** A deep copy that keeps Buffers as Buffers (structuredClone would make them plain Uint8Arrays). */
function clone(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(clone);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}
