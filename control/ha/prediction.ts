/**
 * Binding Update prediction, after TCP's header prediction (Jacobson,
 * 1990): a node's next BU is nearly always its last accepted one again,
 * with a new sequence number, timestamp and authenticator, from the same
 * care-of address (a refresh) or a new one (a move). The home agent keeps,
 * per node, the IPv6 packet of the BU that made its binding and the BA that
 * answered it. A BU equal to that packet byte for byte outside those fields
 * asks for the same thing: its outcome is the last one's with those fields
 * changed, and its BA the last BA with its own sequence number, timestamp
 * and authenticator. Nothing to decode, no options to walk, no BA to encode.
 *
 * This module is the bytes. BuTemplate.of() finds where the fields are;
 * the Predictor (native/predictor.c, through koffi) holds every node's
 * template and, for a drain of captured frames in one call, compares each
 * with its node's, checks its MH checksum and authenticator, and makes its
 * BA. What the fields must satisfy (timestamp, sequence number, the entry
 * still the template's) is HomeAgent.predictedUpdate()'s; a BU that is not
 * predicted, or fails any check there, takes the general path, which
 * decides and explains. test/ha/prediction.test.ts holds both paths to the
 * same answers.
 *
 * Predicted: BUs over IPv6 whose care-of address is their source (no
 * Alternate Care-of Address option) with a Home Address option, and the
 * MN-HA authentication option last, ending the MH (as mobile nodes lay it
 * out: its SPI is then found from the packet's end, which names the node).
 */
import koffi from 'koffi';
import { join } from 'node:path';
import { packageRoot } from '../dataplane/dataplane.js';
import { struct } from '../dataplane/layout.js';
import { onesSum, pseudoHeader6 } from '../wire/checksum.js';
import { IPPROTO, IPV6_HEADER_LENGTH } from '../wire/ip/constants.js';
import { OptionType } from '../wire/mh/constants.js';
import { optionLocations } from '../wire/mh/messages.js';
import { MN_HA_AUTHENTICATOR_LENGTH } from '../wire/auth/mipv6.js';
import type { HmacSha1Key } from '../wire/auth/sha1.js';

const SOURCE_AT = 8;
const DESTINATION_AT = 24;
/** A captured frame's IPv6 packet, after the Ethernet header. */
const FRAME_IP_AT = 14;
/** An MN-HA option ending the MH: its SPI, then the authenticator. */
const SPI_FROM_END = 4 + MN_HA_AUTHENTICATOR_LENGTH;

/** struct predicted of native/predictor.h (test/ha/prediction.test.ts checks it against the header's BTF). */
export const predictedLayout = struct('predicted', 32, {
  slot: [0, 4], generation: [4, 4], ba_at: [8, 4], ba_len: [12, 2], sequence: [14, 2], timestamp: [16, 8], timestamp_ms: [24, 8],
});

const lib = koffi.load(join(packageRoot, 'build/native/libpredictor.so'));
const predictorNew = lib.func('void *predictor_new(void)');
const predictorFree = lib.func('void predictor_free(void *p)');
const predictorSet = lib.func('int predictor_set(void *p, uint32_t slot, uint32_t generation, uint32_t spi, const void *key, const uint8_t *home, '
  + 'const uint8_t *bu, uint32_t bu_len, uint32_t bu_mh_at, uint32_t bu_ts_at, const uint8_t *ba, uint32_t ba_len, uint32_t ba_mh_at, uint32_t ba_ts_at)');
const predictorClear = lib.func('void predictor_clear(void *p, uint32_t slot)');
const predictorCheck = lib.func('uint32_t predictor_check(void *p, const uint8_t *frames, const uint32_t *ends, uint32_t n, void *out, uint8_t *bas, uint32_t at, uint32_t room)');
const freed = new FinalizationRegistry<unknown>((handle) => predictorFree(handle));

/** Where the timestamp of an MH's first Replay Protection option is, if its one MN-HA option ends it; undefined if not so. */
function timestampAt(mh: Buffer): number | undefined {
  const options = optionLocations(mh);
  const last = options[options.length - 1];
  const timestamp = options.find((o) => o.code === OptionType.replayProtection);
  if (!timestamp || timestamp.length !== 10 || last?.code !== OptionType.mobilityMessageAuthentication || last.offset + last.length !== mh.length) return undefined;
  if (last.length !== 3 + SPI_FROM_END || options.filter((o) => o.code === OptionType.mobilityMessageAuthentication).length !== 1) return undefined;
  return timestamp.offset + 2;
}

