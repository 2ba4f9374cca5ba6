/**
 * A signalling capture file: every packet a SignallingChannel receives or
 * sends, as raw IP in a classic pcap file that tshark and Wireshark read.
 * The data plane takes signalling out of the kernel path before any tap
 * (tcpdump on the anchor never sees a BU), so this is where to look.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { LINKTYPE, pcapHeader, pcapRecord } from '../wire/pcap.js';
import type { SignallingTap } from './channel.js';

export class SignallingCapture {
  private fd: number | null;

  /** onError: a record the file did not take (a full disk, say): the packet goes on its way regardless, the capture misses it. */
  constructor(readonly path: string, private readonly onError: (err: Error) => void = () => {}) {
    this.fd = openSync(path, 'w');
    writeSync(this.fd, pcapHeader(LINKTYPE.RAW));
  }

  readonly tap: SignallingTap = (packet) => {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, pcapRecord(packet, performance.timeOrigin + performance.now()));
    } catch (err) {
      this.onError(err as Error);
    }
  };

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
