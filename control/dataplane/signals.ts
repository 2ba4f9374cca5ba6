/**
 * Signalling frames from the data plane's ring buffer. The wait happens on a
 * worker thread (epoll_wait through koffi's async call); the frames are read
 * and delivered on the main thread, in order.
 */
import { epollWait } from '../sys/libc.js';
import { libbpf } from './libbpf.js';
import { layouts } from './layout.js';

export interface SignalFrame {
  /** Interface the frame came in on. */
  ifindex: number;
  /** The whole frame, from its Ethernet header. */
  frame: Buffer;
}

const POLL_MS = 100;

export class SignalReader {
  private readonly rb: { handle: unknown; callback: unknown };
  private readonly epfd: number;
  private running = true;
  private readonly events = Buffer.alloc(12 * 4);

  /** onDrained, if given, runs after each wake-up's frames have all been delivered: the end of a batch. */
  constructor(mapFd: number, private readonly onFrame: (f: SignalFrame) => void, private readonly onDrained?: () => void) {
    const f = layouts.signal_event.fields;
    this.rb = libbpf.ringBuffer(mapFd, (data, size) => {
      const raw = libbpf.decode(data, size); // a copy, as long as its frame needs (bpf/anchor.h)
      const len = raw.readUInt16LE(f.frame_len!.offset);
      this.onFrame({ ifindex: raw.readUInt32LE(f.ifindex!.offset), frame: raw.subarray(f.frame!.offset, f.frame!.offset + len) });
    });
    this.epfd = libbpf.ringEpollFd(this.rb.handle);
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

  private consume(): void {
    if (libbpf.ringConsume(this.rb.handle) > 0) this.onDrained?.();
  }

  /** Stops reading; the ring buffer is freed once the pending wait returns. */
  stop(): void {
    this.running = false;
  }

  private free(): void {
    libbpf.ringFree(this.rb.handle, this.rb.callback);
  }
}
