/**
 * The few libc calls Node does not offer: network namespaces, interface
 * indexes, raw sockets and epoll (to wait for the BPF ring buffer off-thread).
 */
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const CLONE_NEWNET = 0x40000000;

const open = libc.func('int open(const char *path, int flags)');
const close = libc.func('int close(int fd)');
const setnsRaw = libc.func('int setns(int fd, int nstype)');
const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *name)');
const socketRaw = libc.func('int socket(int domain, int type, int protocol)');
const sendtoRaw = libc.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
const sendmmsgRaw = libc.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)');
const Iovec = koffi.struct('anchor_iovec', { base: 'void *', len: 'size_t' });
koffi.struct('anchor_msghdr', { name: 'void *', namelen: 'uint32_t', iov: koffi.pointer(Iovec), iovlen: 'size_t', control: 'void *', controllen: 'size_t', flags: 'int' });
const recvmsgRaw = libc.func('long recvmsg(int fd, _Inout_ anchor_msghdr *msg, int flags)');
const setsockoptRaw = libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)');
export const epollWait = libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)');
const schedSetaffinity = libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)');

export class SysError extends Error {
  constructor(readonly call: string, readonly errno: number, detail = '') {
    super(`${call} failed: errno ${errno}${detail ? ` (${detail})` : ''}`);
  }
}

function check(call: string, rc: number, detail = ''): number {
  if (rc < 0) throw new SysError(call, koffi.errno(), detail);
  return rc;
}

export function closeFd(fd: number): void {
  close(fd);
}

/** Index of a network interface in the current network namespace. */
export function ifIndex(name: string): number {
  const index = ifNameToIndex(name) as number;
  if (index === 0) throw new SysError('if_nametoindex', koffi.errno(), name);
  return index;
}

function openNetns(path: string): number {
  return check('open', open(path, 0o2000000 /* O_CLOEXEC */) as number, path);
}

/**
 * Runs fn with this thread in the network namespace at path (for example
 * /run/netns/NAME), then returns to the namespace it was in. Sockets,
 * netlink calls and child processes started inside fn belong to that
 * namespace; the host's bpffs stays visible (unlike `ip netns exec`).
 */
export function inNetns<T>(path: string, fn: () => T): T {
  const home = openNetns('/proc/thread-self/ns/net');
  const target = openNetns(path);
  try {
    check('setns', setnsRaw(target, CLONE_NEWNET) as number, path);
    try {
      return fn();
    } finally {
      check('setns', setnsRaw(home, CLONE_NEWNET) as number, 'back home');
    }
  } finally {
    close(target);
    close(home);
  }
}

/** Enters a network namespace for good (a process that lives in one). */
export function enterNetns(path: string): void {
  const target = openNetns(path);
  try {
    check('setns', setnsRaw(target, CLONE_NEWNET) as number, path);
  } finally {
    close(target);
  }
}

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const IPPROTO_RAW = 255;

/** A packet sendMany() could not send, and why. */
export interface SendFailure { index: number; error: SysError }
const NONE_FAILED: readonly SendFailure[] = Object.freeze([]);

/** Messages one sendmmsg() takes at most, and the room for each (larger packets go one by one). */
export const SEND_BATCH = 64;
const SEND_ROOM = 2048;
/** struct mmsghdr (a struct msghdr, then msg_len), struct iovec, struct sockaddr_in6 (what an IPv4 one fits in). */
const MMSGHDR = 64;
const IOVEC = 16;
const SOCKADDR = 32;
/** The lengths of a struct sockaddr_in and a struct sockaddr_in6. */
const SOCKADDR_IN = 16;
const SOCKADDR_IN6 = 28;

/**
 * A raw socket that sends whole IP packets, headers included (IPPROTO_RAW).
 * sendMany() hands the kernel a batch in one sendmmsg() through native
 * memory laid out once (headers, iovecs and addresses point into it): one
 * system call for a drain's BAs instead of one each.
 */
export class RawIpSocket {
  private readonly fd: number;
  private arena: { ptr: unknown; bytes: Buffer } | null = null;

  constructor(readonly family: 4 | 6) {
    this.fd = check('socket', socketRaw(family === 4 ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_RAW) as number);
  }

  /** Sends packet (from its IP header on) to its first hop, dest (by default the destination its IP header names). */
  send(packet: Buffer, dest?: Uint8Array): void {
    const sa = Buffer.allocUnsafe(SOCKADDR_IN6);
    const length = dest ? writeSockaddr(this.family, dest, 0, sa, 0) : writeSockaddr(this.family, packet, this.destinationAt, sa, 0);
    check('sendto', Number(sendtoRaw(this.fd, packet, packet.length, 0, sa, length)));
  }

