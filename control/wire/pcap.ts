/**
 * Capture files, read and written: classic pcap (either byte order,
 * microsecond or nanosecond) and pcapng (what tshark writes by default).
 * Pure: bytes in, frames out.
 */
import { DecodeError } from './buffer.js';

export const LINKTYPE = { ETHERNET: 1, RAW: 101, LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276 } as const;

export interface CapturedFrame {
  /** Position in the file, from 1, as tshark numbers frames. */
  number: number;
  linktype: number;
  timestampMs: number;
  data: Buffer;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;

export function readCapture(file: Buffer): CapturedFrame[] {
  if (file.length < 4) throw new DecodeError('capture header', 0, file.length, 'file too short');
  if (file.readUInt32LE(0) === PCAPNG_SHB) return readPcapng(file);
  return readPcap(file);
}

function readPcap(file: Buffer): CapturedFrame[] {
  if (file.length < 24) throw new DecodeError('pcap header', 0, file.length, 'file too short');
  const magicLe = file.readUInt32LE(0);
  const magicBe = file.readUInt32BE(0);
  const le = magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS;
  if (!le && magicBe !== PCAP_MAGIC_US && magicBe !== PCAP_MAGIC_NS) throw new DecodeError('pcap magic', 0, magicLe.toString(16), 'not a pcap or pcapng file');
  const u32 = (at: number) => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const nanos = (le ? magicLe : magicBe) === PCAP_MAGIC_NS;
  const linktype = u32(20) & 0xffff;
  const frames: CapturedFrame[] = [];
  for (let at = 24; at < file.length; ) {
    if (at + 16 > file.length) throw new DecodeError('pcap record header', at, file.length - at, 'truncated');
    const caplen = u32(at + 8);
    if (at + 16 + caplen > file.length) throw new DecodeError('pcap record data', at + 16, caplen, 'truncated');
    frames.push({
      number: frames.length + 1,
      linktype,
      timestampMs: u32(at) * 1000 + u32(at + 4) / (nanos ? 1e6 : 1e3),
      data: file.subarray(at + 16, at + 16 + caplen),
    });
    at += 16 + caplen;
  }
  return frames;
}

function readPcapng(file: Buffer): CapturedFrame[] {
  let le = true;
  const interfaces: { linktype: number; tsUnitsPerMs: number }[] = [];
  const frames: CapturedFrame[] = [];
  for (let at = 0; at < file.length; ) {
    if (at + 12 > file.length) throw new DecodeError('pcapng block header', at, file.length - at, 'truncated');
    const type = file.readUInt32LE(at);
    if (type === PCAPNG_SHB) {
      const order = file.readUInt32LE(at + 8);
      if (order !== PCAPNG_BYTE_ORDER && file.readUInt32BE(at + 8) !== PCAPNG_BYTE_ORDER) throw new DecodeError('pcapng byte-order magic', at + 8, order.toString(16), 'unknown');
      le = order === PCAPNG_BYTE_ORDER;
      interfaces.length = 0; // interface ids are per section
    }
    const u32 = (o: number) => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
    const u16 = (o: number) => (le ? file.readUInt16LE(o) : file.readUInt16BE(o));
    const blockType = u32(at);
    const length = u32(at + 4);
    if (length < 12 || length % 4 !== 0 || at + length > file.length) throw new DecodeError('pcapng block length', at + 4, length, 'invalid or truncated');
    if (blockType === 1) {
      interfaces.push({ linktype: u16(at + 8), tsUnitsPerMs: 1000 }); // default resolution: microseconds
    } else if (blockType === 6 || blockType === 3) {
      const enhanced = blockType === 6;
      const iface = interfaces[enhanced ? u32(at + 8) : 0];
      if (!iface) throw new DecodeError('pcapng interface id', at + 8, enhanced ? u32(at + 8) : 0, 'no such interface');
      const dataAt = at + (enhanced ? 28 : 12);
      const caplen = enhanced ? u32(at + 20) : Math.min(u32(at + 8), length - 16);
      if (dataAt + caplen > at + length) throw new DecodeError('pcapng packet data', dataAt, caplen, 'beyond its block');
      const ts = enhanced ? u32(at + 12) * 2 ** 32 + u32(at + 16) : 0;
      frames.push({ number: frames.length + 1, linktype: iface.linktype, timestampMs: ts / iface.tsUnitsPerMs, data: file.subarray(dataAt, dataAt + caplen) });
    }
    at += length;
  }
  return frames;
}

/** A classic pcap file's header (microsecond timestamps, little-endian). */
export function pcapHeader(linktype: number = LINKTYPE.ETHERNET): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(PCAP_MAGIC_US, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(linktype, 20);
  return header;
}

/** One frame's record, stamped at timeMs. */
export function pcapRecord(frame: Buffer, timeMs: number): Buffer {
  const rec = Buffer.alloc(16);
  const us = Math.round(timeMs * 1000);
  rec.writeUInt32LE(Math.floor(us / 1e6), 0);
  rec.writeUInt32LE(us % 1e6, 4);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  return Buffer.concat([rec, frame]);
}

/** A classic pcap file of frames, a millisecond apart from startMs. */
export function writePcap(frames: readonly Buffer[], linktype: number = LINKTYPE.ETHERNET, startMs = Date.now()): Buffer {
  return Buffer.concat([pcapHeader(linktype), ...frames.map((frame, i) => pcapRecord(frame, startMs + i))]);
}

/** The IP packet in a captured frame (and its version), or null for frames that carry none. */
export function ipPacketOf(frame: CapturedFrame): { version: 4 | 6; packet: Buffer } | null {
  let etherType: number;
  let at: number;
  const d = frame.data;
  switch (frame.linktype) {
    case LINKTYPE.ETHERNET:
      if (d.length < 14) return null;
      etherType = d.readUInt16BE(12);
      at = 14;
      while ((etherType === 0x8100 || etherType === 0x88a8) && d.length >= at + 4) { // VLAN tags
        etherType = d.readUInt16BE(at + 2);
        at += 4;
      }
      break;
    case LINKTYPE.LINUX_SLL:
      if (d.length < 16) return null;
      etherType = d.readUInt16BE(14);
      at = 16;
      break;
    case LINKTYPE.LINUX_SLL2:
      if (d.length < 20) return null;
      etherType = d.readUInt16BE(0);
      at = 20;
      break;
    case LINKTYPE.RAW: case LINKTYPE.IPV4: case LINKTYPE.IPV6:
      if (d.length < 1) return null;
      etherType = d[0]! >> 4 === 6 ? 0x86dd : 0x0800;
      at = 0;
      break;
    default:
      return null;
  }
  if (etherType === 0x0800) return { version: 4, packet: d.subarray(at) };
  if (etherType === 0x86dd) return { version: 6, packet: d.subarray(at) };
  return null;
}
