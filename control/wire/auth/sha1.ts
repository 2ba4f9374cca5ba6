/**
 * HMAC-SHA1 with the key's padded blocks hashed once (RFC 2104 §4: "the
 * intermediate results of the compression function on the B-byte blocks
 * (K XOR ipad) and (K XOR opad) can be precomputed only once at the time of
 * generation of the key"). A home agent signs and checks every message with
 * one of a few hundred thousand fixed keys; node:crypto sets a key up anew
 * on each createHmac(), which was most of an HMAC's cost here (~2.6 µs of a
 * BU's).
 *
 * The compression function is OpenSSL's (libcrypto's SHA1_Update, through
 * koffi): it uses the CPU's SHA instructions where there are some, and an
 * HMAC of a BU then costs about half what SHA-1 written in JavaScript did.
 * The padding (FIPS 180-4 §5.1.1) is done here, whole blocks handed over,
 * so that SHA1_Update only compresses: its context's five state words are
 * set from the key's precomputed ones before and read back after (the
 * public layout of SHA_CTX, openssl/sha.h: h0..h4 first, native order).
 * Two calls an HMAC, ~20–50 ns each.
 *
 * Checked against node:crypto on random keys and messages, and RFC 2202's
 * test cases (test/wire/sha1.test.ts, auth-mipv6.test.ts).
 */
import koffi from 'koffi';

const libcrypto = koffi.load('libcrypto.so.3');
/** Compresses len bytes (a whole number of blocks here) into ctx's state. */
const sha1Update = libcrypto.func('int SHA1_Update(uint8_t *ctx, const uint8_t *data, size_t len)');

const BLOCK = 64;
const IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
/** A SHA_CTX (96 bytes; room to spare), and its state words h0..h4. */
const ctx = new Uint8Array(128);
const ctxState = new Int32Array(ctx.buffer, 0, 5);

/** The message being hashed (begin(), add(), end()), padded there to whole blocks: grown for a longer one. */
let message = new Uint8Array(4 * BLOCK);
let filled = 0;
/** The outer hash's one block: the inner digest, then its padding (the length of 64 + 20 bytes). */
const outerBlock = new Uint8Array(BLOCK);
outerBlock[20] = 0x80;
new DataView(outerBlock.buffer).setUint32(BLOCK - 4, (BLOCK + 20) * 8);

/** The data's blocks (already padded) compressed into a state (five words), in place. */
function compress(state: Int32Array, from: number, data: Uint8Array, length: number): void {
  for (let i = 0; i < 5; i++) ctxState[i] = state[from + i]!;
  sha1Update(ctx, data, length);
  for (let i = 0; i < 5; i++) state[from + i] = ctxState[i]!;
}

/**
 * The message's padding after its `filled` bytes, for a hash that had
 * `done` bytes before them: the number of bytes to compress.
 */
function pad(done: number): number {
  const total = Math.ceil((filled + 9) / BLOCK) * BLOCK;
  if (total > message.length) grow(total);
  message[filled] = 0x80;
  message.fill(0, filled + 1, total - 8);
  const bits = (done + filled) * 8;
  writeWord(message, total - 8, Math.floor(bits / 2 ** 32));
  writeWord(message, total - 4, bits >>> 0);
  return total;
}

function grow(size: number): void {
  const larger = new Uint8Array(Math.max(size, 2 * message.length));
  larger.set(message.subarray(0, filled));
  message = larger;
}

function writeWord(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** SHA-1 of data (a key longer than a block is hashed first). */
function sha1(data: Uint8Array): Uint8Array {
  filled = 0;
  add(data, 0, data.length);
  const state = new Int32Array(IV);
  const length = pad(0); // (first: it may grow the message)
  compress(state, 0, message, length);
  const digest = new Uint8Array(20);
  for (let i = 0; i < 5; i++) writeWord(digest, 4 * i, state[i]!);
  return digest;
}

function add(data: Uint8Array, from: number, to: number): void {
  if (filled + to - from > message.length) grow(filled + to - from + 9);
  // byte by byte: these pieces are short (a subarray() to set() from would allocate)
  for (let at = from; at < to; at++) message[filled++] = data[at]!;
}

/** An HMAC-SHA1 key, its inner and outer padded blocks already compressed. */
export class HmacSha1Key {
  /** The inner state (words 0..4), then the outer (5..9): as SHA_CTX holds them (BU prediction's native HMAC reads them). */
  readonly state = new Int32Array(10);

  constructor(key: Uint8Array) {
    const k = new Uint8Array(BLOCK);
    k.set(key.length > BLOCK ? sha1(key) : key);
    const padded = new Uint8Array(BLOCK);
    for (const [from, xor] of [[0, 0x36], [5, 0x5c]] as const) {
      for (let i = 0; i < BLOCK; i++) padded[i] = k[i]! ^ xor;
      this.state.set(IV, from);
      compress(this.state, from, padded, BLOCK);
    }
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
   * message being hashed is shared).
   */
  begin(): this {
    filled = 0;
    return this;
  }

  add(data: Uint8Array, from = 0, to = data.length): this {
    add(data, from, to);
    return this;
  }

  /** The digest's first `length` bytes into out at offset. */
  end(out: Uint8Array, offset: number, bytes = 20): void {
    const s = this.state;
    const length = pad(BLOCK); // (first: it may grow the message)
    for (let i = 0; i < 5; i++) ctxState[i] = s[i]!;
    sha1Update(ctx, message, length);
    for (let i = 0; i < 5; i++) writeWord(outerBlock, 4 * i, ctxState[i]!);
    for (let i = 0; i < 5; i++) ctxState[i] = s[5 + i]!;
    sha1Update(ctx, outerBlock, BLOCK);
    for (let i = 0; i < bytes; i++) out[offset + i] = (ctxState[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
  }
}