/** An IPv6 packet whose MH is its end, and where in it the MH and its timestamp are. */
interface Message {
  packet: Buffer;
  mhAt: number;
  timestampAt: number;
}

function message(packet: Buffer, mh: Buffer): Message | undefined {
  const mhAt = packet.length - mh.length;
  const at = timestampAt(mh);
  if (mhAt < IPV6_HEADER_LENGTH || at === undefined || !packet.subarray(mhAt).equals(mh)) return undefined;
  return { packet, mhAt, timestampAt: mhAt + at };
}

/** One node's last accepted BU and the BA that answered it, as IPv6 packets, where their fields are: what the Predictor is given. */
export class BuTemplate {
  private constructor(readonly bu: Message, readonly ba: Message, readonly home: Uint8Array) {}

  /**
   * From an accepted BU (its IPv6 packet, its MH the packet's end, its
   * checksum over the home address) and its BA's IPv6 packet (to the
   * care-of address, a type 2 routing header with the home address):
   * undefined if either is not laid out as predicted.
   */
  static of(bu: { packet: Buffer; mh: Buffer }, ba: { packet: Buffer; mh: Buffer }, home: Uint8Array): BuTemplate | undefined {
    const request = message(bu.packet, bu.mh);
    const answer = message(ba.packet, ba.mh);
    if (!request || !answer || onesSum([bu.mh], onesSum([pseudoHeader6(home, bu.packet.subarray(DESTINATION_AT, DESTINATION_AT + 16), bu.mh.length, IPPROTO.MH)])) !== 0xffff) return undefined; // (the checksum the general path checked is this one)
    return new BuTemplate(request, answer, home);
  }
}

/** A captured frame the Predictor found to be its node's predicted BU, authentic: its fields, and its BA made. */
export class PredictedBu {
  constructor(
    /** The template's: its node's binding id, and which of its templates (Predictor.set()). */
    readonly slot: number,
    readonly generation: number,
    readonly sequence: number,
    /** The timestamp's halves, as numbers: what in-place.ts compares and keeps (no bigint made). */
    readonly timestampHigh: number,
    readonly timestampLow: number,
    /** The timestamp as Unix time in ms (fromNtp()'s, made natively). */
    readonly timestampMs: number,
    /** As captured (Ethernet); its BU's care-of address, its IPv6 source, at CARE_OF_AT. */
    readonly frame: Buffer,
    /** Its BA: the template's with its care-of address, sequence number, timestamp, authenticator and checksum. */
    readonly ba: Buffer,
  ) {}

  /** The timestamp, made when asked for. */
  get timestamp(): bigint {
    return (BigInt(this.timestampHigh) << 32n) | BigInt(this.timestampLow);
  }
}

/** Where a predicted BU's frame has its care-of address (its IPv6 source). */
export const CARE_OF_AT = FRAME_IP_AT + SOURCE_AT;

/** The frame's MH, which starts mhAt into its IPv6 packet and ends it. */
export const mhOf = (p: PredictedBu, mhAt: number): Buffer => p.frame.subarray(FRAME_IP_AT + mhAt, FRAME_IP_AT + IPV6_HEADER_LENGTH + p.frame.readUInt16BE(FRAME_IP_AT + 4));

/** A BA, at most: its template is an IPv6 packet within the minimum MTU (longer ones are not predicted). */
const BA_ROOM = 1280;
const BA_ARENA = 64 * 1024; // (under glibc's mmap threshold: a malloc, not a mapping made and unmade)
const WORD = {
  slot: word(4, 'slot'), generation: word(4, 'generation'), baAt: word(4, 'ba_at'), baLength: word(2, 'ba_len'), sequence: word(2, 'sequence'), timestamp: word(8, 'timestamp'),
  timestampMs: word(8, 'timestamp_ms'),
};
/** A field of struct predicted as an index into an array of its size's elements (its offset a multiple of its size). */
function word(size: number, field: keyof typeof predictedLayout.fields): number {
  const f = predictedLayout.fields[field]!;
  if (f.size !== size || f.offset % size) throw new Error(`struct predicted.${field}: ${f.size} bytes at ${f.offset}`);
  return f.offset / size;
}

