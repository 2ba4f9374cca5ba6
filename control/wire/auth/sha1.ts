/**
 * HMAC-SHA1 with the key's padded blocks hashed once (RFC 2104 §4: "the
 * intermediate results of the compression function on the B-byte blocks
 * (K XOR ipad) and (K XOR opad) can be precomputed only once at the time of
 * generation of the key"). A home agent signs and checks every message with
 * one of a few hundred thousand fixed keys; node:crypto sets a key up anew
 * on each createHmac(), which was most of an HMAC's cost here (~2.6 µs of a
 * BU's). A message of up to 55 bytes then costs two SHA-1 compressions.
 *
 * SHA-1 itself is FIPS 180-4 §6.1. Checked against node:crypto on random
 * keys and messages, and RFC 2202's test cases (test/wire/sha1.test.ts).
 */

const BLOCK = 64;
const IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
const w = new Int32Array(80);

function writeWord(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** One 64-byte block at block[at] into state (five 32-bit words). */
function compress(state: Int32Array, block: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) w[i] = (block[at]! << 24) | (block[at + 1]! << 16) | (block[at + 2]! << 8) | block[at + 3]!;
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, t = 0;
  // the four kinds of round written out: a shared round function closing over a..e is several times slower
  for (let i = 0; i < 20; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  for (let i = 20; i < 40; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  for (let i = 40; i < 60; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  for (let i = 60; i < 80; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
}

/** A SHA-1 computation resumed from a state after `done` bytes (a whole number of blocks). */
class Sha1Stream {
  private readonly buffer = new Uint8Array(BLOCK);
  private readonly state = new Int32Array(5);
  private filled = 0;
  private length = 0;

  start(from: Int32Array, done: number): this {
    this.state.set(from);
    this.filled = 0;
    this.length = done;
    return this;
  }

  /** data[from..to] (a range rather than a view: subarray() allocates). */
  update(data: Uint8Array, from = 0, to = data.length): this {
    const buf = this.buffer;
    let at = from;
    this.length += to - from;
    // byte by byte into the block: these pieces are short
    while (at < to) {
      if (this.filled === 0 && at + BLOCK <= to) {
        compress(this.state, data, at);
        at += BLOCK;
        continue;
      }
      buf[this.filled++] = data[at++]!;
      if (this.filled === BLOCK) {
        compress(this.state, buf, 0);
        this.filled = 0;
      }
    }
    return this;
  }

  /** The 20-byte digest into out at offset. */
  digest(out: Uint8Array, offset = 0): void {
    const bits = this.length * 8;
    const buf = this.buffer;
    buf[this.filled++] = 0x80;
    if (this.filled > BLOCK - 8) {
      buf.fill(0, this.filled);
      compress(this.state, buf, 0);
      this.filled = 0;
    }
    buf.fill(0, this.filled, BLOCK - 8);
    writeWord(buf, BLOCK - 8, Math.floor(bits / 2 ** 32));
    writeWord(buf, BLOCK - 4, bits >>> 0);
    compress(this.state, buf, 0);
    for (let i = 0; i < 5; i++) writeWord(out, offset + 4 * i, this.state[i]!);
  }
}

const stream = new Sha1Stream();
const innerDigest = new Uint8Array(20);
const outerDigest = new Uint8Array(20);

/** An HMAC-SHA1 key, its inner and outer padded blocks already compressed. */
export class HmacSha1Key {
  private readonly inner = new Int32Array(IV);
  private readonly outer = new Int32Array(IV);

  constructor(key: Uint8Array) {
    const k = new Uint8Array(BLOCK);
    if (key.length > BLOCK) stream.start(new Int32Array(IV), 0).update(key).digest(k);
    else k.set(key);
    const pad = new Uint8Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x36;
    compress(this.inner, pad, 0);
    for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x5c;
    compress(this.outer, pad, 0);
  }

  /** HMAC-SHA1 of the concatenated parts: 20 bytes. */
  mac(parts: readonly Uint8Array[]): Buffer {
    this.begin();
    for (const p of parts) this.add(p);
    const out = Buffer.allocUnsafe(20);
    this.end(out, 0);
    return out;
  }

  /**
   * HMAC-SHA1 of byte ranges fed in turn, with no views or parts to make:
   * begin(), add() each range, end(). One computation at a time (the
   * stream is shared).
   */
  begin(): this {
    stream.start(this.inner, BLOCK);
    return this;
  }

  add(data: Uint8Array, from = 0, to = data.length): this {
    stream.update(data, from, to);
    return this;
  }

  /** The digest's first `length` bytes into out at offset. */
  end(out: Uint8Array, offset: number, length = 20): void {
    stream.digest(innerDigest);
    stream.start(this.outer, BLOCK).update(innerDigest).digest(outerDigest);
    for (let i = 0; i < length; i++) out[offset + i] = outerDigest[i]!;
  }
}
