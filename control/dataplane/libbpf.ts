/**
 * libbpf (Debian's libbpf.so.1, 1.1) through koffi: only the calls the
 * driver uses. Every call that can fail is wrapped to throw a LibbpfError
 * naming the call and its object.
 */
import koffi from 'koffi';

const lib = koffi.load('libbpf.so.1');

const BpfObject = koffi.opaque('bpf_object');
const BpfMap = koffi.opaque('bpf_map');
const BpfProgram = koffi.opaque('bpf_program');
const RingBuffer = koffi.opaque('ring_buffer');

export interface MapShape { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number }

export const TestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

const LinkCreateOpts = koffi.struct('bpf_link_create_opts', {
  sz: 'size_t',
  flags: 'uint32_t',
  iter_info: 'void *',
  iter_info_len: 'uint32_t',
  target_btf_id: 'uint32_t',
  reserved: koffi.array('uint8_t', 32),
});

const BatchOpts = koffi.struct('bpf_map_batch_opts', {
  sz: 'size_t',
  elem_flags: 'uint64_t',
  flags: 'uint64_t',
});
/** The batch calls' options: none but their size (made once: a koffi call marshals what it is given). */
const BATCH_OPTS = { sz: koffi.sizeof(BatchOpts), elem_flags: 0, flags: 0 };

const RingSample = koffi.proto('int ring_sample_cb(void *ctx, void *data, size_t size)');

const f = {
  openFile: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
  load: lib.func('int bpf_object__load(bpf_object *obj)'),
  close: lib.func('void bpf_object__close(bpf_object *obj)'),
  findMap: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
  findProgram: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
  mapFd: lib.func('int bpf_map__fd(bpf_map *map)'),
  mapType: lib.func('int bpf_map__type(bpf_map *map)'),
  mapKeySize: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
  mapValueSize: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
  mapMaxEntries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
  mapFlags: lib.func('uint32_t bpf_map__map_flags(bpf_map *map)'),
  objInfo: lib.func('int bpf_obj_get_info_by_fd(int fd, _Inout_ uint8_t *info, _Inout_ uint32_t *len)'),
  mapReuseFd: lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)'),
  mapSetMaxEntries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max)'),
  programFd: lib.func('int bpf_program__fd(bpf_program *prog)'),
  objPin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
  objGet: lib.func('int bpf_obj_get(const char *path)'),
  update: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  lookup: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  del: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  nextKey: lib.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next)'),
  updateBatch: lib.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  linkCreate: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const bpf_link_create_opts *opts)'),
  linkUpdate: lib.func('int bpf_link_update(int link_fd, int new_prog_fd, void *opts)'),
  testRun: lib.func('int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)'),
  ringNew: lib.func('ring_buffer *ring_buffer__new(int map_fd, ring_sample_cb *cb, void *ctx, void *opts)'),
  ringConsume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),
  ringEpollFd: lib.func('int ring_buffer__epoll_fd(ring_buffer *rb)'),
  ringFree: lib.func('void ring_buffer__free(ring_buffer *rb)'),
  getErrno: lib.func('long libbpf_get_error(const void *ptr)'),
};

export class LibbpfError extends Error {
  constructor(readonly call: string, readonly code: number, readonly subject: string) {
    super(`${call}(${subject}): ${code < 0 ? `errno ${-code}` : `returned ${code}`}`);
  }
}

function ok(call: string, rc: number, subject: string): number {
  if (rc < 0) throw new LibbpfError(call, rc, subject);
  return rc;
}

function nonNull<T>(call: string, ptr: T | null, subject: string): T {
  if (ptr === null) throw new LibbpfError(call, -koffi.errno(), subject);
  return ptr;
}

export type ObjectHandle = unknown;
export type MapHandle = unknown;

export const attachType = {
  XDP: 37,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
} as const;

export const xdpFlags = {
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
} as const;

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

