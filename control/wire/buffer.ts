/**
 * Bounded reading and writing of wire formats. A Reader never reads past the
 * end it was given and reports every problem as a DecodeError naming the
 * field, its offset and the value found; a Writer fills a buffer sized up
 * front from the message's encodingLength.
 */
import { formatAddr, sharedAddrBytes } from '../dataplane/layout.js';

export class DecodeError extends Error {
  constructor(readonly field: string, readonly offset: number, readonly value: unknown, reason: string) {
    super(`${field} at offset ${offset}: ${reason}${value === undefined ? '' : ` (${typeof value === 'bigint' ? value.toString() : JSON.stringify(value)})`}`);
  }
}

export class EncodeError extends Error {
  constructor(readonly field: string, readonly value: unknown, reason: string) {
    // a bigint value (e.g. a 64-bit field given out of range) must not make JSON.stringify throw a TypeError
    super(`${field}: ${reason} (${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))})`);
  }
}

export class Reader {
  /** Absolute offset of the next byte in buf. */
  offset: number;

  constructor(readonly buf: Buffer, offset = 0, readonly end = buf.length) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, field: string): number {
    if (n < 0 || this.offset + n > this.end) throw new DecodeError(field, this.offset, undefined, `needs ${n} byte(s), ${this.remaining} left`);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(field: string): number { return this.buf.readUInt8(this.need(1, field)); }
  u16(field: string): number { return this.buf.readUInt16BE(this.need(2, field)); }
  u32(field: string): number { return this.buf.readUInt32BE(this.need(4, field)); }
  u64(field: string): bigint { return this.buf.readBigUInt64BE(this.need(8, field)); }

  /** n bytes, copied (the result outlives the input buffer). */
  bytes(n: number, field: string): Buffer {
    const at = this.need(n, field);
    return Buffer.from(this.buf.subarray(at, at + n));
  }

  addr4(field: string): string { return formatAddr(this.buf, 4, this.need(4, field)); }
  addr6(field: string): string { return formatAddr(this.buf, 6, this.need(16, field)); }

  skip(n: number, field: string): void { this.need(n, field); }

  /** A reader over the next n bytes; this one moves past them. */
  sub(n: number, field: string): Reader {
    const at = this.need(n, field);
    return new Reader(this.buf, at, at + n);
  }

  /** Throws unless every byte was consumed. */
  expectEnd(field: string): void {
    if (this.remaining !== 0) throw new DecodeError(field, this.offset, this.remaining, 'trailing bytes');
  }

  fail(field: string, value: unknown, reason: string, at = this.offset): never {
    throw new DecodeError(field, at, value, reason);
  }
}

export class Writer {
  offset = 0;

  constructor(readonly buf: Buffer) {}

  /**
   * A writer over a new buffer of exactly this length, not zeroed (a pooled
   * allocation: Buffer.alloc cost more than a whole BA's encoding): the
   * caller writes every byte and says so with filled().
   */
  static sized(length: number): Writer {
    return new Writer(Buffer.allocUnsafe(length));
  }

  /** The buffer, once every byte of it has been written; else an EncodeError naming what was encoded. */
  filled(what: unknown): Buffer {
    if (this.offset !== this.buf.length) throw new EncodeError('encodingLength', what, `wrote ${this.offset} of ${this.buf.length} bytes`);
    return this.buf;
  }

  u8(v: number): this { this.offset = this.buf.writeUInt8(v, this.offset); return this; }
  u16(v: number): this { this.offset = this.buf.writeUInt16BE(v, this.offset); return this; }
  u32(v: number): this { this.offset = this.buf.writeUInt32BE(v, this.offset); return this; }
  u64(v: bigint): this { this.offset = this.buf.writeBigUInt64BE(v, this.offset); return this; }
  bytes(b: Uint8Array): this { this.buf.set(b, this.offset); this.offset += b.length; return this; }
  zeros(n: number): this { this.buf.fill(0, this.offset, this.offset + n); this.offset += n; return this; }

  addr4(a: string, field: string): this { return this.bytes(addrOf(a, 4, field)); }
  addr6(a: string, field: string): this { return this.bytes(addrOf(a, 6, field)); }
}

function addrOf(a: string, family: 4 | 6, field: string): Buffer {
  let b: Buffer;
  try { b = sharedAddrBytes(a); } catch { throw new EncodeError(field, a, 'not an IP address'); }
  if (b.length !== (family === 4 ? 4 : 16)) throw new EncodeError(field, a, `not an IPv${family} address`);
  return b;
}

/** The { encodingLength, write, read } trio every message and option implements (after dns-packet). */
export interface Codec<T> {
  encodingLength(value: T): number;
  write(value: T, w: Writer): void;
  read(r: Reader): T;
}

export function encode<T>(codec: Codec<T>, value: T): Buffer {
  const w = Writer.sized(codec.encodingLength(value));
  codec.write(value, w);
  return w.filled(value);
}

export function decode<T>(codec: Codec<T>, buf: Buffer, field = 'message'): T {
  const r = new Reader(buf);
  const value = codec.read(r);
  r.expectEnd(field);
  return value;
}
