/**
 * Reading a JSON configuration: every problem is collected with the key path
 * it is at ("mobileNodes[1].spi: must be an integer in 256..4294967295, got
 * 7"), so one run reports them all. The home agent and the mobile node read
 * their files through it.
 */
import { addrFamily, canonicalAddr } from '../dataplane/layout.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export type Json = unknown;
export const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: Json) => (v === undefined ? 'nothing' : JSON.stringify(v));

/** Collects problems while reading; each reader returns a usable default after recording one. */
export class Checker {
  readonly problems: string[] = [];

  fail<T>(path: string, what: string, got: Json, fallback: T): T {
    this.problems.push(`${path}: must be ${what}, got ${shown(got)}`);
    return fallback;
  }

  object(v: Json, path: string, keys: readonly string[]): Record<string, Json> {
    if (!isObject(v)) return this.fail(path, 'an object', v, {});
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.problems.push(`${path}.${k}: unknown key (known: ${keys.join(', ')})`);
    return v;
  }

  string(v: Json, path: string): string {
    return typeof v === 'string' && v.length > 0 ? v : this.fail(path, 'a non-empty string', v, '');
  }

  /** An address of the family, in canonical form (RFC 5952): "2001:DB8:1::0:5" is "2001:db8:1::5", as packets decode. */
  address(v: Json, path: string, family: 4 | 6): string {
    try {
      if (typeof v === 'string' && addrFamily(v) === family) return canonicalAddr(v);
    } catch { /* reported below */ }
    return this.fail(path, `an IPv${family} address`, v, family === 4 ? '0.0.0.0' : '::');
  }

  /** "address/length", the address in canonical form (host bits kept as given). */
  prefix(v: Json, path: string): string {
    const [addr = '', len = ''] = typeof v === 'string' ? v.split('/') : [];
    try {
      const family = addrFamily(addr);
      if (/^\d+$/.test(len) && Number(len) <= (family === 4 ? 32 : 128)) return `${canonicalAddr(addr)}/${Number(len)}`;
    } catch { /* reported below */ }
    return this.fail(path, 'a prefix "address/length"', v, '::/128');
  }

  integer(v: Json, path: string, min: number, max: number, fallback: number): number {
    if (v === undefined) return fallback;
    return Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : this.fail(path, `an integer in ${min}..${max}`, v, fallback);
  }

  boolean(v: Json, path: string, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    return typeof v === 'boolean' ? v : this.fail(path, 'true or false', v, fallback);
  }

  array<T>(v: Json, path: string, item: (x: Json, path: string) => T): T[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.fail(path, 'an array', v, []);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  }
}
