/**
 * scapy expressions (evaluated by test/helpers/scapy.ts) for the frames the
 * data-plane tests feed in and expect back. Only the header fields a tunnel
 * format defines are set here; scapy fills in lengths, next-header values
 * and checksums itself, which is what makes it an oracle for our output.
 */
import type { Tunnel } from '../../control/dataplane/dataplane.js';

export type Format = Tunnel['format'];
export const FORMATS: readonly Format[] = ['ip6', 'ip4', 'udp4', 'udp4-tlv'];
export type Family = 4 | 6;

/** An Ethernet header. */
export const eth = (src: string, dst: string): string => `Ether(src='${src}', dst='${dst}')`;

export interface InnerSpec {
  src: string;
  dst: string;
  ttl?: number;
  tos?: number;
  /** UDP payload bytes (the packet is IP + UDP + payload). */
  payload?: number;
  /** IPv4 only: the DF bit (default set). */
  df?: boolean;
}

/** An inner IPv4 or IPv6 packet carrying UDP; its length is innerLength(). */
export function inner(family: Family, s: InnerSpec): string {
  const ttl = s.ttl ?? 64;
  const tos = s.tos ?? 0;
  const udp = `UDP(sport=5000, dport=6000)/Raw(bytes(i & 0xff for i in range(${s.payload ?? 32})))`;
  return family === 6
    ? `IPv6(src='${s.src}', dst='${s.dst}', hlim=${ttl}, tc=${tos}, fl=0)/${udp}`
    : `IP(src='${s.src}', dst='${s.dst}', ttl=${ttl}, tos=${tos}, id=7, flags=${s.df === false ? 0 : "'DF'"})/${udp}`;
}

export function innerLength(family: Family, s: Partial<InnerSpec>): number {
  return (family === 6 ? 40 : 20) + 8 + (s.payload ?? 32);
}

export interface OuterSpec {
  format: Format;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  tos?: number;
  ttl?: number;
}

/** The outer header(s) of a tunnel packet, as our encapsulation writes them, ending in '/'. */
export function outer(o: OuterSpec, innerFamily: Family, innerLen: number): string {
  const tos = o.tos ?? 0;
  const ttl = o.ttl ?? 64;
  if (o.format === 'ip6') return `IPv6(src='${o.src}', dst='${o.dst}', hlim=${ttl}, tc=${tos}, fl=0)/`;
  let s = `IP(src='${o.src}', dst='${o.dst}', ttl=${ttl}, tos=${tos}, id=0, flags='DF')/`;
  if (o.format === 'ip4') return s;
  s += `UDP(sport=${o.sport}, dport=${o.dport}, chksum=0)/`;
  if (o.format === 'udp4-tlv') s += `TLV(type=${innerFamily === 6 ? 2 : 1}, len=${innerLen & 0xff}, reserved=0)/`;
  return s;
}

/** The outer header spec of tunnel t as its local end sends. */
export function sentBy(t: Tunnel, extra: Partial<OuterSpec> = {}): OuterSpec {
  const udp = t.format === 'udp4' || t.format === 'udp4-tlv';
  return { format: t.format, src: t.local, dst: t.remote, ...(udp ? { sport: t.localPort, dport: t.remotePort } : {}), ...extra };
}

/** The outer header spec of tunnel t as its remote end sends (what t's local end receives). */
export function receivedBy(t: Tunnel, extra: Partial<OuterSpec> = {}): OuterSpec {
  const udp = t.format === 'udp4' || t.format === 'udp4-tlv';
  return { format: t.format, src: t.remote, dst: t.local, ...(udp ? { sport: t.remotePort, dport: t.localPort } : {}), ...extra };
}

/** A Python bytes literal of buf, to splice raw bytes into an expression. */
export const pyBytes = (buf: Buffer): string => `bytes.fromhex('${buf.toString('hex')}')`;
