/**
 * The IP layers under the signalling: IPv6 with Destination Options (Pad1,
 * PadN, Home Address) and the type 2 routing header, IPv4 and UDP, and
 * whole signalling packets around a Mobility Header (raw bytes). Checksums
 * are in ../checksum.ts.
 */
export * from './constants.js';
export * from './ipv6.js';
export * from './ipv4.js';
export * from './signalling.js';
export * from './neighbour.js';
export * from './icmp6.js';
