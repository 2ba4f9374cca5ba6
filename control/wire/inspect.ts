/**
 * What signalling an IP packet carries, decoded: MIPv6/PMIPv6 (IPv6 Mobility
 * Header, directly or inside UDP 4191 / 5436 over IPv4), Mobile IPv4 on UDP
 * 434, DHCPv4, and ICMP agent advertisements. Anything else is not
 * signalling (null). A packet that is signalling but does not decode yields
 * its DecodeError, with field, offset and value. Pure.
 */
import { DecodeError } from './buffer.js';
import { decodeSignalling4, decodeSignalling6, type SignallingPacket6 } from './ip/signalling.js';
import { decodeMobilityHeader, type MobilityHeader } from './mh/index.js';
import { decodeMip4, type Mip4Message } from './mipv4/registration.js';
import { decodeAgentAdvertisement, type AgentAdvertisement } from './mipv4/agent-advertisement.js';
import { decodeDhcp4, type DhcpMessage } from './dhcp4/message.js';
import { MIP4_PORT, ICMP_ROUTER_ADVERTISEMENT } from './mipv4/constants.js';
import { DSMIP6_UDP_PORT } from './ip/constants.js';

/** PMIPv6 signalling over an IPv4 transport network (RFC 5844 §5.2). */
export const PMIP6_IPV4_PORT = 5436;
const DHCP_PORTS = new Set([67, 68]);
const IPV6_EXTENSION_HEADERS = new Set([0, 43, 60]);
const MH = 135;

interface Addressing { src: string; dst: string; srcPort?: number; dstPort?: number }

export type Inspected =
  | ({ protocol: 'mipv6'; transport: 'ipv6' | 'udp4'; tlv?: boolean; homeAddressOption?: string; routingHeader2?: string; mhChecksumOk: boolean; message: MobilityHeader } & Addressing)
  | ({ protocol: 'mipv4'; message: Mip4Message } & Addressing)
  | ({ protocol: 'dhcpv4'; message: DhcpMessage } & Addressing)
  | ({ protocol: 'agentAdvertisement'; message: AgentAdvertisement } & Addressing)
  | ({ protocol: 'mipv6' | 'mipv4' | 'dhcpv4' | 'agentAdvertisement'; error: { field: string; offset: number; value: unknown; message: string } } & Partial<Addressing>);

/** The signalling in an IP packet (IPv4 or IPv6, from its IP header on), or null if it carries none. */
export function inspectPacket(ip: Buffer): Inspected | null {
  const version = ip.length > 0 ? ip[0]! >> 4 : 0;
  if (version === 6) return inspectIpv6(ip);
  if (version === 4) return inspectIpv4(ip);
  return null;
}

function attempt(protocol: Inspected['protocol'], addressing: Partial<Addressing>, decode: () => Inspected): Inspected {
  try {
    return decode();
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return { protocol, ...addressing, error: { field: err.field, offset: err.offset, value: err.value, message: err.message } };
  }
}

function mipv6(p: SignallingPacket6): Pick<Extract<Inspected, { message: MobilityHeader }>, 'homeAddressOption' | 'routingHeader2' | 'mhChecksumOk' | 'message'> {
  return {
    ...(p.homeAddressOption !== undefined && { homeAddressOption: p.homeAddressOption }),
    ...(p.routingHeader2 && { routingHeader2: p.routingHeader2.homeAddress }),
    mhChecksumOk: p.mhChecksumOk,
    message: decodeMobilityHeader(p.mh),
  };
}

/** The upper-layer protocol after Hop-by-Hop, Routing and Destination Options headers. */
function ipv6UpperLayer(ip: Buffer): number {
  let next = ip[6] ?? -1;
  for (let at = 40; IPV6_EXTENSION_HEADERS.has(next) && at + 2 <= ip.length; at += (ip[at + 1]! + 1) * 8) next = ip[at]!;
  return next;
}

function inspectIpv6(ip: Buffer): Inspected | null {
  if (ip.length < 40 || ipv6UpperLayer(ip) !== MH) return null;
  return attempt('mipv6', {}, () => {
    const p = decodeSignalling6(ip);
    return { protocol: 'mipv6', transport: 'ipv6', src: p.ipv6.src, dst: p.ipv6.dst, ...mipv6(p) };
  });
}

function inspectIpv4(ip: Buffer): Inspected | null {
  const hlen = (ip[0]! & 0x0f) * 4;
  if (ip.length < 20 || hlen < 20 || ip.length < hlen + 8) return null;
  if ((ip.readUInt16BE(6) & 0x1fff) !== 0) return null; // a later fragment: no header to read
  const addressing: Addressing = { src: ip.subarray(12, 16).join('.'), dst: ip.subarray(16, 20).join('.') };
  const end = Math.min(ip.length, ip.readUInt16BE(2));
  const payload = ip.subarray(hlen, end);
  if (ip[9] === 1) {
    if (payload[0] !== ICMP_ROUTER_ADVERTISEMENT) return null;
    return attempt('agentAdvertisement', addressing, () => ({ protocol: 'agentAdvertisement', ...addressing, message: decodeAgentAdvertisement(payload) }));
  }
  if (ip[9] !== 17 || payload.length < 8) return null; // the header's own length may leave no room for UDP's
  const ports = { srcPort: payload.readUInt16BE(0), dstPort: payload.readUInt16BE(2) };
  const at = { ...addressing, ...ports };
  const either = (port: number) => ports.srcPort === port || ports.dstPort === port;
  const udpPayload = payload.subarray(8);
  if (either(DSMIP6_UDP_PORT) || either(PMIP6_IPV4_PORT)) {
    if (!carriesSignalling(udpPayload)) return null; // tunnelled data, not signalling
    return attempt('mipv6', at, () => {
      const p = decodeSignalling4(ip);
      return { protocol: 'mipv6', transport: 'udp4', ...at, tlv: p.tlv !== undefined, ...mipv6(p.inner) };
    });
  }
  if (either(MIP4_PORT)) return attempt('mipv4', at, () => ({ protocol: 'mipv4', ...at, message: decodeMip4(udpPayload) }));
  if (DHCP_PORTS.has(ports.srcPort) && DHCP_PORTS.has(ports.dstPort)) {
    return attempt('dhcpv4', at, () => ({ protocol: 'dhcpv4', ...at, message: decodeDhcp4(udpPayload) }));
  }
  return null;
}

/** UDP 4191 carries data too: only an IPv6 packet (after an optional TLV header) ending in an MH is signalling. */
function carriesSignalling(udpPayload: Buffer): boolean {
  const inner = udpPayload.length > 0 && udpPayload[0]! >> 4 !== 6 ? udpPayload.subarray(4) : udpPayload;
  return inner.length >= 40 && inner[0]! >> 4 === 6 && ipv6UpperLayer(inner) === MH;
}
