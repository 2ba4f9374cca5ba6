/**
 * `mobility-anchor decode FILE.pcap|HEX…`: every signalling message in a
 * capture (pcap or pcapng) or in hex strings (an IP packet or an Ethernet
 * frame), as JSON with named fields; a message that does not decode shows
 * the field, offset and value at fault.
 */
import { readFileSync } from 'node:fs';
import { inspectPacket, type Inspected } from '../wire/inspect.js';
import { LINKTYPE, ipPacketOf, readCapture } from '../wire/pcap.js';

export interface DecodedRecord {
  /** The frame number in the capture (as tshark numbers them), or the argument's position for hex. */
  frame: number;
  source: string;
  signalling: Inspected;
}

const HEX = /^(0x)?([0-9a-f]{2}[\s:]?)+$/i;

function packetsOf(arg: string): { frame: number; ip: Buffer | null }[] {
  if (HEX.test(arg)) {
    const bytes = Buffer.from(arg.replace(/^0x/i, '').replace(/[\s:]/g, ''), 'hex');
    const version = bytes.length ? bytes[0]! >> 4 : 0;
    const ip = version === 4 || version === 6 ? bytes : ipPacketOf({ number: 1, linktype: LINKTYPE.ETHERNET, timestampMs: 0, data: bytes })?.packet ?? null;
    return [{ frame: 1, ip }];
  }
  return readCapture(readFileSync(arg)).map((f) => ({ frame: f.number, ip: ipPacketOf(f)?.packet ?? null }));
}

export function decodeInputs(args: readonly string[]): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  for (const arg of args) {
    for (const { frame, ip } of packetsOf(arg)) {
      const signalling = ip ? inspectPacket(ip) : null;
      if (signalling) out.push({ frame, source: HEX.test(arg) ? 'hex' : arg, signalling });
    }
  }
  return out;
}

/** JSON for people and scripts: bytes as hex, 64-bit numbers as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('hex');
    }
    return v;
  }, 2);
}