  /**
   * Sends each packet to the destination its IP header names, SEND_BATCH to
   * a system call; a packet the kernel refuses is skipped, the rest still
   * go. Returns the failures, by index.
   */
  sendMany(packets: readonly Buffer[]): readonly SendFailure[] {
    let failures: SendFailure[] | undefined; // (made if one fails: none is the rule, with every drain)
    const { ptr, bytes } = this.arena ??= this.layOut();
    let i = 0;
    while (i < packets.length) {
      let n = 0;
      for (; n < SEND_BATCH && i + n < packets.length && packets[i + n]!.length <= SEND_ROOM; n++) this.stage(bytes, n, packets[i + n]!);
      if (n === 0) { // too large for the arena: on its own
        failures = this.sendAlone(packets, i++, failures);
        continue;
      }
      // sendmmsg stops at the first packet refused: -1 and its errno if it is the first of the batch; else the count
      // of those that went, the error lost, so the refused one is sent again alone to learn it (or to go, if it was passing)
      const sent = sendmmsgRaw(this.fd, ptr, n, 0) as number;
      if (sent < 0) (failures ??= []).push({ index: i, error: new SysError('sendmmsg', koffi.errno()) });
      i += sent > 0 ? sent : 1;
      if (sent > 0 && sent < n) failures = this.sendAlone(packets, i++, failures); // the kernel stopped at packet i: say why by sending it alone
    }
    return failures ?? NONE_FAILED;
  }

  /** Packet i by sendto(): the one that would not fit the arena, or the one sendmmsg stopped at; its failure added to failures. */
  private sendAlone(packets: readonly Buffer[], i: number, failures: SendFailure[] | undefined): SendFailure[] | undefined {
    const packet = packets[i]!;
    try {
      this.send(packet);
    } catch (err) {
      (failures ??= []).push({ index: i, error: err as SysError });
    }
    return failures;
  }

  /**
   * Message n of the arena: its packet, length and address, the address's
   * bytes copied from the packet's header into the sockaddr in place (the
   * pointers between them were set once; a sockaddr made a BA was most of
   * what sending it left for the scavenger).
   */
  private stage(bytes: Buffer, n: number, packet: Buffer): void {
    const data = SEND_BATCH * (MMSGHDR + IOVEC + SOCKADDR) + n * SEND_ROOM;
    bytes.set(packet, data); // (not copy(): it makes a view to copy from)
    bytes.writeUInt32LE(packet.length, SEND_BATCH * MMSGHDR + n * IOVEC + 8); // iov_len (its high half stays 0)
    const sa = SEND_BATCH * (MMSGHDR + IOVEC) + n * SOCKADDR;
    bytes.writeUInt32LE(writeSockaddr(this.family, packet, this.destinationAt, bytes, sa), n * MMSGHDR + 8); // msg_namelen
  }

  /** Where an IP header of this family has its destination. */
  private get destinationAt(): number {
    return this.family === 4 ? 16 : 24;
  }

  /** Native memory for SEND_BATCH messages, each header pointing at its iovec and address, each iovec at its packet's room. */
  private layOut(): { ptr: unknown; bytes: Buffer } {
    const size = SEND_BATCH * (MMSGHDR + IOVEC + SOCKADDR + SEND_ROOM);
    const ptr = koffi.alloc('uint8_t', size);
    const base = koffi.address(ptr);
    const bytes = Buffer.from(koffi.view(ptr, size));
    bytes.fill(0);
    for (let n = 0; n < SEND_BATCH; n++) {
      const iov = SEND_BATCH * MMSGHDR + n * IOVEC;
      const sa = SEND_BATCH * (MMSGHDR + IOVEC) + n * SOCKADDR;
      const data = SEND_BATCH * (MMSGHDR + IOVEC + SOCKADDR) + n * SEND_ROOM;
      bytes.writeBigUInt64LE(base + BigInt(sa), n * MMSGHDR); // msg_name
      bytes.writeBigUInt64LE(base + BigInt(iov), n * MMSGHDR + 16); // msg_iov
      bytes.writeBigUInt64LE(1n, n * MMSGHDR + 24); // msg_iovlen
      bytes.writeBigUInt64LE(base + BigInt(data), iov); // iov_base
    }
    return { ptr, bytes };
  }

  close(): void {
    close(this.fd);
    if (this.arena) koffi.free(this.arena.ptr);
    this.arena = null;
  }
}

/** A struct sockaddr_in (4) or sockaddr_in6 (6) of the address at addr[from..], into sa[at..], port and the rest zero; its length. */
function writeSockaddr(family: 4 | 6, addr: Uint8Array, from: number, sa: Uint8Array, at: number): number {
  const length = family === 4 ? SOCKADDR_IN : SOCKADDR_IN6;
  sa.fill(0, at, at + length);
  const domain = family === 4 ? AF_INET : AF_INET6; // (sa_family: host order, little-endian here)
  sa[at] = domain & 0xff;
  sa[at + 1] = domain >> 8;
  const to = at + (family === 4 ? 4 : 8);
  for (let k = 0; k < (family === 4 ? 4 : 16); k++) sa[to + k] = addr[from + k]!; // (byte by byte: a subarray to set() from would be a view a packet)
  return length;
}

