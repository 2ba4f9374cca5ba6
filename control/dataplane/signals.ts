/**
 * Signalling frames from the data plane's ring buffer. The wait happens on a
 * worker thread (epoll_wait through koffi's async call); a wake-up's records
 * are copied out natively, all in one call (native/signals.c), into an arena
 * the frames are views of, and delivered on the main thread, in order.
 * (libbpf calling back into JavaScript for each record, each then copied out
 * by another koffi call, cost ~2-3 µs a frame, and two Buffers.)
 */
import koffi from 'koffi';
import { join } from 'node:path';
import { epollWait } from '../sys/libc.js';
import { LibbpfError } from './libbpf.js';
import { layouts } from './layout.js';
import { packageRoot } from './package-root.js';

export interface SignalFrame {
  /** Interface the frame came in on. */
  ifindex: number;
  /** The whole frame, from its Ethernet header. */
  frame: Buffer;
}

const lib = koffi.load(join(packageRoot, 'build/native/libsignals.so'));
const signalsOpen = lib.func('void *signals_open(int map_fd)');
const signalsEpollFd = lib.func('int signals_epoll_fd(void *s)');
// (out, ends and more as void *: koffi then hands the C the typed arrays' own memory, to write into)
const signalsTake = lib.func('int signals_take(void *s, void *out, uint32_t at, uint32_t room, uint32_t max_record, void *ends, uint32_t max, void *more)');
const signalsClose = lib.func('void signals_close(void *s)');

const POLL_MS = 100;
const RECORD = layouts.signal_event;
/** The longest record the data plane writes: its frame as long as it may be. */
const MAX_RECORD = RECORD.size;
/**
 * Records copied out a call, at most, and the arena they go to. A frame is
 * a view of its arena, which is only ever appended to: a new one is made
 * when this one is nearly used up, and the old one lives as long as a frame
 * of it is held (a BU waiting for its node's probe, say).
 */
const TAKE_MAX = 256;
const ARENA_BYTES = 1 << 20;

export class SignalReader {
  private readonly handle: unknown;
  private readonly epfd: number;
  private running = true;
  private readonly events = Buffer.alloc(12 * 4);
  private arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
  private used = 0;
  private readonly ends = new Uint32Array(TAKE_MAX);
  private readonly more = new Int32Array(1);

  /** onDrained, if given, runs after each wake-up's frames have all been delivered: the end of a batch. */
  constructor(mapFd: number, private readonly onFrame: (f: SignalFrame) => void, private readonly onDrained?: () => void) {
    const handle: unknown = signalsOpen(mapFd);
    if (handle === null) throw new LibbpfError('ring_buffer__new', -koffi.errno(), `map fd ${mapFd}`);
    this.handle = handle;
    this.epfd = signalsEpollFd(handle) as number;
    this.consume(); // anything queued while no one listened
    this.wait();
  }

  private wait(): void {
    epollWait.async(this.epfd, this.events, 4, POLL_MS, (err: unknown, n: number) => {
      if (!this.running) return this.free();
      if (!err && n > 0) this.consume();
      this.wait();
    });
  }

  /** Every record waiting, delivered; then onDrained, if there were any. */
  private consume(): void {
    let delivered = 0;
    do {
      if (this.arena.length - this.used < MAX_RECORD) { // (the C takes records while one more of any length would fit)
        this.arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
        this.used = 0;
      }
      const n = signalsTake(this.handle, this.arena, this.used, this.arena.length, MAX_RECORD, this.ends, TAKE_MAX, this.more) as number;
      if (n < 0) throw new LibbpfError('ring_buffer__consume', n, 'signals');
      const from = this.used;
      if (n > 0) this.used = this.ends[n - 1]!; // (first: the frames handed out are never written over, whatever onFrame does)
      for (let k = 0; k < n; k++) this.deliver(k === 0 ? from : this.ends[k - 1]!);
      delivered += n;
    } while (this.more[0]);
    if (delivered > 0) this.onDrained?.();
  }

  /** The record at `at` in the arena (struct signal_event: its frame only as long as it is). */
  private deliver(at: number): void {
    const f = RECORD.fields;
    const len = this.arena.readUInt16LE(at + f.frame_len!.offset);
    const frame = at + f.frame!.offset;
    this.onFrame({ ifindex: this.arena.readUInt32LE(at + f.ifindex!.offset), frame: this.arena.subarray(frame, frame + len) });
  }

  /** Stops reading; the ring buffer is freed once the pending wait returns. */
  stop(): void {
    this.running = false;
  }

  private free(): void {
    signalsClose(this.handle);
  }
}
