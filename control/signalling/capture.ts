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

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    writeSync(this.fd, pcapHeader(LINKTYPE.RAW));
  }

  readonly tap: SignallingTap = (packet) => {
    if (this.fd !== null) writeSync(this.fd, pcapRecord(packet, performance.timeOrigin + performance.now()));
  };

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
