/**
 * bpf/bench.c's object, loaded beside a DataPlane instance: the anchor's maps
 * in it are that instance's pinned maps, so the bindings, endpoints and
 * learnt next hops the bench_anchor wrapper sees are the data plane's own.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataPlane, packageRoot } from '../control/dataplane/dataplane.js';
import { BPF_F_TEST_XDP_LIVE_FRAMES, attachType, libbpf, xdpFlags, type ObjectHandle } from '../control/dataplane/libbpf.js';
import { closeFd } from '../control/sys/libc.js';
import { macBytes } from './frames.js';

export const benchObject = join(packageRoot, 'build/bpf/bench.o');

export const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export const verdictName = (v: number) => Object.keys(XDP).find((k) => XDP[k as keyof typeof XDP] === v) ?? String(v);

export type BenchProgram = 'bench_xdp_tx' | 'bench_redirect' | 'bench_gen' | 'bench_sink' | 'bench_anchor' | 'bench_undo' | 'bench_pass' | 'bench_floor';

const FRAME_MAX = 256; // BENCH_FRAME_MAX
const FRAME_VALUE = 8 + FRAME_MAX; // struct bench_frame

export interface RunResult {
  verdict: number;
  /** The kernel's figure: nanoseconds per iteration (an integer, rounded down). */
  nsPerRun: number;
  out: Buffer;
}

export class BenchObject {
  private obj: ObjectHandle | null;
  private readonly mapFds = new Map<string, number>();
  private genLen = 0;

  constructor(private readonly dp: DataPlane) {
    this.obj = libbpf.open(benchObject);
    for (const name of readdirSync(dp.pinDir)) {
      if (name === 'links') continue;
      const fd = libbpf.getPinned(join(dp.pinDir, name));
      if (fd < 0) continue;
      libbpf.reuseMapFd(libbpf.map(this.obj, name), fd, name);
      closeFd(fd);
    }
    libbpf.load(this.obj, benchObject);
  }

  prog(name: BenchProgram): number {
    return libbpf.programFd(this.obj, name);
  }

  mapFd(name: string): number {
    let fd = this.mapFds.get(name);
    if (fd === undefined) {
      fd = libbpf.mapFd(libbpf.map(this.obj, name), name);
      this.mapFds.set(name, fd);
    }
    return fd;
  }

  private writeFrame(map: string, frame: Buffer, ifindex = 0): void {
    if (frame.length > FRAME_MAX) throw new RangeError(`frame of ${frame.length} bytes: at most ${FRAME_MAX}`);
    const v = Buffer.alloc(FRAME_VALUE);
    v.writeUInt32LE(frame.length, 0);
    v.writeUInt32LE(ifindex, 4);
    frame.copy(v, 8);
    libbpf.update(this.mapFd(map), Buffer.alloc(4), v);
  }

  /** The frame bench_anchor and bench_undo restore after every iteration. */
  setInput(frame: Buffer): void {
    this.writeFrame('bench_input', frame);
  }

  /** What bench_gen sends, and out of which interface. */
  setGenerator(frame: Buffer, ifindex: number): void {
    this.writeFrame('bench_gen_frame', frame, ifindex);
    this.genLen = frame.length;
  }

  setForwarder(ifindex: number, smac: string, dmac: string): void {
    const v = Buffer.alloc(16);
    v.writeUInt32LE(ifindex, 0);
    macBytes(smac).copy(v, 4);
    macBytes(dmac).copy(v, 10);
    libbpf.update(this.mapFd('bench_fwd'), Buffer.alloc(4), v);
  }

  /** Packets and bytes bench_sink has counted, over all CPUs. */
  sinkCounters(): { packets: number; bytes: number } {
    const raw = libbpf.lookup(this.mapFd('bench_sink_counters'), Buffer.alloc(4), 16 * this.dp.cpus);
    let packets = 0n, bytes = 0n;
    for (let cpu = 0; raw && cpu < this.dp.cpus; cpu++) {
      packets += raw.readBigUInt64LE(cpu * 16);
      bytes += raw.readBigUInt64LE(cpu * 16 + 8);
    }
    return { packets: Number(packets), bytes: Number(bytes) };
  }

  /** BPF_PROG_TEST_RUN of an XDP program on frame, repeat times (in the caller's network namespace). */
  run(prog: BenchProgram | number, frame: Buffer, repeat: number, ingressIfindex = 0): RunResult {
    const out = Buffer.alloc(frame.length + 512);
    const opts: Record<string, unknown> = { data_in: frame, data_size_in: frame.length, data_out: out, data_size_out: out.length, repeat };
    if (ingressIfindex) {
      const ctx = Buffer.alloc(24); // struct xdp_md
      ctx.writeUInt32LE(frame.length, 4); // data_end
      ctx.writeUInt32LE(ingressIfindex, 12);
      Object.assign(opts, { ctx_in: ctx, ctx_size_in: ctx.length });
    }
    const r = libbpf.testRun(typeof prog === 'number' ? prog : this.prog(prog), opts);
    return { verdict: r.retval!, nsPerRun: r.duration!, out: out.subarray(0, r.data_size_out) };
  }

  /**
   * Sends count copies of the generator's frame with BPF_F_TEST_XDP_LIVE_FRAMES,
   * 64 per batch. Returns the kernel's time per packet in ns: the time the
   * generator ran, without the call's own cost (~16 ms here: with repeat > 1
   * the kernel switches its XDP dispatcher to the program and back).
   */
  generate(count: number): number {
    if (!this.genLen) throw new Error('generate: no frame set');
    const blank = Buffer.alloc(this.genLen); // bench_gen writes the frame over it every time
    const r = libbpf.testRun(this.prog('bench_gen'), {
      data_in: blank, data_size_in: blank.length, repeat: count, flags: BPF_F_TEST_XDP_LIVE_FRAMES, batch_size: 64,
    });
    return r.duration!;
  }

  /** Attaches prog as the native XDP program of ifindex (in the caller's namespace); returns the link's fd. */
  attachXdp(prog: BenchProgram, ifindex: number): number {
    return libbpf.linkCreate(this.prog(prog), ifindex, attachType.XDP, xdpFlags.DRV_MODE);
  }

  close(): void {
    this.mapFds.clear(); // the object's own fds: closed with it
    if (this.obj) libbpf.close(this.obj);
    this.obj = null;
  }
}