export const libbpf = {
  open(path: string): ObjectHandle {
    return nonNull('bpf_object__open_file', f.openFile(path, null), path);
  },
  load(obj: ObjectHandle, path: string): void {
    ok('bpf_object__load', f.load(obj) as number, path);
  },
  close(obj: ObjectHandle): void {
    f.close(obj);
  },
  map(obj: ObjectHandle, name: string): MapHandle {
    return nonNull('bpf_object__find_map_by_name', f.findMap(obj, name), name);
  },
  mapFd(map: MapHandle, name: string): number {
    return ok('bpf_map__fd', f.mapFd(map) as number, name);
  },
  /** What the object says a map is (before load). */
  mapShape(map: MapHandle): MapShape {
    return { type: f.mapType(map) as number, keySize: f.mapKeySize(map) as number, valueSize: f.mapValueSize(map) as number, maxEntries: f.mapMaxEntries(map) as number, flags: f.mapFlags(map) as number };
  },
  /** What a map in the kernel is (struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags). */
  mapInfo(fd: number, name: string): MapShape {
    const info = Buffer.alloc(96);
    ok('bpf_obj_get_info_by_fd', f.objInfo(fd, info, [info.length]) as number, name);
    return { type: info.readUInt32LE(0), keySize: info.readUInt32LE(8), valueSize: info.readUInt32LE(12), maxEntries: info.readUInt32LE(16), flags: info.readUInt32LE(20) };
  },
  reuseMapFd(map: MapHandle, fd: number, name: string): void {
    ok('bpf_map__reuse_fd', f.mapReuseFd(map, fd) as number, name);
  },
  setMaxEntries(map: MapHandle, max: number, name: string): void {
    ok('bpf_map__set_max_entries', f.mapSetMaxEntries(map, max) as number, name);
  },
  programFd(obj: ObjectHandle, name: string): number {
    const prog = nonNull('bpf_object__find_program_by_name', f.findProgram(obj, name), name);
    return ok('bpf_program__fd', f.programFd(prog) as number, name);
  },
  pin(fd: number, path: string): void {
    ok('bpf_obj_pin', f.objPin(fd, path) as number, path);
  },
  /** The fd of a pinned object, or -1 if nothing is pinned there. */
  getPinned(path: string): number {
    return f.objGet(path) as number;
  },
  update(fd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
    ok('bpf_map_update_elem', f.update(fd, key, value, flags) as number, `fd ${fd}`);
  },
  /** The value for key, or null if there is none. */
  lookup(fd: number, key: Buffer, valueSize: number): Buffer | null {
    const value = Buffer.alloc(valueSize);
    return (f.lookup(fd, key, value) as number) === 0 ? value : null;
  },
  /** Deletes key; false if it was not there. */
  delete(fd: number, key: Buffer): boolean {
    return (f.del(fd, key) as number) === 0;
  },
  *keys(fd: number, keySize: number): Generator<Buffer> {
    let key: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(keySize);
      if ((f.nextKey(fd, key, next) as number) !== 0) return;
      yield next;
      key = next;
    }
  },
  /** Updates count entries at once (keys and values packed back to back). */
  updateBatch(fd: number, keys: Buffer, values: Buffer, count: number): void {
    const n = [count];
    ok('bpf_map_update_batch', f.updateBatch(fd, keys, values, n, BATCH_OPTS) as number, `fd ${fd}`);
  },
  linkCreate(progFd: number, ifindex: number, type: number, flags = 0): number {
    const opts = { sz: koffi.sizeof(LinkCreateOpts), flags, iter_info: null, iter_info_len: 0, target_btf_id: 0, reserved: new Array(32).fill(0) };
    return ok('bpf_link_create', f.linkCreate(progFd, ifindex, type, opts) as number, `ifindex ${ifindex} type ${type}`);
  },
  linkUpdate(linkFd: number, progFd: number): void {
    ok('bpf_link_update', f.linkUpdate(linkFd, progFd, null) as number, `link ${linkFd}`);
  },
  testRun(progFd: number, opts: Record<string, unknown>): Record<string, number> {
    const o = { sz: koffi.sizeof(TestRunOpts), data_in: null, data_out: null, data_size_in: 0, data_size_out: 0, ctx_in: null, ctx_out: null, ctx_size_in: 0, ctx_size_out: 0, retval: 0, repeat: 0, duration: 0, flags: 0, cpu: 0, batch_size: 0, ...opts };
    ok('bpf_prog_test_run_opts', f.testRun(progFd, o) as number, `prog ${progFd}`);
    return o as unknown as Record<string, number>;
  },
  ringBuffer(mapFd: number, onSample: (data: unknown, size: number) => void): { handle: unknown; callback: unknown } {
    const callback = koffi.register((_ctx: unknown, data: unknown, size: number) => {
      onSample(data, size);
      return 0;
    }, koffi.pointer(RingSample));
    const handle = nonNull('ring_buffer__new', f.ringNew(mapFd, callback, null, null), `map fd ${mapFd}`);
    return { handle, callback };
  },
  ringConsume(rb: unknown): number {
    return ok('ring_buffer__consume', f.ringConsume(rb) as number, 'signals');
  },
  ringEpollFd(rb: unknown): number {
    return f.ringEpollFd(rb) as number;
  },
  ringFree(rb: unknown, callback: unknown): void {
    f.ringFree(rb);
    koffi.unregister(callback as never);
  },
};
