/**
 * Input checks for the encoders: a bad value becomes an EncodeError naming
 * the field, never a RangeError from deep inside Buffer.
 */
import { EncodeError } from './buffer.js';

/** A value as an EncodeError can show it: JSON.stringify refuses bigints and objects holding them. */
export function shown(v: unknown): unknown {
  if (typeof v === 'bigint' || typeof v === 'symbol') return String(v);
  if (Buffer.isBuffer(v)) return `Buffer(${v.length})`;
  if (typeof v === 'function') return 'function';
  if (v !== null && typeof v === 'object') return Array.isArray(v) ? `array(${v.length})` : 'object';
  return v;
}

export function uint(v: unknown, bits: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
    throw new EncodeError(field, shown(v), `not an unsigned ${bits}-bit integer`);
  }
  return v;
}

export function range(v: unknown, min: number, max: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError(field, shown(v), `not an integer in ${min}..${max}`);
  }
  return v;
}

export function u64(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw new EncodeError(field, shown(v), 'not an unsigned 64-bit bigint');
  return v;
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new EncodeError(field, shown(v), 'not a boolean');
  return v;
}

export function bytes(v: unknown, max: number, field: string, min = 0): Buffer {
  if (!Buffer.isBuffer(v)) throw new EncodeError(field, typeof v, 'not a Buffer');
  if (v.length < min || v.length > max) throw new EncodeError(field, v.length, `length must be ${min}..${max} bytes`);
  return v;
}
