/**
 * Wireshark's dissectors as an independent oracle: frames are written to a
 * pcap file and read back with `tshark -T json`. Fields are looked up by
 * their display-filter names (ip.src, udp.dstport, ...); a field that occurs
 * in several headers (outer and inner ip.src) yields every value, outermost
 * first.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; // a bare IPv4 or IPv6 packet

/** A classic pcap file (microsecond timestamps, native byte order) holding frames. */
export function pcap(frames: readonly Buffer[], linktype = LINKTYPE_ETHERNET): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16); // snaplen
  header.writeUInt32LE(linktype, 20);
  const records = frames.map((frame, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_700_000_000 + i, 0);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  return Buffer.concat([header, ...records]);
}

export type TsharkLayers = Record<string, unknown>;

export interface TsharkOptions {
  linktype?: number;
  /** "Decode as" rules, e.g. 'udp.port==4191,ip' (tshark -d). */
  decodeAs?: readonly string[];
  /** Preferences, e.g. 'ip.check_checksum:TRUE' (tshark -o). */
  prefs?: readonly string[];
}

/** Dissects frames with tshark; returns each packet's layers (duplicate headers merged into arrays). */
export function tshark(frames: readonly Buffer[], opts: TsharkOptions = {}): TsharkLayers[] {
  const dir = mkdtempSync(join(tmpdir(), 'tshark-'));
  try {
    const file = join(dir, 'frames.pcap');
    writeFileSync(file, pcap(frames, opts.linktype));
    const args = ['-r', file, '-T', 'json', '--no-duplicate-keys'];
    for (const d of opts.decodeAs ?? []) args.push('-d', d);
    for (const o of opts.prefs ?? []) args.push('-o', o);
    const json = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    return (JSON.parse(json) as { _source: { layers: TsharkLayers } }[]).map((p) => p._source.layers);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every value of field `name` anywhere in a packet, in the order tshark shows them (outer first). */
export function field(layers: TsharkLayers, name: string): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === name) {
          for (const x of [v].flat()) if (typeof x === 'string') out.push(x);
        }
        if (typeof v === 'object') walk(v);
      }
    }
  };
  walk(layers);
  return out;
}

/** The protocol stack tshark saw, e.g. "eth:ethertype:ip:udp:ipv6:udp:data". */
export function protocols(layers: TsharkLayers): string {
  return field(layers, 'frame.protocols')[0] ?? '';
}

/**
 * The fields (first occurrence of each) of the first packet matching a
 * capture filter on an interface of a network namespace, live, while send()
 * is called: tshark says it has started before its filter is in place, so
 * send() goes again every half second until the packet is captured (at most
 * 8 times; an empty list if it never is). Returns the fields and how many
 * times send() went.
 */
export async function captureOne(ns: string, iface: string, filter: string, fields: readonly string[], send: () => void): Promise<{ fields: string[]; sends: number }> {
  const capture = spawn('ip', ['netns', 'exec', ns, 'tshark', '-i', iface, '-f', filter, '-c', '1', '-a', 'duration:6', '-T', 'fields', '-E', 'occurrence=f',
    ...fields.flatMap((f) => ['-e', f])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  capture.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  capture.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = once(capture, 'exit');
  for (const end = Date.now() + 5000; !err.includes('Capture started') && capture.exitCode === null && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
  let sends = 0;
  for (; capture.exitCode === null && sends < 8; sends++) {
    send();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 500))]);
  }
  await exited;
  return { fields: out.trim() === '' ? [] : out.trim().split('\t'), sends };
}