/** Which 32-bit word of a host-order 64-bit one is its high half. */
const HIGH_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;

/** 32-bit words a struct predicted takes. */
const WORDS = predictedLayout.size / 4;

/** Room for n struct predicted, seen as 32- and 16-bit words and doubles (host order, as the C writes them). */
function predictedArrays(n: number): { u32: Uint32Array; u16: Uint16Array; f64: Float64Array } {
  const bytes = new ArrayBuffer(n * predictedLayout.size);
  return { u32: new Uint32Array(bytes), u16: new Uint16Array(bytes), f64: new Float64Array(bytes) };
}

/** The native predictor: every node's template by its slot (binding id), found by the SPI that ends its BUs. */
export class Predictor {
  private readonly handle: unknown = predictorNew();
  /** A drain's frames end to end, and where each ends. */
  private frames = Buffer.alloc(16 * 1024);
  private ends = new Uint32Array(16);
  /** Where BAs are made, each written once (BA_ARENA bytes allocated at a time, not a buffer a drain), and how much of it they took. */
  private bas = Buffer.alloc(0);
  private basUsed = 0;
  /** struct predicted, one a frame, as the words of each size its fields are. */
  private out = predictedArrays(16);
  /** What check() found, one a frame. */
  private readonly found: (PredictedBu | undefined)[] = [];

  constructor() {
    freed.register(this, this.handle);
  }

  /** A node's template (slot: its binding id, not 0) from now on; false if it cannot be one (too long). */
  set(slot: number, generation: number, spi: number, key: HmacSha1Key, t: BuTemplate): boolean {
    const { bu, ba } = t;
    return predictorSet(this.handle, slot, generation, spi, key.state, t.home, bu.packet, bu.packet.length, bu.mhAt, bu.timestampAt, ba.packet, ba.packet.length, ba.mhAt, ba.timestampAt) === 0;
  }

  clear(slot: number): void {
    predictorClear(this.handle, slot);
  }

  /**
   * Each frame (undefined: none there) checked against its node's template:
   * what it is if predicted. The array is the predictor's, good until its
   * next check (with each drain, no array or view made for the scavenger).
   */
  check(frames: readonly (Buffer | undefined)[]): readonly (PredictedBu | undefined)[] {
    const n = frames.length;
    this.room(frames);
    let end = 0;
    for (let k = 0; k < n; k++) {
      const f = frames[k];
      if (f) this.frames.set(f, end);
      end += f?.length ?? 0;
      this.ends[k] = end;
    }
    if (this.bas.length - this.basUsed < n * BA_ROOM) { // a new one: the BAs in the last stay as they are, for whoever holds them
      this.bas = Buffer.allocUnsafeSlow(Math.max(BA_ARENA, n * BA_ROOM));
      this.basUsed = 0;
    }
    const { u32, u16, f64 } = this.out;
    const found = predictorCheck(this.handle, this.frames, this.ends, n, u32, this.bas, this.basUsed, this.bas.length) as number;
    const result = this.found;
    result.length = n;
    result.fill(undefined);
    for (let k = 0, w = 0; found > 0 && k < n; k++, w += WORDS) { // w: struct k's first 32-bit word
      const slot = u32[w + WORD.slot]!;
      if (slot === 0) continue;
      const at = u32[w + WORD.baAt]!, end = at + u16[2 * w + WORD.baLength]!;
      result[k] = new PredictedBu(slot, u32[w + WORD.generation]!, u16[2 * w + WORD.sequence]!, u32[w + 2 * WORD.timestamp + HIGH_WORD]!,
        u32[w + 2 * WORD.timestamp + 1 - HIGH_WORD]!, f64[w / 2 + WORD.timestampMs]!, frames[k]!, this.bas.subarray(at, end));
      this.basUsed = end;
    }
    return result;
  }

  /** Buffers for these frames. */
  private room(frames: readonly (Buffer | undefined)[]): void {
    let bytes = 0;
    for (const f of frames) bytes += f?.length ?? 0;
    if (bytes > this.frames.length) this.frames = Buffer.alloc(2 * bytes);
    if (frames.length > this.ends.length) {
      this.ends = new Uint32Array(2 * frames.length);
      this.out = predictedArrays(2 * frames.length);
    }
  }
}