const AF_PACKET = 17;

/**
 * A packet socket bound to nothing (protocol 0: it receives nothing) that
 * sends whole Ethernet frames out of one interface: gratuitous ARP and
 * unsolicited Neighbor Advertisements. Opened in the current namespace.
 */
export class PacketSocket {
  private readonly fd: number;
  readonly ifindex: number;

  constructor(readonly ifname: string) {
    this.ifindex = ifIndex(ifname);
    this.fd = check('socket', socketRaw(AF_PACKET, SOCK_RAW, 0) as number, 'AF_PACKET');
  }

  /** Sends frame (from its Ethernet header on) as is. */
  send(frame: Buffer): void {
    const sll = Buffer.alloc(20); // struct sockaddr_ll
    sll.writeUInt16LE(AF_PACKET, 0);
    frame.copy(sll, 2, 12, 14); // sll_protocol: the frame's ethertype, network order
    sll.writeInt32LE(this.ifindex, 4);
    sll.writeUInt8(6, 11); // sll_halen
    frame.copy(sll, 12, 0, 6); // sll_addr: the destination MAC
    check('sendto', Number(sendtoRaw(this.fd, frame, frame.length, 0, sll, sll.length)), this.ifname);
  }

  close(): void {
    close(this.fd);
  }
}

const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;
const IPPROTO_IPV6 = 41;
const IPV6_RECVHOPLIMIT = 51;
const IPV6_HOPLIMIT = 52;
const IPV6_JOIN_GROUP = 20;
const IPV6_LEAVE_GROUP = 21;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const SO_RCVBUFFORCE = 33;
const SO_RXQ_OVFL = 40;
const RECEIVE_BUFFER = 4 << 20;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

/** An ICMPv6 message from its ICMPv6 header on, with what the kernel said of it. */
export interface Icmp6Message {
  message: Buffer;
  /** The 16 bytes of the IPv6 source. */
  source: Buffer;
  /** 255 only if no router forwarded it (RFC 4861 §7.1.2). */
  hopLimit: number | undefined;
}

/**
 * The ICMPv6 messages of the given types that reach this host through one
 * interface (to an address or group it has), queued by the kernel until
 * read: a raw ICMPv6 socket bound to the interface, with the kernel's type
 * filter (RFC 3542 §3.2). read() takes what is queued without waiting.
 * join() adds a multicast group to what it hears (a solicited-node one,
 * say), leave() takes it away.
 */
export class Icmp6Listener {
  private fd: number;
  private readonly ifindex: number;
  private readonly data: unknown;
  private readonly control: unknown;
  private readonly name: unknown;
  /** Messages the kernel dropped because the queue was full, as it last said (SO_RXQ_OVFL: a running count). */
  dropped = 0;

  constructor(ifname: string, types: readonly number[]) {
    this.ifindex = ifIndex(ifname);
    this.fd = check('socket', socketRaw(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) as number, 'ICMPv6');
    try {
      const device = Buffer.from(`${ifname}\0`);
      check('setsockopt', setsockoptRaw(this.fd, SOL_SOCKET, SO_BINDTODEVICE, device, device.length) as number, `SO_BINDTODEVICE ${ifname}`);
      const blocked = Buffer.alloc(32, 0xff); // a set bit blocks its type
      for (const t of types) blocked[t >> 3]! &= ~(1 << (t & 7));
      check('setsockopt', setsockoptRaw(this.fd, IPPROTO_ICMPV6, ICMP6_FILTER, blocked, blocked.length) as number, 'ICMP6_FILTER');
      check('setsockopt', setsockoptRaw(this.fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, int32(1), 4) as number, 'IPV6_RECVHOPLIMIT');
      check('setsockopt', setsockoptRaw(this.fd, SOL_SOCKET, SO_RXQ_OVFL, int32(1), 4) as number, 'SO_RXQ_OVFL');
      // room for thousands of messages between reads (the default holds ~256); beyond rmem_max, as root may
      check('setsockopt', setsockoptRaw(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(RECEIVE_BUFFER), 4) as number, 'SO_RCVBUFFORCE');
    } catch (err) {
      close(this.fd);
      throw err;
    }
    this.data = koffi.alloc('uint8_t', 2048);
    this.control = koffi.alloc('uint8_t', 128);
    this.name = koffi.alloc('uint8_t', 28);
  }

