/**
 * `mobility-anchor decode`: a capture of mixed traffic (built by scapy, saved
 * as pcapng by Wireshark's editcap, as an operator's capture would be) comes
 * out as every signalling message, with named fields, and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeInputs, toJson } from '../../control/cli/decode.js';
import { writePcap } from '../../control/wire/pcap.js';
import { scapy } from '../helpers/scapy.js';

const dir = mkdtempSync(join(tmpdir(), 'decode-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const eth = "Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')";
// IPv4 Home Address option (29, 0.0.0.0 requested), IPv4 Care-of Address (32), NAI (8): 48 bytes in all, no padding needed
const dsmipOptions = "[MIP6OptUnknown(otype=29, olen=6, odata=bytes(6)), MIP6OptUnknown(otype=32, olen=6, odata=bytes([0,0,198,51,100,2])), MIP6OptMNID(subtype=1, id='mnode@example.net')]";
const frames = scapy({
  bu: `${eth}/IPv6(src='2001:db8:f::2', dst='2001:db8:f::1')/IPv6ExtHdrDestOpt(options=[HAO(hoa='2001:db8:1::100')])/MIP6MH_BU(seq=9, flags=0b1100000, mhtime=30, options=${dsmipOptions})`,
  data: `${eth}/IPv6(src='2001:db8:c::2', dst='2001:db8:1::100')/UDP(sport=1, dport=2)/Raw(b'not signalling')`,
  buUdp: `${eth}/IP(src='203.0.113.2', dst='203.0.113.1')/UDP(sport=40000, dport=4191)/TLV(type=2, len=56)/IPv6(src='2001:db8:1::200', dst='2001:db8:f::1')/MIP6MH_BU(seq=3, mhtime=60)`,
  dataUdp: `${eth}/IP(src='203.0.113.2', dst='203.0.113.1')/UDP(sport=40000, dport=4191)/IP(src='10.1.0.200', dst='192.0.2.2')/ICMP()`,
  rrq: `${eth}/IP(src='198.51.100.2', dst='198.51.100.1')/UDP(sport=434, dport=434)/MobileIP()/MobileIPRRQ(flags=0x02, lifetime=300, homeaddr='10.1.0.100', haaddr='10.1.0.1', coaddr='198.51.100.2', id=42)`,
  dhcp: `${eth}/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(chaddr=bytes.fromhex('020000000001'), xid=7)/DHCP(options=[('message-type','discover'), 'end'])`,
  broken: `${eth}/IPv6(src='2001:db8:f::2', dst='2001:db8:f::1')/MIP6MH_BA(status=0, seq=9, mhtime=30, options=[MIP6OptUnknown(otype=29, olen=2, odata=b'xy')])`,
});

function capture(): string {
  const pcap = join(dir, 'mixed.pcap');
  const pcapng = join(dir, 'mixed.pcapng');
  writeFileSync(pcap, writePcap(Object.values(frames)));
  execFileSync('editcap', ['-F', 'pcapng', pcap, pcapng]);
  return pcapng;
}

describe('decode', () => {
  const records = decodeInputs([capture()]);

  it('finds every signalling message and nothing else', () => {
    expect(records.map((r) => [r.frame, r.signalling.protocol])).toEqual([
      [1, 'mipv6'], [3, 'mipv6'], [5, 'mipv4'], [6, 'dhcpv4'], [7, 'mipv6'],
    ]);
  });

  it('names the fields of a DSMIPv6 Binding Update behind a Home Address option', () => {
    expect(records[0]!.signalling).toMatchObject({
      transport: 'ipv6', src: '2001:db8:f::2', dst: '2001:db8:f::1', homeAddressOption: '2001:db8:1::100', mhChecksumOk: true,
      message: {
        type: 'bindingUpdate', sequence: 9, lifetime: 120, flags: { a: true, h: true },
        options: [
          { type: 'ipv4HomeAddress', address: '0.0.0.0' },
          { type: 'ipv4CareOfAddress', address: '198.51.100.2' },
          { type: 'mobileNodeIdentifier', identifier: 'mnode@example.net' },
        ],
      },
    });
  });

  it('shows a BU in UDP with its NAT-side ports and TLV header', () => {
    expect(records[1]!.signalling).toMatchObject({ transport: 'udp4', tlv: true, src: '203.0.113.2', srcPort: 40000, dstPort: 4191, message: { type: 'bindingUpdate', sequence: 3, lifetime: 240 } });
  });

  it('decodes Mobile IPv4 and DHCP', () => {
    expect(records[2]!.signalling).toMatchObject({ message: { type: 'registrationRequest', lifetime: 300, homeAddress: '10.1.0.100', homeAgent: '10.1.0.1', careOfAddress: '198.51.100.2', identification: 42n } });
    expect(records[3]!.signalling).toMatchObject({ dstPort: 67, message: { xid: 7, chaddr: '02:00:00:00:00:01' } });
  });

  it('reports a message that does not decode with its field, offset and value', () => {
    expect(records[4]!.signalling).toMatchObject({ protocol: 'mipv6', error: { field: 'ipv4HomeAddress.length', offset: expect.any(Number), value: 2 } });
  });

  it('runs as a command, printing JSON with bytes as hex and 64-bit numbers as text', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'control/cli/main.ts', 'decode', capture()], { encoding: 'utf8' });
    expect(out).toBe(`${toJson(records)}\n`);
    expect(JSON.parse(out)[2].signalling.message.identification).toBe('42');
  });

  it('reads a hex string, of an IP packet or an Ethernet frame', () => {
    const hex = frames.bu.toString('hex');
    const [fromFrame] = decodeInputs([hex]);
    const [fromPacket] = decodeInputs([hex.slice(28)]);
    expect(fromFrame!.signalling).toEqual(records[0]!.signalling);
    expect(fromPacket!.signalling).toEqual(records[0]!.signalling);
  });
});
