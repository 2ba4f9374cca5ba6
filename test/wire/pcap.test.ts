/**
 * Capture files: our writer's output, and files written by Wireshark's own
 * tools (pcapng as tshark writes it, nanosecond and big-endian pcap), read
 * back frame for frame.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DecodeError } from '../../control/wire/buffer.js';
import { SignallingCapture } from '../../control/signalling/capture.js';
import { LINKTYPE, ipPacketOf, readCapture, writePcap } from '../../control/wire/pcap.js';

const dir = mkdtempSync(join(tmpdir(), 'pcap-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ipv6Frame = Buffer.concat([Buffer.from('0200000000010200000000028' + '6dd', 'hex'), Buffer.from('6000000000003b40' + '20010db8000000000000000000000001'.repeat(2), 'hex')]);
const ipv4Frame = Buffer.concat([Buffer.from('020000000001020000000002' + '0800', 'hex'), Buffer.from('4500001400004000400100000a0000010a000002', 'hex')]);
const frames = [ipv6Frame, ipv4Frame, Buffer.from('ffffffffffff0200000000020806' + '00'.repeat(28), 'hex')];

/** Converts our pcap with editcap (Wireshark's tool) to another format and reads that back. */
function viaEditcap(format: string, extra: string[] = []): Buffer {
  const src = join(dir, 'in.pcap');
  const out = join(dir, `out.${format}`);
  writeFileSync(src, writePcap(frames, LINKTYPE.ETHERNET, 1_700_000_000_000));
  execFileSync('editcap', ['-F', format, ...extra, src, out]);
  return readFileSync(out);
}

describe('capture files', () => {
  it.each([
    ['our own pcap', () => writePcap(frames, LINKTYPE.ETHERNET, 1_700_000_000_000)],
    ['pcapng written by editcap', () => viaEditcap('pcapng')],
    ['nanosecond pcap written by editcap', () => viaEditcap('nsecpcap')],
  ])('%s reads back frame for frame', (_name, file) => {
    const read = readCapture(file());
    expect(read.map((f) => f.data.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
    expect(read.map((f) => f.number)).toEqual([1, 2, 3]);
    expect(read[0]!.linktype).toBe(LINKTYPE.ETHERNET);
    expect(Math.round(read[1]!.timestampMs)).toBe(1_700_000_000_001);
  });

  it('finds the IP packet in each frame, and none in ARP', () => {
    const read = readCapture(writePcap(frames));
    expect(read.map((f) => ipPacketOf(f)?.version ?? null)).toEqual([6, 4, null]);
    expect(ipPacketOf(read[1]!)!.packet.toString('hex')).toBe('4500001400004000400100000a0000010a000002');
  });

  it.each([
    ['an empty file', Buffer.alloc(0), 'capture header'],
    ['not a capture', Buffer.from('hello world, this is not a pcap file'), 'pcap magic'],
    ['a truncated record', writePcap(frames).subarray(0, 60), 'pcap record data'],
  ])('%s is refused naming the field', (_name, bytes, field) => {
    expect(() => readCapture(bytes)).toThrow(DecodeError);
    expect(() => readCapture(bytes)).toThrow(new RegExp(`^${field} at offset`));
  });
});

describe('the signalling capture (dsmipd --capture)', () => {
  it('writes each packet as a raw-IP record, and a record the file does not take is reported, not thrown: the packet goes on regardless', () => {
    const path = join(dir, 'signalling.pcap');
    const errors: Error[] = [];
    const capture = new SignallingCapture(path, (err) => errors.push(err));
    const packet = ipv6Frame.subarray(14);
    capture.tap(packet, 'in');
    expect(readCapture(readFileSync(path)).map((r) => ipPacketOf(r))).toEqual([{ version: 6, packet }]);
    Object.assign(capture, { fd: openSync('/dev/full', 'w') }); // the disk full from now on (the capture's descriptor swapped: no other way to make a write fail here)
    expect(() => capture.tap(packet, 'out')).not.toThrow();
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOSPC']);
    capture.close();
  });
});