  /** What is queued, without waiting; and the error that stopped the reading, if one did (what came before it is kept). */
  read(): { messages: Icmp6Message[]; error?: SysError } {
    const messages: Icmp6Message[] = [];
    for (;;) {
      const msg = { name: this.name, namelen: 28, iov: { base: this.data, len: 2048 }, iovlen: 1, control: this.control, controllen: 128, flags: 0 };
      const n = Number(recvmsgRaw(this.fd, msg, MSG_DONTWAIT));
      if (n < 0) {
        const errno = koffi.errno();
        return errno === EAGAIN ? { messages } : { messages, error: new SysError('recvmsg', errno, 'ICMPv6') };
      }
      const ancillary = controlMessages(Buffer.from(koffi.decode(this.control, 'uint8_t', Number(msg.controllen)) as number[]));
      const overflow = ancillary.get(`${SOL_SOCKET}:${SO_RXQ_OVFL}`);
      if (overflow) this.dropped = overflow.readUInt32LE(0);
      messages.push({
        message: Buffer.from(koffi.decode(this.data, 'uint8_t', n) as number[]),
        source: Buffer.from(koffi.decode(this.name, 'uint8_t', 28) as number[]).subarray(8, 24), // struct sockaddr_in6's address
        hopLimit: ancillary.get(`${IPPROTO_IPV6}:${IPV6_HOPLIMIT}`)?.readInt32LE(0),
      });
    }
  }

  join(group: Buffer): void {
    check('setsockopt', setsockoptRaw(this.fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, this.membership(group), 20) as number, 'IPV6_JOIN_GROUP');
  }

  leave(group: Buffer): void {
    check('setsockopt', setsockoptRaw(this.fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, this.membership(group), 20) as number, 'IPV6_LEAVE_GROUP');
  }

  /** struct ipv6_mreq: the group, the interface's index. */
  private membership(group: Buffer): Buffer {
    const mreq = Buffer.alloc(20);
    group.copy(mreq, 0, 0, 16);
    mreq.writeUInt32LE(this.ifindex, 16);
    return mreq;
  }

  close(): void {
    if (this.fd < 0) return;
    close(this.fd);
    this.fd = -1;
    koffi.free(this.data);
    koffi.free(this.control);
    koffi.free(this.name);
  }
}

const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

/** Ancillary data (struct cmsghdr: size_t length, int level, int type, then data; each 8-aligned) by "level:type". */
function controlMessages(control: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let at = 0; at + 16 <= control.length;) {
    const length = Number(control.readBigUInt64LE(at));
    if (length < 16 || at + length > control.length) break;
    out.set(`${control.readInt32LE(at + 8)}:${control.readInt32LE(at + 12)}`, control.subarray(at + 16, at + length));
    at += Math.ceil(length / 8) * 8;
  }
  return out;
}

/** Keeps this thread on these CPUs (on one, per-CPU state such as the data plane's caches stays the same). */
export function pinThread(cpus: readonly number[]): void {
  const mask = Buffer.alloc(128);
  for (const cpu of cpus) mask[cpu >> 3]! |= 1 << (cpu & 7);
  check('sched_setaffinity', schedSetaffinity(0, mask.length, mask) as number, `cpus ${cpus.join(',')}`);
}

const mmapRaw = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)');
const munmapRaw = libc.func('int munmap(void *addr, size_t length)');
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;

/**
 * A file's first `length` bytes mapped shared into memory: what is written
 * to bytes is in the page cache at once (it survives the process being
 * killed, not the machine losing power), without a system call. The file
 * must be that long already, its blocks allocated (reserveFile()).
 */
export class MappedFile {
  private ptr: unknown;
  private mapped: Buffer | null;

  constructor(fd: number, readonly length: number) {
    const ptr = mmapRaw(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (koffi.address(ptr) === MAP_FAILED) throw new SysError('mmap', koffi.errno(), `${length} bytes`);
    this.ptr = ptr;
    this.mapped = Buffer.from(koffi.view(ptr, length));
  }

  /** The mapping (touched after close(), it would crash the process: this throws instead). */
  get bytes(): Buffer {
    if (!this.mapped) throw new Error('the file is no longer mapped');
    return this.mapped;
  }

  close(): void {
    if (this.ptr === null) return;
    this.mapped = null;
    munmapRaw(this.ptr, this.length);
    this.ptr = null;
  }
}

const posixFallocate = libc.func('int posix_fallocate(int fd, long offset, long length)');

/**
 * The file at fd made length bytes long with its blocks allocated: a
 * mapping of it can then be written without the kernel needing disk space
 * (a write to a hole of a full disk through a mapping is a SIGBUS, not an
 * error). Throws the error (ENOSPC, say) instead.
 */
export function reserveFile(fd: number, length: number): void {
  const rc = posixFallocate(fd, 0, length) as number;
  if (rc !== 0) throw new SysError('posix_fallocate', rc, `${length} bytes`);
}
